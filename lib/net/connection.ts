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
 *
 * TLS (docs/tls.md) is a state of the same transport, not another class: `beginTLS` (from
 * listenSSL's port, connectSSL's connector, or `startTLS`) opens a native session on the
 * fd and sets `tlsId`, which moves the connection into the reactor's TLS lanes. Its bytes
 * then come back through `tlsReadResult` and its flushes through `tlsWrote`, which hands
 * the outcome to the same `wrote` routine as plain bytes. Plaintext written before the
 * handshake completes waits in the queue; `loseConnection` sends close_notify once the
 * queue is flushed.
 */
import { ConnectionAborted, ConnectionDone, ConnectionLost, TLSHandshakeTimeout } from "../error";
import type { Failure } from "../defer/failure";
import { log } from "../log";
import { AGAIN, native, TLS_BUFFERED, TLS_EOF, TLS_ERROR, TLS_HANDSHAKE_DONE, TLS_PEER_CLOSED, TLS_WANT_WRITE, type PeerCertificate, type SockAddr } from "../native";
import type { ITLSBatchDescriptor } from "../reactor/interfaces";
import { FileDescriptor } from "./abstract";
import { unixAddress } from "./address";
import type { IReactorFDSet } from "./fdset";
import type { Address, IFileDescriptorReceiver, IHalfCloseableProtocol, IHandshakeListener, IProtocol, ITLSTransport, IUNIXTransport, StartTLSOptions } from "./interfaces";
import { connectionLostFrom, syscallError } from "./oserror";
import { checkHandshakeTimeout, releaseAfterHandshake, TLSLayer, type TLSStart } from "./tls-layer";
import { checkContextFactory, type ITLSContextFactory } from "./tls-options";

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
export class Connection extends FileDescriptor implements IUNIXTransport, ITLSTransport, ITLSBatchDescriptor {
  /** The protocol this connection drives (null until attached). */
  protocol: IProtocol | null = null;
  /** The TLS state while TLS is on (null, the prototype's, for plain bytes). */
  declare protected tls: TLSLayer | null;
  /** A startTLS waiting for the plaintext queued before it to leave (prototype null). */
  declare private tlsAfterFlush: TLSStart | null;
  /** Writes made while that startTLS waits: encrypted once TLS is on (prototype null). */
  declare private heldWrites: Uint8Array[] | null;
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
    } else if (result === -EIO && this.tls !== null && this.tls.kernel) {
      this.kernelRecord(this.tls);
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

  /** The peer finished sending: a half-close-aware protocol hears readConnectionLost, others lose the connection cleanly. */
  protected readEOF(): void {
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
    if (this.readDisconnected) return;
    super.resumeProducing();
    // Plaintext held in the TLS engine while paused: no READABLE will announce it.
    if (this.tls !== null && this.tls.buffered) this.reactor.requestRead?.(this);
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

  /** Closes with ConnectionDone; over TLS, after close_notify has left. */
  protected closeCleanly(): void {
    if (this.sendCloseNotify()) {
      // Ciphertext still waits for the kernel: wrote() closes once it has left.
      this.disconnecting = true;
      this.stopReading();
      return;
    }
    this.lose(new ConnectionDone());
  }

  /**
   * Queues close_notify (once, after the handshake) and sends it; true when some of it
   * waits for WRITABLE (the caller finishes from wrote(), which runs again once it left).
   * A failed send is not reported: the connection is closing anyway.
   */
  private sendCloseNotify(): boolean {
    const tls = this.tls;
    if (tls === null || !tls.handshakeDone || tls.closeNotify || this.fd < 0) return this.cipherPending;
    tls.closeNotify = true;
    const status = tls.session.shutdown();
    this.cipherPending = status >= 0 && (status & TLS_WANT_WRITE) !== 0;
    if (this.cipherPending) this.startWriting();
    return this.cipherPending;
  }

  /** shutdown(SHUT_WR), then `writeConnectionLost`; closes when the read side is also done. */
  protected shutdownWrite(): void {
    if (this.sendCloseNotify()) return; // wrote() calls again once close_notify has left
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

  /** Tells the protocol (once the fd is closed), then frees the TLS session (the protocol may still ask for its certificate). */
  protected closed(reason: Failure): void {
    const p = this.protocol;
    try {
      if (p !== null) p.connectionLost(reason);
    } catch (e) {
      log("error", `${p!.constructor.name}.connectionLost threw`, e);
    }
    const tls = this.tls;
    if (tls !== null) {
      tls.cancelTimer();
      tls.session.close();
      this.tlsId = -1;
    }
    this.heldWrites = null;
    this.tlsAfterFlush = null;
  }

  // -- TLS (docs/tls.md) -------------------------------------------------------------------

  /**
   * Switches this connection to TLS (Twisted's ITLSTransport.startTLS, for STARTTLS): the
   * bytes written before go out in plaintext first; from then on writes are encrypted, and
   * the handshake starts (this end serves when it accepted the connection, unless
   * `options.server` says otherwise). The peer must not send TLS bytes before it has seen
   * the plaintext it waits for, or they reach dataReceived as they are.
   */
  startTLS(contextFactory: ITLSContextFactory, options: StartTLSOptions = {}): void {
    checkContextFactory(contextFactory);
    if (options === null || typeof options !== "object") throw new TypeError("startTLS: options must be an object");
    if (options.server !== undefined && typeof options.server !== "boolean") throw new TypeError("startTLS: options.server must be a boolean");
    if (this.tls !== null || this.tlsAfterFlush !== null) throw new Error("startTLS: TLS is already on for this connection");
    if (!this.connected || this.disconnecting || this.writeDisconnected) throw new Error("startTLS: the connection is closed or closing");
    const peer = this.getPeer();
    const start: TLSStart = {
      contextFactory,
      server: options.server ?? this.acceptsTLS(),
      host: peer.type === "UNIX" ? "localhost" : peer.host,
      port: peer.type === "UNIX" ? 0 : peer.port,
      handshakeTimeout: checkHandshakeTimeout(options.handshakeTimeout),
    };
    if (this.bufferedBytes() === 0) {
      this.beginTLS(start);
      return;
    }
    this.tlsAfterFlush = start;
    this.heldWrites = [];
  }

  /** Does this end take the server side of a startTLS by default? The accepting end does (a Client says no). */
  protected acceptsTLS(): boolean {
    return true;
  }

  /**
   * Opens the TLS session on the fd and moves the connection into the reactor's TLS lanes
   * (listenSSL's port and connectSSL's connector call it before `attach`); a client sends
   * its ClientHello now. Throws what the context factory or the engine throws.
   */
  beginTLS(start: TLSStart): void {
    const tls = new TLSLayer(start, this.fd);
    this.tls = tls;
    this.tlsId = tls.session.id;
    this.kernelSendsFiles = false;
    if (start.handshakeTimeout > 0) {
      tls.timer = this.reactor.callLater(start.handshakeTimeout, () => {
        tls.timer = null;
        if (!tls.handshakeDone && !this.disconnected) this.lose(new TLSHandshakeTimeout(start.handshakeTimeout));
      });
    }
    if (this.connected) {
      // Re-register so the reactor reads this fd in its TLS lane from now on.
      this.stopReading();
      this.startReading();
    }
    if (!start.server) this.tlsStatus(tls.session.handshake());
  }

  /** The TLS read lane's result: plaintext, 0, -errno or TLS_ERROR, and the session's status bits. */
  tlsReadResult(data: Buffer | null, result: number, status: number): Error | void {
    const tls = this.tls;
    if (tls === null || this.disconnected) return;
    if (result === TLS_ERROR) return this.lose(tls.error());
    if (result < 0) return this.readResult(null, result);
    if (!tls.handshakeDone && (status & TLS_HANDSHAKE_DONE) !== 0) {
      this.handshakeCompleted(tls);
      if (this.disconnected) return;
    }
    if (!this.tlsStatus(status)) return;
    if (result > 0) {
      this.readResult(data, result);
      if (this.disconnected) return;
    }
    tls.buffered = (status & TLS_BUFFERED) !== 0;
    if (tls.buffered) this.reactor.requestRead?.(this);
    else if ((status & (TLS_PEER_CLOSED | TLS_EOF)) !== 0 && !this.readDisconnected) this.readEOF();
  }

  /** The TLS write lane's result: plaintext bytes taken, -errno or TLS_ERROR, and the status bits; the outcome goes to `wrote`. */
  tlsWrote(taken: number, status: number): void {
    const tls = this.tls;
    if (tls === null || this.disconnected) return;
    if (taken === TLS_ERROR) return this.lose(tls.error());
    if (taken < 0) return this.wrote(taken);
    this.cipherPending = (status & TLS_WANT_WRITE) !== 0;
    if (!tls.handshakeDone) {
      // Plaintext waits for the handshake (handshakeCompleted asks for the flush);
      // handshake bytes the kernel did not take wait for WRITABLE.
      if (this.cipherPending) this.startWriting();
      else this.stopWriting();
      return;
    }
    // 0 taken with bytes queued: the engine's ciphertext backlog is full; wait as for EAGAIN.
    this.wrote(taken > 0 ? taken : this.bufferedBytes() > 0 ? AGAIN : 0);
  }

  /** After the queue drained: a waiting startTLS begins, and the writes held meanwhile follow encrypted. */
  override wrote(result: number): void {
    super.wrote(result);
    const start = this.tlsAfterFlush;
    if (start !== null && this.bufferedBytes() === 0 && !this.disconnected) {
      const held = this.heldWrites as Uint8Array[];
      this.tlsAfterFlush = null;
      this.heldWrites = null;
      try {
        this.beginTLS(start);
      } catch (e) {
        this.lose(new ConnectionLost(`startTLS failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return;
      }
      for (const b of held) super.write(b);
    }
  }

  /** Queues bytes; while a startTLS waits for earlier plaintext to leave, they are held to be encrypted. */
  override write(data: Uint8Array | string): void {
    const held = this.heldWrites;
    if (held === null) {
      super.write(data);
      return;
    }
    if (!this.connected || this.writeDisconnected) return;
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (!(buf instanceof Uint8Array)) throw new TypeError("write: data must be a Buffer, Uint8Array or string");
    if (buf.length > 0) held.push(buf);
  }

  /** Closes after the queue is flushed; during the TLS handshake, reading goes on until it completes (the queue can only leave then). */
  override loseConnection(): void {
    super.loseConnection();
    const tls = this.tls;
    if (tls !== null && !tls.handshakeDone && this.disconnecting && !this.disconnected) {
      if (this.bufferedBytes() === 0) this.lose(new ConnectionDone());
      else this.startReading();
    }
  }

  /** Does this connection speak TLS (a listenSSL/connectSSL connection, or one after startTLS)? */
  isSecure(): boolean {
    const tls = this.tls;
    return tls !== null && tls.session.id >= 0;
  }

  /** The peer's certificate once the handshake has completed (null before, without TLS, or when the peer sent none). */
  getPeerCertificate(): PeerCertificate | null {
    const tls = this.tls;
    if (tls === null || !tls.handshakeDone || tls.session.id < 0) return null;
    return tls.session.peerCertificate();
  }

  /** The ALPN protocol agreed on in the handshake, or null. */
  get negotiatedProtocol(): string | null {
    const tls = this.tls;
    if (tls === null || !tls.handshakeDone || tls.session.id < 0) return null;
    return tls.session.alpnProtocol();
  }

  /** "TLSv1.3" or "TLSv1.2" once the handshake has completed, else null. */
  tlsVersion(): string | null {
    const tls = this.tls;
    return tls === null || tls.session.id < 0 ? null : tls.session.protocol();
  }

  /** Did this connection's handshake resume an earlier TLS session? */
  sessionReused(): boolean {
    const tls = this.tls;
    return tls !== null && tls.session.id >= 0 && tls.session.sessionReused();
  }

  /** Status bits after a call that may have left ciphertext waiting: WRITABLE wanted while it does. False when the call failed (the connection is lost). */
  private tlsStatus(status: number): boolean {
    if (status < 0) {
      if (status === TLS_ERROR) this.lose((this.tls as TLSLayer).error());
      else this.lose(connectionLostFrom(syscallError(-status, "send")));
      return false;
    }
    this.cipherPending = (status & TLS_WANT_WRITE) !== 0;
    if (this.cipherPending) this.startWriting();
    return true;
  }

  private handshakeCompleted(tls: TLSLayer): void {
    tls.handshakeDone = true;
    tls.cancelTimer();
    releaseAfterHandshake(this.reactor);
    if (tls.wantsKernel && !this.handToKernel(tls)) return;
    const p = this.protocol as IProtocol & Partial<IHandshakeListener>;
    if (p !== null && typeof p.handshakeCompleted === "function") {
      try {
        p.handshakeCompleted();
      } catch (e) {
        this.protocolThrew("handshakeCompleted", e);
        return;
      }
    }
    // What was written meanwhile, or a close asked for meanwhile, can go now.
    if (this.bufferedBytes() > 0 || this.disconnecting || this.writeDisconnecting) this.scheduleFlush();
  }

  /**
   * Kernel TLS (docs/tls.md): asks the session to hand its record layer to the kernel. Taken:
   * the connection leaves the TLS lanes (its bytes are plain to the reactor from now on, and
   * files go by sendfile again). Refused: it stays in the engine and `kernelTlsFallback`
   * says why. False when the handoff broke the connection (it is lost).
   */
  private handToKernel(tls: TLSLayer): boolean {
    const outcome = tls.session.kernelHandOff();
    if (outcome === "error") {
      this.lose(tls.error());
      return false;
    }
    if (outcome !== "kernel") {
      tls.kernelFallback = outcome;
      return true;
    }
    tls.kernel = true;
    this.tlsId = -1;
    this.kernelSendsFiles = true;
    if (this.reading) {
      // Re-register so the reactor reads this fd in its plain lane from now on.
      this.stopReading();
      this.startReading();
    }
    return true;
  }

  /** A read failed with EIO after the kernel took the records: a non-data record is next (close_notify is the end of the stream). */
  private kernelRecord(tls: TLSLayer): void {
    const what = tls.session.kernelControlRecord();
    if (what === "close_notify") {
      if (!this.readDisconnected) this.readEOF();
    } else if (what === "error") {
      this.lose(tls.error());
    } else if (what !== "again") {
      this.lose(connectionLostFrom(syscallError(native.errno[what] ?? native.errno.EIO, "recvmsg")));
    }
  }

  /** Is the kernel doing this connection's TLS records (kernel TLS, docs/tls.md)? */
  get kernelTls(): boolean {
    const tls = this.tls;
    return tls !== null && tls.kernel;
  }

  /** Why kernel TLS was asked for and not taken ("ENOENT": the kernel has no tls module, ...), or null. */
  get kernelTlsFallback(): string | null {
    const tls = this.tls;
    return tls === null ? null : tls.kernelFallback;
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

Object.defineProperty(Connection.prototype, "tls", { value: null, writable: true, enumerable: false, configurable: false });
Object.defineProperty(Connection.prototype, "tlsAfterFlush", { value: null, writable: true, enumerable: false, configurable: false });
Object.defineProperty(Connection.prototype, "heldWrites", { value: null, writable: true, enumerable: false, configurable: false });
const EIO = native.errno.EIO;
