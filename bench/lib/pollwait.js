"use strict";
/**
 * The poller wait() measurement shared by bench/poller and bench/platforms: nanoseconds per
 * wait(0) with idle fds registered READABLE plus one always-readable fd, so every wait
 * reports exactly one event. Each measurement calibrates its iteration count to run about
 * `targetNs` (bounded by `maxIter`), then times that many waits.
 */
const READABLE = 1;

/**
 * Nanoseconds per `wait(0)` of a `Poller` (an addon's Poller class) on `backend` with
 * `idle` fds plus `active` registered; `label` names the backend in errors.
 */
function measureWait(Poller, backend, label, idle, active, { targetNs = 40e6, maxIter = 2e6 } = {}) {
  const events = new Uint32Array(64 * 3);
  const p = new Poller(backend, events);
  try {
    for (let i = 0; i < idle.length; i++) p.add(idle[i], i + 1, 1, READABLE);
    p.add(active, 0, 1, READABLE);
    if (p.wait(0) !== 1) throw new Error(`${label}: expected exactly one event`); // applies kqueue's batch
    let iters = 8;
    for (;;) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) if (p.wait(0) !== 1) throw new Error(`${label}: expected one event`);
      const ns = Number(process.hrtime.bigint() - t0);
      if (ns >= targetNs / 4 || iters >= maxIter) {
        iters = Math.min(maxIter, Math.max(8, Math.round((iters * targetNs) / Math.max(ns, 1))));
        break;
      }
      iters *= 4;
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) p.wait(0);
    return Number(process.hrtime.bigint() - t0) / iters;
  } finally {
    p.close();
  }
}

module.exports = { measureWait, READABLE };
