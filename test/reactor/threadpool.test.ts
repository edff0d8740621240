import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { threadId } from "node:worker_threads";
import { expectNoFdLeaks } from "../support/fds";
import { setLogObservers } from "../../lib/log";
import { Deferred, Failure, deferLater, gatherResults } from "../../lib/defer";
import { Reactor, ReactorNotRestartable, ThreadPoolStopped } from "../../lib/reactor";
import type { ThreadFunction } from "../../lib/reactor";
import { configTable, makeReactor } from "./helpers";
import { compileLib } from "./fixtures/compile";

expectNoFdLeaks();

let compiled = "";
beforeAll(() => {
  compiled = compileLib();
  process.env.FDREACTOR_THREAD_WORKER = path.join(compiled, "lib", "reactor", "threadpool-worker.js");
});

const FUNCTIONS = path.join(__dirname, "fixtures", "thread-functions.js");
const fn = (name: string): ThreadFunction => ({ module: FUNCTIONS, export: name });

/** Runs `main` on a running reactor `r`, stops it when the returned promise settles, and gives its outcome. */
async function within<T>(r: Reactor, main: () => PromiseLike<T>): Promise<T> {
  let out: { ok: true; v: T } | { ok: false; e: unknown } | null = null;
  r.callWhenRunning(() => {
    Promise.resolve(main()).then(
      (v) => (out = { ok: true, v }),
      (e: unknown) => (out = { ok: false, e }),
    ).finally(() => r.stop());
  });
  await r.run();
  const o = out as { ok: true; v: T } | { ok: false; e: unknown } | null;
  if (o === null) throw new Error("main never settled");
  if (!o.ok) throw o.e;
  return o.v;
}

describe.each(configTable())("thread pool (%s)", (_label, config) => {
  test("deferToThread runs the named function in another thread and fires with its result", async () => {
    const r = makeReactor(config);
    const got = await within(r, () => r.getThreadPool().deferToThread<{ sum: number; threadId: number }>(fn("add"), [2, 40]));
    expect(got.sum).toBe(42);
    expect(got.threadId).not.toBe(threadId);
    expect(r.getThreadPool.bind(r)).toThrow(ReactorNotRestartable);
  });
});

describe("thread pool (epoll or best backend, integrated when possible)", () => {
  const config = configTable()[0][1];

  test("pool size is respected: 6 blocking jobs on a pool of 2 run 2 at a time, all complete", async () => {
    const r = makeReactor(config);
    const sab = new SharedArrayBuffer(8);
    const state = new Int32Array(sab);
    const results = await within(r, () => {
      r.suggestThreadPoolSize(2);
      const pool = r.getThreadPool();
      const ds = Array.from({ length: 6 }, () => pool.deferToThread<number>(fn("busy"), [sab, 60]));
      expect(pool.workerCount).toBe(2);
      return gatherResults(ds);
    });
    expect(results).toHaveLength(6);
    expect(Atomics.load(state, 1)).toBe(2); // most at once
    expect(Atomics.load(state, 0)).toBe(0);
  }, 30000);

  test("4 workers run 4 blocking jobs at once (the work really is concurrent)", async () => {
    const r = makeReactor(config);
    const sab = new SharedArrayBuffer(8);
    await within(r, () => {
      r.suggestThreadPoolSize(4);
      // Each job blocks 1 s in Atomics.wait: long enough for every worker to have started.
      return gatherResults(Array.from({ length: 4 }, () => r.getThreadPool().deferToThread(fn("busy"), [sab, 1000])));
    });
    expect(Atomics.load(new Int32Array(sab), 1)).toBe(4);
  }, 30000);

  test("a crashing function fails its Deferred with the error: class, name, message, code and stack kept", async () => {
    const r = makeReactor(config);
    const failures = await within(r, () => {
      const pool = r.getThreadPool();
      const grab = (d: Deferred<unknown>): Deferred<unknown> => d.addCallbacks(() => null, (f: Failure) => [f]);
      return gatherResults([grab(pool.deferToThread(fn("crash"), ["boom"])), grab(pool.deferToThread(fn("reject"), []))]);
    });
    const [[crash], [reject]] = failures as [Failure][];
    expect(crash.check(TypeError)).toBe(TypeError);
    expect(crash.value).toMatchObject({ name: "TypeError", message: "boom", code: "ERR_CRASH_TEST" });
    expect((crash.value as Error).stack).toContain("thread-functions.js");
    expect(reject.value).toMatchObject({ name: "TeapotError", message: "short and stout" });
  });

  test("an awaited promise result, a missing export, an uncloneable result or argument fail or fire that job only", async () => {
    const r = makeReactor(config);
    const outcomes = await within(r, () => {
      const pool = r.getThreadPool();
      const show = (d: Deferred<unknown>): Deferred<unknown> => d.addCallbacks((v: unknown) => ["ok", v], (f: Failure) => ["err", f.getErrorMessage()]);
      const ds = [
        show(pool.deferToThread(fn("later"), [21])),
        show(pool.deferToThread(fn("notAFunction"), [])),
        show(pool.deferToThread(fn("uncloneable"), [])),
        show(pool.deferToThread(fn("add"), [() => 1])),
        show(pool.deferToThread({ module: "/nonexistent/module.js", export: "x" }, [])),
        show(pool.deferToThread(fn("add"), [1, 1])),
      ];
      return gatherResults(ds);
    });
    expect(outcomes[0]).toEqual(["ok", 42]);
    expect(outcomes[1]).toEqual(["err", expect.stringContaining('no function export named "notAFunction"')]);
    expect(outcomes[2]).toEqual(["err", expect.stringMatching(/could not be cloned/)]);
    expect(outcomes[3]).toEqual(["err", expect.stringMatching(/could not be cloned/)]);
    expect(outcomes[4]).toEqual(["err", expect.stringContaining("Cannot find module '/nonexistent/module.js'")]);
    expect((outcomes[5] as [string, { sum: number }])[1].sum).toBe(2);
  });

  test("callInThread runs the function; its failure is logged on the reactor thread", async () => {
    const records: [string, string, unknown][] = [];
    const restore = setLogObservers([(level, message, error) => records.push([level, message, error])]);
    try {
      const r = makeReactor(config);
      const sab = new SharedArrayBuffer(8);
      await within(r, async () => {
        r.callInThread(fn("busy"), sab, 1);
        r.callInThread(fn("crash"), "logged");
        // No Deferred to wait for: poll (bounded) until both have been seen.
        const seen = (): boolean => Atomics.load(new Int32Array(sab), 1) === 1 && records.some((x) => x[1].startsWith("callInThread"));
        for (let i = 0; i < 500 && !seen(); i++) await deferLater(r, 0.02);
      });
      expect(Atomics.load(new Int32Array(sab), 1)).toBe(1);
      const mine = records.filter((x) => x[1].startsWith("callInThread"));
      expect(mine.map((x) => [x[0], x[1], (x[2] as Error).message])).toEqual([["error", `callInThread: ${FUNCTIONS}#crash failed`, "logged"]]);
    } finally {
      restore();
    }
  });

  test("blockingCallFromThread runs an exposed function on the reactor thread and returns its Deferred's result", async () => {
    const r = makeReactor(config);
    const seen: boolean[] = [];
    r.exposeToThreads("double", (x: number) => {
      seen.push(r.running);
      return deferLater(r, 0.01, () => x * 2);
    });
    r.exposeToThreads("refuse", () => {
      throw new RangeError("not now");
    });
    const got = await within(r, () => {
      const pool = r.getThreadPool();
      return gatherResults([
        pool.deferToThread(fn("askReactor"), [compiled, "double", 21]),
        pool.deferToThread(fn("askReactor"), [compiled, "refuse", 0]),
        pool.deferToThread(fn("askReactor"), [compiled, "missing", 0]),
      ]);
    });
    expect(got).toEqual([{ ok: 42 }, { err: "RangeError: not now" }, { err: 'Error: blockingCallFromThread: no function exposed as "missing"' }]);
    expect(seen).toEqual([true]);
  });

  test("the pool stops with the reactor: running and queued jobs fail with ThreadPoolStopped, no worker is left", async () => {
    const r = makeReactor(config);
    const sab = new SharedArrayBuffer(12);
    const outcomes: string[] = [];
    r.callWhenRunning(() => {
      r.suggestThreadPoolSize(1);
      const pool = r.getThreadPool();
      for (let i = 0; i < 2; i++) {
        pool.deferToThread(fn("waitForever"), [sab]).addCallbacks(
          (v: unknown) => outcomes.push(String(v)),
          (f: Failure) => outcomes.push(f.check(ThreadPoolStopped) ? "stopped" : f.getErrorMessage()),
        );
      }
      r.callLater(0.1, () => r.stop());
    });
    const t0 = Date.now();
    await r.run();
    expect(outcomes).toEqual(["stopped", "stopped"]);
    expect(r.getThreadPool.bind(r)).toThrow(ReactorNotRestartable);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test("a worker whose function ends its thread fails that job; the pool replaces it and goes on", async () => {
    const r = makeReactor(config);
    const outcomes = await within(r, () => {
      r.suggestThreadPoolSize(1);
      const pool = r.getThreadPool();
      const died = pool.deferToThread(fn("exitThread"), [3]).addCallbacks(() => "fired", (f: Failure) => f.getErrorMessage());
      const next = pool.deferToThread<{ sum: number }>(fn("add"), [3, 4]).addCallback((v: { sum: number }) => v.sum);
      return gatherResults<unknown>([died, next]);
    });
    expect(outcomes).toEqual(["thread-pool worker exited with code 3", 7]);
  });

  test("lowering the size ends idle workers at once", async () => {
    const r = makeReactor(config);
    const counts = await within(r, async () => {
      r.suggestThreadPoolSize(3);
      const pool = r.getThreadPool();
      const sab = new SharedArrayBuffer(8);
      await gatherResults(Array.from({ length: 3 }, () => pool.deferToThread(fn("busy"), [sab, 200])));
      const before = pool.workerCount;
      r.suggestThreadPoolSize(1);
      return [before, pool.workerCount, pool.size];
    });
    expect(counts).toEqual([3, 1, 1]);
  });

  test("stopping the moment results arrive ends the run at once (a worker is never killed inside its report)", async () => {
    // Regression: workers terminated at "during shutdown" could die between their wake and
    // leaving the channel's in-flight count, and the reactor's close then spun on it.
    const lags: number[] = [];
    for (let round = 0; round < 8; round++) {
      const r = makeReactor(config);
      let stoppedAt = 0;
      r.callWhenRunning(() => {
        r.suggestThreadPoolSize(2);
        const pool = r.getThreadPool();
        void gatherResults([pool.deferToThread(fn("add"), [1, 2]), pool.deferToThread(fn("add"), [3, 4])]).addCallback(() => {
          stoppedAt = Date.now();
          r.stop();
        });
      });
      await r.run();
      lags.push(Date.now() - stoppedAt);
    }
    expect(Math.max(...lags)).toBeLessThan(300);
  }, 30000);

  test("wrong arguments throw typed errors naming them", () => {
    const r = makeReactor(config);
    try {
      const pool = r.getThreadPool();
      expect(() => pool.deferToThread((() => 1) as never, [])).toThrow(/fn must be a ThreadFunction/);
      expect(() => r.callInThread({ module: FUNCTIONS } as never)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }));
      expect(() => r.suggestThreadPoolSize(0)).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }));
      expect(() => r.suggestThreadPoolSize(1.5)).toThrow(/size must be an integer/);
    } finally {
      r.close();
    }
  });
});

test("the global deferToThread and coiterate run on the default reactor under react(main)", () => {
  const script = `
    const lib = require(${JSON.stringify(path.join(compiled, "lib", "reactor", "index.js"))});
    lib.react(async () => {
      const v = await lib.deferToThread({ module: ${JSON.stringify(FUNCTIONS)}, export: "add" }, 20, 22);
      const seen = [];
      await lib.coiterate([1, 2, 3].map((n) => seen.push(n))[Symbol.iterator]());
      function* steps() { for (const n of ["a", "b"]) { seen.push(n); yield; } }
      await Promise.all([lib.coiterate(steps()), lib.cooperate(steps()).whenDone()]);
      console.log("sum " + v.sum + " " + seen.join(""));
    }).then((code) => console.log("code " + code + " " + process.exitCode));
  `;
  const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 15000, env: { ...process.env } });
  expect(res.stderr).toBe("");
  expect(res.stdout).toBe("sum 42 123aabb\ncode 0 0\n");
  expect(res.status).toBe(0);
});

test("a process whose reactor used the pool exits once the reactor stops (no thread keeps it alive)", () => {
  const script = `
    const lib = require(${JSON.stringify(path.join(compiled, "lib", "reactor", "index.js"))});
    const r = new lib.Reactor();
    r.callWhenRunning(() => {
      r.getThreadPool().deferToThread({ module: ${JSON.stringify(FUNCTIONS)}, export: "add" }, [1, 2])
        .addCallback((v) => { console.log("sum " + v.sum); r.stop(); });
      // A job still blocked at shutdown must not hold the process either.
      r.callInThread({ module: ${JSON.stringify(FUNCTIONS)}, export: "waitForever" }, new SharedArrayBuffer(12));
    });
    r.run().then(() => console.log("stopped"));
  `;
  const t0 = Date.now();
  const res = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 8000 });
  expect(res.stderr).toBe("");
  expect(res.stdout).toBe("sum 3\nstopped\n");
  expect(res.status).toBe(0);
  expect(Date.now() - t0).toBeLessThan(5000);
});
