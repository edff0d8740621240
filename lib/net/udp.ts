/**
 * UDP over IPv4 and IPv6 (Twisted's udp.Port and IReactorUDP / IReactorMulticast):
 * `listenUDP` binds a socket and drives an IDatagramProtocol with `datagramReceived(data,
 * addr)`; the port is the protocol's transport (`write(data, addr)` is sendto).
 *
 * Choices the next reader should not undo:
 * - Datagrams arrive in batches (native recvBatch: recvmmsg on Linux, one N-API call for up
 *   to DATAGRAM_BATCH datagrams) into a slab owned by the port and are handed over as
 *   `subarray`s, never written over afterwards (the bytes belong to the protocol,
 *   docs/design.md); a new slab is started when the current one has fewer free
 *   maxPacketSize slots than a batch may need. A port's first slab is small (a port that
 *   hears a few datagrams, like a resolver's socket, must not cost 256 KiB); a batch that
 *   filled all the room it was given makes the next slab four times larger, up to
 *   SLAB_SIZE, so a busy port soon reads full batches.
 *   Source addresses come back as words and are interned (datagram-addresses.ts): no
 *   object per datagram from a peer already seen.
 * - A batch that comes back short means the socket queue is empty: no further call is made
 *   to meet EAGAIN (level-triggered: anything that arrives later wakes us again).
 * - A readable event reads at most MAX_READ_BYTES / MAX_READ_DATAGRAMS, so that one busy
 *   UDP port cannot starve the other descriptors of the iteration.
 * - A datagram longer than maxPacketSize is never handed over silently cut: it goes to the
 *   protocol's `datagramTruncated(data, addr, size)`, or is dropped with a warning.
 * - Writes made while the port dispatches a batch (an echo, a reply) are copied into a send
 *   slab and leave in one sendBatch (sendmmsg) once the batch is dispatched; elsewhere a
 *   write is sent at once. Either way the destination literal is parsed once per host.
 * - UDP is lossy: a send that meets a full socket buffer (EAGAIN) drops the datagram and
 *   `write` returns 0 (for a queued write: the datagram is dropped at the flush), rather
 *   than queueing without bound.
 * - ICMP errors reach a socket only once it is `connect`ed: ECONNREFUSED (from a previous
 *   write) calls `protocol.connectionRefused()`; other ICMP-reported errors are logged and
 *   the port keeps serving. Any other receive error drops the port.
 */
import { Deferred, Failure, succeed } from "../defer";
import { CannotListenError, ConnectError, FdReactorError } from "../error";
import { log } from "../log";
import { native, isSyscallError, AGAIN, RECV_RECORD_WORDS, RECV_TRUNCATED, SEND_RECORD_WORDS, type SockAddr } from "../native";
import type { IReadDescriptor } from "../reactor/interfaces";
import { checkInterface, checkPort, hostPort, literalFamily } from "./address";
import type { IReactorFDSet } from "./fdset";
import { DestinationWords, SourceAddresses } from "./datagram-addresses";
import type { Address, IDatagramProtocol } from "./interfaces";
import { errnoName, syscallError } from "./oserror";
import { resolveHost } from "./resolve";

/** Default largest datagram read (longer ones are truncated), as Twisted's. */
export const DEFAULT_MAX_PACKET_SIZE = 8192;
/** Bytes read per readable event at most. */
const MAX_READ_BYTES = 256 * 1024;
/** Datagrams read per readable event at most. */
const MAX_READ_DATAGRAMS = 256;
/** Largest receive slab (at least 2 * MIN_SLOTS maxPacketSize slots). */
const SLAB_SIZE = 256 * 1024;
/** Free maxPacketSize slots a full-size slab keeps for a batch (fewer: a new slab), so batches stay long. */
const MIN_SLOTS = 16;
/** maxPacketSize slots of a port's first receive slab. */
const FIRST_SLAB_SLOTS = 4;
/** Datagrams per native batch call. */
const BATCH = native.DATAGRAM_BATCH;
/** Largest send slab, which gathers the writes made while a batch is dispatched. */
const SEND_SLAB_SIZE = 64 * 1024;
/** A port's first send slab (made at its first gathered write); it grows when it fills. */
const FIRST_SEND_SLAB_SIZE = 4096;
/** Largest write gathered into the send slab; a larger one is sent at once (its errors thrown to the writer). */
const MAX_GATHERED = 8192;
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
  /** Sends each of `datagrams` as one datagram, in one native call (sendmmsg) where they fit. */
  writeBatch(datagrams: readonly (Uint8Array | string)[], addr?: UDPDestination): void;
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

/** The send slab of a port that has gathered no write yet. */
const EMPTY = Buffer.alloc(0);

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

/** A protocol that wants to hear of datagrams cut at maxPacketSize (DatagramProtocol has it). */
interface TruncationAware {
  datagramTruncated?(data: Buffer, addr: Address, size: number): void;
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
  /** The connected peer, or null (unix-datagram.ts keeps its path in `host`). */
  protected peer: { host: string; port: number } | null = null;
  /** Sun_path bytes of Unix addresses for the batches (unix-datagram.ts), undefined for UDP. */
  protected names: Uint8Array | undefined = undefined;
  private slab: Buffer = Buffer.alloc(0);
  private slabUsed = 0;
  /** maxPacketSize slots of the next receive slab: grows from FIRST_SLAB_SLOTS as batches fill. */
  private slabSlots = FIRST_SLAB_SLOTS;
  /** recvBatch's records, reused for every batch. */
  private readonly recvRecords = new Int32Array(BATCH * RECV_RECORD_WORDS);
  private readonly sources = new SourceAddresses();
  private readonly destinations = new DestinationWords();
  /** Writes gathered while a batch is dispatched: their bytes, records and count. */
  private sendSlab: Buffer = EMPTY;
  private readonly sendRecords = new Int32Array(BATCH * SEND_RECORD_WORDS);
  private sendCount = 0;
  private sendUsed = 0;
  /** The record of a write sent at once. */
  private readonly oneRecord = new Int32Array(SEND_RECORD_WORDS);
  /** True while doRead hands a batch to the protocol: writes are gathered. */
  private dispatching = false;
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
      fd = this.openSocket();
    } catch (e) {
      const why = errnoCode(e) ?? (e as { message?: unknown } | null)?.message;
      throw new CannotListenError(`Couldn't listen on ${this.describe()}${why !== undefined ? `: ${String(why)}` : ""}.`, { cause: e });
    }
    this.fd = fd;
    this.connected = true;
    this.protocol.makeConnection(this);
    if (this.connected) this.startReading();
  }

  /** The bound socket (adopt.ts gives one made elsewhere); closes what it made when it throws. */
  protected openSocket(): number {
    const fd = native.socket(this.family, "udp");
    try {
      if (this.reuse) {
        native.setsockopt(fd, "SO_REUSEADDR", true);
        native.setsockopt(fd, "SO_REUSEPORT", true);
      }
      native.bind(fd, this.interface, this.port);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return fd;
  }

  /** Reads ready datagrams in batches (up to a bound) and hands each to the protocol; then sends what it wrote. */
  doRead(): Error | void {
    const rec = this.recvRecords;
    const slot = (this.maxPacketSize + 7) & ~7;
    let datagrams = 0;
    let bytes = 0;
    this.dispatching = true;
    try {
      while (this.connected && datagrams < MAX_READ_DATAGRAMS && bytes < MAX_READ_BYTES) {
        // Half the slab's slots, at most MIN_SLOTS: the free room a batch gets at least.
        const keep = Math.min(MIN_SLOTS, this.slabSlots >> 1);
        if (this.slab.length - this.slabUsed < slot * keep) {
          this.slab = Buffer.allocUnsafe(slot * this.slabSlots);
          this.slabUsed = 0;
        }
        const room = ((this.slab.length - this.slabUsed) / slot) | 0;
        const want = Math.min(BATCH, MAX_READ_DATAGRAMS - datagrams, room);
        let n: number;
        try {
          n = native.recvBatch(this.fd, this.slab, this.slabUsed, this.maxPacketSize, want, rec, this.names);
        } catch (e) {
          return this.readFailed(e);
        }
        if (n === 0) return;
        const slab = this.slab;
        const last = (n - 1) * RECV_RECORD_WORDS;
        this.slabUsed = (rec[last] + rec[last + 1] + 7) & ~7;
        for (let i = 0; i < n && this.connected; i++) {
          const b = i * RECV_RECORD_WORDS;
          const data = slab.subarray(rec[b], rec[b] + rec[b + 1]);
          bytes += rec[b + 1];
          this.deliver(data, this.sourceAddress(rec, b + 4), (rec[b + 3] & RECV_TRUNCATED) !== 0 ? rec[b + 2] : -1);
        }
        datagrams += n;
        // A short batch emptied the queue: asking again would only meet EAGAIN.
        if (n < want) return;
        // The batch filled the slab's room: the next one gets a slab four times larger (up to
        // SLAB_SIZE) at once, the rest of this small one left unused.
        if (want === room && room < BATCH && this.slabSlots < this.maxSlabSlots(slot)) {
          this.slabSlots = Math.min(this.slabSlots * 4, this.maxSlabSlots(slot));
          this.slabUsed = this.slab.length;
        }
      }
    } finally {
      this.dispatching = false;
      if (this.sendCount > 0) this.flush();
    }
  }

  /** Slots of a full-size receive slab: SLAB_SIZE bytes, and at least 2 * MIN_SLOTS. */
  private maxSlabSlots(slot: number): number {
    return Math.max((SLAB_SIZE / slot) | 0, MIN_SLOTS * 2);
  }

  /** The Address of the source block at rec[b] (interned). */
  protected sourceAddress(rec: Int32Array, b: number): Address {
    return this.sources.get(rec, b);
  }

  /** An address for messages: "host:port". */
  protected describeAddress(addr: Address): string {
    return hostPort((addr as { host: string }).host, (addr as { port: number }).port);
  }

  /** One datagram to the protocol; `size` >= 0 when the kernel cut it from that many bytes. */
  private deliver(data: Buffer, addr: Address, size: number): void {
    try {
      if (size < 0) {
        this.protocol.datagramReceived(data, addr);
        return;
      }
      const p = this.protocol as IDatagramProtocol & TruncationAware;
      if (typeof p.datagramTruncated === "function") p.datagramTruncated(data, addr, size);
      else log("warn", `${this.describe()}: dropped a ${size}-byte datagram from ${this.describeAddress(addr)}, longer than maxPacketSize ${this.maxPacketSize}`);
    } catch (e) {
      log("error", `Unhandled error in datagramReceived of ${this.protocolName()}`, e);
    }
  }

  /** What a failed read means: a refusal goes to the protocol, ICMP reports are logged, anything else is returned (it closes the port). */
  protected readFailed(e: unknown): Error | void {
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
   * earlier datagram on a connected port calls `protocol.connectionRefused()`. Inside
   * `datagramReceived` a datagram of up to 8 KiB is copied and sent with the batch's other
   * replies once the batch is dispatched: then the length is returned, and a send error
   * is logged (a refusal still calls connectionRefused).
   */
  write(data: Uint8Array | string, addr?: UDPDestination): number {
    if (!this.connected) throw new FdReactorError(`write on ${this.describe()}, which is not listening`);
    const bytes = typeof data === "string" ? this.encoder.encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError("data must be a Buffer, Uint8Array or string");
    const gather = this.dispatching && bytes.length <= MAX_GATHERED;
    if (gather && (this.sendCount === BATCH || this.sendSlab.length - this.sendUsed < bytes.length)) this.makeSendRoom(bytes.length);
    const rec = gather ? this.sendRecords : this.oneRecord;
    const b = gather ? this.sendCount * SEND_RECORD_WORDS : 0;
    this.fillDestination(addr, rec, b + 3);
    if (gather) {
      this.sendSlab.set(bytes, this.sendUsed);
      rec[b] = this.sendUsed;
      rec[b + 1] = bytes.length;
      this.sendUsed += bytes.length;
      this.sendCount++;
      return bytes.length;
    }
    if (this.sendCount > 0) this.flush(); // keep the order of this port's datagrams
    rec[0] = 0;
    rec[1] = bytes.length;
    native.sendBatch(this.fd, bytes, rec, 1, this.names);
    const result = rec[2];
    if (result >= 0) return result;
    if (result === AGAIN) return 0;
    const cause = syscallError(-result, "sendmsg");
    if (cause.code === "EMSGSIZE") throw new MessageLengthError(`message too long: ${bytes.length} bytes`, { cause });
    if (cause.code === "ECONNREFUSED") {
      if (this.peer !== null) this.refused();
      return 0;
    }
    throw cause;
  }

  /**
   * Sends each of `datagrams` (to `addr`, or to the connected peer) as one datagram, all in
   * one native call where they fit the send slab, in order. As writes made during a batch:
   * a send error of a datagram up to 8 KiB is logged (a refusal calls connectionRefused),
   * a larger one is sent at once and throws as `write` does.
   */
  writeBatch(datagrams: readonly (Uint8Array | string)[], addr?: UDPDestination): void {
    if (!Array.isArray(datagrams)) throw new TypeError("datagrams must be an array of Buffers, Uint8Arrays or strings");
    const was = this.dispatching;
    this.dispatching = true;
    try {
      for (let i = 0; i < datagrams.length; i++) this.write(datagrams[i], addr);
    } finally {
      this.dispatching = was;
      if (!was && this.sendCount > 0) this.flush();
    }
  }

  /** Writes the address block of `addr` (or of the connected peer: family 0) at rec[b]; throws on a wrong addr. */
  protected fillDestination(addr: UDPDestination | undefined, rec: Int32Array, b: number): void {
    if (this.peer !== null) {
      if (addr !== undefined && addr !== null) {
        const host = destinationHost(addr);
        const port = destinationPort(addr);
        if (host !== this.peer.host || port !== this.peer.port) {
          throw new TypeError(`addr must be the connected peer ${hostPort(this.peer.host, this.peer.port)} or omitted, received ${hostPort(String(host), Number(port))}`);
        }
      }
      rec[b] = 0;
      return;
    }
    if (addr === undefined || addr === null) throw new TypeError("addr is required on a port that is not connected");
    if (this.sources.fillIfLast(addr, rec, b)) return; // a reply to the datagram just received
    this.destinations.fill(destinationHost(addr), destinationPort(addr), rec, b);
  }

  /**
   * Flushes the gathered writes to make room for `length` more bytes; a slab that was too
   * small for what was gathered is replaced by a larger one (four times, up to SEND_SLAB_SIZE).
   */
  private makeSendRoom(length: number): void {
    const full = this.sendCount < BATCH; // the bytes ran out before the records did
    if (this.sendCount > 0) this.flush();
    const size = this.sendSlab.length;
    if (size < SEND_SLAB_SIZE && (full || size < length)) {
      this.sendSlab = Buffer.allocUnsafe(Math.min(SEND_SLAB_SIZE, Math.max(size * 4, FIRST_SEND_SLAB_SIZE, length)));
    }
  }

  /** Sends the writes gathered during a batch in one native call; failures are reported per datagram. */
  private flush(): void {
    const count = this.sendCount;
    this.sendCount = 0;
    this.sendUsed = 0;
    if (!this.connected) return;
    const rec = this.sendRecords;
    if (native.sendBatch(this.fd, this.sendSlab, rec, count, this.names) === count) return;
    for (let i = 0; i < count; i++) {
      const result = rec[i * SEND_RECORD_WORDS + 2];
      if (result >= 0 || result === AGAIN) continue; // AGAIN: dropped, as a full buffer drops any datagram
      const code = errnoName(-result);
      if (code === "ECONNREFUSED") {
        if (this.peer !== null) this.refused();
      } else {
        log("warn", `${this.describe()}: a ${rec[i * SEND_RECORD_WORDS + 1]}-byte datagram written during datagramReceived was not sent: ${code}`);
      }
    }
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
      const failed = (this.protocol as { connectionFailed?: (reason: Failure) => void }).connectionFailed;
      if (typeof failed !== "function") throw err;
      failed.call(this.protocol, new Failure(err));
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
  connectionLost(reason: Failure): void {
    if (this.connected) log("debug", `${this.describe()} lost: ${reason.getErrorMessage()}`);
    this.close();
  }

  private close(): void {
    if (!this.connected) return;
    if (this.sendCount > 0) this.flush(); // the writes already accepted leave first
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
  protected describe(): string {
    return `UDP port ${hostPort(this.interface, this.port)}`;
  }
}

/** The host of a destination (checked by DestinationWords). */
function destinationHost(addr: UDPDestination): unknown {
  if (Array.isArray(addr)) return (addr as readonly unknown[])[0];
  return typeof addr === "object" ? (addr as { host?: unknown }).host : undefined;
}

/** The port of a destination (checked by DestinationWords). */
function destinationPort(addr: UDPDestination): unknown {
  if (Array.isArray(addr)) return (addr as readonly unknown[])[1];
  return typeof addr === "object" ? (addr as { port?: unknown }).port : undefined;
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
