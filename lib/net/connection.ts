/**
 * A connected stream socket driving one protocol (Twisted's tcp.Connection): bytes read go
 * to `dataReceived`, EOF and errors become `connectionLost(ConnectionDone | ConnectionLost)`,
 * half-close is offered to protocols that implement `readConnectionLost`. TCP and Unix
 * connections (tcp.ts, unix.ts) differ from this only in addresses and socket options.
 *
 * A protocol callback that throws loses its own connection (logged); the reason it gets is
 * a ConnectionLost whose `cause` is the thrown value.
 *
 * On a Unix socket a protocol with `fileDescriptorReceived` (IFileDescriptorReceiver) is read
 * with recvmsg instead of the reactor's batched read (the descriptors come with the bytes);
 * every other connection keeps the batch. Descriptors go the other way with
 * `sendFileDescriptor` (abstract.ts queues them with the bytes that carry them).
 */
import { ConnectionAborted, ConnectionDone, ConnectionLost } from "../error";
import type { Failure } from "../defer/failure";
import { log } from "../log";
import { AGAIN, native, type SockAddr } from "../native";
import { FileDescriptor } from "./abstract";
import { unixAddress } from "./address";
import type { IReactorFDSet } from "./fdset";
import type { Address, IFileDescriptorReceiver, IHalfCloseableProtocol, IProtocol, IUNIXTransport } from "./interfaces";
import { connectionLostFrom, syscallError } from "./oserror";

/** Does `p` want to hear about half-closes (Twisted's IHalfCloseableProtocol)? */
function isHalfCloseable(p: IProtocol): p is IHalfCloseableProtocol {
  return typeof (p as Partial<IHalfCloseableProtocol>).readConnectionLost === "function";
}

/** Does `p` accept passed descriptors (Twisted's IFileDescriptorReceiver)? */
function isFileDescriptorReceiver(p: IProtocol): p is IFileDescriptorReceiver {
  return typeof (p as Partial<IFileDescriptorReceiver>).fileDescriptorReceived === "function";
}

/** Descriptors were cut off a message (MSG_CTRUNC: the process's fd limit, or more than one message carries): the stream's pairing of descriptors and bytes is broken. */
export class FileDescriptorsTruncated extends ConnectionLost {}

/** Bytes of the slab a descriptor-receiving connection reads into (a new one when less than a read is left). */
const FD_READ_SLAB = 64 * 1024;
/** Bytes read per recvmsg of a descriptor-receiving connection. */
const FD_READ_SIZE = 16 * 1024;

/** Makes the Address a protocol sees from a socket address (TCP or UNIX flavour). */
export type AddressOf = (a: SockAddr) => Address;

/**
 * A stream connection: the transport a protocol writes through (Twisted's tcp.Server for
 * accepted connections; Client in client.ts for outgoing ones).
 */
export class Connection extends FileDescriptor implements IUNIXTransport {
  /** The protocol this connection drives (null until attached). */
  protocol: IProtocol | null = null;
  /** The peer closed its write side (seen by a half-close-aware protocol). */
  protected readDisconnected = false;
  /** How socket addresses become Addresses for this kind of socket. */
  protected readonly addressOf: AddressOf;
  private peer: Address | null;
  private host: Address | null = null;
  /** recvmsg's words ([count, truncated, fds...]) and slab, made when the protocol receives descriptors. */
  private fdWords: Int32Array | null = null;
  private fdSlab: Buffer | null = null;
  private fdSlabUsed = 0;

  /** Wraps connected socket `fd`; `peer` is the peer's address when already known (from accept). */
  constructor(reactor: IReactorFDSet, fd: number, addressOf: AddressOf, peer: Address | null) {
    super(reactor, fd);
    this.addressOf = addressOf;
    this.peer = peer;
  }

  /** The remote address (known from accept or connect, so it still answers after the close). */
  getPeer(): Address {
    if (this.peer === null) this.peer = this.addressOf(native.getpeername(this.openFd("getPeer")));
    return this.peer;
  }

  /** The local address (read once with getsockname; after the close only if it was read before). */
  getHost(): Address {
    if (this.host === null) this.host = this.addressOf(native.getsockname(this.openFd("getHost")));
    return this.host;
  }

  private openFd(what: string): number {
    if (this.fd < 0) throw new Error(`${what}: the connection is closed (ask for the address while it is open)`);
    return this.fd;
  }

  /** Marks the connection up, starts reading and calls `protocol.makeConnection(this)` (ports and clients call it). */
  attach(protocol: IProtocol): void {
    this.protocol = protocol;
    this.connected = true;
    if (this.addressOf === unixAddress && isFileDescriptorReceiver(protocol)) {
      // Out of the reactor's batch (it reads with read(2), which drops descriptors): doRead.
      Object.defineProperty(this, "batchRead", { value: false });
      this.fdWords = new Int32Array(2 + native.MAX_PASSED_FDS);
    }
    this.startReading();
    try {
      protocol.makeConnection(this);
    } catch (e) {
      this.protocolThrew("makeConnection", e);
    }
  }

  /** Bytes from the reactor's batch read, EOF (0) or -errno. */
  readResult(data: Buffer | null, result: number): Error | void {
    if (result > 0) {
      if (this.disconnecting || this.disconnected) return;
      try {
        this.protocol!.dataReceived(data!);
      } catch (e) {
        this.protocolThrew("dataReceived", e);
      }
    } else if (result === 0) {
      this.readEOF();
    } else {
      this.lose(connectionLostFrom(syscallError(-result, "read")));
    }
  }

  /** Unbatched read: recvmsg with the descriptors that came, for a descriptor-receiving protocol. */
  override doRead(): Error | void {
    const words = this.fdWords;
    if (words === null) return super.doRead();
    if (this.fdSlab === null || this.fdSlab.length - this.fdSlabUsed < FD_READ_SIZE) {
      this.fdSlab = Buffer.allocUnsafe(FD_READ_SLAB);
      this.fdSlabUsed = 0;
    }
    const at = this.fdSlabUsed;
    const n = native.recvFds(this.fd, this.fdSlab.subarray(at, at + FD_READ_SIZE), words);
    if (n === AGAIN) return;
    for (let i = 0; i < words[0]; i++) this.descriptorReceived(words[2 + i]);
    if (n > 0) this.fdSlabUsed = at + n;
    this.readResult(n > 0 ? this.fdSlab.subarray(at, at + n) : null, n);
    if (words[1] !== 0 && !this.disconnected) {
      this.lose(new FileDescriptorsTruncated("Some file descriptors passed by the peer were cut off (MSG_CTRUNC: the process's descriptor limit?); closing the connection."));
    }
  }

  /** Gives received descriptor `fd` to the protocol, or closes it when nobody can take it. */
  private descriptorReceived(fd: number): void {
    if (this.disconnecting || this.disconnected) {
      closeQuietly(fd);
      return;
    }
    try {
      (this.protocol as IFileDescriptorReceiver).fileDescriptorReceived(fd);
    } catch (e) {
      // Whether the protocol kept it is unknown: it failed, so the descriptor goes with it.
      closeQuietly(fd);
      this.protocolThrew("fileDescriptorReceived", e);
    }
  }

  /**
   * Queues a duplicate of `fd` for the peer, sent with the next byte written after this
   * call (IUNIXTransport). Throws TypeError naming fd, or on a TCP connection.
   */
  sendFileDescriptor(fd: number): void {
    if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) throw new TypeError(`fd must be an open file descriptor (an integer >= 0), received ${String(fd)}`);
    if (this.addressOf !== unixAddress) throw new TypeError("sendFileDescriptor: only a Unix socket connection can pass file descriptors");
    if (!this.connected || this.writeDisconnected) return;
    this.queueDescriptor(native.dupFd(fd));
  }

  private readEOF(): void {
    const p = this.protocol!;
    if (!isHalfCloseable(p) || this.disconnecting) {
      this.closeCleanly();
      return;
    }
    this.readDisconnected = true;
    this.stopReading();
    try {
      p.readConnectionLost();
    } catch (e) {
      this.protocolThrew("readConnectionLost", e);
      return;
    }
    // Both directions are finished: nothing more can happen on this connection.
    if (this.writeDisconnected && !this.disconnected) this.closeCleanly();
  }

  /** Reads from the peer again (unless the peer has half-closed). */
  override resumeProducing(): void {
    if (!this.readDisconnected) super.resumeProducing();
  }

  /**
   * Closes now, dropping whatever is queued: the protocol gets ConnectionAborted and, as
   * with Twisted, the peer gets a reset (SO_LINGER 0), not an orderly FIN.
   */
  abortConnection(): void {
    if (this.disconnected) return;
    try {
      native.setsockopt(this.fd, "SO_LINGER", 0);
    } catch {
      // Not a socket that lingers (or already failed): the close below still happens.
    }
    this.lose(new ConnectionAborted("Connection was aborted locally using abortConnection."));
  }

  /** Closes with ConnectionDone. */
  protected closeCleanly(): void {
    this.lose(new ConnectionDone());
  }

  /** shutdown(SHUT_WR), then `writeConnectionLost`; closes when the read side is also done. */
  protected shutdownWrite(): void {
    this.writeDisconnected = true;
    this.stopWriting();
    try {
      native.shutdown(this.fd, 1);
    } catch (e) {
      this.lose(new ConnectionLost("shutdown of the write side failed", { cause: e }));
      return;
    }
    const p = this.protocol!;
    if (isHalfCloseable(p) && typeof p.writeConnectionLost === "function") {
      try {
        p.writeConnectionLost();
      } catch (e) {
        this.protocolThrew("writeConnectionLost", e);
        return;
      }
    }
    if (this.readDisconnected && !this.disconnected) this.closeCleanly();
  }

  /** Enables or disables TCP_NODELAY. */
  setTcpNoDelay(enabled: boolean): void {
    native.setsockopt(this.fd, "TCP_NODELAY", enabled === true);
  }

  /** Enables or disables SO_KEEPALIVE. */
  setTcpKeepAlive(enabled: boolean): void {
    native.setsockopt(this.fd, "SO_KEEPALIVE", enabled === true);
  }

  /** Is TCP_NODELAY on? */
  getTcpNoDelay(): boolean {
    return native.getsockopt(this.fd, "TCP_NODELAY") !== 0;
  }

  /** Is SO_KEEPALIVE on? */
  getTcpKeepAlive(): boolean {
    return native.getsockopt(this.fd, "SO_KEEPALIVE") !== 0;
  }

  /** Tells the protocol (once the fd is closed). */
  protected closed(reason: Failure): void {
    const p = this.protocol;
    if (p === null) return;
    try {
      p.connectionLost(reason);
    } catch (e) {
      log("error", `${p.constructor.name}.connectionLost threw`, e);
    }
  }

  /** Logs a protocol callback that threw and loses the connection with it as the cause. */
  protected protocolThrew(what: string, e: unknown): void {
    const name = this.protocol ? this.protocol.constructor.name : "protocol";
    log("error", `${name}.${what} threw: closing its connection`, e);
    this.lose(this.callbackError(`${name}.${what}`, e));
  }

  /** The reason given to the protocol when one of its callbacks threw `e`. */
  protected callbackError(what: string, e: unknown): Error {
    return new ConnectionLost(`${what} threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Closes a descriptor nobody took; a failure is logged. */
function closeQuietly(fd: number): void {
  try {
    native.close(fd);
  } catch (e) {
    log("warn", `close(${fd}) of a received descriptor failed`, e);
  }
}
