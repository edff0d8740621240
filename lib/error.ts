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
/** No such poller backend in this build; the message names the available ones. `code` ERR_UNKNOWN_BACKEND. */
export class UnknownBackendError extends FdReactorError {
  override readonly code: string = "ERR_UNKNOWN_BACKEND";
}

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
/** Why a certificate was refused, by kind (TLSError.reason). */
export type TLSFailureReason = "hostname-mismatch" | "expired" | "not-yet-valid" | "self-signed" | "untrusted" | "invalid";

/**
 * A TLS connection failed (Twisted's SSL.Error): a refused certificate, a failed handshake,
 * the peer's alert, a malformed or truncated record. `code` names it as docs/tls.md,
 * *Errors*, lists ("HOSTNAME_MISMATCH", "CERT_HAS_EXPIRED", "ERR_SSL_HTTP_REQUEST",
 * "ERR_TLS_TRUNCATED_RECORD", ...); `reason` says which kind of certificate failure it was.
 */
export class TLSError extends ConnectionLost {
  override readonly code: string;
  /** Certificate failures by kind; undefined for the others. */
  readonly reason?: TLSFailureReason;
  /** The X509_V_ERR_* number of a certificate failure. */
  readonly verifyCode?: number;
  /** A failure named `info.code`, described by `info.message`. */
  constructor(info: { code: string; message: string; reason?: TLSFailureReason; verifyCode?: number }) {
    super(`TLS failed: ${info.message} (${info.code})`);
    this.code = info.code;
    if (info.reason !== undefined) this.reason = info.reason;
    if (info.verifyCode !== undefined) this.verifyCode = info.verifyCode;
  }
}
/** The TLS handshake did not complete within the handshake timeout; `code` ERR_TLS_HANDSHAKE_TIMEOUT. */
export class TLSHandshakeTimeout extends TLSError {
  /** The handshake ran longer than `seconds`. */
  constructor(seconds: number) {
    super({ code: "ERR_TLS_HANDSHAKE_TIMEOUT", message: `the handshake did not complete within ${seconds} s` });
  }
}
/**
 * A connect attempt failed (EHOSTUNREACH, ENETUNREACH, ...); as in Twisted, the base of the
 * refused, timed-out and cancelled connects, so `reason.check(ConnectError)` catches them all.
 */
export class ConnectError extends FdReactorError {}
/** A connect attempt was refused by the peer (ECONNREFUSED). */
export class ConnectionRefusedError extends ConnectError {}
/** A connect attempt timed out. */
export class TCPTimedOutError extends ConnectError {}
/** Binding or listening failed (EADDRINUSE, EACCES, ...). */
export class CannotListenError extends FdReactorError {}
/** A host name could not be resolved; the message names the host. */
export class DNSLookupError extends FdReactorError {}
/** A user-requested connect was cancelled (stopConnecting); a ConnectError, as in Twisted. */
export class UserError extends ConnectError {}

/**
 * A child process exited with code 0 (Twisted's ProcessDone): `processExited` and
 * `processEnded` get it wrapped in a Failure. A ConnectionDone, as in Twisted.
 */
export class ProcessDone extends ConnectionDone {
  /** Always 0. */
  readonly exitCode = 0;
  /** Always null: no signal ended the process. */
  readonly signal: number | null = null;
  /** The raw wait status (0). */
  readonly status: number;
  /** A clean exit; `status` is the raw wait status. */
  constructor(status = 0) {
    super("process finished with exit code 0");
    this.status = status;
  }
}

/**
 * A child process exited with a non-zero code, or a signal ended it (Twisted's
 * ProcessTerminated): exactly one of `exitCode` and `signal` is a number. A ConnectionLost,
 * as in Twisted.
 */
export class ProcessTerminated extends ConnectionLost {
  /** The exit code, or null when a signal ended the process. */
  readonly exitCode: number | null;
  /** The number of the signal that ended the process, or null when it exited. */
  readonly signal: number | null;
  /** The raw wait status (Linux encoding: code << 8, or the signal number). */
  readonly status: number;
  /** Twisted's message ("process ended with exit code 3", "... by signal 9") unless `options.message` is given. */
  constructor(exitCode: number | null, signal: number | null, options?: { message?: string; cause?: unknown }) {
    let s = "process ended";
    if (exitCode !== null) s += ` with exit code ${exitCode}`;
    if (signal !== null) s += ` by signal ${signal}`;
    super(options?.message ?? s, options);
    this.exitCode = exitCode;
    this.signal = signal;
    this.status = exitCode !== null ? (exitCode & 0xff) << 8 : (signal ?? 0);
  }
}

/**
 * A program could not be started (missing, not executable, a `path` that does not exist, a
 * uid the caller may not take): the process ends with this, exit code 127 as a shell
 * reports it, and `cause` is the syscall error (`code` "ENOENT", "EACCES", ...). The message
 * names the program.
 */
export class ProcessSpawnError extends ProcessTerminated {
  /** The program that could not be started, as given to spawnProcess. */
  readonly executable: string;
  /** `executable` could not be started because of `cause` (a syscall error). */
  constructor(executable: string, cause: unknown) {
    const c = cause as { syscall?: unknown; code?: unknown };
    const why = typeof c?.code === "string" ? `${String(c.syscall ?? "exec")} ${c.code}` : String(cause);
    super(127, null, { message: `The program ${JSON.stringify(executable)} could not be started: ${why}`, cause });
    this.executable = executable;
  }
}

/** The process has exited already: it can no longer be signalled (Twisted's ProcessExitedAlready). */
export class ProcessExitedAlready extends FdReactorError {
  /** Twisted's message unless `message` is given. */
  constructor(message = "The process has already exited and the operation requested can no longer be performed.") {
    super(message);
  }
}

// Wrong arguments, on every path (TypeScript checks and the addon's alike): Node's classes
// and codes, so a caller tests `code` the same way it does for Node's own APIs.

/** A TypeError with Node's code ERR_INVALID_ARG_TYPE: an argument of the wrong type. */
export function invalidArgType(message: string): TypeError & { code: string } {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_ARG_TYPE" });
}
/** A RangeError with Node's code ERR_OUT_OF_RANGE: a number outside what the argument takes. */
export function outOfRange(message: string): RangeError & { code: string } {
  return Object.assign(new RangeError(message), { code: "ERR_OUT_OF_RANGE" });
}
/** A RangeError with Node's code ERR_SOCKET_BAD_PORT: not an integer port in 0..65535 (any type, as Node's net). */
export function badPort(message: string): RangeError & { code: string } {
  return Object.assign(new RangeError(message), { code: "ERR_SOCKET_BAD_PORT" });
}
/** A TypeError with Node's code ERR_INVALID_ARG_VALUE: an argument of the right type but an unusable value. */
export function invalidArgValue(message: string, options?: { cause?: unknown }): TypeError & { code: string } {
  return Object.assign(new TypeError(message, options), { code: "ERR_INVALID_ARG_VALUE" });
}
