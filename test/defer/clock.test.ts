/** Clock: a deterministic IReactorTime (Twisted's task.Clock tests). */
import { expectNoFdLeaks } from "../support/fds";
import { AlreadyCalled, AlreadyCancelled, Clock, DelayedCall } from "../../lib/defer";
import { DelayedCall as ReactorDelayedCall } from "../../lib/reactor";

expectNoFdLeaks();

describe("Clock", () => {
  test("starts at 0 and moves only with advance", () => {
    const c = new Clock();
    expect(c.seconds()).toBe(0);
    c.advance(1.5);
    expect(c.seconds()).toBe(1.5);
    c.pump([1, 2, 3]);
    expect(c.seconds()).toBe(7.5);
  });

  test("callLater runs the call when its time comes, with its arguments", () => {
    const c = new Clock();
    const calls: unknown[][] = [];
    const dc = c.callLater(1, (...a: unknown[]) => calls.push(a), "x", 2);
    expect(dc.getTime()).toBe(1);
    c.advance(0.5);
    expect(calls).toEqual([]);
    expect(dc.active()).toBe(true);
    c.advance(0.5);
    expect(calls).toEqual([["x", 2]]);
    expect(dc.active()).toBe(false);
    expect(dc.called).toBe(true);
  });

  test("due calls run in due order, ties in scheduling order", () => {
    const c = new Clock();
    const order: string[] = [];
    c.callLater(2, () => order.push("b"));
    c.callLater(1, () => order.push("a1"));
    c.callLater(1, () => order.push("a2"));
    c.callLater(3, () => order.push("c"));
    c.advance(2);
    expect(order).toEqual(["a1", "a2", "b"]);
    c.advance(10);
    expect(order).toEqual(["a1", "a2", "b", "c"]);
  });

  test("a call scheduled by a call runs in the same advance when it is already due", () => {
    const c = new Clock();
    const order: string[] = [];
    c.callLater(1, () => {
      order.push("first");
      c.callLater(0, () => order.push("second"));
      c.callLater(5, () => order.push("later"));
    });
    c.advance(2);
    expect(order).toEqual(["first", "second"]);
  });

  test("getDelayedCalls lists the active calls", () => {
    const c = new Clock();
    const a = c.callLater(1, () => undefined);
    const b = c.callLater(2, () => undefined);
    expect(c.getDelayedCalls()).toEqual([a, b]);
    a.cancel();
    expect(c.getDelayedCalls()).toEqual([b]);
    c.advance(2);
    expect(c.getDelayedCalls()).toEqual([]);
  });

  test("a cancelled call does not run; cancelling it again raises AlreadyCancelled", () => {
    const c = new Clock();
    const f = jest.fn();
    const dc = c.callLater(1, f);
    dc.cancel();
    expect(dc.cancelled).toBe(true);
    c.advance(2);
    expect(f).not.toHaveBeenCalled();
    expect(() => dc.cancel()).toThrow(AlreadyCancelled);
    expect(() => dc.reset(1)).toThrow(AlreadyCancelled);
    expect(() => dc.delay(1)).toThrow(AlreadyCancelled);
  });

  test("cancelling, resetting or delaying a call that ran raises AlreadyCalled", () => {
    const c = new Clock();
    const dc = c.callLater(1, () => undefined);
    c.advance(1);
    expect(() => dc.cancel()).toThrow(AlreadyCalled);
    expect(() => dc.reset(1)).toThrow(AlreadyCalled);
    expect(() => dc.delay(1)).toThrow(AlreadyCalled);
  });

  test("reset moves the due time to now + seconds, earlier or later", () => {
    const c = new Clock();
    const order: string[] = [];
    const a = c.callLater(5, () => order.push("a"));
    c.callLater(3, () => order.push("b"));
    c.advance(1);
    a.reset(1);
    expect(a.getTime()).toBe(2);
    c.advance(1);
    expect(order).toEqual(["a"]);
    const d = c.callLater(1, () => order.push("d"));
    d.reset(10);
    expect(d.getTime()).toBe(12);
    c.advance(5);
    expect(order).toEqual(["a", "b"]);
    c.advance(5);
    expect(order).toEqual(["a", "b", "d"]);
  });

  test("delay moves the due time by seconds, also backwards", () => {
    const c = new Clock();
    const f = jest.fn();
    const dc = c.callLater(2, f);
    dc.delay(3);
    expect(dc.getTime()).toBe(5);
    dc.delay(-4);
    expect(dc.getTime()).toBe(1);
    c.advance(1);
    expect(f).toHaveBeenCalledTimes(1);
  });

  test("an error thrown by a call propagates out of advance and later calls stay scheduled", () => {
    const c = new Clock();
    const after = jest.fn();
    c.callLater(1, () => {
      throw new RangeError("boom");
    });
    c.callLater(1, after);
    expect(() => c.advance(1)).toThrow(RangeError);
    expect(after).not.toHaveBeenCalled();
    c.advance(0);
    expect(after).toHaveBeenCalledTimes(1);
  });

  test("a reset or delayed call keeps its scheduling place among calls due at the same time", () => {
    const c = new Clock();
    const order: string[] = [];
    const a = c.callLater(1, () => order.push("a"));
    const b = c.callLater(2, () => order.push("b"));
    c.callLater(3, () => order.push("c"));
    b.delay(1);
    a.reset(3);
    expect(c.calls.map((d) => d.getTime())).toEqual([3, 3, 3]);
    c.advance(3);
    expect(order).toEqual(["a", "b", "c"]);
  });

  test("calls lists the active calls in due order", () => {
    const c = new Clock();
    const late = c.callLater(5, () => undefined);
    const early = c.callLater(1, () => undefined);
    const mid = c.callLater(3, () => undefined);
    expect(c.calls).toEqual([early, mid, late]);
    mid.cancel();
    expect(c.calls).toEqual([early, late]);
  });

  test("Clock's calls are the reactor's DelayedCall class, exported once from the package", () => {
    const dc = new Clock().callLater(1, () => undefined);
    expect(dc).toBeInstanceOf(DelayedCall);
    expect(ReactorDelayedCall).toBe(DelayedCall);
    // Required here, not imported: the package index pulls in every layer, and only this
    // assertion needs them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fdreactor = require("../../lib") as typeof import("../../lib");
    expect(fdreactor.DelayedCall).toBe(DelayedCall);
  });

  test("wrong arguments are typed errors naming the argument", () => {
    const c = new Clock();
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.advance("1" as unknown as number)).toThrow(/seconds/);
    expect(() => c.callLater(1, 5 as unknown as () => void)).toThrow(/f must be/);
    expect(() => c.callLater(NaN, () => undefined)).toThrow(/delay/);
  });
});
