/** addTimeout(seconds, clock, onTimeout?): Twisted's DeferredAddTimeoutTests, on a deterministic Clock. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Clock, Deferred, Failure, TimeoutError } from "../../lib/defer";
import { assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

const overridden = (): string => "OVERRIDDEN";

describe("addTimeout", () => {
  test("returns the Deferred itself so the chain goes on", () => {
    const d = new Deferred<void>();
    expect(d.addTimeout(5, new Clock())).toBe(d);
    d.addCallback(() => "done");
    d.callback(undefined);
    expect(successResultOf(d)).toBe("done");
  });

  test.each([[undefined], [overridden]])("a result before the timeout is kept and nothing is cancelled later (onTimeout %p)", (onTimeout) => {
    const clock = new Clock();
    const d = new Deferred<string>();
    d.addTimeout(10, clock, onTimeout);
    const inner = new Deferred<void>();
    let got: string | null = null;
    d.addCallback((r) => {
      got = r;
      return inner;
    });
    d.callback("results");
    expect(got).toBe("results");
    clock.advance(15);
    assertNoResult(inner);
    expect(clock.getDelayedCalls()).toEqual([]);
  });

  test.each([[undefined], [overridden]])("a failure before the timeout is kept and nothing is cancelled later (onTimeout %p)", (onTimeout) => {
    const clock = new Clock();
    const d = new Deferred<void>();
    d.addTimeout(10, clock, onTimeout);
    const inner = new Deferred<void>();
    const error = new RangeError("fail");
    let got: Failure | null = null;
    d.addErrback((f) => {
      got = f;
      return inner;
    });
    d.errback(error);
    expect((got as unknown as Failure).value).toBe(error);
    clock.advance(15);
    assertNoResult(inner);
  });

  test("with no result in time, fails with TimeoutError", () => {
    const clock = new Clock();
    const d = new Deferred<void>();
    d.addTimeout(10, clock);
    assertNoResult(d);
    clock.advance(9.999);
    assertNoResult(d);
    clock.advance(0.001);
    const f = failureResultOf(d, TimeoutError);
    expect((f.value as TimeoutError).seconds).toBe(10);
    expect((f.value as TimeoutError).cause).toBeInstanceOf(CancelledError);
  });

  test("with no result in time, an onTimeout handler's return value becomes the result", () => {
    const clock = new Clock();
    const d = new Deferred<void>();
    const calls: unknown[][] = [];
    d.addTimeout(10, clock, (r, s) => {
      calls.push([r instanceof Failure ? (r.value as Error).name : r, s]);
      return "OVERRIDDEN";
    });
    clock.advance(15);
    expect(successResultOf(d)).toBe("OVERRIDDEN");
    expect(calls).toEqual([["CancelledError", 10]]);
  });

  test("a canceller that callbacks on timeout gives its value, not a TimeoutError", () => {
    const clock = new Clock();
    const d = new Deferred<string>((c) => c.callback("I was cancelled!"));
    d.addTimeout(10, clock);
    clock.advance(15);
    expect(successResultOf(d)).toBe("I was cancelled!");
  });

  test("a canceller that errbacks with another error on timeout keeps that error", () => {
    const clock = new Clock();
    const error = new RangeError("what!");
    const d = new Deferred<void>((c) => c.errback(error));
    d.addTimeout(10, clock);
    clock.advance(15);
    expect(failureResultOf(d, RangeError).value).toBe(error);
  });

  test("an onTimeout handler also sees a canceller's own failure", () => {
    const clock = new Clock();
    const d = new Deferred<void>((c) => c.errback(new RangeError("what!")));
    d.addTimeout(10, clock, overridden);
    clock.advance(15);
    expect(successResultOf(d)).toBe("OVERRIDDEN");
  });

  test.each([[undefined], [overridden]])("a manual cancel before the timeout keeps CancelledError and cancels the timer (onTimeout %p)", (onTimeout) => {
    const clock = new Clock();
    const d = new Deferred<void>();
    d.addTimeout(10, clock, onTimeout);
    const inner = new Deferred<void>();
    let got: Failure | null = null;
    d.addErrback((f) => {
      got = f;
      return inner;
    });
    d.cancel();
    expect((got as unknown as Failure).type).toBe(CancelledError);
    expect(clock.getDelayedCalls()).toEqual([]);
    clock.advance(15);
    assertNoResult(inner);
  });

  test("an errback added before the timeout sees CancelledError; passing it on gives TimeoutError", () => {
    const clock = new Clock();
    const d = new Deferred<void>();
    let seen: Failure | null = null;
    d.addErrback((f) => {
      seen = f;
      return f;
    });
    d.addTimeout(10, clock);
    clock.advance(15);
    expect((seen as unknown as Failure).value).toBeInstanceOf(CancelledError);
    failureResultOf(d, TimeoutError);
  });

  test("an errback added before the timeout that suppresses the cancellation lets the Deferred succeed", () => {
    const clock = new Clock();
    const d = new Deferred<void>();
    d.addErrback((f) => {
      f.trap(CancelledError);
    });
    d.addTimeout(10, clock);
    clock.advance(15);
    expect(successResultOf(d)).toBeUndefined();
  });

  test("with an onTimeout handler, it runs even when an earlier errback suppressed the cancellation", () => {
    const clock = new Clock();
    const d = new Deferred<void>();
    d.addErrback(() => undefined);
    d.addTimeout(10, clock, overridden);
    clock.advance(15);
    expect(successResultOf(d)).toBe("OVERRIDDEN");
  });

  test("a callback added before the timeout runs when a canceller resumes the chain", () => {
    const clock = new Clock();
    const d = new Deferred<string>((x) => x.callback("success"));
    let seen: string | null = null;
    d.addCallback((v) => {
      seen = v;
      return v;
    });
    d.addTimeout(10, clock);
    clock.advance(15);
    expect(seen).toBe("success");
    expect(successResultOf(d)).toBe("success");
  });

  test("a timeout cancels the inner Deferred the timed-out Deferred waits on", () => {
    const clock = new Clock();
    const inner = new Deferred<string>();
    const d = new Deferred<void>();
    d.addCallback(() => inner);
    d.addTimeout(3, clock);
    d.callback(undefined);
    clock.advance(3);
    expect(inner.called).toBe(true);
    expect(inner.result).toBeNull(); // its CancelledError moved on to d
    failureResultOf(d, TimeoutError);
  });

  test("wrong arguments are TypeErrors naming the argument", () => {
    const d = new Deferred<void>();
    expect(() => d.addTimeout("1" as unknown as number, new Clock())).toThrow(/seconds/);
    expect(() => d.addTimeout(1, {} as Clock)).toThrow(/clock/);
  });
});
