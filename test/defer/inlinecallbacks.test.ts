/** inlineCallbacks: generators yielding Deferreds, Promises or values. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Clock, Deferred, deferLater, fail, inlineCallbacks, succeed } from "../../lib/defer";
import { GenericError, assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("inlineCallbacks", () => {
  test("yielding fired Deferreds runs synchronously and the return value is the result", () => {
    const f = inlineCallbacks(function* () {
      const a: number = yield succeed(1);
      const b: number = yield succeed(2);
      return a + b;
    });
    expect(successResultOf(f())).toBe(3);
  });

  test("resumes when a yielded Deferred fires later, in order", () => {
    const order: string[] = [];
    const d1 = new Deferred<string>();
    const d2 = new Deferred<string>();
    const f = inlineCallbacks(function* () {
      order.push("start");
      const a: string = yield d1;
      order.push(`got ${a}`);
      const b: string = yield d2;
      order.push(`got ${b}`);
      return `${a}${b}`;
    });
    const d = f();
    expect(order).toEqual(["start"]);
    assertNoResult(d);
    d1.callback("x");
    expect(order).toEqual(["start", "got x"]);
    d2.callback("y");
    expect(order).toEqual(["start", "got x", "got y"]);
    expect(successResultOf(d)).toBe("xy");
  });

  test("a yielded plain value is sent straight back", () => {
    const f = inlineCallbacks(function* () {
      const v: number = yield 41;
      return v + 1;
    });
    expect(successResultOf(f())).toBe(42);
  });

  test("a yielded Promise is waited for", async () => {
    const f = inlineCallbacks(function* () {
      const v: string = yield Promise.resolve("p");
      return v.toUpperCase();
    });
    expect(await f()).toBe("P");
  });

  test("an error of a yielded Deferred is thrown in at the yield and may be caught", () => {
    const e = new GenericError("inner");
    const f = inlineCallbacks(function* () {
      try {
        yield fail(e);
      } catch (x) {
        return x === e ? "caught the original" : "caught something else";
      }
      return "not caught";
    });
    expect(successResultOf(f())).toBe("caught the original");
  });

  test("a rejected Promise is thrown in at the yield", async () => {
    const f = inlineCallbacks(function* () {
      try {
        yield Promise.reject(new RangeError("rej"));
      } catch (x) {
        return (x as Error).message;
      }
      return "no";
    });
    expect(await f()).toBe("rej");
  });

  test("an uncaught error fails the Deferred with that same error", () => {
    const e = new GenericError("out");
    const f = inlineCallbacks(function* () {
      yield succeed(1);
      throw e;
    });
    expect(failureResultOf(f(), GenericError).value).toBe(e);
  });

  test("an error before the first yield fails the Deferred rather than throwing", () => {
    const f = inlineCallbacks(function* (): Generator<unknown, void, any> {
      throw new RangeError("early");
    });
    failureResultOf(f(), RangeError);
  });

  test("arguments and this are passed to the generator", () => {
    const obj = {
      base: 10,
      add: inlineCallbacks(function* (this: { base: number }, x: number, y: number) {
        const z: number = yield succeed(y);
        return this.base + x + z;
      }),
    };
    expect(successResultOf(obj.add(1, 2))).toBe(13);
  });

  test("wrapping a function that does not make a generator throws a TypeError when called", () => {
    const f = inlineCallbacks((() => 5) as unknown as () => Generator<unknown, number, any>);
    expect(() => f()).toThrow(/requires anonymous to produce a generator|requires .* to produce a generator/);
    expect(() => inlineCallbacks(5 as unknown as () => Generator<unknown, number, any>)).toThrow(TypeError);
  });

  test("the yielded Deferred's result is consumed (it becomes null), as in Twisted", () => {
    const inner = succeed("v");
    const f = inlineCallbacks(function* () {
      yield inner;
    });
    f();
    expect(inner.result).toBeNull();
  });

  test("a failing yielded Deferred caught by the generator is not left unhandled", () => {
    const inner = fail(new RangeError("handled"));
    const f = inlineCallbacks(function* () {
      try {
        yield inner;
      } catch {
        /* handled */
      }
    });
    f();
    expect(inner.result).toBeNull();
  });

  test("returning a Deferred from the generator chains it", () => {
    const later = new Deferred<number>();
    const f = inlineCallbacks(function* () {
      yield succeed(0);
      return later;
    });
    const d = f();
    assertNoResult(d);
    later.callback(8);
    expect(successResultOf(d)).toBe(8);
  });

  test("inlineCallbacks functions compose", () => {
    const clock = new Clock();
    const inner = inlineCallbacks(function* (n: number) {
      yield deferLater(clock, 1);
      return n * 2;
    });
    const outer = inlineCallbacks(function* () {
      const a: number = yield inner(1);
      const b: number = yield inner(a);
      return [a, b];
    });
    const d = outer();
    clock.advance(1);
    assertNoResult(d);
    clock.advance(1);
    expect(successResultOf(d)).toEqual([2, 4]);
  });

  test("10,000 yields of fired Deferreds do not grow the stack", () => {
    const f = inlineCallbacks(function* () {
      let total = 0;
      for (let i = 0; i < 10000; i++) total += (yield succeed(1)) as number;
      return total;
    });
    expect(successResultOf(f())).toBe(10000);
  });

  test("10,000 yields of Deferreds fired later do not grow the stack", () => {
    const pending: Deferred<number>[] = [];
    const f = inlineCallbacks(function* () {
      let total = 0;
      for (let i = 0; i < 10000; i++) {
        const d = new Deferred<number>();
        pending.push(d);
        total += (yield d) as number;
      }
      return total;
    });
    const result = f();
    for (let i = 0; i < 10000 && pending.length > 0; i++) (pending.shift() as Deferred<number>).callback(1);
    expect(successResultOf(result)).toBe(10000);
  });
});

describe("inlineCallbacks cancellation", () => {
  test("cancelling cancels the Deferred the generator waits on; uncaught, the result is CancelledError", () => {
    let cancelled = 0;
    const waitOn = new Deferred<void>(() => {
      cancelled++;
    });
    const f = inlineCallbacks(function* () {
      yield waitOn;
      return "finished";
    });
    const d = f();
    d.cancel();
    expect(cancelled).toBe(1);
    failureResultOf(d, CancelledError);
  });

  test("a generator that catches the CancelledError decides the result", () => {
    const waitOn = new Deferred<void>();
    const seen: string[] = [];
    const f = inlineCallbacks(function* () {
      try {
        yield waitOn;
      } catch (e) {
        seen.push((e as Error).name);
        const v: string = yield succeed("recovered");
        return v;
      }
      return "not cancelled";
    });
    const d = f();
    d.cancel();
    expect(seen).toEqual(["CancelledError"]);
    expect(successResultOf(d)).toBe("recovered");
  });

  test("a generator that catches the cancellation and waits again can finish later", () => {
    const first = new Deferred<void>();
    const second = new Deferred<string>();
    const f = inlineCallbacks(function* () {
      try {
        yield first;
      } catch {
        const v: string = yield second;
        return v;
      }
      return "no";
    });
    const d = f();
    d.cancel();
    assertNoResult(d);
    second.callback("later");
    expect(successResultOf(d)).toBe("later");
  });

  test("cancelling twice cancels what the generator waits on each time", () => {
    const first = new Deferred<void>();
    const second = new Deferred<string>();
    const f = inlineCallbacks(function* () {
      try {
        yield first;
      } catch {
        yield second;
      }
      return "no";
    });
    const d = f();
    d.cancel();
    assertNoResult(d);
    d.cancel();
    expect(second.called).toBe(true); // cancelled; its CancelledError went into the generator
    failureResultOf(d, CancelledError);
  });

  test("cancelling after the generator finished does nothing", () => {
    const f = inlineCallbacks(function* () {
      return "done";
    });
    const d = f();
    d.cancel();
    expect(successResultOf(d)).toBe("done");
  });
});

describe("inlineCallbacks typing", () => {
  test("the return type becomes the Deferred's type; yield results are typed by the caller", () => {
    const f = inlineCallbacks(function* (x: number) {
      const s: string = yield succeed("abc");
      return s.length + x;
    });
    const d: Deferred<number> = f(1);
    expect(successResultOf(d)).toBe(4);
  });
});
