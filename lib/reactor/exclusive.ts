/**
 * Exclusive run mode: the reactor blocks in the kernel wait on this thread. While events
 * keep coming it stays in its own loop (microtasks and nextTicks drained between
 * iterations, a turn of Node's loop every `yieldIntervalMs`); before blocking it always
 * gives Node's loop a turn (setImmediate), so every microtask has run, and it blocks at
 * most `blockCapMs` so that Node timers and signals still get their turn.
 */
import { performance } from "node:perf_hooks";
import type { LoopHost } from "./loop-host";

/** Runs `host`'s iterations until it stops looping; a failure of the loop goes to `host.crash`. */
export async function runExclusive(host: LoopHost, yieldIntervalMs: number, blockCapMs: number): Promise<void> {
  let lastYield = performance.now();
  let busy = false;
  try {
    while (host.looping()) {
      let timeout = 0;
      if (!busy) {
        // About to block: give Node's loop a turn first, so that every microtask, tick,
        // Node timer and signal handler has run.
        await yieldToNode();
        lastYield = performance.now();
        if (!host.looping()) break;
        timeout = host.computeTimeout();
        if (timeout < 0 || timeout > blockCapMs) timeout = blockCapMs;
      }
      const n = host.iteration(timeout);
      if (!host.looping()) break;
      busy = n > 0 || host.computeTimeout() === 0;
      if (busy) {
        if (performance.now() - lastYield >= yieldIntervalMs) {
          await yieldToNode();
          lastYield = performance.now();
        } else {
          await drainMicrotasks();
        }
      }
    }
  } catch (e) {
    host.crash(e);
  }
}

function yieldToNode(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}
