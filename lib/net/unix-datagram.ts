/**
 * Unix datagram sockets (Twisted's IReactorUNIXDatagram): `listenUNIXDatagram` binds a path
 * or "\0"-prefixed abstract name and drives a datagram protocol with
 * `datagramReceived(data, { type: "UNIX", name })`; `connectUNIXDatagram` connects to one
 * (optionally bound itself, so the other side can answer).
 *
 * A Unix datagram port is a UDP port in everything but its addresses, as Twisted's
 * unix.DatagramPort is a udp.Port: the same batched reads (recvmmsg) into slabs, the same
 * gathered replies (sendmmsg), datagram boundaries kept, a datagram longer than
 * maxPacketSize reported to `datagramTruncated(data, addr, size)`, never cut silently. The
 * native batches carry Unix addresses as [1, offset, length] blocks naming sun_path bytes in
 * the port's `names` array: a slot per datagram of a batch, and one more for a write sent
 * at once. Source names are interned (one Address per peer name, no string per datagram).
 *
 * Paths behave as listenUNIX's: a stale socket file (nobody bound) is replaced, a live one
 * or another kind of file fails with EADDRINUSE, `mode` is applied, and the port removes
 * the file it made when it stops. An unbound sender (connectUNIXDatagram without
 * `bindAddress`) has no name: its datagrams arrive from `{ type: "UNIX", name: "" }` and
 * cannot be answered.
 */
import * as fs from "node:fs";
import type { Deferred } from "../defer";
import type { Failure } from "../defer/failure";
import { ConnectError } from "../error";
import { ADDRESS_UNIX, SEND_RECORD_WORDS, native } from "../native";
import { unixAddress } from "./address";
import type { IReactorFDSet } from "./fdset";
import type { Address, IDatagramProtocol } from "./interfaces";
import { errnoName } from "./oserror";
import { UDPPort, type UDPDestination } from "./udp";
import { clearStaleSocket, isAbstractName } from "./unix";

/** Bytes of one name slot (a whole sun_path). */
const NAME_BYTES = native.UNIX_NAME_BYTES;
/** Datagrams per native batch. */
const BATCH = native.DATAGRAM_BATCH;
/** Interned source names per port before the table starts again. */
const MAX_SOURCES = 4096;

/** Where a Unix datagram goes: a path or abstract name, or the Address given to datagramReceived. */
export type UNIXDatagramDestination = string | { type: "UNIX"; name: string };

/** Options of listenUNIXDatagram. */
export interface ListenUNIXDatagramOptions {
  /** Largest datagram read, in bytes (default 8192; longer ones go to datagramTruncated). */
  maxPacketSize?: number;
  /** File mode of the socket file (e.g. 0o660); default: as created under the umask. */
  mode?: number;
}

/** Options of connectUNIXDatagram. */
export interface ConnectUNIXDatagramOptions extends ListenUNIXDatagramOptions {
  /** A path or abstract name to bind first, so that the peer can answer (`mode` applies to it). */
  bindAddress?: string;
}

/** An interned source name: its bytes and Address. */
interface Source {
  readonly bytes: Uint8Array;
  readonly address: Address;
}

const UNNAMED: Address = Object.freeze({ type: "UNIX", name: "" });

/** A bound (or connected) Unix datagram socket serving one datagram protocol (Twisted's unix.DatagramPort / ConnectedDatagramPort). */
export class UNIXDatagramPort extends UDPPort {
  /** The path or abstract name bound, or null (a connected socket without bindAddress). */
  readonly path: string | null;
  /** The file mode applied to the socket file, or null. */
  readonly mode: number | null;
  /** The path connected to, or null. */
  readonly target: string | null;
  private ownsFile = false;
  private readonly nameBuf: Buffer;
  private readonly sourceNames = new Map<number, Source>();

  /** Checks the arguments; startListening binds (and connects). */
  constructor(reactor: IReactorFDSet, path: string | null, protocol: IDatagramProtocol, options: ConnectUNIXDatagramOptions = {}, target: string | null = null) {
    super(reactor, 0, protocol, { maxPacketSize: (options ?? {}).maxPacketSize });
    this.path = path === null ? null : checkName(path, target === null ? "path" : "bindAddress");
    this.target = target === null ? null : checkName(target, "path");
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw new RangeError(`mode must be a file mode between 0 and 0o7777, received ${options.mode}`);
    }
    this.mode = options.mode ?? null;
    this.nameBuf = Buffer.alloc((BATCH + 1) * NAME_BYTES);
    this.names = this.nameBuf;
  }

  /** Binds (clearing a stale socket file), applies `mode`, connects when asked; throws CannotListenError or ConnectError. */
  override startListening(): void {
    try {
      super.startListening();
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      throw cause instanceof ConnectError ? cause : e;
    }
  }

  /** An AF_UNIX datagram socket, bound and connected as asked. */
  protected override openSocket(): number {
    const path = this.path;
    if (path !== null && !isAbstractName(path)) clearStaleSocket(path);
    const fd = native.socket("unix", "udp");
    try {
      if (path !== null) {
        native.bindUnix(fd, path);
        if (!isAbstractName(path)) {
          this.ownsFile = true;
          if (this.mode !== null) fs.chmodSync(path, this.mode);
        }
      }
      if (this.target !== null) {
        try {
          native.connectUnix(fd, this.target);
        } catch (e) {
          const code = typeof (e as { errno?: unknown }).errno === "number" ? errnoName((e as { errno: number }).errno) : String(e);
          throw new ConnectError(`Couldn't connect a Unix datagram socket to ${JSON.stringify(this.target)}: ${code}.`, { cause: e });
        }
        this.peer = { host: this.target, port: 0 };
      }
    } catch (e) {
      native.close(fd);
      this.removeFile();
      throw e;
    }
    return fd;
  }

  /** The interned Address of the Unix source block at rec[b]. */
  protected override sourceAddress(rec: Int32Array, b: number): Address {
    const length = rec[b + 2];
    if (rec[b] !== ADDRESS_UNIX || length === 0) return UNNAMED;
    const names = this.nameBuf;
    const at = rec[b + 1];
    let key = 0x811c9dc5;
    for (let i = at, end = at + length; i < end; i++) key = Math.imul(key ^ names[i], 0x01000193);
    key &= 0x3fffffff;
    const e = this.sourceNames.get(key);
    if (e !== undefined && e.bytes.length === length) {
      let same = true;
      for (let i = 0; i < length && same; i++) same = e.bytes[i] === names[at + i];
      if (same) return e.address;
    }
    if (e === undefined && this.sourceNames.size >= MAX_SOURCES) this.sourceNames.clear();
    const bytes = Uint8Array.prototype.slice.call(names, at, at + length);
    const address: Address = Object.freeze({ type: "UNIX", name: names.toString("utf8", at, at + length) });
    this.sourceNames.set(key, { bytes, address });
    return address;
  }

  /** A Unix address for messages. */
  protected override describeAddress(addr: Address): string {
    const name = (addr as { name?: string }).name;
    return name ? JSON.stringify(name) : "an unbound socket";
  }

  /** Writes the Unix address block of `addr` (or family 0 for the connected peer) at rec[b], its name in this record's slot. */
  protected override fillDestination(addr: UDPDestination | UNIXDatagramDestination | undefined, rec: Int32Array, b: number): void {
    if (this.target !== null) {
      if (addr !== undefined && addr !== null && destinationName(addr) !== this.target) {
        throw new TypeError(`addr must be the connected peer ${JSON.stringify(this.target)} or omitted, received ${JSON.stringify(destinationName(addr))}`);
      }
      rec[b] = 0;
      return;
    }
    if (addr === undefined || addr === null) throw new TypeError("addr is required on a Unix datagram port that is not connected");
    const name = destinationName(addr);
    if (typeof name !== "string" || name === "") throw new TypeError(`addr must be a Unix socket path, a "\\0"-prefixed abstract name or { type: "UNIX", name }, received ${String(name)}`);
    const length = Buffer.byteLength(name, "utf8");
    if (length > NAME_BYTES || (!isAbstractName(name) && length >= NAME_BYTES)) throw new RangeError(`addr is longer than a Unix socket name may be (${NAME_BYTES - 1} bytes): ${length} bytes`);
    // The write sent at once has the slot after the batch's.
    const slot = rec.length === SEND_RECORD_WORDS ? BATCH : (b - 3) / SEND_RECORD_WORDS;
    const at = slot * NAME_BYTES;
    this.nameBuf.write(name, at, length, "utf8");
    rec[b] = ADDRESS_UNIX;
    rec[b + 1] = at;
    rec[b + 2] = length;
    rec[b + 3] = 0;
    rec[b + 4] = 0;
    rec[b + 5] = 0;
    rec[b + 6] = 0;
  }

  /**
   * Sends one datagram to `addr` (a path, an abstract name or a UNIX Address), or to the
   * connected peer. As UDP's write: bytes sent, or 0 when the socket buffer was full and
   * the datagram was dropped; MessageLengthError when it is too large for the socket.
   */
  override write(data: Uint8Array | string, addr?: UNIXDatagramDestination | UDPDestination): number {
    return super.write(data, addr as UDPDestination | undefined);
  }

  /** Sends each of `datagrams` to `addr` (or the connected peer), in one native call where they fit. */
  override writeBatch(datagrams: readonly (Uint8Array | string)[], addr?: UNIXDatagramDestination | UDPDestination): void {
    super.writeBatch(datagrams, addr as UDPDestination | undefined);
  }

  /** A Unix datagram port connects when it is made (connectUNIXDatagram); connect() is refused. */
  override connect(): void {
    throw new TypeError("connect: a Unix datagram port is connected when made: use connectUNIXDatagram(path, protocol)");
  }

  /** The bound name ({ type: "UNIX", name: "" } when unbound). */
  override getHost(): Address {
    if (this.fileno() < 0) return { type: "UNIX", name: this.path ?? "" };
    return unixAddress(native.getsockname(this.fileno()));
  }

  /** The connected peer, or null. */
  override getPeer(): Address | null {
    return this.target === null ? null : { type: "UNIX", name: this.target };
  }

  /** Closes the socket and removes the socket file it made. */
  override stopListening(): Deferred<void> {
    const d = super.stopListening();
    this.removeFile();
    return d;
  }

  /** The reactor dropped the port: close it and remove its file. */
  override connectionLost(reason: Failure): void {
    super.connectionLost(reason);
    this.removeFile();
  }

  /** "Unix datagram socket "/run/x.sock"". */
  protected override describe(): string {
    return `Unix datagram socket ${JSON.stringify(this.path ?? this.target ?? "")}`;
  }

  private removeFile(): void {
    if (!this.ownsFile || this.path === null) return;
    this.ownsFile = false;
    try {
      fs.unlinkSync(this.path);
    } catch {
      /* already gone: nothing to clean */
    }
  }
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "") throw new TypeError(`${what} must be a non-empty socket path or "\\0"-prefixed abstract name`);
  return name;
}

/** The name of a destination, or what was given when it is not one. */
function destinationName(addr: unknown): unknown {
  if (typeof addr === "string") return addr;
  if (addr !== null && typeof addr === "object" && (addr as { type?: unknown }).type === "UNIX") return (addr as { name?: unknown }).name;
  return addr;
}

/** Binds a Unix datagram socket at `path` (a path or "\0" abstract name) for `protocol`; throws CannotListenError. */
export function listenUNIXDatagram(reactor: IReactorFDSet, path: string, protocol: IDatagramProtocol, options?: ListenUNIXDatagramOptions): UNIXDatagramPort {
  const p = new UNIXDatagramPort(reactor, checkName(path, "path"), protocol, options);
  p.startListening();
  return p;
}

/** Connects a Unix datagram socket to `path` (bound first to `bindAddress` when given) for `protocol`; throws ConnectError when nobody is bound there. */
export function connectUNIXDatagram(reactor: IReactorFDSet, path: string, protocol: IDatagramProtocol, options: ConnectUNIXDatagramOptions = {}): UNIXDatagramPort {
  const bind = options === null || typeof options !== "object" ? undefined : options.bindAddress;
  const p = new UNIXDatagramPort(reactor, bind === undefined ? null : bind, protocol, options, checkName(path, "path"));
  p.startListening();
  return p;
}
