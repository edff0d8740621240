/**
 * Time-driven helpers (Twisted's twisted.internet.task): deferLater and LoopingCall.
 * The clock is always injected (an IReactorTime: the reactor, or a Clock in tests).
 */
import { Deferred, maybeDeferred } from "./deferred";
import { InvalidStateError } from "./errors";
import type { IDelayedCall, IReactorTime } from "./interfaces";
import { checkNumber, isClock } from "./timers";

/**
 * A Deferred that fires `seconds` from now on `clock` with `f(...args)`'s outcome (or
 * undefined without `f`). Cancelling it before then unschedules the call (CancelledError).
 */
export function deferLater<A extends unknown[], R>(
  clock: IReactorTime,
  seconds: number,
  f?: (...args: A) => R,
  ...args: A
): Deferred<R> {
  if (!isClock(clock, true)) throw new TypeError("deferLater: clock must be an IReactorTime (seconds, callLater)");
  checkNumber("deferLater: seconds", seconds);
  if (f !== undefined && typeof f !== "function") throw new TypeError("deferLater: f must be a function");
  let call: IDelayedCall | null = null;
  const d = new Deferred<unknown>(() => {
    if (call !== null && call.active()) call.cancel();
  });
  call = clock.callLater(seconds, () => d.callback(undefined));
  if (f === undefined) return d as Deferred<R>;
  return d.addCallback(() => f(...args)) as unknown as Deferred<R>;
}

/**
 * Calls a function every `interval` seconds (Twisted's task.LoopingCall). A call that
 * returns a Deferred delays the next one until it fires; intervals missed meanwhile are
 * skipped (see `withCount`). A call that fails stops the loop and fails the Deferred
 * `start` returned; `stop` fires that Deferred with the LoopingCall.
 */
export class LoopingCall {
  /** The clock used by every LoopingCall whose own `clock` is null (the reactor may set it). */
  static defaultClock: IReactorTime | null = null;

  /** The clock this loop runs on; falls back to LoopingCall.defaultClock. */
  clock: IReactorTime | null = null;
  /** True between start and stop (or a failure). */
  running = false;
  /** The interval in seconds, set by start. */
  interval: number | undefined = undefined;
  /** The clock's time when start was called. */
  starttime: number | undefined = undefined;
  /** The scheduled next call, null while none is scheduled. */
  call: IDelayedCall | null = null;
  private _deferred: Deferred<LoopingCall> | null = null;
  private runAtStart = false;
  /** withCount's record of when it last ran. */
  private realLastTime: number | null = null;
  private readonly args: unknown[];

  /** A loop that will call `f(...args)`; nothing runs before `start`. */
  constructor(
    /** The function called on each interval. */
    readonly f: (...args: any[]) => unknown,
    ...args: unknown[]
  ) {
    if (typeof f !== "function") throw new TypeError("LoopingCall: f must be a function");
    this.args = args;
  }

  /**
   * A LoopingCall calling `countCallable(n)`, where n is how many intervals have passed
   * since the previous call (1 normally; more when the process was too busy; at the first
   * call 1 when started with `now`, else intervals since start).
   */
  static withCount(countCallable: (count: number) => unknown): LoopingCall {
    if (typeof countCallable !== "function") throw new TypeError("withCount: countCallable must be a function");
    const lc: LoopingCall = new LoopingCall(() => {
      const clock = lc.effectiveClock();
      const now = clock.seconds();
      const interval = lc.interval as number;
      if (interval === 0) {
        lc.realLastTime = now;
        return countCallable(1);
      }
      let lastTime = lc.realLastTime;
      if (lastTime === null) {
        lastTime = lc.starttime as number;
        if (lc.runAtStart) lastTime -= interval;
      }
      const count = lc.intervalOf(now) - lc.intervalOf(lastTime);
      lc.realLastTime = now;
      return countCallable(count);
    });
    return lc;
  }

  /** The Deferred returned by start, while running. */
  get deferred(): Deferred<LoopingCall> | null {
    return this._deferred;
  }

  /** The clock in force; throws when neither this.clock nor defaultClock is set. */
  private effectiveClock(): IReactorTime {
    const c = this.clock ?? LoopingCall.defaultClock;
    if (c === null) throw new TypeError("LoopingCall: set clock (or LoopingCall.defaultClock) before start");
    return c;
  }

  /** The number of whole intervals between start and time `t`. */
  private intervalOf(t: number): number {
    return Math.floor((t - (this.starttime as number)) / (this.interval as number));
  }

  /**
   * Starts calling every `interval` seconds, first now (default) or after one interval.
   * Returns a Deferred fired with this LoopingCall by stop, or failed by a failing call.
   */
  start(interval: number, now = true): Deferred<LoopingCall> {
    if (this.running) throw new InvalidStateError("LoopingCall: already running");
    checkNumber("start: interval", interval);
    if (interval < 0) throw new RangeError("start: interval must be >= 0");
    const clock = this.effectiveClock();
    this.running = true;
    const d = (this._deferred = new Deferred<LoopingCall>());
    this.starttime = clock.seconds();
    this.interval = interval;
    this.runAtStart = now;
    if (now) this.run();
    else this.scheduleFrom(this.starttime);
    return d;
  }

  /** Stops the loop; the Deferred from start fires now, or when a call in progress finishes. */
  stop(): void {
    if (!this.running) throw new InvalidStateError("LoopingCall: not running");
    this.running = false;
    if (this.call !== null) {
      this.call.cancel();
      this.call = null;
      const d = this._deferred as Deferred<LoopingCall>;
      this._deferred = null;
      d.callback(this);
    }
  }

  /** Restarts the interval count from now (the next call is one interval from now). */
  reset(): void {
    if (!this.running) throw new InvalidStateError("LoopingCall: not running");
    if (this.call !== null) {
      this.call.cancel();
      this.call = null;
    }
    this.starttime = this.effectiveClock().seconds();
    this.scheduleFrom(this.starttime);
  }

  /** One iteration: call f, then schedule the next (or finish, or fail). */
  private readonly run = (): void => {
    this.call = null;
    const d = maybeDeferred(this.f, ...this.args);
    d.addCallback(() => {
      if (this.running) {
        this.scheduleFrom(this.effectiveClock().seconds());
      } else {
        const done = this._deferred as Deferred<LoopingCall>;
        this._deferred = null;
        done.callback(this);
      }
    });
    d.addErrback((f) => {
      this.running = false;
      const done = this._deferred as Deferred<LoopingCall>;
      this._deferred = null;
      done.errback(f);
    });
  };

  /** Schedules the next call at the next interval boundary after `when` (whole intervals skipped). */
  private scheduleFrom(when: number): void {
    const interval = this.interval as number;
    let delay: number;
    if (interval === 0) {
      delay = 0;
    } else {
      const runningFor = when - (this.starttime as number);
      const untilNext = interval - (runningFor % interval);
      // When `when` is so large that adding untilNext changes nothing, wait a full interval.
      delay = when === when + untilNext ? interval : untilNext;
    }
    this.call = this.effectiveClock().callLater(delay, this.run);
  }

  /** "LoopingCall<interval>(f, ...)" for logs. */
  toString(): string {
    return `LoopingCall<${this.interval}>(${this.f.name || "anonymous"})`;
  }
}
