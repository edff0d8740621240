/**
 * UDP over IPv4 and IPv6 (Twisted's udp.Port and IReactorUDP / IReactorMulticast):
 * `listenUDP` binds a socket and drives an IDatagramProtocol with `datagramReceived(data,
 * addr)`; the port is the protocol's transport (`write(data, addr)` is sendto).
 *
 * Choices the next reader should not undo:
 * - Datagrams are received into a slab owned by the port and handed over as `subarray`s,
 *   never written over afterwards (the bytes belong to the protocol, docs/design.md); a new slab
 *   is started when the current one has less than `maxPacketSize` left.
 * - A readable event reads at most MAX_READ_BYTES / MAX_READ_DATAGRAMS, so that one busy
 *   UDP port cannot starve the other descriptors of the iteration (level-triggered: the
 *   rest is read on the next iteration).
 * - UDP is lossy: a sendto that meets a full socket buffer (EAGAIN) drops the datagram and
 *   `write` returns 0, rather than queueing without bound.
 * - ICMP errors reach a socket only once it is `connect`ed: ECONNREFUSED (from a previous
 *   write) calls `protocol.connectionRefused()`; other ICMP-reported errors are logged and
 *   the port keeps serving. Any other receive error drops the port.
 */
import { Deferred, succeed } from "../defer";
import { CannotListenError, ConnectError, FdReactorError } from "../error";
import { log } from "../log";
import { native, isSyscallError, AGAIN, type SockAddr } from "../native";
import type { IReadDescriptor } from "../reactor/interfaces";
import { checkInterface, checkPort, hostPort, literalFamily } from "./address";
import type { IReactorFDSet } from "./fdset";
import type { Address, IDatagramProtocol } from "./interfaces";
import { resolveHost } from "./resolve";

/** Default largest datagram read (longer ones are truncated), as Twisted's. */
export const DEFAULT_MAX_PACKET_SIZE = 8192;
/** Bytes read per readable event at most. */
const MAX_READ_BYTES = 256 * 1024;
/** Datagrams read per readable event at most. */
const MAX_READ_DATAGRAMS = 256;
/** Size of a receive slab (at least maxPacketSize). */
const SLAB_SIZE = 64 * 1024;
/** Receive errors a connected socket reports from ICMP messages: logged, not fatal. */
const ICMP_ERRORS = new Set(["EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "EPROTO", "EMSGSIZE", "ETIMEDOUT"]);

/** A datagram was larger than the socket can send (EMSGSIZE; Twisted's MessageLengthError). */
export class MessageLengthError extends FdReactorError {}
/** Joining or leaving a multicast group failed (Twisted's MulticastJoinError). */
export class MulticastJoinError extends FdReactorError {}
/** connect() on a UDP port that is already connected (reconnecting is not supported, as in Twisted). */
export class UDPAlreadyConnectedError extends FdReactorError {}

/**
 * Where a datagram goes: an Address (as given to datagramReceived), any `{ host, port }`
 * or a `[host, port]` pair; host is an IP literal.
 */
export type UDPDestination = Address | { host: string; port: number } | readonly [string, number];

/** Options of listenUDP. */
export interface ListenUDPOptions {
  /** Local address literal to bind: "" or "0.0.0.0" (all IPv4, the default), "::", "127.0.0.1", "::1", a group. */
  interface?: string;
  /** Largest datagram read, in bytes (default 8192; longer ones are truncated). */
  maxPacketSize?: number;
}

/** Options of listenMulticast. */
export interface ListenMulticastOptions extends ListenUDPOptions {
  /** Let several sockets bind the same group and port (SO_REUSEADDR and SO_REUSEPORT). */
  listenMultiple?: boolean;
}

/** What a datagram protocol sees as its transport (Twisted's IUDPTransport + IMulticastTransport). */
export interface IUDPTransport {
  /** Sends one datagram (to `addr`, or to the connected peer): bytes sent, or 0 when the send buffer was full and it was dropped. */
  write(data: Uint8Array | string, addr?: UDPDestination): number;
  /** Restricts the port to one peer: write needs no address and refusals are reported. */
  connect(host: string, port: number): void;
  /** The local address. */
  getHost(): Address;
  /** Stops listening and closes the socket; the Deferred fires once closed. */
  stopListening(): Deferred<void>;
  /** Alias of stopListening. */
  loseConnection(): Deferred<void>;
  /** Joins a multicast group (on interface `iface`, "" = the kernel's choice). */
  joinGroup(addr: string, iface?: string): Deferred<void>;
  /** Leaves a multicast group. */
  leaveGroup(addr: string, iface?: string): Deferred<void>;
  /** Sets the multicast TTL (IPv6: hop limit) of outgoing datagrams. */
  setTTL(ttl: number): void;
  /** The multicast TTL. */
  getTTL(): number;
  /** Whether multicast datagrams sent are also delivered to local members. */
  setLoopbackMode(mode: boolean | number): void;
  /** The multicast loopback mode. */
  getLoopbackMode(): boolean;
  /** Allows sending to broadcast addresses (SO_BROADCAST). */
  setBroadcastAllowed(enabled: boolean): void;
  /** Whether broadcast is allowed. */
  getBroadcastAllowed(): boolean;
}

/** The errno name of a syscall failure (`code`), or undefined. */
function errnoCode(e: unknown): string | undefined {
  return isSyscallError(e) ? e.code : undefined;
}

function checkProtocol(p: unknown): IDatagramProtocol {
  const q = p as IDatagramProtocol | null;
  if (q === null || typeof q !== "object" || typeof q.makeConnection !== "function" || typeof q.datagramReceived !== "function") {
    throw new TypeError("protocol must be a datagram protocol (with makeConnection, datagramReceived, connectionRefused, doStop)");
  }
  return q;
}

/** The UDP Address of a socket address. */
function udpAddress(a: SockAddr): Address {
  if (a.family === "unix") return { type: "UNIX", name: a.path };
  return { type: "UDP", host: a.address, port: a.port, family: a.family };
}

/** A bound UDP socket serving one datagram protocol (Twisted's udp.Port). */
export class UDPPort implements IReadDescriptor, IUDPTransport {
  /** True while listening. */
  connected = false;
  /** The port asked for (0 = any; getHost() tells which was picked). */
  readonly port: number;
  /** The interface address bound. */
  readonly interface: string;
  /** Largest datagram read. */
  readonly maxPacketSize: number;
  /** The protocol this port drives. */
  readonly protocol: IDatagramProtocol;

  private readonly reactor: IReactorFDSet;
  private readonly family: "IPv4" | "IPv6";
  private readonly reuse: boolean;
  private fd = -1;
  private peer: { host: string; port: number } | null = null;
  private slab: Buffer = Buffer.alloc(0);
  private slabUsed = 0;
  /** The last source address made, reused while datagrams keep coming from it. */
  private lastFrom: Address | null = null;
  private readonly encoder = new TextEncoder();

  /** Checks the arguments (startListening binds); `reuse` sets SO_REUSEADDR and SO_REUSEPORT (listenMulticast). */
  constructor(reactor: IReactorFDSet, port: number, protocol: IDatagramProtocol, options: ListenUDPOptions = {}, reuse = false) {
    this.reactor = reactor;
    this.port = checkPort(port, "port");
    this.protocol = checkProtocol(protocol);
    const { address, family } = checkInterface(options.interface);
    this.interface = address;
    this.family = family;
    const max = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (typeof max !== "number" || !Number.isInteger(max)) throw new TypeError(`maxPacketSize must be an integer, received ${String(max)}`);
    if (max < 1 || max > 65536) throw new RangeError(`maxPacketSize must be between 1 and 65536, received ${max}`);
    this.maxPacketSize = max;
    this.reuse = reuse;
  }

  /** The raw fd of the socket (-1 when not listening). */
  fileno(): number {
    return this.fd;
  }

  /** Binds, hands itself to the protocol (makeConnection) and starts reading; throws CannotListenError. */
  startListening(): void {
    let fd = -1;
    try {
      fd = native.socket(this.family, "udp");
      if (this.reuse) {
        native.setsockopt(fd, "SO_REUSEADDR", true);
        native.setsockopt(fd, "SO_REUSEPORT", true);
      }
      native.bind(fd, this.interface, this.port);
    } catch (e) {
      if (fd >= 0) native.close(fd);
      const why = errnoCode(e) ?? (e as { message?: unknown } | null)?.message;
      throw new CannotListenError(`Couldn't listen on ${this.describe()}${why !== undefined ? `: ${String(why)}` : ""}.`, { cause: e });
    }
    this.fd = fd;
    this.connected = true;
    this.protocol.makeConnection(this);
    if (this.connected) this.startReading();
  }

  /** Reads ready datagrams (up to a bound) and hands each to the protocol. */
  doRead(): Error | void {
    let bytes = 0;
    for (let n = 0; n < MAX_READ_DATAGRAMS && bytes < MAX_READ_BYTES && this.connected; n++) {
      if (this.slab.length - this.slabUsed < this.maxPacketSize) {
        this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, this.maxPacketSize));
        this.slabUsed = 0;
      }
      let d;
      try {
        d = native.recvfrom(this.fd, this.slab, this.slabUsed, this.maxPacketSize);
      } catch (e) {
        return this.readFailed(e);
      }
      if (d === null) return;
      const data = this.slab.subarray(this.slabUsed, this.slabUsed + d.bytes);
      // Start the next datagram on an 8-byte boundary of the slab (aligned typed-array views).
      this.slabUsed += (d.bytes + 7) & ~7;
      bytes += d.bytes;
      try {
        this.protocol.datagramReceived(data, this.fromAddress(d.address));
      } catch (e) {
        log("error", `Unhandled error in datagramReceived of ${this.protocolName()}`, e);
      }
    }
  }

  /** The Address for a datagram's source: the previous object when the source is the same. */
  private fromAddress(a: SockAddr): Address {
    const last = this.lastFrom;
    if (last !== null && a.family !== "unix" && last.type === "UDP" && last.port === a.port && last.host === a.address) return last;
    const made = Object.freeze(udpAddress(a));
    this.lastFrom = made;
    return made;
  }

  private readFailed(e: unknown): Error | void {
    if (errnoCode(e) === "ECONNREFUSED") {
      // Twisted reports a refusal only on a connected port (elsewhere it means nothing reliable).
      if (this.peer !== null) this.refused();
      return;
    }
    const code = errnoCode(e);
    if (code !== undefined && ICMP_ERRORS.has(code)) {
      log("warn", `${this.describe()}: ${code} reported by the network for an earlier datagram`, e);
      return;
    }
    return e !== null && typeof e === "object" && typeof (e as Error).message === "string" ? (e as Error) : new FdReactorError(String(e));
  }

  private refused(): void {
    try {
      this.protocol.connectionRefused();
    } catch (e) {
      log("error", `Unhandled error in connectionRefused of ${this.protocolName()}`, e);
    }
  }

  /**
   * Sends `data` as one datagram to `addr` (an IP literal and port), or to the connected
   * peer when the port is connected (then `addr` may be omitted or must be that peer).
   * Returns the bytes sent, or 0 when the socket buffer was full and the datagram was
   * dropped. Throws MessageLengthError when the datagram is too large; a refusal of an
   * earlier datagram on a connected port calls `protocol.connectionRefused()`.
   */
  write(data: Uint8Array | string, addr?: UDPDestination): number {
    if (!this.connected) throw new FdReactorError(`write on ${this.describe()}, which is not listening`);
    const bytes = typeof data === "string" ? this.encoder.encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError("data must be a Buffer, Uint8Array or string");
    let host: string | null = null;
    let port = 0;
    if (this.peer !== null) {
      if (addr !== undefined && addr !== null) {
        const [h, p] = destination(addr);
        if (h !== this.peer.host || p !== this.peer.port) {
          throw new TypeError(`addr must be the connected peer ${hostPort(this.peer.host, this.peer.port)} or omitted, received ${hostPort(h, p)}`);
        }
      }
    } else if (addr !== undefined && addr === this.lastFrom && this.lastFrom.type === "UDP") {
      // An echo to the source of the last datagram: an address the kernel gave us, already valid.
      host = this.lastFrom.host;
      port = this.lastFrom.port;
    } else {
      if (addr === undefined || addr === null) throw new TypeError("addr is required on a port that is not connected");
      [host, port] = destination(addr);
    }
    let n: number;
    try {
      n = native.sendto(this.fd, bytes, 0, bytes.length, host, port);
    } catch (e) {
      if (errnoCode(e) === "EMSGSIZE") throw new MessageLengthError(`message too long: ${bytes.length} bytes`, { cause: e });
      if (errnoCode(e) === "ECONNREFUSED") {
        if (this.peer !== null) this.refused();
        return 0;
      }
      throw e;
    }
    return n === AGAIN ? 0 : n;
  }

  /**
   * Connects the socket to host:port (an IP literal): only that peer's datagrams are
   * received, write needs no address, and refusals call `protocol.connectionRefused()`.
   * Throws UDPAlreadyConnectedError when already connected. When the kernel refuses the
   * connect, a protocol with `connectionFailed(reason)` is told so; otherwise ConnectError is thrown.
   */
  connect(host: string, port: number): void {
    if (this.peer !== null) throw new UDPAlreadyConnectedError("already connected: reconnecting a UDP port is not supported");
    if (typeof host !== "string" || literalFamily(host) === null) throw new TypeError(`host must be an IPv4 or IPv6 address literal, received ${String(host)}`);
    checkPort(port, "port");
    if (!this.connected) throw new FdReactorError(`connect on ${this.describe()}, which is not listening`);
    try {
      native.connect(this.fd, host, port);
    } catch (e) {
      const err = new ConnectError(`Couldn't connect ${this.describe()} to ${hostPort(host, port)}${errnoCode(e) !== undefined ? `: ${errnoCode(e)}` : ""}.`, { cause: e });
      const failed = (this.protocol as { connectionFailed?: (reason: Error) => void }).connectionFailed;
      if (typeof failed !== "function") throw err;
      failed.call(this.protocol, err);
      return;
    }
    this.peer = { host, port };
  }

  /** The local address. */
  getHost(): Address {
    if (this.fd < 0) throw new FdReactorError(`getHost on ${this.describe()}, which is not listening`);
    return udpAddress(native.getsockname(this.fd));
  }

  /** The connected peer's address, or null when not connected. */
  getPeer(): Address | null {
    if (this.peer === null) return null;
    return { type: "UDP", host: this.peer.host, port: this.peer.port, family: literalFamily(this.peer.host) ?? this.family };
  }

  /** Stops reading, closes the socket and calls the protocol's doStop; the Deferred fires once closed. */
  stopListening(): Deferred<void> {
    this.close();
    return succeed(undefined);
  }

  /** Alias of stopListening (Twisted's udp.Port.loseConnection). */
  loseConnection(): Deferred<void> {
    return this.stopListening();
  }

  /** The reactor dropped the port (a receive error, or shutdown): close it. */
  connectionLost(reason: Error): void {
    if (this.connected) log("debug", `${this.describe()} lost: ${reason.message}`);
    this.close();
  }

  private close(): void {
    if (!this.connected) return;
    this.connected = false;
    this.stopReading();
    const fd = this.fd;
    this.fd = -1;
    this.peer = null;
    native.close(fd);
    try {
      this.protocol.doStop();
    } catch (e) {
      log("error", `Unhandled error in doStop of ${this.protocolName()}`, e);
    }
  }

  /** Joins multicast group `addr` (a literal or a name to resolve) on interface `iface` ("" = any; IPv4: an address, IPv6: a name or index). */
  joinGroup(addr: string, iface = ""): Deferred<void> {
    return this.membership(addr, iface, true);
  }

  /** Leaves multicast group `addr` on interface `iface`. */
  leaveGroup(addr: string, iface = ""): Deferred<void> {
    return this.membership(addr, iface, false);
  }

  private membership(addr: string, iface: string, join: boolean): Deferred<void> {
    if (typeof addr !== "string") throw new TypeError("addr must be a multicast group address or name");
    if (typeof iface !== "string") throw new TypeError("iface must be a string");
    const d = new Deferred<void>();
    const apply = (group: string): void => {
      if (!this.connected) {
        d.errback(new MulticastJoinError(`${join ? "join" : "leave"} ${group}: ${this.describe()} is not listening`));
        return;
      }
      try {
        native.setMembership(this.fd, group, iface, join);
      } catch (e) {
        const why = errnoCode(e) ?? String((e as { message?: unknown } | null)?.message ?? e);
        d.errback(new MulticastJoinError(`Couldn't ${join ? "join" : "leave"} multicast group ${group} on interface "${iface}": ${why}`, { cause: e }));
        return;
      }
      d.callback(undefined);
    };
    let resolved: string | PromiseLike<string>;
    try {
      resolved = resolveHost(this.reactor, addr);
    } catch (e) {
      d.errback(e);
      return d;
    }
    if (typeof resolved === "string") apply(resolved);
    else resolved.then(apply, (e: unknown) => d.errback(e));
    return d;
  }

  /** Sets the multicast TTL (IPv6: hop limit), 0-255. */
  setTTL(ttl: number): void {
    if (typeof ttl !== "number" || !Number.isInteger(ttl)) throw new TypeError(`ttl must be an integer, received ${String(ttl)}`);
    if (ttl < 0 || ttl > 255) throw new RangeError(`ttl must be between 0 and 255, received ${ttl}`);
    native.setsockopt(this.liveFd("setTTL"), "IP_MULTICAST_TTL", ttl);
  }

  /** The multicast TTL (IPv6: hop limit). */
  getTTL(): number {
    return native.getsockopt(this.liveFd("getTTL"), "IP_MULTICAST_TTL");
  }

  /** Whether multicast datagrams this socket sends are looped back to local members. */
  setLoopbackMode(mode: boolean | number): void {
    native.setsockopt(this.liveFd("setLoopbackMode"), "IP_MULTICAST_LOOP", Boolean(mode));
  }

  /** The multicast loopback mode. */
  getLoopbackMode(): boolean {
    return native.getsockopt(this.liveFd("getLoopbackMode"), "IP_MULTICAST_LOOP") !== 0;
  }

  /** Allows or forbids sending to broadcast addresses (SO_BROADCAST). */
  setBroadcastAllowed(enabled: boolean): void {
    native.setsockopt(this.liveFd("setBroadcastAllowed"), "SO_BROADCAST", Boolean(enabled));
  }

  /** Whether sending to broadcast addresses is allowed. */
  getBroadcastAllowed(): boolean {
    return native.getsockopt(this.liveFd("getBroadcastAllowed"), "SO_BROADCAST") !== 0;
  }

  private liveFd(what: string): number {
    if (this.fd < 0) throw new FdReactorError(`${what} on ${this.describe()}, which is not listening`);
    return this.fd;
  }

  // addReader/removeReader are idempotent (fdset.ts): no flag of our own.
  private startReading(): void {
    this.reactor.addReader(this);
  }

  private stopReading(): void {
    this.reactor.removeReader(this);
  }

  private protocolName(): string {
    return (this.protocol as object).constructor.name;
  }

  /** Words for messages: "UDP port 127.0.0.1:5353". */
  private describe(): string {
    return `UDP port ${hostPort(this.interface, this.port)}`;
  }
}

/** [host, port] of a destination, checked. */
function destination(addr: UDPDestination): [string, number] {
  let host: unknown;
  let port: unknown;
  if (Array.isArray(addr)) [host, port] = addr as readonly [unknown, unknown];
  else if (addr !== null && typeof addr === "object") ({ host, port } = addr as { host: unknown; port: unknown });
  if (typeof host !== "string" || literalFamily(host) === null) {
    throw new TypeError(`addr host must be an IPv4 or IPv6 address literal (write does not resolve names), received ${String(host)}`);
  }
  return [host, checkPort(port, "addr port")];
}

/** Binds UDP `port` (0 picks a free one) and serves `protocol`; throws CannotListenError. */
export function listenUDP(reactor: IReactorFDSet, port: number, protocol: IDatagramProtocol, options?: ListenUDPOptions): UDPPort {
  const p = new UDPPort(reactor, port, protocol, options);
  p.startListening();
  return p;
}

/**
 * As listenUDP, for a multicast receiver (Twisted's listenMulticast): with `listenMultiple`
 * several sockets may bind the same port. Join groups with `port.joinGroup`.
 */
export function listenMulticast(reactor: IReactorFDSet, port: number, protocol: IDatagramProtocol, options: ListenMulticastOptions = {}): UDPPort {
  const p = new UDPPort(reactor, port, protocol, options, options.listenMultiple === true);
  p.startListening();
  return p;
}
