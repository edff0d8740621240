/**
 * Wakers: an eventfd (or pipe) that any thread can write to wake the reactor's wait.
 */
import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import { AGAIN, native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { addonPath } from "../support/addon-path";

expectNoFdLeaks();

function closeWaker([r, w]: [number, number]): void {
  native.close(r);
  if (w !== r) native.close(w);
}

/** Blocks this thread (its event loop too) while `file` exists, up to `ms`; true once it is gone. */
function blockWhileExists(file: string, ms: number): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + ms; fs.existsSync(file); ) {
    if (Date.now() > deadline) return false;
    Atomics.wait(nap, 0, 0, 2);
  }
  return true;
}

describe("wakers", () => {
  test("three wakes are drained as one readiness carrying three", () => {
    const waker = native.makeWaker();
    try {
      native.wake(waker[1]);
      native.wake(waker[1]);
      native.wake(waker[1]);
      expect(native.drainWaker(waker[0])).toBe(3);
      expect(native.drainWaker(waker[0])).toBe(0);
      // Drained means not readable any more.
      expect(native.read(waker[0], Buffer.alloc(8), 0, 8)).toBe(AGAIN);
    } finally {
      closeWaker(waker);
    }
  });

  test("drainWaker on a waker never woken returns 0", () => {
    const waker = native.makeWaker();
    try {
      expect(native.drainWaker(waker[0])).toBe(0);
    } finally {
      closeWaker(waker);
    }
  });

  test("on Linux the waker is one eventfd", () => {
    if (process.platform !== "linux") return;
    const waker = native.makeWaker();
    try {
      expect(waker[0]).toBe(waker[1]);
      expect(fs.readlinkSync(`/proc/self/fd/${waker[0]}`)).toBe("anon_inode:[eventfd]");
    } finally {
      closeWaker(waker);
    }
  });

  test("a worker thread wakes the waker through its own copy of the addon", async () => {
    const waker = native.makeWaker();
    // The worker's last act: its kernel thread id (Linux), or -1, stored here and notified.
    const tid = new Int32Array(new SharedArrayBuffer(4));
    try {
      const worker = new Worker(
        `const { workerData, parentPort } = require("node:worker_threads");
         const n = require(workerData.addon);
         for (let i = 0; i < workerData.times; i++) n.wake(workerData.fd);
         parentPort.postMessage("woke");
         let self = "";
         try { self = require("node:fs").readlinkSync("/proc/thread-self"); } catch {}
         const m = /task\\/(\\d+)$/.exec(self);
         Atomics.store(workerData.tid, 0, m ? Number(m[1]) : -1);
         Atomics.notify(workerData.tid, 0);`,
        { eval: true, workerData: { addon: addonPath(), fd: waker[1], times: 2, tid } },
      );
      // Every outcome is listened for before this thread yields: a worker that posts and ends
      // while this thread is busy (a GC, a loaded machine, the sanitizer build) has its
      // message and its 'exit' emitted in the same turn, and an 'exit' listener added after
      // awaiting the message waits forever (the jest timeout once seen under test:asan).
      const messages: unknown[] = [];
      worker.on("message", (m) => messages.push(m));
      const ended = new Promise<number>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("exit", resolve);
      });
      // That case on purpose: block this thread (no event-loop turn) until the worker has
      // woken, posted and, where its thread can be seen in /proc, ended.
      if (Atomics.wait(tid, 0, 0, 20000) === "timed-out") {
        void worker.terminate();
        const how = await ended.then((code) => `it exited with ${code}`, (e: Error) => `it threw ${e.message}`);
        throw new Error(`the worker had not woken the waker after 20 s (${how})`);
      }
      const thread = Atomics.load(tid, 0);
      if (thread > 0) expect(blockWhileExists(`/proc/self/task/${thread}`, 20000)).toBe(true);
      // The wakes are counted already, before this thread has run its loop once.
      expect(native.drainWaker(waker[0])).toBe(2);
      expect(await ended).toBe(0);
      expect(messages).toEqual(["woke"]);
    } finally {
      closeWaker(waker);
    }
  });

  test("wake on a closed fd throws EBADF", () => {
    const waker = native.makeWaker();
    closeWaker(waker);
    expect(() => native.wake(waker[1])).toThrow(expect.objectContaining({ code: "EBADF" }));
  });
});
