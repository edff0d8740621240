/**
 * What a stream Connection keeps while it speaks TLS (docs/tls.md): its native session, the
 * handshake's progress and timeout, whether close_notify has been queued, and the writes
 * held while a STARTTLS waits for the plaintext before it to leave. The Connection drives
 * it from the reactor's TLS lanes (connection.ts); nothing here makes a syscall.
 */
import type { IDelayedCall, IReactorTime } from "../defer/interfaces";
import { TLSError } from "../error";
import { native, type TlsSession } from "../native";
import type { ITLSContextFactory } from "./tls-options";

/** Default seconds a TLS handshake may take (listenSSL, connectSSL, startTLS). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30;

/** Seconds after a completed handshake before the heap's freed pages are given back. */
const RELEASE_DELAY = 0.5;
const releaseScheduled = new WeakSet<IReactorTime>();

/**
 * Gives the memory the handshakes freed back to the kernel, RELEASE_DELAY seconds after a
 * handshake completes on `reactor`: at most one pending call per reactor, so a burst of
 * handshakes costs one trim per RELEASE_DELAY and the last one is followed by a trim.
 */
export function releaseAfterHandshake(reactor: IReactorTime): void {
  if (releaseScheduled.has(reactor)) return;
  releaseScheduled.add(reactor);
  reactor.callLater(RELEASE_DELAY, () => {
    releaseScheduled.delete(reactor);
    native.tlsReleaseFreedMemory();
  });
}

/** Where a TLS session starts: the side, its context factory, the peer it expects and the handshake limit. */
export interface TLSStart {
  /** The context factory of this side. */
  readonly contextFactory: ITLSContextFactory;
  /** This end serves (accepted connections) or is the client. */
  readonly server: boolean;
  /** Client: the host as given (connectSSL's host, or the peer's address) and the port, for SNI and resumption. */
  readonly host: string;
  readonly port: number;
  /** Seconds before TLSHandshakeTimeout; 0: none. */
  readonly handshakeTimeout: number;
}

/** Checks a handshake timeout argument (seconds >= 0, finite or 0 for none). */
export function checkHandshakeTimeout(v: unknown): number {
  if (v === undefined) return DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) {
    throw new RangeError(`handshakeTimeout must be a number of seconds >= 0 (0: no limit), received ${String(v)}`);
  }
  return v;
}

/** One connection's TLS state. */
export class TLSLayer {
  /** The handshake has completed. */
  handshakeDone = false;
  /** close_notify has been queued (loseConnection or loseWriteConnection). */
  closeNotify = false;
  /** The last read left plaintext inside the engine (TLS_BUFFERED): read again without waiting for READABLE. */
  buffered = false;
  /** The handshake timeout, while it runs. */
  timer: IDelayedCall | null = null;
  /** The kernel has the record layer (kernel TLS): bytes go through the plain lanes. */
  kernel = false;
  /** Why the record layer stayed in userspace although kernel TLS was asked for (null: not asked, or the kernel has it). */
  kernelFallback: string | null = null;

  /** A session on `fd` for `start`'s side (throws what the context factory or the engine throws). */
  constructor(
    readonly start: TLSStart,
    fd: number,
    readonly session: TlsSession = openSession(start, fd),
  ) {}

  /** The typed error for the session's last TLS_ERROR. */
  error(): TLSError {
    const info = this.session.error();
    return new TLSError(info ?? { code: "ERR_TLS", message: "the TLS engine reported an error without a reason" });
  }

  /** Does this session ask to hand its record layer to the kernel after the handshake (a server with `kernelTls`)? */
  get wantsKernel(): boolean {
    return this.start.server && this.start.contextFactory.kernelTls === true;
  }

  /** Stops the handshake timer (done or gone). */
  cancelTimer(): void {
    const t = this.timer;
    this.timer = null;
    if (t !== null && t.active()) t.cancel();
  }
}

function openSession(start: TLSStart, fd: number): TlsSession {
  if (start.server) return new native.TlsSession(start.contextFactory.serverContext(), fd);
  const c = start.contextFactory.clientConnection(start.host, start.port);
  return new native.TlsSession(c.context, fd, { serverName: c.serverName ?? undefined, sessionKey: c.sessionKey });
}
