/**
 * TCP over IPv4 and IPv6 (Twisted's IReactorTCP): `listenTCP` makes a `TCPPort`,
 * `connectTCP` a `TCPConnector`. Connections are the shared `Connection` transport.
 *
 * Host names given to connectTCP go through the reactor's resolver hook (resolve.ts).
 * The default backlog is Node's 511 rather than Twisted's 50: a server that takes 1,000
 * connections at once should not see SYNs dropped and retried a second later.
 */
import { native } from "../native";
import { checkInterface, checkPort, hostPort, literalFamily, tcpAddress } from "./address";
import { Connector, DEFAULT_CONNECT_TIMEOUT } from "./connector";
import type { IReactorFDSet } from "./fdset";
import type { Address, IClientFactory, IProtocolFactory } from "./interfaces";
import { Port } from "./port";
import { resolveHostAll } from "./resolve";

/** Default listen backlog. */
export const DEFAULT_BACKLOG = 511;

/** Options of listenTCP. */
export interface ListenTCPOptions {
  /** listen(2) backlog (default 511). */
  backlog?: number;
  /** Local address literal to bind: "" or "0.0.0.0" (all IPv4, the default), "::", "127.0.0.1", "::1". */
  interface?: string;
  /** Set SO_REUSEPORT so several processes or threads can each listen on the port. */
  reusePort?: boolean;
}

/** A local address to bind an outgoing socket to: `{ host, port }`, `[host, port]` or a host. */
export type BindAddress = { host: string; port?: number } | [string, number] | string;

/** Options of connectTCP. */
export interface ConnectTCPOptions {
  /** Seconds before the attempt fails with TCPTimedOutError (default 30; 0 = never). */
  timeout?: number;
  /** Local address (and port) to bind before connecting. */
  bindAddress?: BindAddress;
}

/** A listening TCP socket (Twisted's tcp.Port). */
export class TCPPort extends Port {
  /** The port asked for (0 = any; getHost() tells which was picked). */
  readonly port: number;
  /** The interface address bound. */
  readonly interface: string;
  /** Whether SO_REUSEPORT is set. */
  readonly reusePort: boolean;
  private readonly family: "IPv4" | "IPv6";
  private host: Address | null = null;

  /** Checks the arguments; startListening binds. */
  constructor(reactor: IReactorFDSet, port: number, factory: IProtocolFactory, options: ListenTCPOptions = {}) {
    super(reactor, factory, options.backlog ?? DEFAULT_BACKLOG);
    this.port = checkPort(port, "port");
    const { address, family } = checkInterface(options.interface);
    this.interface = address;
    this.family = family;
    this.reusePort = options.reusePort === true;
  }

  /** A TCP socket with SO_REUSEADDR (and SO_REUSEPORT when asked), bound. */
  protected bindSocket(): number {
    const fd = native.socket(this.family, "tcp");
    try {
      native.setsockopt(fd, "SO_REUSEADDR", true);
      if (this.reusePort) native.setsockopt(fd, "SO_REUSEPORT", true);
      native.bind(fd, this.interface, this.port);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return fd;
  }

  /** "TCP port host:port". */
  protected describe(): string {
    return `TCP port ${hostPort(this.interface, this.port)}`;
  }

  /** TCP socket addresses become TCP Addresses. */
  protected readonly addressOf = tcpAddress;

  /** The bound address (with the port the kernel picked for port 0). */
  getHost(): Address {
    if (this.host === null) {
      if (this.fd < 0) return { type: "TCP", host: this.interface, port: this.port, family: this.family };
      this.host = tcpAddress(native.getsockname(this.fd));
    }
    return this.host;
  }
}

/** Connects a client factory to host:port over TCP (Twisted's tcp.Connector). */
export class TCPConnector extends Connector {
  /** The host name or address literal to connect to. */
  readonly host: string;
  /** The port to connect to. */
  readonly port: number;
  /** The local address to bind first, or null. */
  readonly bindAddress: { host: string; port: number } | null;
  /** TCP socket addresses become TCP Addresses. */
  readonly addressOf = tcpAddress;

  /** Checks the arguments; connect() starts an attempt. */
  constructor(reactor: IReactorFDSet, host: string, port: number, factory: IClientFactory, options: ConnectTCPOptions = {}) {
    super(reactor, factory, options.timeout ?? DEFAULT_CONNECT_TIMEOUT);
    if (typeof host !== "string" || host === "") throw new TypeError("host must be a non-empty host name or address");
    this.host = host;
    this.port = checkPort(port, "port");
    this.bindAddress = normaliseBindAddress(options.bindAddress);
  }

  /** The destination as given (the name, not the resolved address). */
  getDestination(): Address {
    return { type: "TCP", host: this.host, port: this.port, family: literalFamily(this.host) ?? "IPv4" };
  }

  /** "host:port" for messages. */
  describe(): string {
    return hostPort(this.host, this.port);
  }

  /** A literal at once; a name through the reactor's resolver. */
  resolveDestination(): string[] | PromiseLike<string[]> {
    return resolveHostAll(this.reactor, this.host);
  }

  /** A socket of the target's family, bound to bindAddress when one was given. */
  openSocket(target: string): number {
    const family = literalFamily(target);
    if (family === null) throw new TypeError(`the resolver returned "${target}", which is not an address literal`);
    const fd = native.socket(family, "tcp");
    if (this.bindAddress !== null) {
      try {
        native.bind(fd, this.bindAddress.host, this.bindAddress.port);
      } catch (e) {
        native.close(fd);
        throw e;
      }
    }
    return fd;
  }

  /** Starts the non-blocking connect. */
  startConnect(fd: number, target: string): boolean {
    return native.connect(fd, target, this.port);
  }
}

function normaliseBindAddress(b: BindAddress | undefined): { host: string; port: number } | null {
  if (b === undefined || b === null) return null;
  let host: unknown;
  let port: unknown = 0;
  if (typeof b === "string") host = b;
  else if (Array.isArray(b)) [host, port] = b;
  else if (typeof b === "object") ({ host, port = 0 } = b);
  if (typeof host !== "string" || literalFamily(host) === null) throw new TypeError("bindAddress must name an IPv4 or IPv6 address literal");
  return { host, port: checkPort(port, "bindAddress port") };
}

/** Listens on TCP `port` (0 picks a free one) and serves `factory`'s protocols; throws CannotListenError. */
export function listenTCP(reactor: IReactorFDSet, port: number, factory: IProtocolFactory, options?: ListenTCPOptions): TCPPort {
  const p = new TCPPort(reactor, port, factory, options);
  p.startListening();
  return p;
}

/** Connects to host:port and tells `factory` how it went; returns the connector (already connecting). */
export function connectTCP(reactor: IReactorFDSet, host: string, port: number, factory: IClientFactory, options?: ConnectTCPOptions): TCPConnector {
  const c = new TCPConnector(reactor, host, port, factory, options);
  c.connect();
  return c;
}
