/**
 * Integrated run mode (the default where the backend has its own fd): libuv watches the
 * poller's fd with an FdWatcher and a Node timer covers the nearest deadline; each wake-up
 * runs one non-blocking iteration, so Node's timers, promises and fs keep working beside
 * the reactor on the same thread.
 *
 * Only the watcher's wake-up asks the kernel for events. A wake-up by the Node timer (due
 * timers) or by an immediate (calls from this thread, stop(), a TLS read to repeat) runs
 * its iteration without the wait, which would mostly find nothing: the watcher is
 * level-triggered on the poller's fd, so whatever is pending there wakes it in this same
 * turn of Node's loop (its poll phase follows the timers) or the next. Where the poller may
 * hold events its fd does not show (`fdShowsAll()` false: io_uring), every wake-up waits.
 */
import { native } from "../native";
import type { FdWatcher } from "../native";
import type { LoopHost } from "./loop-host";

/** Drives a reactor's iterations from Node's own loop. */
export class IntegratedLoop {
  private watcher: FdWatcher | null = null;
  private nodeTimer: NodeJS.Timeout | null = null;
  private nodeTimerAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;

  /** A loop for `host`; nothing is watched until start(). */
  constructor(private readonly host: LoopHost) {}

  /** Starts watching `pollerFd` (the poller's own fd, after it entered integrated mode). */
  start(pollerFd: number): void {
    this.watcher = new native.FdWatcher(pollerFd, this.step);
    this.watcher.start();
  }

  /**
   * Makes libuv wake us for the next due work (I/O wakes us through the watcher). Does
   * nothing when the host is not looping, or inside an iteration (step() arms after it).
   */
  arm(): void {
    const host = this.host;
    if (!host.looping() || host.inIteration()) return;
    const ms = host.computeTimeout();
    if (ms === 0) {
      if (this.immediate === null) this.immediate = setImmediate(this.onImmediate);
      return;
    }
    if (ms < 0) return;
    const at = host.nextDeadline();
    // An armed timer that fires no later than needed will re-arm us when it fires.
    if (this.nodeTimer !== null && this.nodeTimerAt <= at) return;
    if (this.nodeTimer !== null) clearTimeout(this.nodeTimer);
    this.nodeTimer = setTimeout(this.onNodeTimer, ms);
    this.nodeTimerAt = at;
  }

  /** Stops watching and cancels the pending wake-ups. */
  close(): void {
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.nodeTimer !== null) clearTimeout(this.nodeTimer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.nodeTimer = null;
    this.nodeTimerAt = Infinity;
    this.immediate = null;
  }

  /** The watcher's wake-up: the poller's fd is readable. */
  private readonly step = (): void => {
    this.wake(true);
  };

  /** One non-blocking iteration per wake-up from libuv; `fromFd` when the poller's fd woke us. */
  private wake(fromFd: boolean): void {
    const host = this.host;
    if (!host.looping() || host.inIteration()) return;
    try {
      host.iteration(0, fromFd || !host.fdShowsAll());
    } catch (e) {
      host.crash(e);
      return;
    }
    this.arm();
  }

  private readonly onImmediate = (): void => {
    this.immediate = null;
    this.wake(false);
  };

  private readonly onNodeTimer = (): void => {
    this.nodeTimer = null;
    this.nodeTimerAt = Infinity;
    this.wake(false);
  };
}
