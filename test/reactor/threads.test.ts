import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { expectNoFdLeaks } from "../support/fds";
import { setLogObservers } from "../../lib/log";
import { Reactor, ReactorNotRestartable, ThreadCaller } from "../../lib/reactor";
import { configTable, makeReactor } from "./helpers";
import { compileLib } from "./fixtures/compile";

expectNoFdLeaks();

let compiled = "";
beforeAll(() => {
  compiled = compileLib();
});

const WORKER = path.join(__dirname, "fixtures", "caller-worker.js");

/** Resolves when the worker has exited with code 0. */
function exited(w: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    w.on("error", reject);
    w.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

describe.each(configTable())("callFromThread (%s)", (_label, config) => {
  test("4 workers × 10,000 calls: every call delivered, in order per thread", async () => {
    const WORKERS = 4;
    const COUNT = 10000;
    const r = makeReactor(config);
    const next = new Array<number>(WORKERS).fill(0);
    const outOfOrder: string[] = [];
    let done = 0;
    let onReactorThread = true;
    r.exposeToThreads("record", (id: number, i: number) => {
      if (i !== next[id]) outOfOrder.push(`worker ${id}: got ${i}, expected ${next[id]}`);
      next[id] = i + 1;
      onReactorThread &&= r.running;
    });
    r.exposeToThreads("done", () => {
      if (++done === WORKERS) r.stop();
    });
    const workers: Promise<void>[] = [];
    r.callWhenRunning(() => {
      for (let id = 0; id < WORKERS; id++) {
        const channel = r.threadChannel();
        const w = new Worker(WORKER, { workerData: { channel, id, count: COUNT, compiled }, transferList: [channel.port] });
        workers.push(exited(w));
      }
    });
    await r.run();
    await Promise.all(workers);
    expect(outOfOrder).toEqual([]);
    expect(next).toEqual(new Array<number>(WORKERS).fill(COUNT));
    expect(done).toBe(WORKERS);
    expect(onReactorThread).toBe(true);
  }, 60000);
});

describe("callFromThread on the reactor's own thread", () => {
  test("runs in the next iteration, in FIFO order, with its arguments", () => {
    const r = new Reactor();
    const order: unknown[] = [];
    r.callFromThread((a: number) => order.push(a), 1);
    r.callFromThread((a: number, b: number) => order.push(a, b), 2, 3);
    expect(order).toEqual([]);
    r.iterate(0);
    expect(order).toEqual([1, 2, 3]);
    r.close();
  });

  test("a call queued by a call runs an iteration later; a throwing call is logged and the next one runs", () => {
    const records: string[] = [];
    const restore = setLogObservers([(_l, msg) => records.push(msg)]);
    const r = new Reactor();
    try {
      const order: string[] = [];
      r.callFromThread(() => {
        order.push("first");
        r.callFromThread(() => order.push("queued by first"));
      });
      r.callFromThread(() => {
        throw new Error("thrown");
      });
      r.callFromThread(() => order.push("third"));
      r.iterate(0);
      expect(order).toEqual(["first", "third"]);
      r.iterate(0);
      expect(order).toEqual(["first", "third", "queued by first"]);
      expect(records).toEqual(["Unhandled error in a callFromThread call"]);
    } finally {
      restore();
      r.close();
    }
  });

  test("wakes an integrated reactor that sleeps with nothing due", async () => {
    const r = new Reactor({ mode: "integrated" });
    const order: string[] = [];
    setTimeout(() => r.callFromThread(() => {
      order.push("called");
      r.stop();
    }), 5);
    await r.run();
    expect(order).toEqual(["called"]);
  });
});

describe("thread channels", () => {
  test("a ThreadCaller on the same thread works too; an unknown name is logged; an uncloneable argument throws; after shutdown calls are refused", async () => {
    const records: string[] = [];
    const restore = setLogObservers([(_l, msg) => records.push(msg)]);
    try {
      const r = new Reactor();
      const got: unknown[] = [];
      // Stops at the last call's arrival (a fixed 10 ms let a loaded machine stop first);
      // the guard only ends a run whose calls never come.
      r.exposeToThreads("add", (a: number, b: number) => {
        if (got.push(a + b) === 2) r.stop();
      });
      const handle = r.threadChannel();
      const caller = new ThreadCaller(handle);
      r.callWhenRunning(() => {
        caller.callFromThread("add", 2, 3);
        caller.callFromThread("missing");
        expect(() => caller.callFromThread("add", () => 1)).toThrow(/could not be cloned/);
        caller.callFromThread("add", 10, 20);
        r.callLater(10, () => r.stop());
      });
      await r.run();
      expect(got).toEqual([5, 30]);
      expect(records).toEqual(['callFromThread: no function exposed as "missing"']);
      expect(caller.callFromThread("add", 1, 1)).toBe(false);
      caller.close();
      expect(() => r.threadChannel()).toThrow(ReactorNotRestartable);
      expect(() => r.exposeToThreads("late", () => undefined)).toThrow(ReactorNotRestartable);
    } finally {
      restore();
    }
  });

  test("bad handles are refused, naming the field", () => {
    expect(() => new ThreadCaller(null as never)).toThrow(TypeError);
    expect(() => new ThreadCaller({ port: {}, wakeFd: 3, state: new SharedArrayBuffer(8) } as never)).toThrow(/port/);
  });
});
