/** LoopingCall on a deterministic Clock (Twisted's LoopTests in test_task.py). */
import { expectNoFdLeaks } from "../support/fds";
import { Clock, Deferred, InvalidStateError, LoopingCall } from "../../lib/defer";
import { assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

/** A LoopingCall on `clock` recording the clock's time at each call. */
function timed(clock: Clock, f?: () => unknown): { lc: LoopingCall; times: number[] } {
  const times: number[] = [];
  const lc = new LoopingCall(() => {
    times.push(clock.seconds());
    return f?.();
  });
  lc.clock = clock;
  return { lc, times };
}

describe("LoopingCall", () => {
  test("calls at once and then every interval, with its arguments", () => {
    const clock = new Clock();
    const calls: unknown[][] = [];
    const lc = new LoopingCall((...a: unknown[]) => calls.push([clock.seconds(), ...a]), "a", "b");
    lc.clock = clock;
    const d = lc.start(0.1);
    expect(calls).toEqual([[0, "a", "b"]]);
    clock.pump([0.1, 0.1, 0.1]);
    expect(calls.map((c) => c[0])).toEqual([0, 0.1, 0.2, 0.30000000000000004]);
    lc.stop();
    expect(successResultOf(d)).toBe(lc);
    expect(clock.getDelayedCalls()).toEqual([]);
  });

  test("start with now=false makes the first call after one interval", () => {
    const clock = new Clock();
    const { lc, times } = timed(clock);
    lc.start(5, false);
    expect(times).toEqual([]);
    clock.advance(5);
    expect(times).toEqual([5]);
    lc.stop();
  });

  test("stop before a delayed start fires the Deferred and leaves nothing scheduled", () => {
    const clock = new Clock();
    const { lc, times } = timed(clock);
    const d = lc.start(10, false);
    lc.stop();
    expect(successResultOf(d)).toBe(lc);
    expect(times).toEqual([]);
    expect(clock.getDelayedCalls()).toEqual([]);
    expect(lc.running).toBe(false);
  });

  test("a call stopping the loop fires the Deferred after that call", () => {
    const clock = new Clock();
    let n = 0;
    const lc = new LoopingCall(() => {
      n++;
      if (n === 3) lc.stop();
    });
    lc.clock = clock;
    const d = lc.start(1);
    clock.pump([1, 1, 1, 1]);
    expect(n).toBe(3);
    expect(successResultOf(d)).toBe(lc);
  });

  test("interval 0 with now: stop at once fires the Deferred", () => {
    const clock = new Clock();
    const lc = new LoopingCall(() => undefined);
    lc.clock = clock;
    const d = lc.start(0);
    lc.stop();
    expect(successResultOf(d)).toBe(lc);
  });

  test("a negative interval is a RangeError; starting twice or stopping when stopped throws", () => {
    const clock = new Clock();
    const lc = new LoopingCall(() => undefined);
    lc.clock = clock;
    expect(() => lc.start(-1)).toThrow(RangeError);
    lc.start(1);
    expect(() => lc.start(1)).toThrow(InvalidStateError);
    lc.stop();
    expect(() => lc.stop()).toThrow(InvalidStateError);
  });

  test("a call that throws stops the loop and fails its Deferred with the error", () => {
    const clock = new Clock();
    const lc = new LoopingCall(() => {
      throw new RangeError("boom");
    });
    lc.clock = clock;
    const d = lc.start(0.1);
    expect(failureResultOf(d, RangeError).getErrorMessage()).toBe("boom");
    expect(lc.running).toBe(false);
    expect(clock.getDelayedCalls()).toEqual([]);
  });

  test("a call that stops the loop and then throws fails the Deferred", () => {
    const clock = new Clock();
    const lc = new LoopingCall(() => {
      lc.stop();
      throw new RangeError("after stop");
    });
    lc.clock = clock;
    const d = lc.start(0.1);
    failureResultOf(d, RangeError);
  });

  test("a call returning a Deferred delays the next call until it fires, skipping missed intervals", () => {
    const clock = new Clock();
    let gate: Deferred<void> | null = null;
    const { lc, times } = timed(clock, () => {
      gate = new Deferred<void>();
      return gate;
    });
    lc.start(1);
    expect(times).toEqual([0]);
    clock.advance(3.5);
    expect(times).toEqual([0]); // still waiting on the first call's Deferred
    (gate as unknown as Deferred<void>).callback(undefined);
    clock.advance(0.4);
    expect(times).toEqual([0]);
    clock.advance(0.1); // next interval boundary after 3.5 is 4
    expect(times).toEqual([0, 4]);
    (gate as unknown as Deferred<void>).callback(undefined);
    lc.stop();
  });

  test("a call returning a failing Deferred fails the loop's Deferred", () => {
    const clock = new Clock();
    const gate = new Deferred<void>();
    const lc = new LoopingCall(() => gate);
    lc.clock = clock;
    const d = lc.start(1);
    assertNoResult(d);
    gate.errback(new RangeError("later"));
    failureResultOf(d, RangeError);
    expect(lc.running).toBe(false);
  });

  test("stop while a call's Deferred is pending fires the loop's Deferred when that one fires", () => {
    const clock = new Clock();
    const gate = new Deferred<void>();
    const lc = new LoopingCall(() => gate);
    lc.clock = clock;
    const d = lc.start(1);
    lc.stop();
    assertNoResult(d);
    gate.callback(undefined);
    expect(successResultOf(d)).toBe(lc);
  });

  test("a slow clock skips the intervals it missed and keeps to the interval grid", () => {
    const clock = new Clock();
    const { lc, times } = timed(clock);
    lc.start(1);
    clock.advance(1);
    clock.advance(2.5); // the call due at 2 runs at 3.5, the next is due at 4
    clock.advance(0.5);
    expect(times).toEqual([0, 1, 3.5, 4]);
    lc.stop();
  });

  test("reset restarts the interval from now", () => {
    const clock = new Clock();
    const { lc, times } = timed(clock);
    lc.start(2, false);
    clock.advance(1);
    lc.reset();
    clock.advance(1);
    expect(times).toEqual([]);
    clock.advance(1);
    expect(times).toEqual([3]);
    lc.stop();
  });

  test("the deferred property holds the start Deferred while running", () => {
    const clock = new Clock();
    const lc = new LoopingCall(() => undefined);
    lc.clock = clock;
    expect(lc.deferred).toBeNull();
    const d = lc.start(1);
    expect(lc.deferred).toBe(d);
    lc.stop();
    expect(lc.deferred).toBeNull();
  });

  test("without a clock, start is a TypeError; LoopingCall.defaultClock supplies one", () => {
    const lc = new LoopingCall(() => undefined);
    expect(() => lc.start(1)).toThrow(/clock/);
    const clock = new Clock();
    LoopingCall.defaultClock = clock;
    try {
      const calls: number[] = [];
      const lc2 = new LoopingCall(() => calls.push(clock.seconds()));
      lc2.start(1);
      clock.advance(1);
      expect(calls).toEqual([0, 1]);
      lc2.stop();
    } finally {
      LoopingCall.defaultClock = null;
    }
  });
});

describe("LoopingCall.withCount", () => {
  test("counts 1 per interval normally and the skipped intervals after a stall", () => {
    const clock = new Clock();
    const counts: number[] = [];
    const lc = LoopingCall.withCount((n) => counts.push(n));
    lc.clock = clock;
    lc.start(1);
    expect(counts).toEqual([1]);
    clock.advance(1);
    expect(counts).toEqual([1, 1]);
    clock.advance(3);
    expect(counts).toEqual([1, 1, 3]);
    clock.advance(1);
    expect(counts).toEqual([1, 1, 3, 1]);
    lc.stop();
  });

  test("counts only whole intervals: less than two intervals between calls counts 1", () => {
    const clock = new Clock();
    const counts: number[] = [];
    const lc = LoopingCall.withCount((n) => counts.push(n));
    lc.clock = clock;
    lc.start(2, false);
    clock.advance(2);
    expect(counts).toEqual([1]);
    clock.advance(3); // to 5: the call due at 4 runs late, one interval after the last
    expect(counts).toEqual([1, 1]);
    clock.advance(1); // 6 is the next boundary
    expect(counts).toEqual([1, 1, 1]);
    lc.stop();
  });

  test("with a delayed start the first count is the intervals since start", () => {
    const clock = new Clock();
    const counts: number[] = [];
    const gate = new Deferred<void>();
    const lc = LoopingCall.withCount((n) => {
      counts.push(n);
    });
    lc.clock = clock;
    lc.start(1, false);
    clock.advance(1);
    expect(counts).toEqual([1]);
    gate.callback(undefined);
    lc.stop();
  });

  test("interval 0 always counts 1", () => {
    const clock = new Clock();
    const counts: number[] = [];
    const lc = LoopingCall.withCount((n) => {
      counts.push(n);
      if (counts.length === 3) lc.stop();
    });
    lc.clock = clock;
    const d = lc.start(0);
    clock.advance(0);
    clock.advance(0);
    expect(counts).toEqual([1, 1, 1]);
    expect(successResultOf(d)).toBe(lc);
  });

  test("a stall longer than the interval, right on a boundary, counts the whole intervals", () => {
    const clock = new Clock();
    const counts: number[] = [];
    const gate: Deferred<void>[] = [];
    const lc = LoopingCall.withCount((n) => {
      counts.push(n);
      const g = new Deferred<void>();
      gate.push(g);
      return g;
    });
    lc.clock = clock;
    lc.start(1);
    clock.advance(5); // first call still pending
    gate[0].callback(undefined); // next boundary after 5 is 6
    clock.advance(1);
    expect(counts).toEqual([1, 6]);
    gate[1].callback(undefined);
    lc.stop();
  });
});
