/**
 * FdWatcher: readability of one fd reported from Node's own loop (the reactor's
 * integrated mode), stopping, ref/unref, closing, and callback errors.
 */
import { EVENT_STRIDE, READABLE, native, type FdWatcher } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { thrownBy } from "../support/thrown";
import { drain, eventsOf, runNode, write } from "./poller_fixtures";

expectNoFdLeaks();

describe("FdWatcher", () => {
  const fds: number[] = [];
  const watchers: FdWatcher[] = [];
  function pipe(): [number, number] {
    const p = native.pipe();
    fds.push(...p);
    return p;
  }
  function watch(fd: number, onReadable: () => void): FdWatcher {
    const w = new native.FdWatcher(fd, onReadable);
    watchers.push(w);
    return w;
  }
  afterEach(() => {
    // Watchers first: libuv must not be left watching a closed fd.
    for (const w of watchers.splice(0)) w.close();
    for (const fd of fds.splice(0)) native.close(fd);
  });

  test("calls onReadable when its pipe becomes readable", async () => {
    const [r, w] = pipe();
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      const watcher = watch(r, () => {
        got.push(drain(r));
        watcher.stop();
        resolve();
      });
      watcher.start();
      write(w, "wake");
    });
    expect(got).toEqual(["wake"]);
  });

  test("keeps calling while the fd stays readable (level-triggered)", async () => {
    const [r, w] = pipe();
    let calls = 0;
    await new Promise<void>((resolve) => {
      const watcher = watch(r, () => {
        if (++calls === 3) {
          watcher.stop();
          resolve();
        }
      });
      write(w, "x");
      watcher.start();
    });
    expect(calls).toBe(3);
    expect(drain(r)).toBe("x");
  });

  test("a stopped watcher is not called, and starting it again resumes the calls", async () => {
    // Both pipes are readable before the loop polls, so the second watcher's call proves
    // that the loop polled while the first was stopped.
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    const calls: string[] = [];
    let resolveFirst = (): void => undefined;
    const first = watch(r1, () => {
      calls.push(`first:${drain(r1)}`);
      first.stop();
      resolveFirst();
    });
    first.start();
    first.stop();
    write(w1, "a");
    await new Promise<void>((resolve) => {
      const second = watch(r2, () => {
        calls.push(`second:${drain(r2)}`);
        second.stop();
        resolve();
      });
      second.start();
      write(w2, "b");
    });
    expect(calls).toEqual(["second:b"]);
    await new Promise<void>((resolve) => {
      resolveFirst = resolve;
      first.start();
    });
    expect(calls).toEqual(["second:b", "first:a"]);
  });

  test("start after stop calls again on the same watcher", async () => {
    const [r, w] = pipe();
    let calls = 0;
    let resolve = (): void => undefined;
    const watcher = watch(r, () => {
      calls++;
      drain(r);
      watcher.stop();
      resolve();
    });
    for (let round = 0; round < 2; round++) {
      await new Promise<void>((res) => {
        resolve = res;
        watcher.start();
        write(w, "x");
      });
    }
    expect(calls).toBe(2);
  });

  test("watching an epoll/kqueue poller's fd reports the poller's readiness", async () => {
    const backend = native.backends()[0];
    const events = new Uint32Array(4 * EVENT_STRIDE);
    const poller = new native.Poller(backend, events);
    try {
      if (poller.fd() < 0) return; // only poll/select here: nothing to watch
      const [r, w] = pipe();
      poller.add(r, 42, 7, READABLE);
      const batches: Array<Array<[number, number, number]>> = [];
      await new Promise<void>((resolve) => {
        const watcher = watch(poller.fd(), () => {
          batches.push(eventsOf(events, poller.wait(0)));
          drain(r);
          watcher.stop();
          resolve();
        });
        watcher.start();
        write(w, "ready");
      });
      expect(batches).toEqual([[[42, 7, READABLE]]]);
    } finally {
      poller.close();
    }
  });

  test("close is idempotent; start after close throws, stop/ref/unref do nothing", () => {
    const [r] = pipe();
    const watcher = watch(r, () => undefined);
    watcher.start();
    watcher.close();
    watcher.close();
    expect(thrownBy(() => watcher.start())).toMatchObject({ code: "ERR_WATCHER_CLOSED", message: "FdWatcher is closed" });
    watcher.stop();
    watcher.ref();
    watcher.unref();
  });

  test.each([
    ["no arguments", [], "TypeError", '"fd"'],
    ["a negative fd", [-1, () => undefined], "RangeError", '"fd"'],
    ["a fractional fd", [0.5, () => undefined], "RangeError", '"fd"'],
    ["no callback", [0], "TypeError", '"onReadable"'],
    ["a callback that is not a function", [0, "cb"], "TypeError", '"onReadable"'],
  ])("the constructor refuses %s", (_what, args, name, mention) => {
    const Ctor = native.FdWatcher as unknown as new (...a: unknown[]) => FdWatcher;
    const e = thrownBy(() => new Ctor(...args));
    expect(e.name).toBe(name);
    expect(e.message).toContain(mention);
  });

  test("the constructor refuses a closed fd with EBADF", () => {
    const [r] = pipe();
    native.close(r);
    fds.splice(fds.indexOf(r), 1);
    expect(thrownBy(() => new native.FdWatcher(r, () => undefined))).toMatchObject({ code: "EBADF", syscall: "uv_poll_init" });
  });

  test("start refuses an fd closed after construction, instead of libuv aborting", () => {
    const [r] = pipe();
    const watcher = watch(r, () => undefined);
    native.close(r);
    fds.splice(fds.indexOf(r), 1);
    expect(thrownBy(() => watcher.start())).toMatchObject({ code: "EBADF" });
  });

  test("methods called on a foreign object throw a TypeError", () => {
    const proto = native.FdWatcher.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const poller = new native.Poller("poll", new Uint32Array(3));
    try {
      for (const m of ["start", "stop", "ref", "unref", "close"]) {
        expect(thrownBy(() => proto[m].call(poller)).name).toBe("TypeError");
        expect(thrownBy(() => proto[m].call({})).name).toBe("TypeError");
      }
    } finally {
      poller.close();
    }
  });
});

describe("FdWatcher in a process of its own", () => {
  test("an exception thrown by onReadable reaches process 'uncaughtException'", () => {
    const r = runNode(`
      const [rd, wr] = addon.pipe();
      const w = new addon.FdWatcher(rd, () => { throw new Error("boom from onReadable"); });
      process.on("uncaughtException", (e) => {
        w.close(); addon.close(rd); addon.close(wr);
        console.log("caught: " + e.message);
      });
      w.start();
      addon.write(wr, Buffer.from("x"), 0, 1);
    `);
    expect(r.stdout).toBe("caught: boom from onReadable\n");
    expect(r.status).toBe(0);
  });

  test("an exception thrown by onReadable with no handler ends the process with it", () => {
    const r = runNode(`
      const [rd, wr] = addon.pipe();
      new addon.FdWatcher(rd, () => { throw new Error("boom unhandled"); }).start();
      addon.write(wr, Buffer.from("x"), 0, 1);
    `);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Error: boom unhandled");
  });

  test("promise callbacks queued by onReadable run before the next I/O callback", () => {
    const r = runNode(`
      const [rd, wr] = addon.pipe();
      const order = [];
      const w = new addon.FdWatcher(rd, () => {
        order.push("readable");
        Promise.resolve().then(() => order.push("microtask"));
        if (order.length > 2) {
          w.close(); addon.close(rd); addon.close(wr);
          console.log(order.join(","));
        }
      });
      w.start();
      addon.write(wr, Buffer.from("x"), 0, 1);
    `);
    expect(r.stdout).toBe("readable,microtask,readable\n");
  });

  test("an unref'd started watcher does not keep the process alive; a ref'd one does", () => {
    const unrefd = runNode(`
      const [rd, wr] = addon.pipe();
      const w = new addon.FdWatcher(rd, () => {});
      w.start();
      w.unref();
      process.on("exit", () => console.log("exited"));
    `);
    expect(unrefd).toMatchObject({ status: 0, stdout: "exited\n" });
    const refd = runNode(`
      const [rd, wr] = addon.pipe();
      const w = new addon.FdWatcher(rd, () => { console.log("readable"); w.close(); });
      w.start();
      w.unref();
      w.ref();
      // Alive only through the watcher: the write comes from a child after this tick.
      require("node:child_process").exec("true", () => addon.write(wr, Buffer.from("x"), 0, 1));
    `);
    expect(refd).toMatchObject({ status: 0, stdout: "readable\n" });
  });

  test("a started watcher nobody references still fires after a garbage collection", () => {
    const r = runNode(`
      const [rd, wr] = addon.pipe();
      new addon.FdWatcher(rd, () => { console.log("fired"); process.exit(0); }).start();
      global.gc();
      setImmediate(() => { global.gc(); addon.write(wr, Buffer.from("x"), 0, 1); });
    `, ["--expose-gc"]);
    expect(r).toMatchObject({ status: 0, stdout: "fired\n" });
  });
});
