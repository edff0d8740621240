/**
 * Clock: a deterministic IReactorTime for tests (Twisted's task.Clock). Time moves only
 * when `advance` or `pump` is called; due calls then run in due-time order, calls due at
 * the same time in the order they were scheduled.
 */
import { AlreadyCalled, AlreadyCancelled } from "./errors";
import type { IDelayedCall, IReactorTime } from "./interfaces";

/**
 * A call scheduled for a time (Twisted's DelayedCall). The scheduler supplies how to
 * unschedule it (`canceller`), how to re-place it when its time moves (`resetter`) and
 * what time it is (`seconds`).
 */
export class DelayedCall implements IDelayedCall {
  /** True once the call has run (set by the scheduler before calling `func`). */
  called = false;
  /** True once the call has been cancelled. */
  cancelled = false;
  /** The time the call was scheduled for, before any `delay`. */
  time: number;
  /** Extra time added by `delay` and later-moving `reset`s. */
  delayedTime = 0;

  /** A call of `func(...args)` due at `time`, unscheduled by `canceller` and re-placed by `resetter`. */
  constructor(
    time: number,
    /** The function to run. */
    readonly func: (...a: any[]) => unknown,
    /** Its arguments. */
    readonly args: unknown[],
    private readonly canceller: (c: DelayedCall) => void,
    private readonly resetter: (c: DelayedCall) => void,
    private readonly seconds: () => number,
  ) {
    this.time = time;
  }

  /** The time at which the call is due. */
  getTime(): number {
    return this.time + this.delayedTime;
  }

  /** Throws AlreadyCancelled or AlreadyCalled when the call is no longer active. */
  private checkActive(): void {
    if (this.cancelled) throw new AlreadyCancelled("DelayedCall was already cancelled");
    if (this.called) throw new AlreadyCalled("DelayedCall has already been called");
  }

  /** Unschedules the call. */
  cancel(): void {
    this.checkActive();
    this.canceller(this);
    this.cancelled = true;
  }

  /** Makes the call due `seconds` from now. */
  reset(seconds: number): void {
    if (typeof seconds !== "number" || Number.isNaN(seconds)) throw new TypeError("reset: seconds must be a number");
    this.checkActive();
    const newTime = this.seconds() + seconds;
    if (newTime < this.time) {
      this.delayedTime = 0;
      this.time = newTime;
    } else {
      this.delayedTime = newTime - this.time;
    }
    this.resetter(this);
  }

  /** Moves the due time by `seconds` (later when positive). */
  delay(seconds: number): void {
    if (typeof seconds !== "number" || Number.isNaN(seconds)) throw new TypeError("delay: seconds must be a number");
    this.checkActive();
    this.delayedTime += seconds;
    if (this.delayedTime < 0) {
      this.time += this.delayedTime;
      this.delayedTime = 0;
    }
    this.resetter(this);
  }

  /** True until the call has run or been cancelled. */
  active(): boolean {
    return !(this.cancelled || this.called);
  }

  /** A short description for logs. */
  toString(): string {
    const state = this.cancelled ? "cancelled" : this.called ? "called" : `due at ${this.getTime()}`;
    return `<DelayedCall ${this.func.name || "anonymous"} ${state}>`;
  }
}

/** Orders delayed calls by due time; Array.prototype.sort is stable, so ties keep scheduling order. */
function byTime(a: DelayedCall, b: DelayedCall): number {
  return a.getTime() - b.getTime();
}

/** A deterministic IReactorTime: time advances only when told to (Twisted's task.Clock). */
export class Clock implements IReactorTime {
  /** The current time in seconds; starts at 0. */
  rightNow = 0;
  /** The active scheduled calls, sorted by due time after every change. */
  readonly calls: DelayedCall[] = [];

  private readonly removeCall = (c: DelayedCall): void => {
    const i = this.calls.indexOf(c);
    if (i >= 0) this.calls.splice(i, 1);
  };
  private readonly sortCalls = (): void => {
    this.calls.sort(byTime);
  };
  private readonly now = (): number => this.rightNow;

  /** The current time. */
  seconds(): number {
    return this.rightNow;
  }

  /** Schedules `f(...args)` at `seconds() + delay`. */
  callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): DelayedCall {
    if (typeof delay !== "number" || Number.isNaN(delay)) throw new TypeError("callLater: delay must be a number");
    if (typeof f !== "function") throw new TypeError("callLater: f must be a function");
    const call = new DelayedCall(this.rightNow + delay, f, args, this.removeCall, this.sortCalls, this.now);
    this.calls.push(call);
    this.sortCalls();
    return call;
  }

  /** The calls still scheduled, in due order. */
  getDelayedCalls(): DelayedCall[] {
    return this.calls.slice();
  }

  /**
   * Moves time forward by `seconds` and runs every call now due, in due order
   * (including calls those calls schedule, when they are due too). A call that throws
   * stops the advance and the error propagates to the caller.
   */
  advance(seconds: number): void {
    if (typeof seconds !== "number" || Number.isNaN(seconds)) throw new TypeError("advance: seconds must be a number");
    if (seconds < 0) throw new RangeError("advance: seconds must not be negative");
    this.rightNow += seconds;
    this.sortCalls();
    while (this.calls.length > 0 && this.calls[0].getTime() <= this.rightNow) {
      const call = this.calls.shift() as DelayedCall;
      call.called = true;
      call.func(...call.args);
      this.sortCalls();
    }
  }

  /** Advances by each amount of `timings` in turn. */
  pump(timings: Iterable<number>): void {
    for (const t of timings) this.advance(t);
  }
}
