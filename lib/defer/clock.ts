/**
 * Clock: a deterministic IReactorTime for tests (Twisted's task.Clock). Time moves only
 * when `advance` or `pump` is called; due calls then run in due-time order, calls due at
 * the same time in the order they were scheduled.
 */
import type { IReactorTime } from "./interfaces";
import { checkNumber, DelayedCall, TimerQueue } from "./timers";

/** A deterministic IReactorTime: time advances only when told to (Twisted's task.Clock). */
export class Clock implements IReactorTime {
  /** The current time in seconds; starts at 0. */
  rightNow = 0;
  /** The scheduled calls: a moved call keeps its place among ties, reset/delay take any number but NaN. */
  private readonly queue = new TimerQueue(() => this.rightNow, { renewOnMove: false, finiteMoves: false });

  /** The active scheduled calls, in due order (a fresh array each time). */
  get calls(): DelayedCall[] {
    return this.queue.sorted();
  }

  /** The current time. */
  seconds(): number {
    return this.rightNow;
  }

  /** Schedules `f(...args)` at `seconds() + delay`. */
  callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): DelayedCall {
    checkNumber("callLater: delay", delay);
    if (typeof f !== "function") throw new TypeError("callLater: f must be a function");
    return this.queue.schedule(delay, f, args);
  }

  /** The calls still scheduled, in due order. */
  getDelayedCalls(): DelayedCall[] {
    return this.queue.sorted();
  }

  /**
   * Moves time forward by `seconds` and runs every call now due, in due order
   * (including calls those calls schedule, when they are due too). A call that throws
   * stops the advance and the error propagates to the caller.
   */
  advance(seconds: number): void {
    checkNumber("advance: seconds", seconds);
    if (seconds < 0) throw new RangeError("advance: seconds must not be negative");
    this.rightNow += seconds;
    let call: DelayedCall | undefined;
    while ((call = this.queue.popDue(this.rightNow, Infinity)) !== undefined) {
      call.called = true;
      call.func(...call.args);
    }
  }

  /** Advances by each amount of `timings` in turn. */
  pump(timings: Iterable<number>): void {
    for (const t of timings) this.advance(t);
  }
}
