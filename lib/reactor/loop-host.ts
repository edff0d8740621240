/**
 * What a run mode (integrated.ts, exclusive.ts) needs from the reactor it drives: both
 * modes only decide when `iteration` runs and how long its wait may block.
 */
export interface LoopHost {
  /** True from run() until the shutdown has completed (running or stopping). */
  looping(): boolean;
  /** True while an iteration runs (a wake-up then does nothing; the loop re-arms after it). */
  inIteration(): boolean;
  /**
   * One iteration whose wait blocks at most `timeoutMs`; returns how many events it gave.
   * `wait` false skips the kernel wait (0 events): only for a wake-up that did not come from
   * the poller's fd, and only while `fdShowsAll()`.
   */
  iteration(timeoutMs: number, wait?: boolean): number;
  /**
   * True when every event the poller holds makes its fd readable, so that a loop watching
   * that fd is woken for each of them; false when it may hold some its fd no longer shows
   * (io_uring's kept completions), which only a wait collects.
   */
  fdShowsAll(): boolean;
  /** Milliseconds the next wait may block: 0 when work is due, -1 for "until an event". */
  computeTimeout(): number;
  /** When the earliest timer is due (reactor seconds), or Infinity when there is none. */
  nextDeadline(): number;
  /** The loop itself failed (the poller's wait threw, say): release everything, reject run(). */
  crash(e: unknown): void;
}
