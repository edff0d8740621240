/**
 * Gives Reactor the methods of Twisted's IReactorTCP, IReactorSSL, IReactorUNIX, IReactorUDP and
 * IReactorMulticast: `reactor.listenTCP(...)`, `connectTCP`, `listenSSL`, `connectSSL`, `listenUNIX`, `connectUNIX`,
 * `listenUNIXDatagram`, `connectUNIXDatagram`, `listenUDP`, `listenMulticast`, and IReactorSocket's `adoptStreamPort`,
 * `adoptStreamConnection`, `adoptDatagramPort`, and IReactorProcess's `spawnProcess`. Importing this module (lib/net's index does) installs them.
 *
 * Why a separate module: lib/reactor sits below lib/net and must not import it, yet Twisted
 * users expect these calls on the reactor. TypeScript declaration merging adds the methods
 * to the Reactor type, and the prototype gets thin wrappers around the free functions of
 * tcp.ts, unix.ts and udp.ts (which take any IReactorFDSet and stay the primary API).
 */
import { Reactor } from "../reactor/reactor";
import type { IClientFactory, IDatagramProtocol, IProcessProtocol, IProtocolFactory } from "./interfaces";
import { spawnProcess, type Process, type SpawnProcessOptions } from "./process";
import { connectTCP, listenTCP, type ConnectTCPOptions, type ListenTCPOptions, type TCPConnector, type TCPPort } from "./tcp";
import { connectSSL, listenSSL, type ConnectSSLOptions, type ListenSSLOptions, type TLSConnector, type TLSPort } from "./tls";
import type { ITLSContextFactory } from "./tls-options";
import { listenMulticast, listenUDP, type ListenMulticastOptions, type ListenUDPOptions, type UDPPort } from "./udp";
import { adoptDatagramPort, adoptStreamConnection, adoptStreamPort, type AdoptFamily, type AdoptedPort, type AdoptedUDPPort } from "./adopt";
import type { Connection } from "./connection";
import { connectUNIX, listenUNIX, type ConnectUNIXOptions, type ListenUNIXOptions, type UNIXConnector, type UNIXPort } from "./unix";
import { connectUNIXDatagram, listenUNIXDatagram, type ConnectUNIXDatagramOptions, type ListenUNIXDatagramOptions, type UNIXDatagramPort } from "./unix-datagram";

declare module "../reactor/reactor" {
  interface Reactor {
    /** Listens on TCP `port` (0 picks one) for `factory` (Twisted's IReactorTCP.listenTCP). */
    listenTCP(port: number, factory: IProtocolFactory, options?: ListenTCPOptions): TCPPort;
    /** Connects `factory` to host:port over TCP (Twisted's IReactorTCP.connectTCP). */
    connectTCP(host: string, port: number, factory: IClientFactory, options?: ConnectTCPOptions): TCPConnector;
    /** Listens on TCP `port` (0 picks one) and serves `factory` over TLS with `contextFactory`'s identity (Twisted's IReactorSSL.listenSSL). */
    listenSSL(port: number, factory: IProtocolFactory, contextFactory: ITLSContextFactory, options?: ListenSSLOptions): TLSPort;
    /** Connects `factory` to host:port over TLS (Twisted's IReactorSSL.connectSSL). */
    connectSSL(host: string, port: number, factory: IClientFactory, contextFactory: ITLSContextFactory, options?: ConnectSSLOptions): TLSConnector;
    /** Listens on a Unix socket path or "\0"-prefixed abstract name (Twisted's IReactorUNIX.listenUNIX). */
    listenUNIX(path: string, factory: IProtocolFactory, options?: ListenUNIXOptions): UNIXPort;
    /** Connects `factory` to a Unix socket (Twisted's IReactorUNIX.connectUNIX). */
    connectUNIX(path: string, factory: IClientFactory, options?: ConnectUNIXOptions): UNIXConnector;
    /** Binds a Unix datagram socket (path or "\0" abstract name) for a DatagramProtocol (Twisted's IReactorUNIXDatagram.listenUNIXDatagram). */
    listenUNIXDatagram(path: string, protocol: IDatagramProtocol, options?: ListenUNIXDatagramOptions): UNIXDatagramPort;
    /** A Unix datagram socket connected to `path`, bound first to `bindAddress` when given (Twisted's IReactorUNIXDatagram.connectUNIXDatagram). */
    connectUNIXDatagram(path: string, protocol: IDatagramProtocol, options?: ConnectUNIXDatagramOptions): UNIXDatagramPort;
    /** Binds UDP `port` for a DatagramProtocol (Twisted's IReactorUDP.listenUDP). */
    listenUDP(port: number, protocol: IDatagramProtocol, options?: ListenUDPOptions): UDPPort;
    /** A UDP port ready for multicast, shareable between processes (Twisted's IReactorMulticast.listenMulticast). */
    listenMulticast(port: number, protocol: IDatagramProtocol, options?: ListenMulticastOptions): UDPPort;
    /** Serves `factory` on listening socket `fd`, which the caller keeps and closes (Twisted's IReactorSocket.adoptStreamPort). */
    adoptStreamPort(fd: number, family: AdoptFamily, factory: IProtocolFactory): AdoptedPort;
    /** Serves connected socket `fd` with a protocol of `factory`; the caller keeps `fd` (IReactorSocket.adoptStreamConnection). */
    adoptStreamConnection(fd: number, family: AdoptFamily, factory: IProtocolFactory): Connection | null;
    /** Serves `protocol` on datagram socket `fd`; the caller keeps `fd` (IReactorSocket.adoptDatagramPort). */
    adoptDatagramPort(fd: number, family: "IPv4" | "IPv6", protocol: IDatagramProtocol, maxPacketSize?: number): AdoptedUDPPort;
    /** Starts `executable` with `args` (args[0] is its argv[0]) driving `processProtocol` (Twisted's IReactorProcess.spawnProcess). */
    spawnProcess(processProtocol: IProcessProtocol, executable: string, args?: readonly string[], options?: SpawnProcessOptions): Process;
  }
}

const proto = Reactor.prototype;

proto.listenTCP = function listenTCPMethod(this: Reactor, port: number, factory: IProtocolFactory, options?: ListenTCPOptions): TCPPort {
  return listenTCP(this, port, factory, options);
};

proto.connectTCP = function connectTCPMethod(this: Reactor, host: string, port: number, factory: IClientFactory, options?: ConnectTCPOptions): TCPConnector {
  return connectTCP(this, host, port, factory, options);
};

proto.listenSSL = function listenSSLMethod(this: Reactor, port: number, factory: IProtocolFactory, contextFactory: ITLSContextFactory, options?: ListenSSLOptions): TLSPort {
  return listenSSL(this, port, factory, contextFactory, options);
};

proto.connectSSL = function connectSSLMethod(this: Reactor, host: string, port: number, factory: IClientFactory, contextFactory: ITLSContextFactory, options?: ConnectSSLOptions): TLSConnector {
  return connectSSL(this, host, port, factory, contextFactory, options);
};

proto.listenUNIX = function listenUNIXMethod(this: Reactor, path: string, factory: IProtocolFactory, options?: ListenUNIXOptions): UNIXPort {
  return listenUNIX(this, path, factory, options);
};

proto.connectUNIX = function connectUNIXMethod(this: Reactor, path: string, factory: IClientFactory, options?: ConnectUNIXOptions): UNIXConnector {
  return connectUNIX(this, path, factory, options);
};

proto.listenUNIXDatagram = function listenUNIXDatagramMethod(this: Reactor, path: string, protocol: IDatagramProtocol, options?: ListenUNIXDatagramOptions): UNIXDatagramPort {
  return listenUNIXDatagram(this, path, protocol, options);
};

proto.connectUNIXDatagram = function connectUNIXDatagramMethod(this: Reactor, path: string, protocol: IDatagramProtocol, options?: ConnectUNIXDatagramOptions): UNIXDatagramPort {
  return connectUNIXDatagram(this, path, protocol, options);
};

proto.listenUDP = function listenUDPMethod(this: Reactor, port: number, protocol: IDatagramProtocol, options?: ListenUDPOptions): UDPPort {
  return listenUDP(this, port, protocol, options);
};

proto.listenMulticast = function listenMulticastMethod(this: Reactor, port: number, protocol: IDatagramProtocol, options?: ListenMulticastOptions): UDPPort {
  return listenMulticast(this, port, protocol, options);
};

proto.adoptStreamPort = function adoptStreamPortMethod(this: Reactor, fd: number, family: AdoptFamily, factory: IProtocolFactory): AdoptedPort {
  return adoptStreamPort(this, fd, family, factory);
};

proto.adoptStreamConnection = function adoptStreamConnectionMethod(this: Reactor, fd: number, family: AdoptFamily, factory: IProtocolFactory): Connection | null {
  return adoptStreamConnection(this, fd, family, factory);
};

proto.adoptDatagramPort = function adoptDatagramPortMethod(this: Reactor, fd: number, family: "IPv4" | "IPv6", protocol: IDatagramProtocol, maxPacketSize?: number): AdoptedUDPPort {
  return adoptDatagramPort(this, fd, family, protocol, maxPacketSize);
};

proto.spawnProcess = function spawnProcessMethod(this: Reactor, processProtocol: IProcessProtocol, executable: string, args?: readonly string[], options?: SpawnProcessOptions): Process {
  return spawnProcess(this, processProtocol, executable, args, options);
};
