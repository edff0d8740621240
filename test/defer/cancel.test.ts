/** cancel(): canceller, CancelledError, and cancelling what a Deferred waits on (Twisted's DeferredCancellerTests). */
import { expectNoFdLeaks } from "../support/fds";
import { AlreadyCalledError, CancelledError, Deferred, Failure } from "../../lib/defer";
import { GenericError, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

/** A Deferred with callbacks recording what they get. */
function watched<T>(canceller?: (d: Deferred<T>) => void): { d: Deferred<T>; cb: unknown[]; eb: Failure[] } {
  const d = new Deferred<T>(canceller);
  const cb: unknown[] = [];
  const eb: Failure[] = [];
  d.addCallbacks(
    (r) => {
      cb.push(r);
      return r;
    },
    (f) => {
      eb.push(f);
    },
  );
  return { d, cb, eb };
}

describe("cancel", () => {
  test("without a canceller, errbacks with CancelledError and never callbacks", () => {
    const { d, cb, eb } = watched<void>();
    d.cancel();
    expect(eb).toHaveLength(1);
    expect(eb[0].type).toBe(CancelledError);
    expect(cb).toEqual([]);
  });

  test("without a canceller, swallows one later callback, then raises AlreadyCalledError", () => {
    const { d } = watched<void>();
    d.cancel();
    d.callback(undefined);
    expect(() => d.callback(undefined)).toThrow(AlreadyCalledError);
    expect(() => d.errback(new Error())).toThrow(AlreadyCalledError);
  });

  test("without a canceller, swallows one later errback, then raises AlreadyCalledError", () => {
    const { d, eb } = watched<void>();
    d.cancel();
    d.errback(new GenericError());
    expect(eb[0].type).toBe(CancelledError);
    expect(() => d.callback(undefined)).toThrow(AlreadyCalledError);
    expect(() => d.errback(new Error())).toThrow(AlreadyCalledError);
  });

  test("cancelling again after cancel and a swallowed callback changes nothing", () => {
    const { d, eb } = watched<void>();
    d.cancel();
    const current = eb[0];
    d.callback(undefined);
    d.cancel();
    expect(eb).toEqual([current]);
  });

  test("cancelling many times gives one CancelledError", () => {
    const { d, eb } = watched<void>();
    d.cancel();
    d.cancel();
    d.cancel();
    expect(eb).toHaveLength(1);
    expect(eb[0].type).toBe(CancelledError);
  });

  test("a canceller that does not fire runs once and the Deferred gets CancelledError", () => {
    let count = 0;
    const { d, eb } = watched<void>(() => {
      count++;
    });
    d.cancel();
    d.cancel();
    expect(count).toBe(1);
    expect(eb).toHaveLength(1);
    expect(eb[0].type).toBe(CancelledError);
  });

  test("after a canceller that did not fire, later callbacks and errbacks are not swallowed", () => {
    const { d } = watched<void>(() => undefined);
    d.cancel();
    expect(() => d.callback(undefined)).toThrow(AlreadyCalledError);
    expect(() => d.errback(new Error())).toThrow(AlreadyCalledError);
  });

  test("the canceller is given the Deferred being cancelled", () => {
    let given: unknown = null;
    const { d } = watched<void>((x) => {
      given = x;
    });
    d.cancel();
    expect(given).toBe(d);
  });

  test("cancelling after a callback does nothing, the canceller is not called", () => {
    let count = 0;
    const { d, cb, eb } = watched<string>((x) => {
      count++;
      x.errback(new GenericError());
    });
    d.callback("biff!");
    d.cancel();
    expect(count).toBe(0);
    expect(eb).toEqual([]);
    expect(cb).toEqual(["biff!"]);
  });

  test("cancelling after an errback does nothing", () => {
    let count = 0;
    const { d, cb, eb } = watched<void>((x) => {
      count++;
      x.errback(new GenericError());
    });
    d.errback(new GenericError());
    d.cancel();
    expect(count).toBe(0);
    expect(eb).toHaveLength(1);
    expect(eb[0].type).toBe(GenericError);
    expect(cb).toEqual([]);
  });

  test("a canceller that errbacks decides the failure", () => {
    const { d, eb } = watched<void>((x) => x.errback(new GenericError()));
    d.cancel();
    expect(eb[0].type).toBe(GenericError);
  });

  test("a canceller that callbacks decides the result", () => {
    const { d, cb, eb } = watched<string>((x) => x.callback("hello!"));
    d.cancel();
    expect(cb).toEqual(["hello!"]);
    expect(eb).toEqual([]);
  });

  test("cancelling a Deferred paused on an inner Deferred cancels the inner one", () => {
    let innerCancels = 0;
    const b = new Deferred<void>(() => {
      innerCancels++;
    });
    const a = new Deferred<void>(() => {
      throw new Error("the outer canceller must not run");
    });
    a.callback(undefined);
    a.addCallback(() => b);
    a.cancel();
    const eb: Failure[] = [];
    a.addErrback((f) => {
      eb.push(f);
    });
    expect(innerCancels).toBe(1);
    expect(eb[0].type).toBe(CancelledError);
  });

  test("a canceller that throws propagates out of cancel and leaves the Deferred unfired", () => {
    const d = new Deferred<void>(() => {
      throw new RangeError("canceller broke");
    });
    expect(() => d.cancel()).toThrow(RangeError);
    expect(d.called).toBe(false);
  });

  test("the canceller is released once the Deferred has fired", () => {
    const d = new Deferred<number>(() => undefined);
    d.callback(1);
    expect((d as unknown as { _canceller: unknown })._canceller).toBeNull();
    expect(successResultOf(d)).toBe(1);
  });

  test("CancelledError is a typed error carrying a message", () => {
    const d = new Deferred<void>();
    d.cancel();
    const f = failureResultOf(d, CancelledError);
    expect(f.value).toBeInstanceOf(CancelledError);
    expect((f.value as Error).name).toBe("CancelledError");
  });
});
