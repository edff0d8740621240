/**
 * Twisted's protocol API (twisted.internet.protocol): the objects a server or client author
 * writes. A `Protocol` is driven by its transport (makeConnection → connectionMade →
 * dataReceived* → connectionLost); a `Factory` builds one protocol per connection and is
 * told when the first port or connector starts using it and when the last one stops.
 *
 * Connecting helpers that return Deferreds (`ClientCreator`, `connectProtocol`) live in
 * ./client.ts, so that this file depends on nothing but the transport-layer roles.
 */
import type { Failure } from "../defer/failure";
import { log } from "../log";
import type { Address, IClientFactory, IProtocol, IProtocolFactory, ITransport } from "../net/interfaces";

/** A class whose instances are protocols (what `Factory.protocol` holds). */
export type ProtocolClass<P extends IProtocol = IProtocol> = new () => P;

/** The part every protocol shares: the transport and the `connected` flag (Twisted's BaseProtocol). */
export class BaseProtocol {
  /** True from makeConnection on. */
  connected = false;
  /** The transport, set by makeConnection (null before). */
  transport: ITransport | null = null;

  /** Called by the transport when connected: sets `transport` and `connected`, then calls connectionMade. */
  makeConnection(transport: ITransport): void {
    this.connected = true;
    this.transport = transport;
    this.connectionMade();
  }

  /** The connection is up and `this.transport` is set; override to greet or start sending. */
  connectionMade(): void {}
}

/** The base class of stream protocols (Twisted's Protocol): override the callbacks you need. */
export class Protocol extends BaseProtocol implements IProtocol {
  /** The factory that built this protocol (set by Factory.buildProtocol), or null. */
  factory: Factory | null = null;

  /** Bytes arrived; `data` belongs to the protocol (it stays valid after the call). */
  dataReceived(data: Buffer): void {
    void data;
  }

  /**
   * The connection is gone: `reason` is a Failure wrapping a ConnectionDone (clean) or a
   * ConnectionLost (with errno), as in Twisted — `reason.check(ConnectionDone)`, `reason.value`.
   */
  connectionLost(reason: Failure): void {
    void reason;
  }

  /** A short name for log lines about this protocol (its class name). */
  logPrefix(): string {
    return this.constructor.name;
  }
}

/**
 * Builds protocols for connections (Twisted's Factory). Set `protocol` to the protocol
 * class (a subclass field `protocol = Echo` works) or override `buildProtocol`.
 * `doStart`/`doStop` count the ports and connectors using the factory so that
 * `startFactory` runs once before the first and `stopFactory` once after the last.
 */
export class Factory implements IProtocolFactory {
  /** The protocol class instantiated by buildProtocol. */
  protocol: ProtocolClass | null = null;
  /** How many ports/connectors currently use this factory. */
  numPorts = 0;
  /** Log "Starting factory"/"Stopping factory" (at debug level) when true. */
  noisy = true;

  /** A factory of this class (made with `args`) whose `protocol` is `protocol` (Twisted's Factory.forProtocol). */
  static forProtocol<F extends Factory, A extends unknown[]>(this: new (...args: A) => F, protocol: ProtocolClass, ...args: A): F {
    if (typeof protocol !== "function") throw new TypeError("forProtocol: protocol must be a protocol class");
    const f = new this(...args);
    f.protocol = protocol;
    return f;
  }

  /** Called by each port/connector that starts using the factory; the first call runs startFactory. */
  doStart(): void {
    if (this.numPorts === 0) {
      if (this.noisy) log("debug", `Starting factory ${this.logPrefix()}`);
      this.startFactory();
    }
    this.numPorts++;
  }

  /** Called by each port/connector that stops using it; the last call runs stopFactory. */
  doStop(): void {
    if (this.numPorts === 0) return; // stopped more often than started: nothing to undo
    this.numPorts--;
    if (this.numPorts === 0) {
      if (this.noisy) log("debug", `Stopping factory ${this.logPrefix()}`);
      this.stopFactory();
    }
  }

  /** Override to set up state shared by all connections (runs before the first port/connector starts). */
  startFactory(): void {}

  /** Override to tear that state down (runs after the last port/connector stops). */
  stopFactory(): void {}

  /**
   * Makes the protocol for a connection from/to `addr`: an instance of `this.protocol`
   * with `factory` set to this factory. Return null (in an override) to refuse the connection.
   */
  buildProtocol(addr: Address): IProtocol | null {
    void addr;
    const cls = this.protocol;
    if (typeof cls !== "function") throw new TypeError(`${this.constructor.name}.buildProtocol: factory.protocol is not set`);
    const p = new cls();
    (p as { factory?: unknown }).factory = this;
    return p;
  }

  /** A short name for log lines about this factory (its class name). */
  logPrefix(): string {
    return this.constructor.name;
  }
}

/** A factory used by listening ports (Twisted's ServerFactory). */
export class ServerFactory extends Factory {}

/** A factory used by connectors, told about connection attempts (Twisted's ClientFactory). */
export class ClientFactory extends Factory implements IClientFactory {
  /** A connection attempt is starting through `connector`. */
  startedConnecting(connector: unknown): void {
    void connector;
  }

  /** The attempt failed: `reason` is a Failure wrapping a ConnectionRefusedError, TCPTimedOutError, DNSLookupError, ... */
  clientConnectionFailed(connector: unknown, reason: Failure): void {
    void connector;
    void reason;
  }

  /** An established connection was lost (`reason` as in Protocol.connectionLost). */
  clientConnectionLost(connector: unknown, reason: Failure): void {
    void connector;
    void reason;
  }
}
