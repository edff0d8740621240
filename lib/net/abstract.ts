/**
 * The shared base of every connection-oriented transport (Twisted's abstract.FileDescriptor):
 * the outgoing queue and the one routine that consumes what the kernel made of it, the
 * producer/consumer logic with high and low water marks, and the reading switch. tcp.ts and
 * unix.ts only add what differs (addresses, socket options); connection.ts adds the stream
 * semantics.
 *
 * The write path (docs/design.md "The write path"): `write()` only appends to `queue` (no
 * syscall) and asks the reactor for a flush; at the end of the iteration the reactor writes
 * the queues of every transport that asked with one native `writevBatch` and hands each its
 * own result through `wrote(result)`. A WRITABLE event (`doWrite`) does not write either: it
 * asks for the same flush, so the transport joins that iteration's batch. `wrote` is thus
 * the one place where partial writes, EAGAIN and write errors are handled, whichever way
 * the write was started. Queued buffers are referenced, not copied: a caller must not
 * change a buffer it wrote.
 *
 * File ranges (`writeFile`) join the same queue in order: the bytes queued before a range
 * go out first through the batch; then, still inside `wrote`, the range goes out with
 * sendfile(2) (no copy through JavaScript), EAGAIN waits for WRITABLE like any write, and
 * the bytes queued after it follow. They count in `bufferedBytes()`, so producers and the
 * water marks see them. Plain writes never meet any of this: `later` stays null.
 *
 * Descriptors passed over a Unix socket (`queueDescriptor`, SCM_RIGHTS) join the same
 * queue: they leave with the first bytes queued after them, in one sendmsg, so the peer
 * meets them before those bytes (Twisted's order). Until bytes follow they wait; a
 * connection that closes first closes them unsent.
 *
 * A range queued with nothing to wait for is tried at once (`sendEagerly`: the bytes before
 * it and the range in one native call), and only what the kernel did not take stays
 * counted; any failure is still `wrote`'s to handle.
 */
import * as fs from "node:fs";
import { types } from "node:util";
import { Failure } from "../defer/failure";
import { ConnectionLost } from "../error";
import { log } from "../log";
import { AGAIN, native } from "../native";
import type { IBatchReadDescriptor, IBatchWriter, IWriteDescriptor } from "../reactor/interfaces";
import type { IReactorFDSet } from "./fdset";
import type { IPullProducer, IPushProducer } from "./interfaces";
import { connectionLostFrom, isOSError, syscallError } from "./oserror";
import { track, untrack } from "./tracking";

/** Queued bytes above which a streaming producer is paused (Twisted's bufferSize is 64 KiB). */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Queued bytes at or below which a paused streaming producer is resumed. */
export const DEFAULT_LOW_WATER_MARK = 16 * 1024;

/** Size of the private buffer used by the rare unbatched `doRead`. */
const FALLBACK_READ_SIZE = 64 * 1024;

/** Bytes read per step where sendfile cannot serve a file range (the copy is queued like a write). */
const FILE_CHUNK_SIZE = 64 * 1024;

/** An open file whose bytes a transport sends (`FileDescriptor.writeFile`); `close()` is called exactly once, when its range is sent or dropped. */
export interface IFileSource {
  /** The open file descriptor (a regular file). */
  readonly fd: number;
  /** Releases the file (closes the fd). */
  close(): void;
}

/** Descriptors in a transport's queue (duplicates it owns), to go with the next byte queued. */
class QueuedDescriptors {
  constructor(readonly fds: number[]) {}
}

/** sendEagerly's two result words (head, range), reused: no allocation per response. */
const eagerResults = new Int32Array(2);

/** A file range in a transport's queue: what remains to send of it (pooled: see takeQueuedFile). */
class QueuedFile {
  constructor(
    public file: IFileSource,
    public offset: number,
    public length: number,
  ) {}
}

/** A `later` queue: what follows a queued file range or descriptors. */
type Later = Array<Uint8Array | QueuedFile | QueuedDescriptors>;

/**
 * Free `later` arrays (empty, their backing stores kept) and QueuedFile entries, shared by
 * every transport of this thread: a connection that sends a file per response (a static
 * File) then allocates neither per response, and an idle connection holds neither. Both
 * are private to this module and reach the pool only once nothing refers to them.
 */
const freeLater: Later[] = [];
const freeQueuedFiles: QueuedFile[] = [];
/** Most entries each pool keeps (beyond this many, a released one is left to the GC). */
const MAX_POOLED = 256;

function takeLater(): Later {
  return freeLater.pop() ?? [];
}

function giveBackLater(later: Later): void {
  for (let i = later.length; i > 0; i--) later.pop(); // pop keeps the backing store
  if (freeLater.length < MAX_POOLED) freeLater.push(later);
}

function takeQueuedFile(file: IFileSource, offset: number, length: number): QueuedFile {
  const f = freeQueuedFiles.pop();
  if (f === undefined) return new QueuedFile(file, offset, length);
  f.file = file;
  f.offset = offset;
  f.length = length;
  return f;
}

/** `f` left its queue and is done with: no reference to its file is kept. */
function giveBackQueuedFile(f: QueuedFile): void {
  f.file = NO_FILE;
  if (freeQueuedFiles.length < MAX_POOLED) freeQueuedFiles.push(f);
}

/** What a pooled QueuedFile refers to (never sent). */
const NO_FILE: IFileSource = Object.freeze({ fd: -1, close(): void {} });

/**
 * A registered socket with a write queue and producer support. Subclasses implement
 * `readResult` (what to do with bytes read) and `closed` (tell the protocol).
 */
export abstract class FileDescriptor implements IBatchReadDescriptor, IWriteDescriptor, IBatchWriter, IPushProducer {
  /** The reactor performs this descriptor's reads in its batch (IBatchReadDescriptor; on the prototype, so no slot per connection). */
  declare readonly batchRead: true;
  /** Set by the reactor while a flush of this writer is queued (IBatchWriter.flushQueued). */
  flushQueued = false;
  /** True while the connection is up. */
  connected = false;
  /** True once loseConnection was called (closing after the flush). */
  disconnecting = false;
  /** True once the connection is closed for good. */
  disconnected = false;
  /** Queued bytes above which a streaming producer is paused (the default is on the prototype until a connection sets its own). */
  declare writeHighWaterMark: number;
  /** Queued bytes at or below which a paused streaming producer is resumed (prototype default, like writeHighWaterMark). */
  declare writeLowWaterMark: number;
  /** The registered producer, or null. */
  producer: IPushProducer | IPullProducer | null = null;
  /** True when `producer` is a push (streaming) producer. */
  streamingProducer = false;
  /** True while this transport has paused a streaming producer. */
  producerPaused = false;

  /** The raw fd (-1 once closed). */
  protected fd: number;
  /** The reactor this descriptor is registered with. */
  protected readonly reactor: IReactorFDSet;
  /** loseWriteConnection was called: shut the write side once the queue is empty. */
  protected writeDisconnecting = false;
  /** The write side is shut. */
  protected writeDisconnected = false;

  private readonly queue: Uint8Array[] = [];
  /** What follows a queued file range or descriptors, in order (its head is always one of them); null (the prototype's) when none is queued. */
  declare private later: Later | null;
  /** The kernel may send file ranges straight to this fd (sendfile); false (a TLS transport) copies them through the byte queue. */
  declare protected kernelSendsFiles: boolean;
  /** The native TLS session id while TLS is on (the reactor's TLS lanes read and flush it), -1 otherwise (prototype default). */
  declare tlsId: number;
  /** The fd is no socket (a pipe, a terminal, a file): flushed with one writev, no sendmsg first (IBatchWriter.notSocket; prototype false). */
  declare notSocket: boolean;
  /** The TLS session holds ciphertext the kernel has not taken: WRITABLE stays wanted and the queue does not count as drained (prototype false). */
  declare protected cipherPending: boolean;
  private queued = 0;
  protected reading = false;
  private writing = false;

  /** Wraps `fd` for `reactor` (not registered yet). */
  constructor(reactor: IReactorFDSet, fd: number) {
    this.reactor = reactor;
    this.fd = fd;
    track(reactor, this);
  }

  /** The raw fd number (-1 once closed). */
  fileno(): number {
    return this.fd;
  }

  /** Bytes queued and not yet taken by the kernel. */
  bufferedBytes(): number {
    return this.queued;
  }

  // -- reading ---------------------------------------------------------------------------

  /** Bytes read by the reactor's batch (`data` is a slab view that now belongs to us), EOF (0) or -errno. */
  abstract readResult(data: Buffer | null, result: number): Error | void;

  /** Reads once into a private buffer: used only by a reactor that does not batch this reader. */
  doRead(): Error | void {
    const buf = Buffer.allocUnsafe(FALLBACK_READ_SIZE);
    let n: number;
    try {
      n = native.read(this.fd, buf, 0, buf.length);
    } catch (e) {
      if (isOSError(e)) return this.readResult(null, -e.errno);
      throw e;
    }
    if (n === AGAIN) return;
    return this.readResult(n > 0 ? buf.subarray(0, n) : null, n);
  }

  /** Registers for reading (idempotent). */
  startReading(): void {
    if (!this.reading && !this.disconnected) {
      this.reading = true;
      this.reactor.addReader(this);
    }
  }

  /** Unregisters from reading (idempotent). */
  stopReading(): void {
    if (this.reading) {
      this.reading = false;
      this.reactor.removeReader(this);
    }
  }

  // -- writing ---------------------------------------------------------------------------

  /**
   * Queues bytes (a string is sent as UTF-8). Ignored once the connection or its write
   * side is closed; after loseConnection/loseWriteConnection (as in Twisted) the bytes
   * still go out before the close.
   */
  write(data: Uint8Array | string): void {
    if (!this.connected || this.writeDisconnected) return;
    let buf: Uint8Array;
    if (typeof data === "string") buf = Buffer.from(data, "utf8");
    else if (data instanceof Uint8Array || types.isUint8Array(data)) buf = data; // the second: another realm's bytes
    else throw new TypeError("write: data must be a Buffer, Uint8Array or string");
    if (buf.length === 0) return;
    if (this.later === null) this.queue.push(buf);
    else this.later.push(buf);
    this.queued += buf.length;
    this.scheduleFlush();
    if (this.queued > this.writeHighWaterMark) this.overHighWater();
  }

  /** Queues several buffers in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void {
    if (!Array.isArray(data)) throw new TypeError("writeSequence: data must be an array of Buffers or strings");
    for (let i = 0; i < data.length; i++) this.write(data[i]);
  }

  /**
   * Queues `length` bytes of `file` from `offset`, after everything written so far; they go
   * out with sendfile(2) (read in chunks where it cannot serve), under the same water marks
   * as writes. `file.close()` is called once the range is sent, or when the connection is
   * lost first (at once if it is already closed). A file that turns out shorter than the
   * range loses the connection: the bytes promised can no longer be sent.
   */
  writeFile(file: IFileSource, offset: number, length: number): void {
    if (file === null || typeof file !== "object" || typeof file.close !== "function" || !Number.isInteger(file.fd) || file.fd < 0) {
      throw new TypeError("writeFile: file must be { fd, close() } with an open fd");
    }
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError("writeFile: offset must be an integer >= 0");
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError("writeFile: length must be an integer >= 0");
    if (!this.connected || this.writeDisconnected || length === 0) {
      file.close();
      return;
    }
    const entry = takeQueuedFile(file, offset, length);
    let later = this.later;
    const first = later === null;
    if (later === null) later = this.later = takeLater();
    later.push(entry);
    this.queued += length;
    this.scheduleFlush();
    if (first && !this.writing && this.kernelSendsFiles) this.sendEagerly(entry);
    if (this.queued > this.writeHighWaterMark) this.overHighWater();
  }

  /**
   * A range just queued, nothing else in `later` and no WRITABLE awaited: the bytes before
   * it and the range itself are tried now, as libuv tries a write before polling, so that
   * the water marks (and an HTTP channel deciding whether to stop reading) see what the
   * kernel did not take, not the whole range: a body the socket buffer swallows then never
   * pauses reading, which cost two epoll_ctl per response. Anything short of success
   * (EAGAIN, a partial write, an error, the file's end) stops here and is left to the flush
   * already asked for, so that `wrote` stays the one place that reacts to it, never inside
   * the caller's stack.
   */
  private sendEagerly(f: QueuedFile): void {
    const q = this.queue;
    const out = eagerResults;
    // One native call for both (the head, and the range only if the head all left).
    native.writevSendfile(this.fd, q, f.file.fd, f.offset, f.length, out);
    const head = out[0];
    const n = out[1];
    if (q.length > 0) {
      if (head <= 0) return; // AGAIN or an error: the flush meets it and reacts there
      this.consume(head);
      if (q.length > 0) return; // a short head: the range was not tried
    }
    if (n > 0) {
      this.queued -= n;
      this.advance(f, n);
    }
  }

  /** The queue the reactor's batch flush writes (our own array: the reactor only reads it). */
  pendingBuffers(): Uint8Array[] {
    return this.queue;
  }

  /**
   * The one write routine: what the kernel made of the writev of `queue` that the reactor's
   * batch did for us (after `write()` and after WRITABLE alike).
   * - `result` > 0: that many bytes left the head of the queue. What remains (a partial
   *   write) waits for WRITABLE, unless a flush is already asked for (bytes written since
   *   the batch), which tries it at once.
   * - AGAIN: the socket buffer is full; wait for WRITABLE, whose `doWrite` asks for the next
   *   flush.
   * - 0: nothing was queued (a flush asked for by loseConnection and friends; no syscall).
   * - any other negative value is -errno: the connection is lost with that error.
   * With the byte queue empty and a file range next, the range is sent here (`sendFiles`).
   * With the queue empty, WRITABLE is dropped and `drained` finishes a pending close,
   * half-close or pull producer.
   */
  wrote(result: number): void {
    if (this.disconnected) return;
    if (result > 0) {
      this.consume(result);
    } else if (result !== AGAIN && result < 0) {
      this.lose(connectionLostFrom(syscallError(-result, "writev")));
      return;
    }
    if (this.later !== null && this.queue.length === 0 && !this.sendLater()) return;
    if (this.queued > 0 || this.cipherPending) {
      // A flush already asked for (bytes written after the batch this result is for: a
      // deferred batch's writers hear it an iteration later) tries the rest at once, and
      // its own result decides; registering for WRITABLE here would cost a syscall for
      // bytes the socket may well take.
      if (!this.flushQueued) this.startWriting();
      return;
    }
    this.stopWriting();
    this.drained();
  }

  /** The fd is writable again: joins the reactor's flush at the end of this iteration (the write happens there, then `wrote`). */
  doWrite(): Error | void {
    this.reactor.requestFlush(this);
  }

  /** Registers for WRITABLE (idempotent). */
  protected startWriting(): void {
    if (!this.writing && !this.disconnected) {
      this.writing = true;
      this.reactor.addWriter(this);
    }
  }

  /** Unregisters from WRITABLE (idempotent). */
  protected stopWriting(): void {
    if (this.writing) {
      this.writing = false;
      this.reactor.removeWriter(this);
    }
  }

  /** Asks for a flush unless one is queued or WRITABLE is awaited (its doWrite asks then). */
  protected scheduleFlush(): void {
    // While registered for WRITABLE, doWrite will take the new bytes with the rest.
    // flushQueued is the reactor's mark (set by requestFlush, cleared when the flush runs):
    // one flag for both sides, so a request can never be thought pending after it ran.
    if (!this.flushQueued && !this.writing) this.reactor.requestFlush(this);
  }

  /**
   * Queues descriptor `fd` (a duplicate this transport owns and closes) to go with the next
   * byte queued after it; consecutive descriptors share one message, up to MAX_PASSED_FDS
   * (past that a RangeError, `fd` closed).
   */
  protected queueDescriptor(fd: number): void {
    const later = this.later;
    const last = later === null ? null : later[later.length - 1];
    if (last instanceof QueuedDescriptors) {
      if (last.fds.length >= native.MAX_PASSED_FDS) {
        native.close(fd);
        throw new RangeError(`sendFileDescriptor: at most ${native.MAX_PASSED_FDS} descriptors can ride on one byte; write a byte before passing more`);
      }
      last.fds.push(fd);
    } else if (later === null) (this.later = takeLater()).push(new QueuedDescriptors([fd]));
    else later.push(new QueuedDescriptors([fd]));
    this.scheduleFlush();
  }

  /** The byte queue is empty and `later` has a head: sends it (false when the connection was lost). */
  private sendLater(): boolean {
    const later = this.later as Later;
    return later[0] instanceof QueuedDescriptors ? this.sendDescriptors(later, later[0]) : this.sendFiles();
  }

  /**
   * Descriptors head `later`: sends them with the bytes that follow (a file range that
   * follows gives a chunk read for it), in one sendmsg. No bytes yet: they wait for a write.
   * False when the connection was lost.
   */
  private sendDescriptors(later: Later, d: QueuedDescriptors): boolean {
    let next = later[1];
    if (next === undefined) return true;
    if (next instanceof QueuedFile) {
      const f = next;
      const n = this.readChunk(f, later, 1);
      if (n <= 0) {
        if (n === 0) this.lose(new ConnectionLost(`The file being sent ended at byte ${f.offset}, ${f.length} bytes before the end of its range.`));
        return false;
      }
      f.offset += n;
      f.length -= n;
      if (f.length === 0) {
        later.splice(2, 1);
        closeQuietly(f.file);
        giveBackQueuedFile(f);
      }
      next = later[1];
    }
    const bytes = next as Uint8Array;
    const n = native.sendFds(this.fd, bytes, Int32Array.from(d.fds), d.fds.length);
    if (n === AGAIN) return true;
    if (n < 0) {
      this.lose(connectionLostFrom(syscallError(-n, "sendmsg")));
      return false;
    }
    this.queued -= n;
    closeDescriptors(d.fds);
    later.shift();
    if (n < bytes.length) later[0] = bytes.subarray(n);
    else later.shift();
    this.releaseBytes(later);
    if (this.producerPaused && this.queued <= this.writeLowWaterMark) this.resumeProducer();
    return !this.disconnected;
  }

  /** Moves the bytes heading `later` into the byte queue, up to its next file range or descriptors. */
  private releaseBytes(later: Later): void {
    while (later.length > 0 && later[0] instanceof Uint8Array) this.queue.push(later.shift() as Uint8Array);
    if (later.length === 0 && this.later === later) {
      this.later = null;
      giveBackLater(later);
    }
  }

  /**
   * The byte queue is empty and a file range heads `later`: sends it (sendfile, or a chunk
   * read into the queue where sendfile cannot serve), and once it is done moves what
   * followed it into the queue. Stops at AGAIN or a partial send (the socket is full:
   * WRITABLE follows, since bytes remain queued). False when the connection was lost.
   */
  private sendFiles(): boolean {
    const later = this.later as Later;
    const f = later[0] as QueuedFile;
    let n = this.kernelSendsFiles ? native.sendfile(this.fd, f.file.fd, f.offset, f.length) : -ENOSYS;
    if (n === AGAIN) return true;
    if (n === -ENOSYS || n === -EINVAL || n === -EOPNOTSUPP) n = this.readChunk(f, this.queue, this.queue.length);
    else if (n < 0) {
      this.lose(connectionLostFrom(syscallError(-n, "sendfile")));
      return false;
    } else {
      this.queued -= n;
    }
    if (n === 0) {
      this.lose(new ConnectionLost(`The file being sent ended at byte ${f.offset}, ${f.length} bytes before the end of its range.`));
      return false;
    }
    if (n < 0) return false; // readChunk lost the connection
    this.advance(f, n);
    return !this.disconnected;
  }

  /** `n` more bytes of `f`, the head of `later`, are sent: once it is done, what followed it moves into the byte queue. */
  private advance(f: QueuedFile, n: number): void {
    f.offset += n;
    f.length -= n;
    if (f.length === 0) {
      const later = this.later as Later;
      later.shift();
      closeQuietly(f.file);
      giveBackQueuedFile(f);
      this.releaseBytes(later);
    }
    if (this.producerPaused && this.queued <= this.writeLowWaterMark) this.resumeProducer();
  }

  /** Copies the next chunk of `f` into `into` at `at` (where sendfile cannot serve, or to carry descriptors): bytes read, 0 at the file's end, -1 once lost. */
  private readChunk(f: QueuedFile, into: Later, at: number): number {
    const buf = Buffer.allocUnsafe(Math.min(FILE_CHUNK_SIZE, f.length));
    let n: number;
    try {
      n = fs.readSync(f.file.fd, buf, 0, buf.length, f.offset);
    } catch (e) {
      const errno = typeof (e as { errno?: unknown }).errno === "number" ? Math.abs((e as { errno: number }).errno) : EINVAL;
      this.lose(connectionLostFrom(syscallError(errno, "read")));
      return -1;
    }
    if (n > 0) into.splice(at, 0, n === buf.length ? buf : buf.subarray(0, n));
    return n;
  }

  private consume(n: number): void {
    const q = this.queue;
    if (n >= this.queued) {
      // pop, not `length = 0`: that drops the backing store, and the next write would
      // allocate a new one (~150 ns per message, measured); popping keeps it.
      for (let i = q.length; i > 0; i--) q.pop();
      this.queued = 0;
    } else {
      this.queued -= n;
      let i = 0;
      while (n > 0) {
        const b = q[i];
        if (b.length <= n) {
          n -= b.length;
          i++;
        } else {
          q[i] = b.subarray(n);
          n = 0;
        }
      }
      // The bytes left are all in later's file ranges: pop (no splice result, and the
      // store stays); else shift the few sent ones off (in place, nothing allocated).
      if (i === q.length) for (; i > 0; i--) q.pop();
      else for (; i > 0; i--) q.shift();
    }
    if (this.producerPaused && this.queued <= this.writeLowWaterMark) this.resumeProducer();
  }

  /** The queue is empty: feed a pull producer, or finish a pending close/half-close. */
  private drained(): void {
    if (this.producer !== null && (!this.streamingProducer || this.producerPaused)) {
      this.resumeProducer();
      return;
    }
    if (this.queued > 0) return;
    if (this.disconnecting) {
      if (this.producer === null || this.streamingProducer) this.closeCleanly();
    } else if (this.writeDisconnecting && !this.writeDisconnected) {
      this.shutdownWrite();
    }
  }

  // -- closing ---------------------------------------------------------------------------

  /** Closes after everything queued has been written (and an attached pull producer unregistered). */
  loseConnection(): void {
    if (!this.connected || this.disconnecting) return;
    if (this.writeDisconnected) {
      this.closeCleanly();
      return;
    }
    this.disconnecting = true;
    this.stopReading();
    // The close comes from wrote() once the queue is empty: never inside the caller's own
    // stack frame (Twisted closes from doWrite), and with nothing queued at the end of this
    // iteration, from a flush that makes no syscall, rather than after a WRITABLE wait.
    this.scheduleFlush();
  }

  /** Half-close: shuts the write side once the queue is flushed; reading goes on. */
  loseWriteConnection(): void {
    if (!this.connected || this.writeDisconnecting || this.writeDisconnected) return;
    this.writeDisconnecting = true;
    this.scheduleFlush();
  }

  /** Closes now, dropping whatever is queued; the protocol gets ConnectionAborted. */
  abstract abortConnection(): void;

  /** Closes with ConnectionDone. */
  protected abstract closeCleanly(): void;

  /** Shuts down the write side (the queue is empty). */
  protected abstract shutdownWrite(): void;

  /** Closes with `reason` (a ConnectionLost or ConnectionDone): the single way out. */
  protected lose(reason: Error): void {
    this.connectionLost(new Failure(reason));
  }

  /**
   * The connection is gone (called by the transport itself, or by the reactor when it
   * drops the descriptor): unregisters, stops the producer, closes the fd once, then
   * tells the owner through `closed(reason)`. `reason` is a Failure wrapping the error.
   */
  connectionLost(reason: Failure): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.connected = false;
    untrack(this.reactor, this);
    this.stopReading();
    this.stopWriting();
    this.queue.length = 0;
    this.queued = 0;
    const later = this.later;
    if (later !== null) {
      this.later = null;
      for (const e of later) {
        // Not pooled here: a caller up the stack (sendFiles...) may still hold the entry.
        if (e instanceof QueuedFile) closeQuietly(e.file);
        else if (e instanceof QueuedDescriptors) {
          log("warn", `${e.fds.length} file descriptor(s) queued for sending were closed unsent: no byte was written after them before the connection closed`);
          closeDescriptors(e.fds);
        }
      }
    }
    const p = this.producer;
    this.producer = null;
    if (p !== null) {
      try {
        p.stopProducing();
      } catch (e) {
        log("error", "producer.stopProducing threw", e);
      }
    }
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) {
      try {
        native.close(fd);
      } catch (e) {
        log("warn", `close(${fd}) failed`, e);
      }
    }
    this.closed(reason);
  }

  /** Told once, after the fd is closed: subclasses pass `reason` to the protocol. */
  protected abstract closed(reason: Failure): void;

  // -- producers and consumers (IConsumer) -------------------------------------------------

  /**
   * Attaches a producer: a streaming (push) producer is paused while more than
   * `writeHighWaterMark` bytes are queued and resumed at `writeLowWaterMark`; a pull
   * producer is asked for a chunk each time the queue empties.
   */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    if (producer === null || typeof producer !== "object" || typeof producer.resumeProducing !== "function") {
      throw new TypeError("registerProducer: producer must have resumeProducing and stopProducing");
    }
    if (this.producer !== null) {
      throw new Error(`registerProducer: a producer is already registered (unregister it first)`);
    }
    if (this.disconnected) {
      producer.stopProducing();
      return;
    }
    this.producer = producer;
    this.streamingProducer = streaming === true;
    this.producerPaused = false;
    if (!this.streamingProducer) producer.resumeProducing();
    else if (this.queued > this.writeHighWaterMark) this.overHighWater();
  }

  /** Detaches the producer; a pending loseConnection then completes. */
  unregisterProducer(): void {
    this.producer = null;
    this.producerPaused = false;
    if (this.connected && this.disconnecting && this.queued === 0) this.scheduleFlush();
  }

  private overHighWater(): void {
    const p = this.producer;
    if (p !== null && this.streamingProducer && !this.producerPaused) {
      this.producerPaused = true;
      try {
        (p as IPushProducer).pauseProducing();
      } catch (e) {
        this.producerThrew("pauseProducing", e);
      }
    }
  }

  private resumeProducer(): void {
    const p = this.producer;
    if (p === null) return;
    this.producerPaused = false;
    try {
      p.resumeProducing();
    } catch (e) {
      this.producerThrew("resumeProducing", e);
    }
  }

  private producerThrew(what: string, e: unknown): void {
    log("error", `producer.${what} threw: closing the connection`, e);
    this.producer = null;
    this.lose(this.callbackError(what, e));
  }

  /** The reason given to the protocol when one of its callbacks threw `e`. */
  protected abstract callbackError(what: string, e: unknown): Error;

  // -- this transport as a push producer (IPushProducer) -----------------------------------

  /** Stops reading from the peer until resumeProducing. */
  pauseProducing(): void {
    this.stopReading();
  }

  /** Reads from the peer again. */
  resumeProducing(): void {
    if (this.connected && !this.disconnecting) this.startReading();
  }

  /** Stops for good: loseConnection. */
  stopProducing(): void {
    this.loseConnection();
  }
}

// Defaults shared by every descriptor through the prototype: 24 bytes less per connection
// than three instance fields; assigning a water mark on one connection gives it its own.
Object.defineProperty(FileDescriptor.prototype, "batchRead", { value: true, writable: false, enumerable: false, configurable: false });
FileDescriptor.prototype.writeHighWaterMark = DEFAULT_HIGH_WATER_MARK;
// No file range queued: only a connection that sends a file gets its own `later`.
Object.defineProperty(FileDescriptor.prototype, "later", { value: null, writable: true, enumerable: false, configurable: false });
Object.defineProperty(FileDescriptor.prototype, "kernelSendsFiles", { value: true, writable: true, enumerable: false, configurable: false });
// Plain bytes: the TLS lanes and the ciphertext check cost a plain connection no field.
FileDescriptor.prototype.tlsId = -1;
// Sockets, but for the transports over pipes and standard I/O, which say otherwise.
FileDescriptor.prototype.notSocket = false;
Object.defineProperty(FileDescriptor.prototype, "cipherPending", { value: false, writable: true, enumerable: false, configurable: false });

const ENOSYS = native.errno.ENOSYS;
const EINVAL = native.errno.EINVAL;
const EOPNOTSUPP = native.errno.EOPNOTSUPP ?? native.errno.ENOTSUP;

/** Closes the duplicates of descriptors that were sent or dropped. */
function closeDescriptors(fds: number[]): void {
  for (const fd of fds) {
    try {
      native.close(fd);
    } catch (e) {
      log("warn", `close(${fd}) of a passed descriptor failed`, e);
    }
  }
}

/** Releases a dropped file range's file; a failing close is logged, not thrown into connectionLost. */
function closeQuietly(file: IFileSource): void {
  try {
    file.close();
  } catch (e) {
    log("warn", "closing a file queued for sending failed", e);
  }
}
FileDescriptor.prototype.writeLowWaterMark = DEFAULT_LOW_WATER_MARK;
