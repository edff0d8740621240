/**
 * ReconnectingClientFactory (Twisted's): a client factory that connects again after a
 * failed attempt or a lost connection, waiting longer each time.
 *
 * Delays: each retry waits the previous delay times `factor`, capped at `maxDelay`, then
 * moved by a uniform jitter of up to ±`jitter` of itself (and capped again). Twisted draws
 * the jitter from a normal distribution, which is unbounded (a delay could even come out
 * negative); a bounded uniform jitter keeps `maxDelay` a real bound and still spreads the
 * reconnects of many clients. As in Twisted the jittered delay is the base of the next one.
 *
 * Time comes from `clock` (any IReactorTime: a test's Clock), else from the connector's own
 * reactor, else from the global reactor.
 */
import type { Failure } from "../defer/failure";
import type { IDelayedCall, IReactorTime } from "../defer/interfaces";
import { isClock } from "../defer/timers";
import { log } from "../log";
import { NotConnectingError } from "../net/connector";
import { getDefaultReactor } from "../reactor/default";
import { ClientFactory } from "./protocol";

/** What the factory needs of a connector (Twisted's IConnector, in part). */
export interface IReconnectableConnector {
  /** Starts a new connection attempt. */
  connect(): void;
  /** Abandons the attempt in progress; throws NotConnectingError when there is none. */
  stopConnecting(): void;
}

function isConnector(c: unknown): c is IReconnectableConnector {
  return c !== null && typeof c === "object" && typeof (c as IReconnectableConnector).connect === "function" && typeof (c as IReconnectableConnector).stopConnecting === "function";
}

/** A ClientFactory that reconnects with exponential back-off and jitter. */
export class ReconnectingClientFactory extends ClientFactory {
  /** Longest delay between attempts, in seconds. */
  maxDelay = 3600;
  /** Delay before the first retry is `initialDelay * factor` (jittered). */
  initialDelay = 1.0;
  /** Growth of the delay per retry (e, as Twisted's). */
  factor = Math.E;
  /** Largest relative jitter of each delay (0 = none; must be below 1). */
  jitter = 0.11962656472;
  /** Retries since the last resetDelay. */
  retries = 0;
  /** Give up after this many retries (null = never). */
  maxRetries: number | null = null;
  /** False once stopTrying was called. */
  continueTrying = true;
  /** The connector of the last failure or loss (what retry reconnects). */
  connector: IReconnectableConnector | null = null;
  /** The clock retries are scheduled on (null: the connector's reactor, or the global reactor). */
  clock: IReactorTime | null = null;
  /** Uniform random numbers in [0, 1) for the jitter (replace it for deterministic tests). */
  random: () => number = Math.random;

  private callID: IDelayedCall | null = null;
  /** null until the first retry (then `delay` follows initialDelay, even when set after construction). */
  private lastDelay: number | null = null;

  /** The delay of the last scheduled retry (initialDelay before any). */
  get delay(): number {
    return this.lastDelay ?? this.initialDelay;
  }

  /** Sets the base of the next delay. */
  set delay(seconds: number) {
    this.lastDelay = seconds;
  }
  private readonly reconnectNow = (connector: IReconnectableConnector): void => {
    this.callID = null;
    connector.connect();
  };

  /** The attempt failed: schedule a retry unless told to stop. */
  override clientConnectionFailed(connector: unknown, reason: Failure): void {
    void reason;
    this.connectionEnded(connector);
  }

  /** The connection was lost: schedule a reconnect unless told to stop. */
  override clientConnectionLost(connector: unknown, reason: Failure): void {
    void reason;
    this.connectionEnded(connector);
  }

  /** A failed attempt or a lost connection: remember `connector` and retry (a subclass's retry too), unless told to stop. */
  private connectionEnded(connector: unknown): void {
    if (!this.continueTrying) return;
    this.connector = this.checkConnector(connector);
    this.retry();
  }

  /**
   * Schedules the next attempt of `connector` (default: the last one seen) after a grown,
   * jittered delay; gives up (and logs) after maxRetries. Throws TypeError with no connector.
   */
  retry(connector?: IReconnectableConnector): void {
    const c = connector ?? this.connector;
    if (!this.continueTrying) {
      if (this.noisy) log("debug", `${this.logPrefix()}: abandoning ${String(c)} on explicit request`);
      return;
    }
    if (c === null || c === undefined) throw new TypeError("retry: connector is required (no connection attempt has been seen yet)");
    // this.connector was checked when the factory recorded it; only a connector passed in is new.
    if (c !== this.connector) this.checkConnector(c);
    this.retries++;
    if (this.maxRetries !== null && this.retries > this.maxRetries) {
      if (this.noisy) log("info", `${this.logPrefix()}: abandoning the connection after ${this.retries - 1} retries`);
      return;
    }
    this.delay = this.nextDelay();
    if (this.noisy) log("debug", `${this.logPrefix()}: will retry in ${this.delay} seconds`);
    this.callID = this.clockFor(c).callLater(this.delay, this.reconnectNow, c);
  }

  /** The next delay: the last one grown by factor, capped, jittered, capped again. */
  private nextDelay(): number {
    const { factor, jitter, maxDelay } = this;
    if (typeof factor !== "number" || !(factor >= 1)) throw new RangeError(`factor must be a number >= 1, received ${String(factor)}`);
    if (typeof jitter !== "number" || !(jitter >= 0 && jitter < 1)) throw new RangeError(`jitter must be a number in [0, 1), received ${String(jitter)}`);
    if (typeof maxDelay !== "number" || !(maxDelay >= 0)) throw new RangeError(`maxDelay must be a number >= 0, received ${String(maxDelay)}`);
    let d = Math.min(this.delay * factor, maxDelay);
    if (jitter > 0) d = Math.min(d * (1 + jitter * (2 * this.random() - 1)), maxDelay);
    return d;
  }

  private clockFor(c: IReconnectableConnector): IReactorTime {
    if (this.clock !== null) return this.clock;
    const own = (c as { reactor?: unknown }).reactor;
    return isClock(own) ? own : getDefaultReactor();
  }

  private checkConnector(c: unknown): IReconnectableConnector {
    if (!isConnector(c)) throw new TypeError("connector must have connect() and stopConnecting()");
    return c;
  }

  /** Stops reconnecting: cancels the scheduled retry and abandons an attempt in progress. */
  stopTrying(): void {
    if (this.callID !== null) {
      if (this.callID.active()) this.callID.cancel();
      this.callID = null;
    }
    this.continueTrying = false;
    if (this.connector !== null) {
      try {
        this.connector.stopConnecting();
      } catch (e) {
        if (!(e instanceof NotConnectingError)) throw e;
      }
    }
  }

  /** Back to the first delay and zero retries, and trying again (call it once connected). */
  resetDelay(): void {
    this.lastDelay = null;
    this.retries = 0;
    this.callID = null;
    this.continueTrying = true;
  }
}
