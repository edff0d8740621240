/**
 * The roles the reactor deals with (Twisted's IReadDescriptor, IWriteDescriptor, ...),
 * plus the two batch roles through which transports let the reactor do their reads and
 * writes for many fds in one native call (docs/design.md: batching is the performance lever).
 * This file is the contract between lib/reactor and lib/net.
 */

import type { Failure } from "../defer/failure";

/** Anything registered with the reactor: it owns one fd. */
export interface IFileDescriptor {
  /** The raw fd number (must not change while registered). */
  fileno(): number;
  /**
   * Called once when the reactor drops this descriptor because `doRead`/`doWrite`
   * returned or threw an error, or at shutdown; `reason` is a Failure wrapping that error
   * (a ConnectionLost at shutdown), as Twisted's IReadDescriptor.connectionLost receives.
   */
  connectionLost(reason: Failure): void;
}

/** Twisted's IReadDescriptor: `doRead` runs when the fd is readable. */
export interface IReadDescriptor extends IFileDescriptor {
  /** Reads what is ready; returning (or throwing) an Error drops the descriptor with that reason. */
  doRead(): Error | void;
}

/**
 * A listening socket's reader whose connections the poller may accept itself (io_uring's
 * multishot accept): registered with the `ACCEPT` option where the poller has it, it then
 * takes them with the reactor's `takeAccepted` in `doRead` instead of calling accept.
 */
export interface IAcceptDescriptor extends IReadDescriptor {
  /** Marks the descriptor as a listening socket (checked once, at addReader). */
  readonly acceptsConnections: true;
}

/** Twisted's IWriteDescriptor: `doWrite` runs when the fd is writable. */
export interface IWriteDescriptor extends IFileDescriptor {
  /** Writes what is pending; returning (or throwing) an Error drops the descriptor with that reason. */
  doWrite(): Error | void;
}

/**
 * A reader whose reads the reactor performs itself: all batch readers that are ready in
 * one iteration are read with one native `readBatch` call into the reactor's slab.
 * The reactor calls `readResult` instead of `doRead`.
 */
export interface IBatchReadDescriptor extends IReadDescriptor {
  /** Marks the descriptor as a batch reader (checked once, at addReader). */
  readonly batchRead: true;
  /**
   * Bytes read for this fd: `data` is a view into the reactor's slab that now belongs to
   * the callee (it stays valid; the reactor never writes over it) when result > 0;
   * otherwise `data` is null and `result` is 0 (EOF) or -errno. Returning (or throwing) an
   * Error drops the descriptor with that reason.
   *
   * (Added with the Reactor, compatible:) a spurious wake-up (EAGAIN) calls nothing. A
   * reader removed before the batch read of its iteration is not read (its fd may be
   * closed already); bytes once read are always delivered, even to a reader that called
   * removeReader in between (a paused transport must buffer them), so nothing is lost.
   */
  readResult(data: Buffer | null, result: number): Error | void;
}

/**
 * A writer with buffered bytes that the reactor flushes for it at the end of the current
 * iteration, batched with every other such writer into one native `writevBatch` call.
 * Ask for a flush with `reactor.requestFlush(w)`; the writer then hears `w.wrote(result)`
 * with the kernel's answer for its fd. When the kernel takes less than everything, the
 * writer registers with `addWriter` and its `doWrite` asks for a flush again: the WRITABLE
 * event joins the next batch instead of writing by itself, so `wrote` stays the one place
 * a writer handles partial writes, AGAIN and errors.
 *
 * (Added with the Reactor, compatible:) outside an iteration the flush runs in a
 * microtask. A writer whose `fileno()` is negative at flush time is skipped and not told;
 * so a writer that closes its fd with a flush pending must first set its fileno to -1 or
 * call `reactor.cancelFlush(w)`: the fd number may be reused by then. A writer whose
 * `pendingBuffers()` is empty is told `wrote(0)` without a syscall. A flush whose `wrote()`
 * throws drops the writer.
 */
export interface IBatchWriter extends IFileDescriptor {
  /** The buffers to write now, in order (the writer's own array: the reactor only reads it). */
  pendingBuffers(): Uint8Array[];
  /** How many bytes the kernel took (>= 0, possibly partial; 0 when nothing was pending), AGAIN (-1), or -errno. */
  wrote(result: number): void;
  /**
   * True when `fileno()` is known to be no socket (a pipe, a terminal, a file): the flush
   * writes it with one writev instead of first trying sendmsg, which fails there with
   * ENOTSOCK. Absent or false: sendmsg(MSG_NOSIGNAL), then writev if that says ENOTSOCK.
   * Read at every flush; it belongs to this writer, never to the fd number.
   */
  readonly notSocket?: boolean;
  /**
   * The reactor's mark: true while a flush of this writer is queued (a field instead of a
   * Set lookup on every write). Writers declare it, initialised to false, so that their
   * objects keep one shape, and never set it themselves.
   */
  flushQueued?: boolean;
}

/**
 * A batch reader and writer whose bytes pass through a native TLS session (docs/tls.md):
 * while `tlsId` is a session id (>= 0), the reactor reads it with one `tlsReadBatch` for
 * every such reader ready in the iteration, and flushes it with one `tlsWriteBatch` for
 * every such writer that asked, at the end of the iteration; it then hears `tlsReadResult`
 * / `tlsWrote` instead of `readResult` / `wrote`, with the session's TLS_* status bits.
 * A `tlsId` of -1 (or none) is a plain batch reader and writer.
 */
export interface ITLSBatchDescriptor extends IBatchReadDescriptor, IBatchWriter {
  /** The native TlsSession id while TLS is on, -1 otherwise (read when registering for reading and at each batch). */
  readonly tlsId: number;
  /** Plaintext decrypted for this session (`data` a slab view it now owns, when result > 0), or 0 / -errno / TLS_ERROR; `status` is TLS_* bits. */
  tlsReadResult(data: Buffer | null, result: number, status: number): Error | void;
  /** What tlsWriteBatch did with `pendingBuffers()`: plaintext bytes taken, -errno or TLS_ERROR; `status` is TLS_* bits. */
  tlsWrote(taken: number, status: number): void;
}
