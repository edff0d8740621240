/** Shared by DeferredLock/DeferredSemaphore and DeferredQueue (internal: not re-exported by index.ts). */

/** A waiting Deferred was cancelled: takes `d` out of `waiting` (the Deferred then fails with CancelledError). */
export function dropWaiter<T>(waiting: T[], d: T): void {
  const i = waiting.indexOf(d);
  if (i >= 0) waiting.splice(i, 1);
}
