import { expectNoFdLeaks } from "../support/fds";
import { setLogObservers } from "../../lib/log";
import { AlreadyCalled, AlreadyCancelled, Clock } from "../../lib/defer";
import { Reactor, DelayedCall, Clock as ReexportedClock } from "../../lib/reactor";
import { configTable, makeReactor } from "./helpers";

expectNoFdLeaks();

describe.each(configTable())("timers (%s)", (_label, config) => {
  test("calls run in due order, calls due together in scheduling order", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    const calls = ([["c", 0.03], ["a1", 0.01], ["b", 0.02], ["a2", 0.01], ["now", 0]] as const).map(([name, delay]) => ({ name, call: r.callLater(delay, () => order.push(name)) }));
    r.callLater(0.04, () => r.stop());
    // Each call's due time is read from the clock when it is scheduled: on a loaded machine the
    // clock can move 10 ms between two lines, so the expected order is the one the due times give
    // (ties in scheduling order); on an idle machine it is now, a1, a2, b, c.
    const expected = calls
      .map((c, i) => ({ ...c, due: c.call.getTime(), i }))
      .sort((x, y) => x.due - y.due || x.i - y.i)
      .map((c) => c.name);
    if (calls[0].call.getTime() - calls[4].call.getTime() > 0.029) expect(expected).toEqual(["now", "a1", "a2", "b", "c"]);
    await r.run();
    expect(order).toEqual(expected);
  });

  test("a cancelled call never runs; reset and delay move calls", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    const cancelled = r.callLater(0.01, () => order.push("cancelled"));
    const late = r.callLater(0.005, () => order.push("delayed"));
    const early = r.callLater(10, () => order.push("reset"));
    r.callLater(0.02, () => order.push("plain"));
    cancelled.cancel();
    late.delay(0.02); // now due at ~0.025
    early.reset(0); // now due first
    r.callLater(0.04, () => r.stop());
    await r.run();
    expect(order).toEqual(["reset", "plain", "delayed"]);
  });

  test("arguments are passed to the call", async () => {
    const r = makeReactor(config);
    const got: unknown[] = [];
    r.callLater(0, (a: number, b: string) => got.push(a, b), 7, "x");
    r.callLater(0.001, () => r.stop());
    await r.run();
    expect(got).toEqual([7, "x"]);
  });

  test("a call that throws is logged with its stack and later calls still run", async () => {
    const records: [string, string, unknown][] = [];
    const restore = setLogObservers([(level, msg, err) => records.push([level, msg, err])]);
    try {
      const r = makeReactor(config);
      const order: string[] = [];
      r.callLater(0, function boom() {
        throw new Error("boom");
      });
      r.callLater(0.001, () => order.push("after"));
      r.callLater(0.002, () => r.stop());
      await r.run();
      expect(order).toEqual(["after"]);
      expect(records).toHaveLength(1);
      expect(records[0][0]).toBe("error");
      expect(records[0][1]).toContain("boom");
      expect((records[0][2] as Error).message).toBe("boom");
      expect((records[0][2] as Error).stack).toContain("timers.test.ts");
    } finally {
      restore();
    }
  });
});

describe("DelayedCall", () => {
  let r: Reactor;
  beforeEach(() => {
    r = new Reactor();
  });
  afterEach(() => r.close());

  test("cancel after it ran throws AlreadyCalled; reset and delay too", () => {
    const c = r.callLater(0, () => undefined);
    r.iterate(0);
    expect(c.called).toBe(true);
    expect(c.active()).toBe(false);
    expect(() => c.cancel()).toThrow(AlreadyCalled);
    expect(() => c.reset(1)).toThrow(AlreadyCalled);
    expect(() => c.delay(1)).toThrow(AlreadyCalled);
  });

  test("cancel twice throws AlreadyCancelled; reset and delay too", () => {
    const c = r.callLater(1, () => undefined);
    c.cancel();
    expect(c.cancelled).toBe(true);
    expect(c.active()).toBe(false);
    expect(() => c.cancel()).toThrow(AlreadyCancelled);
    expect(() => c.reset(1)).toThrow(AlreadyCancelled);
    expect(() => c.delay(1)).toThrow(AlreadyCancelled);
  });

  test("getTime is the due time; reset counts from now and delay from the old time", () => {
    const before = r.seconds();
    const c = r.callLater(5, () => undefined);
    const after = r.seconds();
    expect(c.getTime()).toBeGreaterThanOrEqual(before + 5);
    expect(c.getTime()).toBeLessThanOrEqual(after + 5);
    const t = c.getTime();
    c.delay(2);
    expect(c.getTime()).toBe(t + 2);
    c.delay(-3);
    expect(c.getTime()).toBe(t - 1);
    const b2 = r.seconds();
    c.reset(100);
    expect(c.getTime()).toBeGreaterThanOrEqual(b2 + 100);
  });

  test("getDelayedCalls lists exactly the active calls", () => {
    const a = r.callLater(1, () => undefined);
    const b = r.callLater(2, () => undefined);
    const c = r.callLater(0, () => undefined);
    expect(new Set(r.getDelayedCalls())).toEqual(new Set([a, b, c]));
    b.cancel();
    r.iterate(0);
    expect(r.getDelayedCalls()).toEqual([a]);
    expect(r.getDelayedCalls()[0]).toBeInstanceOf(DelayedCall);
  });

  test("a call scheduled for now by a call runs in the next iteration, not the same one", () => {
    const order: number[] = [];
    r.callLater(0, () => {
      order.push(1);
      r.callLater(0, () => order.push(2));
    });
    r.iterate(0);
    expect(order).toEqual([1]);
    r.iterate(0);
    expect(order).toEqual([1, 2]);
  });

  test("10,000 calls scheduled in random order, a third cancelled, run in due order", () => {
    const ran: number[] = [];
    const calls: DelayedCall[] = [];
    let seed = 12345;
    for (let i = 0; i < 10000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      calls.push(r.callLater((seed % 1000) / 1e6, () => ran.push(i)));
    }
    const kept: number[] = [];
    calls.forEach((c, i) => (i % 3 === 0 ? c.cancel() : kept.push(i)));
    const due = calls.map((c) => c.getTime());
    for (let i = 0; i < 100 && r.getDelayedCalls().length > 0; i++) r.iterate(0.002);
    expect(r.getDelayedCalls()).toHaveLength(0);
    expect([...ran].sort((a, b) => a - b)).toEqual(kept);
    for (let k = 1; k < ran.length; k++) {
      const ok = due[ran[k]] > due[ran[k - 1]] || (due[ran[k]] === due[ran[k - 1]] && ran[k] > ran[k - 1]);
      expect(ok).toBe(true);
    }
  });

  test("cancelling most calls (the heap is compacted) leaves exactly the others, still in due order", () => {
    const ran: number[] = [];
    const calls: DelayedCall[] = [];
    for (let i = 0; i < 1000; i++) calls.push(r.callLater(((i * 7919) % 1000) / 1e6, () => ran.push(i)));
    const kept = [3, 250, 500, 999];
    calls.forEach((c, i) => {
      if (!kept.includes(i)) c.cancel();
    });
    expect(new Set(r.getDelayedCalls())).toEqual(new Set(kept.map((i) => calls[i])));
    for (let i = 0; i < 100 && r.getDelayedCalls().length > 0; i++) r.iterate(0.002);
    const byDue = [...kept].sort((a, b) => calls[a].getTime() - calls[b].getTime());
    expect(ran).toEqual(byDue);
  });

  test("bad arguments are refused, naming the argument", () => {
    expect(() => r.callLater(-1, () => undefined)).toThrow(RangeError);
    expect(() => r.callLater(NaN, () => undefined)).toThrow(/delay/);
    expect(() => r.callLater("1" as unknown as number, () => undefined)).toThrow(TypeError);
    expect(() => r.callLater(1, 5 as unknown as () => void)).toThrow(/callable/);
    const c = r.callLater(1, () => undefined);
    expect(() => c.reset(Infinity)).toThrow(/seconds/);
  });

  test("seconds() never goes backwards", () => {
    let last = r.seconds();
    for (let i = 0; i < 1000; i++) {
      const now = r.seconds();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(60);
  });
});

test("Clock is lib/defer's deterministic clock, re-exported", () => {
  expect(ReexportedClock).toBe(Clock);
  const clock = new ReexportedClock();
  const order: string[] = [];
  clock.callLater(2, () => order.push("b"));
  clock.callLater(1, () => order.push("a"));
  clock.advance(2);
  expect(order).toEqual(["a", "b"]);
});
