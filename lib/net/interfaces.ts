/**
 * Roles of the transport layer (Twisted's ITransport, ITCPTransport, IConsumer,
 * IProducer, IPushProducer, IAddress). Protocols see their connection only through these.
 */

import type { Failure } from "../defer/failure";
import type { PeerCertificate } from "../native";
import type { ITLSContextFactory } from "./tls-options";

/** An endpoint address (Twisted's IPv4Address / IPv6Address / UNIXAddress). */
export type Address =
  | { type: "TCP" | "UDP"; host: string; port: number; family: "IPv4" | "IPv6" }
  | { type: "UNIX"; name: string };

/** Something that produces data for a consumer, resumable and pausable (Twisted's IPushProducer). */
export interface IPushProducer {
  /** Stop producing until resumeProducing is called. */
  pauseProducing(): void;
  /** Resume producing after pauseProducing. */
  resumeProducing(): void;
  /** Stop producing for good: the consumer is going away. */
  stopProducing(): void;
}

/** A pull producer: the consumer asks for each chunk (Twisted's IPullProducer). */
export interface IPullProducer {
  /** Produce one more chunk by writing it to the consumer. */
  resumeProducing(): void;
  /** Stop producing for good. */
  stopProducing(): void;
}

/** Something that takes data and can throttle a producer (Twisted's IConsumer). */
export interface IConsumer {
  /** Attach a producer: streaming true for an IPushProducer, false for an IPullProducer. */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void;
  /** Detach the current producer. */
  unregisterProducer(): void;
  /** Take bytes. */
  write(data: Uint8Array | string): void;
}

/** A connection's transport as a protocol sees it (Twisted's ITransport + ITCPTransport). */
export interface ITransport extends IConsumer, IPushProducer {
  /** Queue bytes for sending; never blocks, never drops. */
  write(data: Uint8Array | string): void;
  /** Queue several buffers in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void;
  /** Close after everything queued has been written. */
  loseConnection(): void;
  /** Close now, dropping anything queued. */
  abortConnection(): void;
  /** The remote address. */
  getPeer(): Address;
  /** The local address. */
  getHost(): Address;
  /** True once loseConnection/abortConnection was called or the connection is going away. */
  readonly disconnecting: boolean;
}

/** A TCP transport's extras (Twisted's ITCPTransport, IHalfCloseableDescriptor). */
export interface ITCPTransport extends ITransport {
  /** Close the write side after flushing (half-close); reading goes on. */
  loseWriteConnection(): void;
  /** Enable or disable Nagle's algorithm off (TCP_NODELAY). */
  setTcpNoDelay(enabled: boolean): void;
  /** Enable or disable SO_KEEPALIVE. */
  setTcpKeepAlive(enabled: boolean): void;
}

/** Options of `transport.startTLS`. */
export interface StartTLSOptions {
  /** Which side of the handshake this end takes; default: the accepting end serves, the connecting end is the client. */
  server?: boolean;
  /** Seconds the handshake may take before the connection is lost with TLSHandshakeTimeout (default 30; 0: no limit). */
  handshakeTimeout?: number;
}

/**
 * A transport that speaks TLS or can switch to it (Twisted's ISSLTransport and
 * ITLSTransport): every stream Connection is one.
 */
export interface ITLSTransport extends ITCPTransport {
  /** Switches to TLS (STARTTLS): bytes written before go out in plaintext first, bytes written after are encrypted. */
  startTLS(contextFactory: ITLSContextFactory, options?: StartTLSOptions): void;
  /** Does the connection speak TLS (listenSSL/connectSSL, or after startTLS)? */
  isSecure(): boolean;
  /** The peer's certificate once the handshake has completed (null before, without TLS, or when the peer sent none). */
  getPeerCertificate(): PeerCertificate | null;
  /** The ALPN protocol agreed on, or null (Twisted's negotiatedProtocol). */
  readonly negotiatedProtocol: string | null;
  /** Is the kernel doing the TLS records (kernel TLS, docs/tls.md)? */
  readonly kernelTls: boolean;
  /** Why kernel TLS was asked for and not taken ("ENOENT": no tls module in the kernel, ...), or null. */
  readonly kernelTlsFallback: string | null;
}

/** A protocol told when its transport's TLS handshake has completed (Twisted's IHandshakeListener). */
export interface IHandshakeListener extends IProtocol {
  /** The handshake is done: the peer certificate and the negotiated protocol are known. */
  handshakeCompleted(): void;
}

/**
 * What a transport drives (Twisted's IProtocol). `lib/protocols` implements it; the
 * transport layer only calls it: makeConnection → dataReceived* → connectionLost.
 */
export interface IProtocol {
  /** Called by the transport once connected: sets `transport`, then calls connectionMade. */
  makeConnection(transport: ITransport): void;
  /** Bytes arrived. `data` belongs to the protocol (it stays valid after the call). */
  dataReceived(data: Buffer): void;
  /**
   * The connection is gone. `reason` is a Failure (as in Twisted) wrapping a ConnectionDone
   * (clean close) or a ConnectionLost (with `errno`, `code`): `reason.check(ConnectionDone)`,
   * `reason.value`, `reason.getErrorMessage()`.
   */
  connectionLost(reason: Failure): void;
}

/** A protocol that wants to know when the peer half-closes (Twisted's IHalfCloseableProtocol). */
export interface IHalfCloseableProtocol extends IProtocol {
  /** The peer closed its write side; this side may still write. */
  readConnectionLost(): void;
  /** Our write side has been closed by loseWriteConnection. */
  writeConnectionLost?(): void;
}

/**
 * A Unix stream transport's extra (Twisted's IUNIXTransport): passing descriptors to the
 * peer (SCM_RIGHTS).
 */
export interface IUNIXTransport extends ITCPTransport {
  /**
   * Queues a duplicate of `fd` (the caller keeps and may close its own) to go to the peer
   * with the next byte written after this call; the peer's `fileDescriptorReceived` runs
   * before its `dataReceived` of that byte. Write at least one byte after it: a descriptor
   * with no byte after it when the connection closes is closed unsent.
   */
  sendFileDescriptor(fd: number): void;
}

/**
 * A protocol that accepts descriptors passed over its Unix connection (Twisted's
 * IFileDescriptorReceiver). Each received descriptor is the protocol's (close-on-exec; it
 * must close it); one arriving once the connection is closing, or while this callback
 * throws, is closed by the transport. A protocol without this method gets none: the kernel
 * drops descriptors sent to a reader that does not ask for them.
 */
export interface IFileDescriptorReceiver extends IProtocol {
  /** A descriptor arrived; it comes before the bytes that carried it. */
  fileDescriptorReceived(fd: number): void;
}

/** Builds protocols for connections (Twisted's IProtocolFactory). */
export interface IProtocolFactory {
  /** Make the protocol for a new connection from/to `addr`; null refuses the connection. */
  buildProtocol(addr: Address): IProtocol | null;
  /** Called when a port starts listening / a connector first connects (counts nested starts). */
  doStart(): void;
  /** Called when the last port/connector using the factory stops. */
  doStop(): void;
}

/** Callbacks of a client connection's factory (Twisted's ClientFactory). */
export interface IClientFactory extends IProtocolFactory {
  /** A connection attempt is starting. */
  startedConnecting(connector: unknown): void;
  /** The attempt failed: `reason` is a Failure wrapping the ConnectError subclass (refused, timed out, DNS failure...). */
  clientConnectionFailed(connector: unknown, reason: Failure): void;
  /** An established connection was lost: `reason` as in IProtocol.connectionLost. */
  clientConnectionLost(connector: unknown, reason: Failure): void;
}

/** What a UDP port drives (Twisted's DatagramProtocol). */
export interface IDatagramProtocol {
  /** Called by the port once listening. */
  makeConnection(transport: unknown): void;
  /** One datagram: `data` belongs to the protocol. */
  datagramReceived(data: Buffer, addr: Address): void;
  /** A connected UDP socket's peer refused a datagram (ICMP port unreachable). */
  connectionRefused(): void;
  /** The port stopped listening. */
  doStop(): void;
}

/** What a child process's transport drives (Twisted's IProcessProtocol); lib/protocols' ProcessProtocol implements it. */
export interface IProcessProtocol {
  /** Called once the child runs: sets `transport`, then calls connectionMade. */
  makeConnection(transport: IProcessTransport): void;
  /** Bytes the child wrote to its fd `childFD` (1 stdout, 2 stderr, or any "r" fd of childFDs). */
  childDataReceived(childFD: number, data: Buffer): void;
  /** The pipe of the child's fd `childFD` is closed (EOF, the child closed it, or closeChildFD). */
  childConnectionLost(childFD: number): void;
  /** The child has exited (it is reaped); its pipes may still hold data. `reason` wraps ProcessDone or ProcessTerminated. */
  processExited(reason: Failure): void;
  /** The child has exited and every pipe is closed: the last call. `reason` as in processExited. */
  processEnded(reason: Failure): void;
}

/** A child process as its protocol sees it (Twisted's IProcessTransport). */
export interface IProcessTransport extends IConsumer {
  /** The child's process id; null once it has been reaped (or when it never started). */
  readonly pid: number | null;
  /** Writes to the child's fd `childFD` (a "w" entry of childFDs; 0 is stdin). Ignored when that pipe is closed. */
  writeToChild(childFD: number, data: Uint8Array | string): void;
  /** Writes to the child's stdin. */
  write(data: Uint8Array | string): void;
  /** Writes several buffers to the child's stdin, in order. */
  writeSequence(data: ReadonlyArray<Uint8Array | string>): void;
  /** Closes the pipe of the child's fd `childFD` (a write pipe after its queue is flushed). */
  closeChildFD(childFD: number): void;
  /** closeChildFD(0). */
  closeStdin(): void;
  /** closeChildFD(1). */
  closeStdout(): void;
  /** closeChildFD(2). */
  closeStderr(): void;
  /** Sends a signal: "TERM", "KILL", "INT", "HUP", "STOP", "SIGUSR1"... or a number. ProcessExitedAlready once the child is reaped. */
  signalProcess(signal: string | number): void;
  /** Closes every pipe (stdin after its queue is flushed); the child is not signalled. */
  loseConnection(): void;
  /** Stops reading the child's output pipes until resumeProducing. */
  pauseProducing(): void;
  /** Reads the child's output pipes again. */
  resumeProducing(): void;
}
