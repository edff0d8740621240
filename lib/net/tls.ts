/**
 * TLS over TCP (Twisted's IReactorSSL): `listenSSL` makes a `TLSPort`, whose accepted
 * connections start a server session before their protocol is attached; `connectSSL` a
 * `TLSConnector`, whose connection starts the client handshake (SNI, verification and
 * resumption as its context factory says) right after the TCP connect. The transport is
 * the plain `Connection` with TLS on (connection.ts), so producers, water marks,
 * half-close and the batched write routine are the ones of TCP. docs/tls.md tells the rest.
 */
import type { Address, IClientFactory, IProtocolFactory } from "./interfaces";
import type { IReactorFDSet } from "./fdset";
import { Connection } from "./connection";
import type { Client } from "./connector";
import { TCPConnector, TCPPort, type ConnectTCPOptions, type ListenTCPOptions } from "./tcp";
import { checkHandshakeTimeout } from "./tls-layer";
import { checkContextFactory, type ITLSContextFactory } from "./tls-options";

/** Options of listenSSL: listenTCP's, and how long a handshake may take. */
export interface ListenSSLOptions extends ListenTCPOptions {
  /** Seconds a client has to complete its handshake before TLSHandshakeTimeout (default 30; 0: no limit). */
  handshakeTimeout?: number;
}

/** Options of connectSSL: connectTCP's, and how long the handshake may take. */
export interface ConnectSSLOptions extends ConnectTCPOptions {
  /** Seconds the handshake may take after the TCP connect before TLSHandshakeTimeout (default 30; 0: no limit). */
  handshakeTimeout?: number;
}

/** A listening TCP socket whose connections speak TLS (Twisted's ssl.Port). */
export class TLSPort extends TCPPort {
  /** The settings each accepted connection's session is made with. */
  readonly contextFactory: ITLSContextFactory;
  /** Seconds a handshake may take (0: no limit). */
  readonly handshakeTimeout: number;

  /** Checks the arguments (the server context is built now, so a bad identity throws here); startListening binds. */
  constructor(reactor: IReactorFDSet, port: number, factory: IProtocolFactory, contextFactory: ITLSContextFactory, options: ListenSSLOptions = {}) {
    const { handshakeTimeout, ...tcp } = options;
    super(reactor, port, factory, tcp);
    this.contextFactory = checkContextFactory(contextFactory);
    this.handshakeTimeout = checkHandshakeTimeout(handshakeTimeout);
    contextFactory.serverContext();
  }

  /** "TLS port host:port". */
  protected override describe(): string {
    return super.describe().replace(/^TCP/, "TLS");
  }

  /** A connection with a server session on it. */
  protected override transportFor(fd: number, peer: Address): Connection {
    const c = new Connection(this.reactor, fd, this.addressOf, peer);
    c.beginTLS({ contextFactory: this.contextFactory, server: true, host: "", port: 0, handshakeTimeout: this.handshakeTimeout });
    return c;
  }
}

/** Connects a client factory to host:port over TLS (Twisted's ssl.Connector). */
export class TLSConnector extends TCPConnector {
  /** The settings of the client session. */
  readonly contextFactory: ITLSContextFactory;
  /** Seconds the handshake may take (0: no limit). */
  readonly handshakeTimeout: number;

  /** Checks the arguments; connect() starts an attempt. */
  constructor(reactor: IReactorFDSet, host: string, port: number, factory: IClientFactory, contextFactory: ITLSContextFactory, options: ConnectSSLOptions = {}) {
    const { handshakeTimeout, ...tcp } = options;
    super(reactor, host, port, factory, tcp);
    this.contextFactory = checkContextFactory(contextFactory);
    this.handshakeTimeout = checkHandshakeTimeout(handshakeTimeout);
  }

  /** Starts the client handshake on the connected socket, before the protocol is attached. */
  override prepareTransport(transport: Client): void {
    transport.beginTLS({ contextFactory: this.contextFactory, server: false, host: this.host, port: this.port, handshakeTimeout: this.handshakeTimeout });
  }
}

/** Listens on TCP `port` (0 picks one) and serves `factory`'s protocols over TLS with `contextFactory`'s identity; throws CannotListenError. */
export function listenSSL(reactor: IReactorFDSet, port: number, factory: IProtocolFactory, contextFactory: ITLSContextFactory, options?: ListenSSLOptions): TLSPort {
  const p = new TLSPort(reactor, port, factory, contextFactory, options);
  p.startListening();
  return p;
}

/** Connects to host:port over TLS and tells `factory` how it went; returns the connector (already connecting). */
export function connectSSL(reactor: IReactorFDSet, host: string, port: number, factory: IClientFactory, contextFactory: ITLSContextFactory, options?: ConnectSSLOptions): TLSConnector {
  const c = new TLSConnector(reactor, host, port, factory, contextFactory, options);
  c.connect();
  return c;
}
