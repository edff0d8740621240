/**
 * A listening stream socket (Twisted's tcp.Port): accepts connections in batches, builds a
 * protocol for each through its factory and hands it a transport. tcp.ts and unix.ts say
 * how the socket is made and what its addresses look like.
 *
 * When the process runs out of file descriptors (EMFILE/ENFILE, or the kernel of memory),
 * the port stops accepting for a moment instead of spinning on a level-triggered readable
 * listener, logs the first time, keeps serving its connections, and tries again.
 */
import { Deferred, succeed } from "../defer";
import type { IDelayedCall } from "../defer/interfaces";
import { CannotListenError } from "../error";
import { log } from "../log";
import { native, type SockAddr } from "../native";
import type { IAcceptDescriptor } from "../reactor/interfaces";
import { Connection, type AddressOf } from "./connection";
import type { IReactorFDSet } from "./fdset";
import type { Address, IProtocol, IProtocolFactory } from "./interfaces";
import { isOSError } from "./oserror";
import { track, untrack } from "./tracking";

/** Connections accepted per readable event at most (the rest wait for the next iteration). */
const ACCEPT_BATCH = 128;
/** First pause after EMFILE/ENFILE, in seconds; doubled on each failure in a row up to the max. */
const ACCEPT_PAUSE_MIN = 0.1;
const ACCEPT_PAUSE_MAX = 1;
/** accept errnos that mean "out of a resource for now", not "this listener is broken". */
const RESOURCE_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/** A listening port: `getHost()`, `stopListening()`. */
export abstract class Port implements IAcceptDescriptor {
  /** A listening socket: the poller may accept its connections itself (io_uring). */
  readonly acceptsConnections = true;
  /** True while listening. */
  connected = false;
  /** The factory building a protocol per accepted connection. */
  readonly factory: IProtocolFactory;
  /** Connections accepted so far. */
  acceptedCount = 0;

  protected fd = -1;
  protected readonly reactor: IReactorFDSet;
  protected readonly backlog: number;
  private pauseSeconds = ACCEPT_PAUSE_MIN;
  private pauseCall: IDelayedCall | null = null;
  private warnedResource = false;

  /** A port for `factory` on `reactor` (startListening binds it). */
  constructor(reactor: IReactorFDSet, factory: IProtocolFactory, backlog: number) {
    if (factory === null || typeof factory !== "object" || typeof factory.buildProtocol !== "function") {
      throw new TypeError("factory must be a protocol factory (with buildProtocol, doStart, doStop)");
    }
    if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`backlog must be an integer >= 0, received ${backlog}`);
    this.reactor = reactor;
    this.factory = factory;
    this.backlog = backlog;
  }

  /** Makes the socket and binds it (throws the syscall error; the caller wraps it). */
  protected abstract bindSocket(): number;
  /** Words for messages: "TCP port 127.0.0.1:8080". */
  protected abstract describe(): string;
  /** How this kind of socket's addresses become Addresses (the factory's and the transport's). */
  protected abstract readonly addressOf: AddressOf;
  /** The local address. */
  abstract getHost(): Address;
  /** listen(2) on the bound socket (an adopted one already listens: adopt.ts). */
  protected listenSocket(fd: number): void {
    native.listen(fd, this.backlog);
  }
  /** Called once the fd is closed (unix.ts removes its socket file). */
  protected afterClose(): void {}

  /** The raw fd of the listening socket (-1 when not listening). */
  fileno(): number {
    return this.fd;
  }

  /** Binds, listens, starts the factory and starts accepting; throws CannotListenError. */
  startListening(): void {
    let fd = -1;
    try {
      fd = this.bindSocket();
      this.listenSocket(fd);
    } catch (e) {
      if (fd >= 0) native.close(fd);
      const code = isOSError(e) ? `: ${e.code}` : e instanceof Error ? `: ${e.message}` : "";
      throw new CannotListenError(`Couldn't listen on ${this.describe()}${code}.`, { cause: e });
    }
    this.fd = fd;
    this.connected = true;
    track(this.reactor, this);
    this.factory.doStart();
    this.startReading();
  }

  /** Accepts what is pending, up to a batch, building a protocol and a transport for each. */
  doRead(): Error | void {
    let batch;
    try {
      // io_uring: the kernel accepted them already (multishot accept); else accept4 here.
      batch = this.reactor.takeAccepted?.(this.fd, ACCEPT_BATCH) ?? native.accept(this.fd, ACCEPT_BATCH);
    } catch (e) {
      this.acceptFailed(e);
      return;
    }
    this.pauseSeconds = ACCEPT_PAUSE_MIN;
    let i = 0;
    while (i < batch.length && this.connected) this.accepted(batch[i].fd, batch[i++].address);
    // A protocol stopped the port in the middle of the batch: the rest are refused.
    while (i < batch.length) native.close(batch[i++].fd);
  }

  private accepted(fd: number, peer: SockAddr): void {
    const address = this.addressOf(peer);
    let protocol: IProtocol | null;
    try {
      protocol = this.factory.buildProtocol(address);
    } catch (e) {
      log("error", `${this.factory.constructor.name}.buildProtocol threw: connection from ${JSON.stringify(peer)} closed`, e);
      protocol = null;
    }
    if (protocol === null) {
      native.close(fd);
      return;
    }
    this.acceptedCount++;
    let transport: Connection;
    try {
      transport = this.transportFor(fd, address);
    } catch (e) {
      log("error", `${this.describe()}: the connection from ${JSON.stringify(peer)} could not be set up; closed`, e);
      native.close(fd);
      return;
    }
    transport.attach(protocol);
  }

  /** The transport of accepted socket `fd` (listenSSL's port starts TLS on it). */
  protected transportFor(fd: number, peer: Address): Connection {
    return new Connection(this.reactor, fd, this.addressOf, peer);
  }

  private acceptFailed(e: unknown): void {
    if (!isOSError(e) || !RESOURCE_ERRORS.has(e.code)) {
      log("error", `accept on ${this.describe()} failed`, e);
      return;
    }
    // Out of fds: the pending connection stays queued, so a level-triggered listener would
    // wake at once forever. Step back, let connections close, and try again.
    const level = this.warnedResource ? "debug" : "warn";
    this.warnedResource = true;
    log(level, `accept on ${this.describe()}: ${e.code}; not accepting for ${this.pauseSeconds} s (existing connections are still served)`);
    this.stopReading();
    this.pauseCall = this.reactor.callLater(this.pauseSeconds, () => {
      this.pauseCall = null;
      if (this.connected) this.startReading();
    });
    this.pauseSeconds = Math.min(this.pauseSeconds * 2, ACCEPT_PAUSE_MAX);
  }

  /** Stops accepting and closes the listening socket; the Deferred fires once closed. */
  stopListening(): Deferred<void> {
    this.closePort();
    return succeed(undefined);
  }

  /** Alias of stopListening (Twisted's IListeningPort.loseConnection). */
  loseConnection(): Deferred<void> {
    return this.stopListening();
  }

  /** The reactor dropped the listener (error or shutdown): close it. */
  connectionLost(): void {
    this.closePort();
  }

  private closePort(): void {
    if (!this.connected) return;
    this.connected = false;
    untrack(this.reactor, this);
    this.stopReading();
    if (this.pauseCall !== null) {
      if (this.pauseCall.active()) this.pauseCall.cancel();
      this.pauseCall = null;
    }
    const fd = this.fd;
    this.fd = -1;
    native.close(fd);
    this.afterClose();
    this.factory.doStop();
  }

  // addReader/removeReader are idempotent (fdset.ts): no flag of our own.
  private startReading(): void {
    this.reactor.addReader(this);
  }

  private stopReading(): void {
    this.reactor.removeReader(this);
  }
}
