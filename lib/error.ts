/**
 * Typed errors of the I/O layers (Twisted's `twisted.internet.error`). Each carries its
 * cause: the syscall error (`code`, `errno`, `syscall`) where there was one.
 * Deferred's own errors (AlreadyCalledError, CancelledError, ...) live in `lib/defer`.
 */

/** Base of every fdreactor I/O error. */
export class FdReactorError extends Error {
  /** errno name of the underlying syscall failure, when there was one ("ECONNRESET"). */
  readonly code?: string;
  /** errno number of the underlying failure, when there was one. */
  readonly errno?: number;
  /** An error with `message`; `options.cause` (a syscall error) supplies `code` and `errno` when it has them. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    const c = options?.cause as { code?: unknown; errno?: unknown } | undefined;
    if (c && typeof c.code === "string") this.code = c.code;
    if (c && typeof c.errno === "number") this.errno = c.errno;
  }
}

/** The reactor is already running. */
export class ReactorAlreadyRunning extends FdReactorError {}
/** The reactor is not running (stop() on a stopped reactor). */
export class ReactorNotRunning extends FdReactorError {}
/** No such poller backend in this build; the message names the available ones. */
export class UnknownBackendError extends FdReactorError {}

/** A connection was closed cleanly (the normal end of a connection). */
export class ConnectionDone extends FdReactorError {
  /** A clean close, with Twisted's message unless `message` is given. */
  constructor(message = "Connection was closed cleanly.", options?: { cause?: unknown }) {
    super(message, options);
  }
}
/** A connection was lost in a non-clean fashion (reset, error); `errno` says why when known. */
export class ConnectionLost extends FdReactorError {
  /** A non-clean loss, with Twisted's message unless `message` is given; `options.cause` carries the errno. */
  constructor(message = "Connection to the other side was lost in a non-clean fashion.", options?: { cause?: unknown }) {
    super(message, options);
  }
}
/** The connection was aborted locally (abortConnection). */
export class ConnectionAborted extends ConnectionLost {}
/** A connect attempt was refused by the peer (ECONNREFUSED). */
export class ConnectionRefusedError extends FdReactorError {}
/** A connect attempt failed for another reason (EHOSTUNREACH, ENETUNREACH, ...). */
export class ConnectError extends FdReactorError {}
/** A connect attempt timed out. */
export class TCPTimedOutError extends FdReactorError {}
/** Binding or listening failed (EADDRINUSE, EACCES, ...). */
export class CannotListenError extends FdReactorError {}
/** A host name could not be resolved; the message names the host. */
export class DNSLookupError extends FdReactorError {}
/** A user-requested connect was cancelled (stopConnecting). */
export class UserError extends FdReactorError {}
