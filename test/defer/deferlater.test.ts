/** deferLater(clock, seconds, f, ...args). */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Clock, deferLater } from "../../lib/defer";
import { assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("deferLater", () => {
  test("fires after the delay with the function's result, called with the arguments", () => {
    const clock = new Clock();
    const calls: unknown[][] = [];
    const d = deferLater(clock, 3, (a: string, b: number) => {
      calls.push([clock.seconds(), a, b]);
      return "result";
    }, "x", 1);
    clock.advance(2);
    assertNoResult(d);
    expect(calls).toEqual([]);
    clock.advance(1);
    expect(calls).toEqual([[3, "x", 1]]);
    expect(successResultOf(d)).toBe("result");
  });

  test("without a function fires with undefined", () => {
    const clock = new Clock();
    const d = deferLater(clock, 1);
    clock.advance(1);
    expect(successResultOf(d)).toBeUndefined();
  });

  test("a function that throws fails the Deferred", () => {
    const clock = new Clock();
    const d = deferLater(clock, 1, () => {
      throw new RangeError("late");
    });
    clock.advance(1);
    failureResultOf(d, RangeError);
  });

  test("cancelling before the delay unschedules the call and fails with CancelledError", () => {
    const clock = new Clock();
    const f = jest.fn();
    const d = deferLater(clock, 1, f);
    d.cancel();
    failureResultOf(d, CancelledError);
    expect(clock.getDelayedCalls()).toEqual([]);
    clock.advance(2);
    expect(f).not.toHaveBeenCalled();
  });

  test("wrong arguments are TypeErrors naming the argument", () => {
    expect(() => deferLater({} as Clock, 1)).toThrow(/clock/);
    expect(() => deferLater(new Clock(), "1" as unknown as number)).toThrow(/seconds/);
  });
});
