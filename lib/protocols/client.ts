/**
 * Connecting without writing a factory (Twisted's ClientCreator and connectProtocol):
 * a Deferred fires with the connected protocol instance, or fails with the reason the
 * attempt failed (ConnectionRefusedError, TCPTimedOutError, DNSLookupError, ...).
 * Cancelling the Deferred before it fires stops the attempt (or drops the connection).
 */
import { Deferred, type Failure } from "../defer";
import type { IDelayedCall } from "../defer/interfaces";
import { connectSSL, connectTCP, connectUNIX, type ConnectSSLOptions, type ConnectTCPOptions, type ConnectUNIXOptions, type Connector, type IReactorFDSet, type ITLSContextFactory } from "../net";
import type { Address, IProtocol } from "../net/interfaces";
import { ClientFactory } from "./protocol";

/** Where connectProtocol connects: a TCP host and port, or a Unix socket path. */
export type Destination = { host: string; port: number } | { path: string };

/** A factory for one connection attempt that fires `deferred` with a ready-made protocol. */
class InstanceFactory<P extends IProtocol> extends ClientFactory {
  /** The attempt's connector, set right after connecting starts. */
  connector: Connector | null = null;
  private pending: IDelayedCall | null = null;
  private fired = false;

  constructor(
    private readonly reactor: IReactorFDSet,
    private readonly instance: P,
    readonly deferred: Deferred<P>,
  ) {
    super();
    this.noisy = false;
  }

  /** Hands out the ready-made instance and schedules the Deferred's callback. */
  override buildProtocol(addr: Address): IProtocol {
    void addr;
    (this.instance as { factory?: unknown }).factory = this;
    // Fire once makeConnection has run (it runs right after this returns), as Twisted does.
    this.pending = this.reactor.callLater(0, () => {
      this.pending = null;
      this.fire((d) => d.callback(this.instance));
    });
    return this.instance;
  }

  /** The attempt failed: errback the Deferred. */
  override clientConnectionFailed(connector: unknown, reason: Failure): void {
    void connector;
    this.fire((d) => d.errback(reason));
  }

  /** Stops the attempt, or drops a connection whose Deferred has not fired yet. */
  cancel(): void {
    if (this.fired) return;
    // The Deferred itself fails with CancelledError: the UserError below must not reach it.
    this.fired = true;
    if (this.pending !== null && this.pending.active()) this.pending.cancel();
    this.pending = null;
    const c = this.connector;
    if (c !== null) {
      if (c.state === "connecting") c.stopConnecting();
      else if (c.state === "connected") c.transport?.abortConnection();
    }
  }

  private fire(f: (d: Deferred<P>) => void): void {
    if (this.fired) return;
    this.fired = true;
    f(this.deferred);
  }
}

function attempt<P extends IProtocol>(reactor: IReactorFDSet, instance: P, connect: (f: ClientFactory) => Connector): Deferred<P> {
  let factory: InstanceFactory<P> | null = null;
  const d = new Deferred<P>(() => factory?.cancel());
  factory = new InstanceFactory(reactor, instance, d);
  factory.connector = connect(factory);
  return d;
}

/**
 * Connects `protocol` (an instance) to `destination`; the Deferred fires with it once
 * connected (after connectionMade). Cancelling it stops the attempt: it then fails with
 * CancelledError.
 */
export function connectProtocol<P extends IProtocol>(
  reactor: IReactorFDSet,
  destination: Destination,
  protocol: P,
  options: ConnectTCPOptions = {},
): Deferred<P> {
  if (destination === null || typeof destination !== "object") throw new TypeError("destination must be { host, port } or { path }");
  if (protocol === null || typeof protocol !== "object" || typeof protocol.makeConnection !== "function") {
    throw new TypeError("protocol must be a protocol instance (with makeConnection, dataReceived, connectionLost)");
  }
  if ("path" in destination) return attempt(reactor, protocol, (f) => connectUNIX(reactor, destination.path, f, { timeout: options.timeout }));
  return attempt(reactor, protocol, (f) => connectTCP(reactor, destination.host, destination.port, f, options));
}

/**
 * Makes a protocol of class `protocolClass` (with `args`) for each connect call and fires
 * a Deferred with it once connected (Twisted's ClientCreator).
 */
export class ClientCreator<P extends IProtocol, A extends unknown[] = []> {
  /** A creator connecting through `reactor` protocols built as `new protocolClass(...args)`. */
  constructor(
    private readonly reactor: IReactorFDSet,
    private readonly protocolClass: new (...args: A) => P,
    ...args: A
  ) {
    if (typeof protocolClass !== "function") throw new TypeError("protocolClass must be a protocol class");
    this.args = args;
  }

  private readonly args: A;

  /** Connects a new protocol over TCP to host:port. */
  connectTCP(host: string, port: number, options: ConnectTCPOptions = {}): Deferred<P> {
    const p = new this.protocolClass(...this.args);
    return attempt(this.reactor, p, (f) => connectTCP(this.reactor, host, port, f, options));
  }

  /** Connects a new protocol over TLS to host:port (connectionMade runs at the TCP connect; writes wait for the handshake). */
  connectSSL(host: string, port: number, contextFactory: ITLSContextFactory, options: ConnectSSLOptions = {}): Deferred<P> {
    const p = new this.protocolClass(...this.args);
    return attempt(this.reactor, p, (f) => connectSSL(this.reactor, host, port, f, contextFactory, options));
  }

  /** Connects a new protocol to a Unix socket path or abstract name. */
  connectUNIX(path: string, options: ConnectUNIXOptions = {}): Deferred<P> {
    const p = new this.protocolClass(...this.args);
    return attempt(this.reactor, p, (f) => connectUNIX(this.reactor, path, f, options));
  }
}
