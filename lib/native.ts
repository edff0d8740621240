/**
 * The native boundary: loads the C++ addon and declares its types.
 *
 * Everything here works on raw file descriptor numbers. The addon knows nothing of
 * protocols, transports or Deferreds (docs/design.md, "The native boundary"):
 * - pollers fill a caller-owned `Uint32Array` with events (`EVENT_STRIDE` words each:
 *   slot, generation, bits) and return the count: no allocation, no JS call per event;
 * - socket calls are non-blocking; EAGAIN/EWOULDBLOCK is returned as the sentinel
 *   `AGAIN` (-1), EINTR is retried inside the call, every other failure throws a
 *   {@link SyscallError} carrying `code`, `errno` and `syscall`, like Node's own;
 * - a wrong argument throws a TypeError or RangeError naming the argument.
 *
 * Set `FDREACTOR_ADDON` to the path of a `.node` file to load another build of the addon
 * (the sanitizer build, the kqueue-emulation test build).
 */
import * as path from "node:path";
import { UnknownBackendError } from "./error";

/** Interest and readiness bit: the fd has data to read (or a pending accept). */
export const READABLE = 1;
/** Interest and readiness bit: the fd can take a write (or a connect finished). */
export const WRITABLE = 2;
/** Readiness bit: an error is pending on the fd (read it with `socketError`). */
export const ERROR = 4;
/** Readiness bit: the peer closed its end (or hung up). */
export const HANGUP = 8;
/** Registration option: edge-triggered (EPOLLET / EV_CLEAR). */
export const EDGE = 16;
/** Registration option: disarm after one event until `modify` re-arms (EPOLLONESHOT / EV_ONESHOT). */
export const ONESHOT = 32;
/**
 * Registration option, with READABLE alone, for a listening socket: the poller accepts its
 * connections itself (io_uring: a multishot accept request, Linux 5.19+) and reports
 * READABLE while some wait for {@link Poller.accept}. Only where `supportedOptions` has it.
 */
export const ACCEPT = 64;
/**
 * Registration option, with READABLE on a socket (io_uring after `enableRecv`): the poller
 * receives for the fd itself, into its buffer ring, and reports receive records instead of
 * READABLE.
 */
export const RECV = 128;
/** Words per event in a poller's event array: `[slot, generation, bits]`. */
export const EVENT_STRIDE = 3;
/** Words before the first receive record: `[records, free ring buffers]`. */
export const RECV_HEADER = 2;
/** Words per receive record: `[slot, generation, slab id, offset, result]` (bytes, 0 for EOF, or -errno). */
export const RECV_STRIDE = 5;
/** Sentinel returned by non-blocking calls instead of throwing EAGAIN/EWOULDBLOCK. */
export const AGAIN = -1;

/** Words of an address block in datagram records: [family 4|6 (0: none), port, w0, w1, w2, w3, scope id], wk the IP's k-th 32-bit word (IPv4: w0). */
export const ADDRESS_WORDS = 7;
/** Family word of a Unix address block: [1, offset, length, 0...], the sun_path bytes at `names[offset..offset+length)` (length 0: an unbound sender). */
export const ADDRESS_UNIX = 1;
/** Words of one recvBatch record: [offset, bytes, size, flags, address block]. */
export const RECV_RECORD_WORDS = 4 + ADDRESS_WORDS;
/** Flag of a recvBatch record: the datagram was longer than maxPerDatagram and was cut (MSG_TRUNC). */
export const RECV_TRUNCATED = 1;
/** Words of one sendBatch record: [offset, length, result, address block]. */
export const SEND_RECORD_WORDS = 3 + ADDRESS_WORDS;

/** Word of a channel table (dnsRecvBatch, dnsSendQueries) holding its slot count; the words before it are the server's ADDRESS_WORDS block (family 0: read with getpeername). */
export const DNS_SLOT_COUNT = ADDRESS_WORDS;
/** Word of a channel table holding how many bytes of its `queries` buffer are written (dnsSendQueries appends after them). */
export const DNS_QUERIES_USED = ADDRESS_WORDS + 1;
/** Words of the head of a channel table, before its slots. */
export const DNS_TABLE_HEAD = ADDRESS_WORDS + 2;
/** Words of one dnsSendQueries record: [slot, type code (1 A, 28 AAAA), result (as sendBatch's)]. */
export const DNS_SEND_WORDS = 3;
/** Words of one channel table slot: [id (-1: nothing in flight), offset, length] of its query in `queries`. */
export const DNS_SLOT_WORDS = 3;
/** Words of one dnsRecvBatch/dnsParse answer record: [slot, kind (DNS_*), offset, length, rcode | TC << 4, ttl, negative ttl, addresses offset, address count]. */
export const DNS_RECORD_WORDS = 9;
/** Answer kind: not an answer to the query (dnsParse only; dnsRecvBatch keeps no record of it). */
export const DNS_REJECTED = 0;
/** Answer kind: NOERROR with addresses of the query's type owned by the name asked (4 or 16 bytes each, distinct, ttl the least). */
export const DNS_ADDRESSES = 1;
/** Answer kind: NXDOMAIN, or NOERROR with no address and no CNAME for the name asked (negative ttl: RFC 2308's, 0 without SOA). */
export const DNS_NEGATIVE = 2;
/** Answer kind: accepted, to be decoded in JavaScript (TC, another rcode, a CNAME chain, names that are not plain ASCII). */
export const DNS_DECODE = 3;

/** Backends a build may contain; {@link backends} says which this one has. */
export type Backend = "epoll" | "io_uring" | "kqueue" | "poll" | "select";

/** A socket address as returned by `getsockname`/`getpeername`/`accept`/`recvfrom`. */
export type SockAddr =
  | { family: "IPv4" | "IPv6"; address: string; port: number }
  | { family: "unix"; path: string };

/** What native.adoptSocket found: the duplicate fd and what kind of socket it is. */
export interface AdoptedSocket {
  /** The duplicate (the reactor's to close). */
  fd: number;
  family: "IPv4" | "IPv6" | "unix" | "other";
  type: "stream" | "dgram" | "other";
  /** A stream socket in the listening state (SO_ACCEPTCONN). */
  listening: boolean;
}

/** Socket options understood by {@link NativeAddon.setsockopt} and `getsockopt`. */
export type SockOpt =
  | "SO_REUSEADDR"
  | "SO_REUSEPORT"
  | "SO_KEEPALIVE"
  | "SO_RCVBUF"
  | "SO_SNDBUF"
  | "SO_BROADCAST"
  | "TCP_NODELAY"
  | "IP_MULTICAST_TTL"
  | "IP_MULTICAST_LOOP"
  | "IPV6_V6ONLY"
  /** Set with `false` (off) or seconds to linger (0: close sends RST); reads back -1 when off. */
  | "SO_LINGER";

/** TLS status bit: the handshake has completed. */
export const TLS_HANDSHAKE_DONE = 1;
/** TLS status bit: ciphertext is waiting for the kernel; call `flush()` when the fd is writable. */
export const TLS_WANT_WRITE = 2;
/** TLS status bit: the peer's close_notify arrived (a clean TLS close). */
export const TLS_PEER_CLOSED = 4;
/** TLS status bit: the peer's TCP stream ended (with or without close_notify before it). */
export const TLS_EOF = 8;
/** TLS status bit: more plaintext (or a deferred error) is ready inside the engine: read again without waiting for READABLE. */
export const TLS_BUFFERED = 16;
/** Result word of the TLS calls when the TLS layer failed: `session.error()` names the reason. */
export const TLS_ERROR = -0x10000;

/** Options of a native {@link TlsContext} (lib/net/tls normalises user-facing options into these). */
export interface TlsContextOptions {
  /** A server context (accepts handshakes) or a client one (default). */
  server?: boolean;
  /** PEM private key of this side (with `certificate`; required for a server). */
  privateKey?: string | Buffer;
  /** PEM certificate of this side; further certificates in the same text are its chain. */
  certificate?: string | Buffer;
  /** PEM texts of intermediate certificates sent after `certificate`. */
  extraCertChain?: Array<string | Buffer>;
  /** Whom to trust: `"system"` (the platform's CA bundle) or PEM texts of CA certificates; a verifying client without it trusts the system's. */
  trustRoot?: "system" | Array<string | Buffer>;
  /** Verify the peer's chain (client default true, server default false: ask for no certificate). */
  verify?: boolean;
  /** Server: fail the handshake when the client sends no certificate (needs `verify`). */
  requireCertificate?: boolean;
  /** Lowest protocol version accepted (default TLSv1.2). */
  minimumVersion?: "TLSv1.2" | "TLSv1.3";
  /** Highest protocol version offered (default: the newest the library has). */
  maximumVersion?: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher list for TLS 1.2 and below. */
  cipherList?: string;
  /** OpenSSL cipher suites for TLS 1.3 (colon-separated names). */
  cipherSuites?: string;
  /** ALPN protocol names in order of preference ("h2", "http/1.1"). */
  acceptableProtocols?: string[];
  /** Server: sessions may hand their record layer to the kernel after the handshake (docs/tls.md, "Kernel TLS"). */
  kernelTls?: boolean;
}

/** What `TlsSession.kernelKeys()` gives: the keys, ivs and next record numbers the kernel would get. */
export interface KernelTlsKeys {
  /** The TLS 1.3 cipher suite: 0x1301 AES-128-GCM, 0x1302 AES-256-GCM, 0x1303 ChaCha20-Poly1305. */
  suite: number;
  txKey: Buffer;
  txIv: Buffer;
  txSeq: number;
  rxKey: Buffer;
  rxIv: Buffer;
  rxSeq: number;
}

/** Per-process kernel TLS figures ({@link NativeAddon.kernelTlsStats}). */
export interface KernelTlsStats {
  /** The errno name of the first TCP_ULP that said this kernel has no TLS ULP (later handoffs make no syscall), or null. */
  unavailable: string | null;
  /** setsockopt(TCP_ULP, "tls") calls made. */
  ulpCalls: number;
  /** Sessions whose record layer the kernel took. */
  handedOff: number;
  /** Sessions that asked for the kernel and stayed in userspace. */
  fallbacks: number;
}

/** An OpenSSL SSL_CTX: the settings many TLS connections share. */
export interface TlsContext {
  /** Is this a server context? */
  readonly server: boolean;
  /** SNI (server): clients asking for `hostname` ("*.example.com" matches one label) get `context`'s certificate. */
  addServerName(hostname: string, context: TlsContext): void;
}

/** Constructor of {@link TlsContext}; wrong options throw a TypeError naming the option. */
export interface TlsContextConstructor {
  new (options: TlsContextOptions): TlsContext;
}

/** The peer's certificate as the TLS engine reports it. */
export interface PeerCertificate {
  /** Subject distinguished name (RFC 2253). */
  subject: string;
  /** Issuer distinguished name (RFC 2253). */
  issuer: string;
  /** "DNS:name" and "IP Address:addr" entries of subjectAltName. */
  subjectAltNames: string[];
  /** Start of validity, ISO 8601 UTC. */
  validFrom: string;
  /** End of validity, ISO 8601 UTC. */
  validTo: string;
  /** Serial number in hex. */
  serialNumber: string;
  /** SHA-256 of the DER, colon-separated hex. */
  fingerprint256: string;
  /** The DER bytes. */
  raw: Buffer;
}

/** Why a TLS call returned {@link TLS_ERROR}. */
export interface TlsErrorInfo {
  /**
   * The certificate check's name for chain and host name failures ("HOSTNAME_MISMATCH",
   * "CERT_HAS_EXPIRED", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", ...),
   * "ERR_SSL_" + OpenSSL's reason otherwise ("ERR_SSL_HTTP_REQUEST", "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"),
   * or "ERR_TLS_TRUNCATED_RECORD" when the peer's stream ended inside a record.
   */
  code: string;
  /** OpenSSL's words. */
  message: string;
  /** The X509_V_ERR_* number, for certificate failures. */
  verifyCode?: number;
  /** Certificate failures by kind. */
  reason?: "hostname-mismatch" | "expired" | "not-yet-valid" | "self-signed" | "untrusted" | "invalid";
}

/**
 * One TLS connection over a non-blocking fd the caller owns and polls. Status results are
 * `TLS_*` bits; negative results are -errno or {@link TLS_ERROR}.
 */
export interface TlsSession {
  /** Small integer naming this session in {@link NativeAddon.tlsReadBatch} / `tlsWriteBatch` (-1 once closed). */
  readonly id: number;
  /** Starts (client: sends the ClientHello) or continues the handshake with what was read; the status bits. */
  handshake(): number;
  /** Sends queued ciphertext; the status bits (TLS_WANT_WRITE while some remains) or -errno. */
  flush(): number;
  /** Queues close_notify (once, after the handshake) and sends; as `flush()`. */
  shutdown(): number;
  /** Frees the OpenSSL objects now (the fd stays open: it is the caller's); idempotent. */
  close(): void;
  /** The peer's certificate, or null (none sent, or the handshake has not got that far). */
  peerCertificate(): PeerCertificate | null;
  /** The ALPN protocol both sides chose, or null. */
  alpnProtocol(): string | null;
  /** "TLSv1.3" / "TLSv1.2" once the handshake is done, else null. */
  protocol(): string | null;
  /** The cipher in use, or null. */
  cipher(): string | null;
  /** Did the handshake resume an earlier session? */
  sessionReused(): boolean;
  /** The SNI host name (server: what the client asked for; client: what it sent), or null. */
  serverName(): string | null;
  /** Why the last call returned TLS_ERROR, or null. */
  error(): TlsErrorInfo | null;
  /**
   * Hands the record layer to the kernel (a server session of a `kernelTls` context, right
   * after the handshake): "kernel"; "error" (error() says why, the connection is unusable);
   * or why it stays in the engine ("ENOENT" and other TCP_ULP errnos, "off", "client",
   * "version", "cipher", "buffered", "pending", "closing", "key-update", "no-secrets").
   */
  kernelHandOff(): string;
  /** What kernelHandOff would give the kernel now, or why nothing (a string). Exposes traffic keys: tests and debugging only. */
  kernelKeys(): KernelTlsKeys | string;
  /** After the handoff, when a read failed with EIO: "close_notify", "again", "error" (error() says why) or an errno name. */
  kernelControlRecord(): string;
}

/** Constructor of {@link TlsSession}. */
export interface TlsSessionConstructor {
  /**
   * A session on `fd` with `context`'s settings. Client options: `serverName` is sent as SNI
   * and is the name (or IP address) the certificate must carry; `sessionKey` names where
   * resumable sessions are cached in the context (a later session with the same key resumes).
   */
  new (context: TlsContext, fd: number, options?: { serverName?: string; sessionKey?: string }): TlsSession;
}

/** A readiness poller over raw fds (one backend). */
export interface Poller {
  /** Backend name, e.g. `"epoll"`. */
  readonly backend: Backend;
  /** Options (`EDGE`, `ONESHOT` bits) this backend supports. */
  readonly supportedOptions: number;
  /** Registers `fd` under token (slot, generation) for `interest` (READABLE|WRITABLE plus options). */
  add(fd: number, slot: number, generation: number, interest: number): void;
  /** Changes the token or interest of a registered fd (re-arms a ONESHOT registration). */
  modify(fd: number, slot: number, generation: number, interest: number): void;
  /** Unregisters `fd`; throws ENOENT (code) when it was never added. */
  remove(fd: number): void;
  /**
   * Waits up to `timeoutMs` (-1 forever, 0 poll) and writes events into the array given to
   * the constructor; returns their count (0 on timeout or EINTR).
   */
  wait(timeoutMs: number): number;
  /**
   * Hands the kernel the changes the next wait would otherwise carry (io_uring's re-arms
   * of level-triggered fds); integrated mode calls it after each iteration. A no-op on the
   * other backends. Returns true when events the poller already holds wait for the next
   * wait() (io_uring: poll completions reaped by a batch), which the poller's fd does not
   * show: the caller must iterate again without waiting for the fd.
   */
  flush(): boolean;
  /** True when this poller does the batched reads and writes itself (io_uring, as SQEs in one io_uring_enter). */
  readonly completesIo: boolean;
  /** As the addon's {@link NativeAddon.readBatch}, done by the poller (only when `completesIo`). */
  readBatch(fds: Int32Array, count: number, slab: Uint8Array, offset: number, maxPerFd: number, out: Int32Array): number;
  /** As the addon's {@link NativeAddon.writevBatch}, done by the poller (only when `completesIo`). */
  writevBatch(fds: Int32Array, count: number, counts: Int32Array, bufs: Uint8Array[], out: Int32Array, notSocket?: Uint8Array): void;
  /**
   * writevBatch deferred (only when `completesIo`): the sends are queued, and reach the
   * kernel with the next call that enters it (wait, readBatch, finishWrites, or the addon's
   * close() of any fd), so a busy loop pays one io_uring_enter per iteration. `bufs` must
   * stay alive until finishWrites returns; `out` is only checked here. One batch at a time:
   * throws ERR_BATCH_PENDING while one is unfinished.
   */
  queueWrites(fds: Int32Array, count: number, counts: Int32Array, bufs: Uint8Array[], out: Int32Array, notSocket?: Uint8Array): void;
  /**
   * The queued batch's results (writevBatch's words) into `out`: returns how many writers it
   * had, 0 when none is queued, or -1 when `mayEnter` is false and a send has yet to
   * complete (then no syscall was made and nothing written).
   */
  finishWrites(out: Int32Array, mayEnter: boolean): number;
  /**
   * The connections accepted for listening socket `fd` registered with `ACCEPT`, at most
   * `max`, as the addon's `accept` returns them (non-blocking, close-on-exec fds; the peer
   * address read with getpeername). Throws the errno that ended the accept request
   * (EMFILE...) only when none waits, then re-arms it at the next wait; ENOENT for an fd
   * not registered with `ACCEPT`.
   */
  accept(fd: number, max: number): Accepted[];
  /** io_uring_enter calls this poller has made (0 on the backends that do not count): for tests and benchmarks. */
  readonly enterCount: number;
  /** The backend's own pollable fd (epoll, io_uring, kqueue) or -1. A getter: it changes nothing. */
  fd(): number;
  /**
   * Puts the poller in integrated mode, where another loop (libuv, through an FdWatcher)
   * polls its fd between waits: every later change reaches the kernel at once (kqueue stops
   * batching them). Returns the fd to watch, or -1 for a backend without one (poll, select).
   */
  enterIntegratedMode(): number;
  /**
   * Completion-based receive (io_uring, Linux 6.12+): registers a provided buffer ring of
   * `entries` buffers of `regionSize` bytes, consumed incrementally, and makes RECV an
   * option. Each later wait writes its receive records into `records` (RECV_HEADER, then
   * RECV_STRIDE words each). Returns null, or why not (the caller keeps reading through
   * readiness).
   */
  enableRecv(records: Int32Array, entries: number, regionSize: number): string | null;
  /**
   * Registered files (io_uring, Linux 5.19+): a sparse file table sized from RLIMIT_NOFILE
   * whose slot n holds fd n's file while fd n is watched, so per-fd requests skip the
   * kernel's file lookup. Only before the first `add`. Returns null, or why not (fds are
   * then named by number).
   */
  enableFixedFiles(): string | null;
  /** Whether `enableFixedFiles` succeeded (false once closed). */
  readonly fixedFiles: boolean;
  /**
   * Lends `slab` to the buffer ring, cut into buffers of the region size: returns the id
   * records name it by, or -1 when the ring has no room. The poller keeps it alive while
   * the kernel may write into it; its bytes are never written over.
   */
  addRecvSlab(slab: Uint8Array): number;
  /** Releases the kernel object; idempotent. */
  close(): void;
}

/** Constructor of {@link Poller}: `events` must hold `capacity * EVENT_STRIDE` words. */
export interface PollerConstructor {
  new (backend: Backend, events: Uint32Array): Poller;
}

/** Watches one fd for readability from libuv's loop (integrated run mode). */
export interface FdWatcher {
  /** Starts calling `onReadable()` whenever the fd is readable. */
  start(): void;
  /** Stops watching (may be started again). */
  stop(): void;
  /** Makes the watcher keep (ref) or not keep (unref) Node's loop alive while started. */
  ref(): void;
  /** See {@link FdWatcher.ref}: a started, unref'd watcher does not keep Node's loop alive. */
  unref(): void;
  /** Stops and releases the libuv handle; idempotent. */
  close(): void;
}

/** Constructor of {@link FdWatcher}. */
export interface FdWatcherConstructor {
  new (fd: number, onReadable: () => void): FdWatcher;
}

/** One accepted connection. */
export interface Accepted {
  fd: number;
  address: SockAddr;
}

/** One received datagram. */
export interface Datagram {
  bytes: number;
  address: SockAddr;
}

/** The addon's exports. */
export interface NativeAddon {
  /** The readiness poller class ({@link Poller}). */
  Poller: PollerConstructor;
  /** The libuv fd watcher class ({@link FdWatcher}) of the integrated run mode. */
  FdWatcher: FdWatcherConstructor;
  /** Backends compiled into this build, the default first (epoll before io_uring on Linux). */
  backends(): Backend[];
  /** FD_SETSIZE of this build (select refuses fds at or above it). */
  readonly FD_SETSIZE: number;

  // -- sockets (all fds are O_NONBLOCK and O_CLOEXEC) ---------------------------------
  /** Creates a socket: `domain` "IPv4" | "IPv6" | "unix", `type` "tcp" | "udp" (unix: stream | dgram). */
  socket(domain: "IPv4" | "IPv6" | "unix", type: "tcp" | "udp"): number;
  /** Binds to host:port (IPv4/IPv6 literal; port 0 picks one). */
  bind(fd: number, host: string, port: number): void;
  /** Binds a Unix socket to a path (a leading "\0" names the Linux abstract namespace). */
  bindUnix(fd: number, path: string): void;
  /** listen(2) with this backlog. */
  listen(fd: number, backlog: number): void;
  /** Accepts until EAGAIN or `max` connections; [] when none is pending. Throws EMFILE etc. only when nothing was accepted. */
  accept(fd: number, max: number): Accepted[];
  /** Starts a connect: true when connected at once, false when in progress (EINPROGRESS). */
  connect(fd: number, host: string, port: number): boolean;
  /** As {@link NativeAddon.connect} for a Unix socket path. */
  connectUnix(fd: number, path: string): boolean;
  /** SO_ERROR: 0 or a pending errno (clears it). */
  socketError(fd: number): number;
  /** Reads into buf[offset, offset+length): bytes read, 0 at EOF, or AGAIN. */
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** Scatter read into `bufs` in order: bytes read, 0 at EOF, or AGAIN. */
  readv(fd: number, bufs: Uint8Array[]): number;
  /**
   * Receives one datagram into buf[offset, offset+length): the datagram or null on EAGAIN.
   * lib/net's datagram ports (UDP and Unix) use recvBatch; this one-datagram call is kept
   * for code outside a port (tests, tools), as sendto is.
   */
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number): Datagram | null;
  /** Writes buf[offset, offset+length): bytes written (may be partial) or AGAIN. */
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** Gathers `bufs` into one writev (at most IOV_MAX used): bytes written (may be partial) or AGAIN. */
  writev(fd: number, bufs: Uint8Array[]): number;
  /**
   * Sends one datagram to host:port, or to the connected peer when host is null: bytes or
   * AGAIN. Kept beside sendBatch for one-off sends outside a port (tests, tools); UDP ports use sendBatch.
   */
  sendto(fd: number, buf: Uint8Array, offset: number, length: number, host: string | null, port: number): number;
  /** shutdown(2): how 0 = read, 1 = write, 2 = both. */
  shutdown(fd: number, how: 0 | 1 | 2): void;
  /** Closes the fd (EINTR is not retried: the fd is gone either way). */
  close(fd: number): void;
  /** setsockopt(2): a boolean option takes true/false, a number option an int; SO_LINGER takes false or seconds. */
  setsockopt(fd: number, option: SockOpt, value: number | boolean): void;
  /** getsockopt(2): 0/1 for a boolean option, the int otherwise; SO_LINGER -1 when off, else its seconds. */
  getsockopt(fd: number, option: SockOpt): number;
  /** Joins (`join` true) or leaves a multicast group on an interface address ("" = any). */
  setMembership(fd: number, group: string, iface: string, join: boolean): void;
  /** Bytes of a stream socket's send queue not yet acknowledged by the peer (SIOCOUTQ; SO_NWRITE on BSD), -1 where the platform cannot say. */
  unsentBytes(fd: number): number;
  /** The local address of `fd` (getsockname(2)). */
  getsockname(fd: number): SockAddr;
  /** The peer address of connected `fd` (getpeername(2)); throws ENOTCONN when not connected. */
  getpeername(fd: number): SockAddr;
  /** A non-blocking socketpair: `type` "stream" | "dgram" (AF_UNIX). */
  socketpair(type: "stream" | "dgram"): [number, number];
  /** pipe2(O_NONBLOCK | O_CLOEXEC): [readFd, writeFd]. */
  pipe(): [number, number];
  /**
   * A close-on-exec, non-blocking duplicate of socket `fd` (which the caller still owns and
   * closes), with its family, type and whether it listens; throws EBADF, ENOTSOCK...
   */
  adoptSocket(fd: number): AdoptedSocket;

  // -- wakers ------------------------------------------------------------------------
  /** An eventfd (both numbers equal) or, where absent, a pipe: [readFd, writeFd]. */
  makeWaker(): [number, number];
  /** Wakes: safe from any thread (worker_threads); never blocks, never throws EAGAIN. */
  wake(writeFd: number): void;
  /** Drains all pending wake-ups; returns how many writes were pending (eventfd) or bytes (pipe). */
  drainWaker(readFd: number): number;

  // -- limits ------------------------------------------------------------------------
  /** RLIMIT_NOFILE as { soft, hard }. */
  getNofileLimit(): { soft: number; hard: number };
  /** Sets the soft RLIMIT_NOFILE (raising past hard throws EPERM/EINVAL); returns the new limits. */
  setNofileLimit(soft: number): { soft: number; hard: number };

  // -- batched I/O (one N-API call for many fds) -------------------------------------
  /**
   * Reads each of `fds[0..count)` once into consecutive regions of `slab` starting at
   * `offset`, at most `maxPerFd` bytes each, stopping early when fewer than `maxPerFd`
   * bytes of slab remain. Writes `[fd, offset, result]` triples into `out`, where result
   * is bytes read (> 0), 0 at EOF, AGAIN, or -errno. Returns how many fds were processed.
   */
  readBatch(fds: Int32Array, count: number, slab: Uint8Array, offset: number, maxPerFd: number, out: Int32Array): number;
  /**
   * One writev per fd for many fds: fd `fds[i]` gets the next `counts[i]` buffers of
   * `bufs`. Writes bytes written (possibly partial), AGAIN, or -errno into `out[i]`.
   * Sockets are written with sendmsg(MSG_NOSIGNAL), so a closed peer is EPIPE, never
   * SIGPIPE; an fd with `notSocket[i]` non-zero (a pipe, a terminal, a file) with one
   * plain writev, and any other fd that turns out not to be a socket with writev after
   * sendmsg's ENOTSOCK.
   */
  writevBatch(fds: Int32Array, count: number, counts: Int32Array, bufs: Uint8Array[], out: Int32Array, notSocket?: Uint8Array): void;

  // -- files to sockets (native/sendfile.cc) ---------------------------------------------
  /**
   * sendfile(2): up to `length` bytes of `fileFd` from `offset` (the file's own position is
   * not moved) to `socketFd`. Returns one result word like the batched writes: bytes sent
   * (>= 0, possibly partial; 0 only when `length` is 0 or the file ends at `offset`), AGAIN,
   * or -errno (-ENOSYS where the platform has no sendfile: Linux, macOS and FreeBSD have
   * it). Only a bad argument throws. At most 0x7ffff000 bytes move per call.
   */
  sendfile(socketFd: number, fileFd: number, offset: number, length: number): number;
  /**
   * A response's head and body in one call: `bufs` with one sendmsg (MSG_NOSIGNAL; skipped
   * when empty), then, only if the kernel took all of them, `sendfile` of the range. Writes
   * the head's result word (bytes, AGAIN or -errno) into `out[0]` and sendfile's into
   * `out[1]` (AGAIN when it was not tried). Only a bad argument throws.
   */
  writevSendfile(socketFd: number, bufs: Uint8Array[], fileFd: number, offset: number, length: number, out: Int32Array): void;
  /**
   * stat(2) of path `pathOrFd` (or fstat(2) of an fd) into `out` (a Float64Array of at least
   * 8): device, inode, size, mode, mtime seconds and nanoseconds, ctime seconds and
   * nanoseconds. Returns 0 or -errno (a path with a NUL: -ENOENT); a bad `out` or fd throws.
   */
  fileIdentity(pathOrFd: string | number, out: Float64Array): number;

  // -- descriptors made elsewhere (native/fd_control.cc) ------------------------------------
  /** fcntl(F_DUPFD_CLOEXEC): a close-on-exec duplicate of `fd` (same open file description); throws EBADF, EMFILE... */
  dupFd(fd: number): number;
  /** fcntl(F_GETFL): the status flags of `fd`'s open file description (shared by every duplicate). */
  getStatusFlags(fd: number): number;
  /** fcntl(F_SETFL): sets the status flags the kernel lets change (O_NONBLOCK, O_APPEND...). */
  setStatusFlags(fd: number, flags: number): void;
  /** The platform's O_NONBLOCK bit. */
  readonly O_NONBLOCK: number;

  // -- fd passing over Unix stream sockets (native/fd_passing.cc; SCM_RIGHTS) -------------
  /**
   * sendmsg(2) of `buf` (at least one byte) with `fds[0..count)` attached to its first byte
   * (count 1..MAX_PASSED_FDS). Returns bytes sent (>= 1; the descriptors went with them),
   * AGAIN (nothing sent), or -errno. The caller keeps its descriptors and closes them.
   */
  sendFds(fd: number, buf: Uint8Array, fds: Int32Array, count: number): number;
  /**
   * recvmsg(2) into `buf`: bytes (0 at EOF), AGAIN, or -errno. `out[0]` gets how many
   * descriptors came with the bytes (close-on-exec, owned by the caller), `out[1]` 1 when
   * some were cut off (MSG_CTRUNC: no room in `out`, or the fd limit), `out[2..]` the
   * descriptors; room is offered for min(out.length - 2, MAX_PASSED_FDS) of them.
   */
  recvFds(fd: number, buf: Uint8Array, out: Int32Array): number;
  /** The most descriptors one message carries (Linux's SCM_MAX_FD, 253). */
  readonly MAX_PASSED_FDS: number;

  // -- processes (native/process.cc) -----------------------------------------------------
  /** A close-on-exec pipe for a child: [parentEnd, childEnd]; only parentEnd is non-blocking (the parent reads it when `parentReads`). */
  childPipe(parentReads: boolean): [number, number];
  /**
   * Starts `file` (a path: no PATH search) with `argv` and `envp` ("NAME=value" strings), in
   * `cwd` (null: ours), as `uid`/`gid` (-1: ours). `fdMap` holds [childFd, parentFd] pairs:
   * the child gets exactly those fds at those numbers, every other fd is closed in it.
   * posix_spawn where glibc has what it needs (no uid/gid), fork + exec otherwise. Returns
   * the pid; throws the errno of the step that failed (`syscall` "posix_spawn", "execve",
   * "chdir", "setuid", "fork", ...), the message naming `file`. An exec failure leaves no
   * child behind.
   */
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, uid: number, gid: number, fdMap: Int32Array): number;
  /** A close-on-exec pidfd for child `pid` (readable once it exits), or -1 where the kernel has none. */
  pidfdOpen(pid: number): number;
  /** On a kqueue build, a close-on-exec kqueue fd watching child `pid` by EVFILT_PROC/NOTE_EXIT (readable once it exits); -1 where there is no kqueue or the child is already gone. */
  kqueueExitFd(pid: number): number;
  /**
   * waitpid(pid, WNOHANG): false while the child runs; true once reaped, with `status[0]` its
   * exit code (-1 when a signal ended it) and `status[1]` that signal (0 when it exited).
   */
  reap(pid: number, status: Int32Array): boolean;
  /**
   * The read end of this process's SIGCHLD self-pipe (non-blocking, close-on-exec; a byte
   * per signal; shared by every reactor, never closed). Each call reinstalls the handler if another
   * replaced it, chaining to that one.
   */
  sigchldFd(): number;

  // -- datagram batches (native/datagram_batch.cc; recvmmsg/sendmmsg on Linux) -------
  /**
   * Receives up to `max` datagrams (at most DATAGRAM_BATCH) of one socket into `slab` from
   * `offset`, each cut at `maxPerDatagram` bytes, packed 8-byte aligned. Writes one
   * RECV_RECORD_WORDS record per datagram into `records`: [offset, bytes kept, size on the
   * wire, flags (RECV_TRUNCATED), then an ADDRESS_WORDS block of its source]. Returns how
   * many were received, 0 on EAGAIN; throws (code, errno) only when none was.
   */
  recvBatch(fd: number, slab: Uint8Array, offset: number, maxPerDatagram: number, max: number, records: Int32Array, names?: Uint8Array): number;
  /**
   * Sends the first `count` SEND_RECORD_WORDS records of `records` ([offset, length,
   * result, ADDRESS_WORDS block; family 0 = the connected peer]) from `slab`, as many per
   * syscall as the kernel takes. Each result word gets the bytes sent, AGAIN (the rest
   * was dropped too) or -errno (that datagram only). Returns how many were sent.
   */
  sendBatch(fd: number, slab: Uint8Array, records: Int32Array, count: number, names?: Uint8Array): number;
  /** Writes the ADDRESS_WORDS block of IP literal `host` and `port` at words[index] (TypeError naming host otherwise). */
  addressWords(host: string, port: number, words: Int32Array, index: number): void;
  /** The text of the ADDRESS_WORDS block at words[index] ("127.0.0.1", "::1", "fe80::1%eth0"), as getsockname gives it. */
  addressText(words: Int32Array, index: number): string;
  /**
   * Receives up to `max` datagrams of a resolver channel (a connected UDP socket) into
   * `slab` (slot i at i * maxPerDatagram rounded up to 8) and keeps only the answers: from
   * the server's address (`table`'s head), with the id of a slot in flight, answering that
   * slot's query in `queries` by lib/names/packet.ts's rules (the native parser mirrors
   * decodeResponse's). records[0] gets how many were kept, their DNS_RECORD_WORDS records
   * follow; address bytes go to `addresses`. Returns the datagrams received, 0 on EAGAIN;
   * throws (code, errno) only when none was.
   */
  dnsRecvBatch(fd: number, slab: Uint8Array, maxPerDatagram: number, max: number, table: Int32Array, queries: Uint8Array, records: Int32Array, addresses: Uint8Array): number;
  /**
   * Writes the queries of `records` [from, count) ([slot, type code, result]; `names[i]`
   * the name of record i, a trailing dot dropped) into `queries` after the table's
   * DNS_QUERIES_USED bytes, with the ids the table's slots hold (the bytes writeQueryAt
   * makes), records each query's offset and length in its slot, and sends them on the
   * connected socket `fd`, at most DATAGRAM_BATCH per call; each result word gets the
   * bytes sent, AGAIN or -errno as with sendBatch. Returns the record reached: less than
   * `count` when `queries` ran out of room (call again from there with a larger one).
   */
  dnsSendQueries(fd: number, table: Int32Array, queries: Uint8Array, names: readonly string[], records: Int32Array, from: number, count: number): number;
  /** dnsRecvBatch's check of one `datagram` against one `query`: writes its record (slot 0) and returns its kind (DNS_REJECTED when not accepted). */
  dnsParse(datagram: Uint8Array, query: Uint8Array, record: Int32Array, addresses: Uint8Array): number;
  /** Most datagrams one recvBatch/sendBatch call handles. */
  readonly DATAGRAM_BATCH: number;
  /**
   * Bytes of one Unix name in the optional `names` array of recvBatch and sendBatch (a whole
   * sun_path: 108 on Linux). With `names` (at least max * UNIX_NAME_BYTES bytes), recvBatch
   * writes the source of datagram i on a Unix socket at `names[i * UNIX_NAME_BYTES]` and
   * its block as ADDRESS_UNIX; sendBatch reads a family-1 destination's bytes from `names`.
   */
  readonly UNIX_NAME_BYTES: number;

  // -- TLS (OpenSSL: the one inside Node; docs/tls.md) ------------------------------
  /** The TLS context class ({@link TlsContext}). */
  TlsContext: TlsContextConstructor;
  /** The TLS connection class ({@link TlsSession}). */
  TlsSession: TlsSessionConstructor;
  /** How many TlsSessions hold OpenSSL objects now (closed or collected ones do not). */
  tlsSessionCount(): number;
  /**
   * Returns the heap's free pages to the kernel (glibc `malloc_trim`): what the handshakes'
   * released record buffers left resident. True when pages were released; false when none
   * were or the C library is not glibc.
   */
  tlsReleaseFreedMemory(): boolean;
  /**
   * Can this kernel take over the TLS record layer (Linux `TCP_ULP "tls"`)? "available", or
   * the errno name of why not ("ENOENT": no tls module; "ENOSYS": not Linux). A probe on a
   * fresh socket; connections ask with `TlsSession.kernelHandOff()`.
   */
  kernelTls(): string;
  /** Kernel TLS figures of this process (handoffs, fallbacks, TCP_ULP calls, and the cached "unavailable"). */
  kernelTlsStats(): KernelTlsStats;
  /** HKDF-Expand-Label of a TLS 1.3 traffic secret into the record key and iv the kernel gets (RFC 8446 section 7.3). */
  tls13TrafficKeys(suite: "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256", secret: Buffer): { key: Buffer; iv: Buffer };
  /** OpenSSL versions: of the headers compiled against and of the library running (Node's). */
  tlsLibrary(): { headers: string; runtime: string };
  /**
   * readBatch for TLS sessions: for each of `ids[0..count)` one read of its fd (at most
   * `maxPerFd` bytes), the handshake advanced, up to `maxPerFd` bytes of plaintext decrypted
   * into `slab` from `offset` on, and what OpenSSL produced (handshake messages, alerts)
   * sent. Writes `[id, offset, result, status]` quads into `out`: result is plaintext bytes
   * (>= 0), -errno or TLS_ERROR; status is TLS_* bits. Returns how many were processed.
   */
  tlsReadBatch(ids: Int32Array, count: number, slab: Uint8Array, offset: number, maxPerFd: number, out: Int32Array): number;
  /**
   * writevBatch for TLS sessions: session `ids[i]` encrypts the next `counts[i]` buffers of
   * `bufs` (gathered into full records) and sends the ciphertext with one send. Writes
   * `[taken, status]` pairs into `out`: taken is plaintext bytes consumed (possibly fewer
   * than given while ciphertext backs up, 0 before the handshake is done), -errno or TLS_ERROR.
   */
  tlsWriteBatch(ids: Int32Array, count: number, counts: Int32Array, bufs: Uint8Array[], out: Int32Array): void;

  /** errno constants of this platform by name (EAGAIN, ECONNREFUSED, ...). */
  readonly errno: Readonly<Record<string, number>>;
  /** Does nothing: the cost of one N-API call, for benchmarks. */
  noop(): void;
}

/** An Error thrown by a failed syscall, shaped like Node's system errors. */
export interface SyscallError extends Error {
  /** errno name, e.g. "ECONNREFUSED". */
  code: string;
  /** errno number of this platform. */
  errno: number;
  /** The failed call, e.g. "connect". */
  syscall: string;
}

function load(): NativeAddon {
  const override = process.env.FDREACTOR_ADDON;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require("node-gyp-build") as (dir: string) => unknown;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = (override ? require(path.resolve(override)) : nodeGypBuild(findPackageRoot())) as NativeAddon;
  // A copy, not the addon's own exports: those are one object per process (require caches
  // the .node), and a second load of this module (jest's per-file registry, a cleared
  // require cache) would wrap the previous wrapper, each keeping its module graph alive.
  return { ...addon, Poller: withUnknownBackendError(addon.Poller) };
}

/**
 * The addon's Poller, except that an unknown backend throws UnknownBackendError (the
 * addon's message and code ERR_UNKNOWN_BACKEND), as `new Reactor({ backend })` does: the
 * addon cannot reach the TypeScript class. Only construction goes through this function;
 * it shares the addon's prototype, so instances, methods and `instanceof` are the addon's.
 */
function withUnknownBackendError(Base: PollerConstructor): PollerConstructor {
  function Poller(this: unknown, backend: Backend, events: Uint32Array): Poller {
    // Without `new`: the addon's own call, and so its own TypeError.
    if (new.target === undefined) return (Base as unknown as (b: Backend, e: Uint32Array) => Poller)(backend, events);
    try {
      return Reflect.construct(Base, [backend, events], new.target) as Poller;
    } catch (e) {
      if ((e as { code?: unknown } | null)?.code === "ERR_UNKNOWN_BACKEND") throw new UnknownBackendError((e as Error).message);
      throw e;
    }
  }
  Poller.prototype = Base.prototype;
  Object.setPrototypeOf(Poller, Base);
  return Poller as unknown as PollerConstructor;
}

function findPackageRoot(): string {
  // lib/native.ts (ts-jest) and dist/lib/native.js (compiled) both sit under the root.
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path.join(dir, "package.json")) as { name?: string };
      if (pkg.name === "fdreactor") return dir;
    } catch {
      /* not here: go up */
    }
    dir = path.dirname(dir);
  }
  throw new Error("fdreactor: cannot find the package root to load the native addon from");
}

/** The loaded addon. */
export const native: NativeAddon = load();

const refusals = new Map<Backend, Error | null>();

/**
 * Why the running kernel refuses `backend`, a backend of this build: the error its setup
 * throws (io_uring: `io_uring_setup`'s errno under the `kernel.io_uring_disabled` sysctl,
 * a seccomp filter, an old kernel), or null when it runs. Tried once per process.
 */
export function kernelRefusal(backend: Backend): Error | null {
  let err = refusals.get(backend);
  if (err === undefined) {
    err = null;
    try {
      new native.Poller(backend, new Uint32Array(EVENT_STRIDE)).close();
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    refusals.set(backend, err);
  }
  return err;
}

/** Is `e` a {@link SyscallError} (optionally with this `code`)? */
export function isSyscallError(e: unknown, code?: string): e is SyscallError {
  // Not `instanceof Error`: the addon creates its errors in Node's main realm, which is
  // another realm than a jest test's or a vm context's.
  if (typeof e !== "object" || e === null) return false;
  const s = e as Partial<SyscallError>;
  return typeof s.errno === "number" && typeof s.code === "string" && (code === undefined || s.code === code);
}
