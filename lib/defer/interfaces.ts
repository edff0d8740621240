/**
 * How time enters lib/defer. The Deferred layer never reads a clock of its own: timeouts,
 * deferLater and LoopingCall take an `IReactorTime`, which the real reactor implements and
 * which `Clock` (clock.ts) implements deterministically for tests.
 */

/** A call scheduled by `IReactorTime.callLater` (Twisted's IDelayedCall). */
export interface IDelayedCall {
  /** The time (in the clock's seconds) at which the call is due. */
  getTime(): number;
  /** Unschedules the call; throws AlreadyCalled or AlreadyCancelled when it is not active. */
  cancel(): void;
  /** Moves the due time later by `seconds` (earlier when negative). */
  delay(seconds: number): void;
  /** Makes the call due `seconds` from now. */
  reset(seconds: number): void;
  /** True until the call has run or been cancelled. */
  active(): boolean;
}

/** The time services of a reactor (Twisted's IReactorTime). */
export interface IReactorTime {
  /** The current time in seconds (any epoch, monotonic for the reactor's purposes). */
  seconds(): number;
  /** Runs `f(...args)` `delay` seconds from now; returns the handle that can cancel it. */
  callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): IDelayedCall;
  /** Every call scheduled and still active. */
  getDelayedCalls(): IDelayedCall[];
}
