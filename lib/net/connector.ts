/**
 * Outgoing stream connections (Twisted's base.BaseConnector and tcp.BaseClient).
 *
 * A `Connector` remembers where to connect and which factory to tell; each `connect()`
 * makes a `Client`, a transport that first finishes a non-blocking connect (resolve the
 * name, socket, bind, connect, wait for WRITABLE, read SO_ERROR) and then becomes the
 * protocol's connection. Every outcome reaches the factory asynchronously, never inside
 * `connectTCP()` itself: `clientConnectionFailed` with ConnectionRefusedError,
 * TCPTimedOutError, DNSLookupError, ConnectError or UserError (stopConnecting), or
 * `clientConnectionLost` once an established connection ends. A factory that calls
 * `connector.connect()` from those callbacks reconnects (ReconnectingClientFactory does).
 */
import { Failure } from "../defer/failure";
import type { IDelayedCall } from "../defer/interfaces";
import { ConnectError, ConnectionLost, DNSLookupError, FdReactorError, TCPTimedOutError, UserError } from "../error";
import { log } from "../log";
import { native } from "../native";
import { Connection, type AddressOf } from "./connection";
import type { IReactorFDSet } from "./fdset";
import type { Address, IClientFactory, IProtocol } from "./interfaces";
import { connectErrorFrom, isOSError, syscallError } from "./oserror";
import { untrack } from "./tracking";

/** stopConnecting() was called on a connector that is not connecting (Twisted's NotConnectingError). */
export class NotConnectingError extends FdReactorError {}

/** connect() was called on a connector that is already connecting or connected. */
export class AlreadyConnectingError extends FdReactorError {}

/** Default connect timeout in seconds (Twisted's). */
export const DEFAULT_CONNECT_TIMEOUT = 30;

/** A connector's state (Twisted's BaseConnector.state). */
export type ConnectorState = "disconnected" | "connecting" | "connected";

/**
 * Connects a factory to one destination, again on each `connect()` (Twisted's IConnector):
 * `connect`, `disconnect`, `stopConnecting`, `getDestination`.
 */
export abstract class Connector {
  /** disconnected → connecting → connected → disconnected. */
  state: ConnectorState = "disconnected";
  /** The factory told about attempts and connections. */
  readonly factory: IClientFactory;
  /** Seconds before an attempt fails with TCPTimedOutError (0 or Infinity: never). */
  readonly timeout: number;
  /** The transport of the current attempt or connection, or null. */
  transport: Client | null = null;

  /** The reactor this connector uses. */
  readonly reactor: IReactorFDSet;
  private factoryStarted = false;
  private timeoutCall: IDelayedCall | null = null;

  /** A connector for `factory` on `reactor`; `timeout` in seconds (0: none). */
  constructor(reactor: IReactorFDSet, factory: IClientFactory, timeout: number) {
    if (factory === null || typeof factory !== "object" || typeof factory.buildProtocol !== "function") {
      throw new TypeError("factory must be a client factory (buildProtocol, clientConnectionFailed, ...)");
    }
    if (typeof timeout !== "number" || !(timeout >= 0)) throw new RangeError(`timeout must be a number of seconds >= 0, received ${timeout}`);
    this.reactor = reactor;
    this.factory = factory;
    this.timeout = timeout;
  }

  /** The destination as an Address. */
  abstract getDestination(): Address;
  /** "127.0.0.1:8080" or a path, for messages. */
  abstract describe(): string;
  /** The destinations to try in turn: address literals (or a path) now, or a promise of them. */
  abstract resolveDestination(): string[] | PromiseLike<string[]>;
  /** Makes (and binds) the socket for destination `target` (throws the syscall error). */
  abstract openSocket(target: string): number;
  /** Starts connecting `fd` to `target`: true when connected at once (throws the syscall error). */
  abstract startConnect(fd: number, target: string): boolean;
  /** How socket addresses become Addresses for this kind of socket. */
  abstract readonly addressOf: AddressOf;

  /** The socket is connected and its protocol built: last step before the protocol is attached (connectSSL's connector starts TLS here). */
  prepareTransport(_transport: Client): void {}

  /** Starts a connection attempt (the factory's startedConnecting runs now, the rest later). */
  connect(): void {
    if (this.state !== "disconnected") throw new AlreadyConnectingError(`Can't connect in state ${this.state}`);
    this.state = "connecting";
    if (!this.factoryStarted) {
      this.factory.doStart();
      this.factoryStarted = true;
    }
    const client = new Client(this);
    this.transport = client;
    if (this.timeout > 0 && Number.isFinite(this.timeout)) {
      this.timeoutCall = this.reactor.callLater(this.timeout, () => {
        this.timeoutCall = null;
        client.failIfNotConnected(new TCPTimedOutError(`TCP connection timed out: ${this.describe()} (after ${this.timeout} s).`));
      });
    }
    this.reactor.callLater(0, () => client.begin());
    try {
      this.factory.startedConnecting(this);
    } catch (e) {
      log("error", `${this.factory.constructor.name}.startedConnecting threw`, e);
    }
  }

  /** Stops the attempt in progress: the factory gets clientConnectionFailed(UserError). */
  stopConnecting(): void {
    if (this.state !== "connecting") throw new NotConnectingError(`stopConnecting: not connecting (state ${this.state})`);
    this.state = "disconnected";
    this.transport!.failIfNotConnected(new UserError("User aborted connection (stopConnecting)."));
  }

  /** Stops connecting, or closes the connection (loseConnection). */
  disconnect(): void {
    if (this.state === "connecting") this.stopConnecting();
    else if (this.state === "connected") this.transport!.loseConnection();
  }

  /** The socket is connected: the protocol for it (or null to refuse). */
  buildProtocol(addr: Address): IProtocol | null {
    this.state = "connected";
    this.cancelTimeout();
    return this.factory.buildProtocol(addr);
  }

  /** The attempt failed with `reason`. */
  connectionFailed(reason: Failure): void {
    this.cancelTimeout();
    this.ended("clientConnectionFailed", reason);
  }

  /** The established connection ended with `reason`. */
  connectionLost(reason: Failure): void {
    this.ended("clientConnectionLost", reason);
  }

  /** Disconnected: tells the factory through `callback` (logging what it throws), then stops it unless it connected again. */
  private ended(callback: "clientConnectionFailed" | "clientConnectionLost", reason: Failure): void {
    this.transport = null;
    this.state = "disconnected";
    try {
      this.factory[callback](this, reason);
    } catch (e) {
      log("error", `${this.factory.constructor.name}.${callback} threw`, e);
    }
    this.stopFactoryIfIdle();
  }

  private stopFactoryIfIdle(): void {
    // The factory may have called connect() again from its callback: then it stays started.
    if (this.state === "disconnected" && this.factoryStarted) {
      this.factoryStarted = false;
      this.factory.doStop();
    }
  }

  private cancelTimeout(): void {
    if (this.timeoutCall !== null) {
      if (this.timeoutCall.active()) this.timeoutCall.cancel();
      this.timeoutCall = null;
    }
  }
}

/** The transport of an outgoing connection: connects first, then is a Connection (Twisted's tcp.Client). */
export class Client extends Connection {
  /** The connector that made this client. */
  readonly connector: Connector;
  private connecting = true;
  /** Addresses still to try after the current one fails, in order. */
  private candidates: string[] = [];

  /** A not-yet-connected transport for `connector`'s next attempt. */
  constructor(connector: Connector) {
    super(connector.reactor, -1, connector.addressOf, null);
    this.connector = connector;
  }

  /** Resolves the destination and starts the connect (run from callLater(0) by the connector). */
  begin(): void {
    if (this.disconnected) return;
    let dest: string[] | PromiseLike<string[]>;
    try {
      dest = this.connector.resolveDestination();
    } catch (e) {
      this.failIfNotConnected(lookupError(this.connector.describe(), e));
      return;
    }
    if (Array.isArray(dest)) {
      this.resolved(dest);
      return;
    }
    dest.then(
      (addresses) => this.resolved(addresses),
      (e: unknown) => this.failIfNotConnected(lookupError(this.connector.describe(), e)),
    );
  }

  private resolved(addresses: string[]): void {
    if (this.disconnected) return;
    if (!Array.isArray(addresses) || addresses.length === 0) {
      this.failIfNotConnected(new DNSLookupError(`DNS lookup failed: ${this.connector.describe()}: no addresses`));
      return;
    }
    this.candidates = addresses.slice();
    this.tryNext(null);
  }

  /**
   * Connects to the next candidate address; when none is left, the attempt fails with the
   * last address's error (as getaddrinfo-driven clients do: IPv6 and IPv4 in turn).
   */
  private tryNext(lastError: Error | null): void {
    const target = this.candidates.shift();
    if (target === undefined) {
      this.failIfNotConnected(lastError ?? new ConnectError(`Couldn't connect to ${this.connector.describe()}`));
      return;
    }
    let connectedNow: boolean;
    try {
      this.fd = this.connector.openSocket(target);
      connectedNow = this.connector.startConnect(this.fd, target);
    } catch (e) {
      this.closeAttemptSocket();
      this.tryNext(isOSError(e) ? connectErrorFrom(e, this.connector.describe()) : new ConnectError(`Couldn't connect to ${this.connector.describe()}: ${String(e)}`, { cause: e }));
      return;
    }
    if (connectedNow) this.doConnect();
    else this.startWriting();
  }

  /** Stops writing and closes the socket of a failed attempt (the next address gets a fresh one). */
  private closeAttemptSocket(): void {
    this.stopWriting();
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      native.close(fd);
    } catch (e) {
      log("warn", `close(${fd}) failed`, e);
    }
  }

  /** While connecting, WRITABLE means the connect finished: check it; afterwards, flush. */
  override doWrite(): Error | void {
    if (this.connecting) {
      this.doConnect();
      return;
    }
    return super.doWrite();
  }

  private doConnect(): void {
    if (this.disconnected) return;
    let err = 0;
    try {
      err = native.socketError(this.fd);
    } catch (e) {
      this.failIfNotConnected(isOSError(e) ? connectErrorFrom(e, this.connector.describe()) : new ConnectError(String(e), { cause: e }));
      return;
    }
    if (err !== 0) {
      this.closeAttemptSocket();
      this.tryNext(connectErrorFrom(syscallError(err, "connect"), this.connector.describe()));
      return;
    }
    this.connecting = false;
    this.stopWriting();
    let protocol: IProtocol | null;
    try {
      protocol = this.connector.buildProtocol(this.getPeer());
    } catch (e) {
      log("error", `${this.connector.factory.constructor.name}.buildProtocol threw: connection closed`, e);
      protocol = null;
    }
    if (protocol === null) {
      // Refused by the factory: close cleanly (as Twisted does); the factory hears
      // clientConnectionLost(ConnectionDone).
      this.connected = true;
      this.loseConnection();
      return;
    }
    try {
      this.connector.prepareTransport(this);
    } catch (e) {
      log("error", `${this.connector.describe()}: setting up the connection failed; closing it`, e);
      this.connected = true;
      this.lose(new ConnectionLost(`setting up the connection failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      return;
    }
    this.attach(protocol);
  }

  /** The connecting end takes the client side of startTLS. */
  protected override acceptsTLS(): boolean {
    return false;
  }

  /** Fails the attempt with `reason` unless already connected or closed (timeout, stopConnecting). */
  failIfNotConnected(reason: Error | Failure): void {
    if (this.connected || this.disconnected || !this.connecting) return;
    this.disconnected = true;
    untrack(this.reactor, this);
    this.closeAttemptSocket();
    this.connector.connectionFailed(Failure.from(reason));
  }

  /** Dropped by the reactor (shutdown) while still connecting: that is a failed attempt. */
  override connectionLost(reason: Failure): void {
    if (this.connecting && !this.disconnected) this.failIfNotConnected(reason);
    else super.connectionLost(reason);
  }

  /** Tells the protocol, then the connector (and so the factory). */
  protected override closed(reason: Failure): void {
    super.closed(reason);
    this.connector.connectionLost(reason);
  }
}

function lookupError(what: string, e: unknown): Error {
  if (e instanceof DNSLookupError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new DNSLookupError(`DNS lookup failed: ${what}: ${detail}`, { cause: e });
}
