/** Deferreds returned from callbacks: the outer chain waits for the inner one (Twisted's chaining tests). */
import { expectNoFdLeaks } from "../support/fds";
import { Deferred, Failure, fail, gatherResults, succeed } from "../../lib/defer";
import { assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("a callback returning a Deferred", () => {
  test("pauses the chain until that Deferred fires, and continues with its result", () => {
    const seen: number[] = [];
    const d1 = new Deferred<number>();
    const d2 = new Deferred<number>();
    d2.pause();
    d1.addCallback(() => d2);
    d1.addCallback((r) => seen.push(r));
    d1.callback(1);
    expect(seen).toEqual([]);
    d2.callback(2);
    expect(seen).toEqual([]); // d2 is still paused
    d2.unpause();
    expect(seen).toEqual([2]);
  });

  test("an errback may return a Deferred just as a callback can", () => {
    const values: string[] = [];
    const d = new Deferred<number>();
    const d2 = new Deferred<string>();
    d.addErrback(() => d2).addCallback((r) => values.push(r as string));
    d.errback(new Error("v"));
    assertNoResult(d);
    expect(values).toEqual([]);
    d2.callback("result");
    expect(values).toEqual(["result"]);
  });

  test("a paused inner Deferred that has a result makes the outer wait for its unpause", () => {
    const expected = {};
    const paused = new Deferred<object>();
    paused.callback(expected);
    paused.pause();
    const chained = new Deferred<void>();
    chained.addCallback(() => paused);
    chained.callback(undefined);
    const result: unknown[] = [];
    chained.addCallback((r) => result.push(r));
    expect(result).toEqual([]);
    paused.unpause();
    expect(result).toEqual([expected]);
  });

  test("a paused outer Deferred does not keep the inner one from running its callbacks", () => {
    const first = new Deferred<void>();
    const second = new Deferred<void>();
    first.addCallback(() => second);
    first.callback(undefined);
    first.pause();
    second.callback(undefined);
    const result: unknown[] = [];
    second.addCallback((r) => result.push(r));
    expect(result).toEqual([null]);
  });

  test("an inner Deferred that already has a result hands it over at once and keeps null", () => {
    const result = {};
    const first = succeed(result);
    const second = new Deferred<void>();
    second.addCallback(() => first);
    second.callback(undefined);
    const results: unknown[] = [];
    first.addCallback((r) => results.push(r));
    expect(results[0]).toBeNull();
    second.addCallback((r) => results.push(r));
    expect(results[1]).toBe(result);
  });

  test("an inner Deferred without a result hands it over when it fires and keeps null", () => {
    const first = new Deferred<object>();
    const second = new Deferred<object>();
    second.addCallback(() => first);
    second.callback({});
    const firstResult: unknown[] = [];
    first.addCallback((r) => firstResult.push(r));
    const secondResult: unknown[] = [];
    second.addCallback((r) => secondResult.push(r));
    expect(firstResult).toEqual([]);
    expect(secondResult).toEqual([]);
    const result = {};
    first.callback(result);
    expect(firstResult).toEqual([null]);
    expect(secondResult[0]).toBe(result);
  });

  test("an inner failure already there moves to the outer Deferred, the inner keeps null", () => {
    const first = fail(new RangeError("First Deferred's Failure"));
    const second = new Deferred<void>();
    second.addCallback(() => first);
    second.callback(undefined);
    const firstResult: unknown[] = [];
    first.addCallback((r) => firstResult.push(r));
    expect(firstResult).toEqual([null]);
    failureResultOf(second, RangeError);
  });

  test("an inner failure arriving later moves to the outer Deferred, the inner keeps null", () => {
    const first = new Deferred<void>();
    const second = new Deferred<void>();
    second.addCallback(() => first);
    second.callback(undefined);
    const secondError: Failure[] = [];
    second.addErrback((f) => {
      secondError.push(f);
    });
    const firstResult: unknown[] = [];
    first.addCallback((r) => firstResult.push(r));
    const secondResult: unknown[] = [];
    second.addCallback((r) => secondResult.push(r));
    first.errback(new RangeError("First Deferred's Failure"));
    expect(secondError[0].check(RangeError)).toBe(RangeError);
    expect(firstResult).toEqual([null]);
    expect(secondResult).toHaveLength(1);
  });

  test("chaining is transitive: C returned to B returned to A fires A when C fires", () => {
    const first = new Deferred<object>();
    const second = new Deferred<object>();
    second.addCallback(() => first);
    const third = new Deferred<object>();
    third.addCallback(() => second);
    const thirdResult: unknown[] = [];
    third.addCallback((r) => thirdResult.push(r));
    second.callback({});
    third.callback({});
    expect(thirdResult).toEqual([]);
    const result = {};
    first.callback(result);
    expect(thirdResult).toEqual([result]);
  });

  test("nested asynchronous chains run in order: inner callbacks before the outer continues", () => {
    const results: unknown[] = [];
    const failures: Failure[] = [];
    const inner = new Deferred<string>();
    const cb = (result: string): Deferred<unknown> => {
      results.push(["start-of-cb", result]);
      const d = succeed("inner");
      d.addCallback(() => {
        results.push(["firstCallback", "inner"]);
        return inner;
      })
        .addCallback((r: unknown) => {
          results.push(["secondCallback", r]);
          return (r as string).repeat(2);
        })
        .addErrback((f) => {
          failures.push(f);
        });
      return d;
    };
    const outer = succeed("outer").addCallback(cb).addCallback((r) => {
      results.push(r);
    });
    expect(results).toEqual([
      ["start-of-cb", "outer"],
      ["firstCallback", "inner"],
    ]);
    inner.callback("orange");
    inner.addErrback((f) => {
      failures.push(f);
    });
    outer.addErrback((f) => {
      failures.push(f);
    });
    expect(failures).toEqual([]);
    expect(results).toEqual([["start-of-cb", "outer"], ["firstCallback", "inner"], ["secondCallback", "orange"], "orangeorange"]);
  });

  test("callbacks added to the inner Deferred before it is returned run before the outer continues", () => {
    const results: unknown[] = [];
    const inner = new Deferred<string>();
    const outer = succeed("outer");
    outer.addCallback((result) => {
      results.push(["start-of-cb", result]);
      return succeed("inner")
        .addCallback((r) => {
          results.push(["firstCallback", r]);
          return inner.addCallback((x) => [x]);
        })
        .addCallback((r: unknown) => {
          results.push(["secondCallback", r]);
          return [...(r as string[]), ...(r as string[])];
        });
    });
    outer.addCallback((r) => {
      results.push(r);
    });
    inner.callback("withers");
    expect(results).toEqual([["start-of-cb", "outer"], ["firstCallback", "inner"], ["secondCallback", ["withers"]], ["withers", "withers"]]);
  });

  test("a callback added after chaining runs after the other Deferred's callbacks", () => {
    const results: unknown[] = [];
    const failures: Failure[] = [];
    const a = new Deferred<string>();
    const cb = (result: string): Deferred<unknown> => {
      results.push(["cb", result]);
      const d = new Deferred<void>();
      const returner = d
        .addCallback((r) => {
          results.push(["firstCallback", r]);
          return gatherResults([a]);
        })
        .addCallback((r) => {
          results.push(["secondCallback", r]);
        })
        .addErrback((f) => {
          failures.push(f);
        });
      d.callback(undefined);
      return returner;
    };
    const outer = new Deferred<string>();
    outer.addCallback(cb);
    outer.addCallback(() => {
      results.push(["final", null]);
    });
    outer.addErrback((f) => {
      failures.push(f);
    });
    outer.callback("outer");
    expect(results).toEqual([
      ["cb", "outer"],
      ["firstCallback", undefined],
    ]);
    a.callback("withers");
    expect(failures).toEqual([]);
    expect(results).toEqual([
      ["cb", "outer"],
      ["firstCallback", undefined],
      ["secondCallback", ["withers"]],
      ["final", null],
    ]);
  });

  test("callbacks added to the middle of three chained Deferreds run once the last fires", () => {
    const first = new Deferred<void>();
    const second = new Deferred<void>();
    const third = new Deferred<void>();
    first.addCallback(() => second);
    second.addCallback(() => third);
    second.callback(undefined);
    first.callback(undefined);
    third.callback(undefined);
    const results: unknown[] = [];
    second.addCallback((r) => results.push(r));
    expect(results).toEqual([null]);
  });

  test("a callback returning its own Deferred fails the chain with a TypeError instead of hanging", () => {
    const d = new Deferred<unknown>();
    d.addCallback(() => d);
    d.callback("foo");
    expect(failureResultOf(d, TypeError).getErrorMessage()).toMatch(/returned the Deferred it was added to/);
  });

  test("after a callback returns its own Deferred, the next errback gets the TypeError and the chain goes on (Twisted stalls here)", () => {
    const d = new Deferred<unknown>();
    const seen: string[] = [];
    d.addCallback(() => d);
    d.addCallback(() => seen.push("callback skipped?"));
    d.addErrback((f: Failure) => {
      seen.push(`errback:${f.getTypeName()}`);
      f.trap(TypeError);
      return "recovered";
    });
    d.addCallback((r) => {
      seen.push(`callback:${String(r)}`);
      return "end";
    });
    d.callback("foo");
    expect(seen).toEqual(["errback:TypeError", "callback:recovered"]);
    expect(d.paused).toBe(0);
    expect(successResultOf(d)).toBe("end");
  });

  test("an errback returning its own Deferred fails the chain the same way", () => {
    const d = new Deferred<unknown>();
    d.addErrback(() => d);
    d.errback(new RangeError("first"));
    const f = failureResultOf(d, TypeError);
    expect(f.check(RangeError)).toBeNull();
    expect(f.getErrorMessage()).toMatch(/returned the Deferred it was added to/);
  });
});

describe("explicit chaining", () => {
  test("chainDeferred fires the other Deferred with this one's result", () => {
    const a = new Deferred<number>();
    const b = new Deferred<number>();
    b.chainDeferred(a);
    b.callback(5);
    expect(successResultOf(a)).toBe(5);
    expect(b.result).toBeUndefined();
  });

  test("chainDeferred passes failures on too", () => {
    const a = new Deferred<number>();
    const b = new Deferred<number>();
    b.chainDeferred(a);
    b.errback(new RangeError("r"));
    failureResultOf(a, RangeError);
  });

  test("chainDeferred records the chain, and it is cleared once resolved", () => {
    const a = new Deferred<void>();
    const b = new Deferred<void>();
    b.chainDeferred(a);
    expect(a._chainedTo).toBe(b);
    b.callback(undefined);
    expect(a._chainedTo).toBeNull();
  });

  test("returning a Deferred from a callback records the chain implicitly", () => {
    const a = new Deferred<void>();
    const b = new Deferred<void>();
    a.addCallback(() => b);
    a.callback(undefined);
    expect(a._chainedTo).toBe(b);
  });
});

/** `n` Deferreds, each one's callback returning the next; `seen` gets what the first one ends with. */
function chainOf(n: number): { ds: Deferred<number>[]; seen: number[] } {
  const ds: Deferred<number>[] = [];
  for (let i = 0; i < n; i++) ds.push(new Deferred<number>());
  for (let i = 0; i < n - 1; i++) {
    const next = ds[i + 1];
    ds[i].addCallback(() => next);
  }
  const seen: number[] = [];
  ds[0].addCallback((r) => seen.push(r));
  return { ds, seen };
}

describe("long chains", () => {
  function chainDeferreds(howMany: number): number {
    const depths: number[] = [];
    const top = new Deferred<void>();
    const inners: Deferred<void>[] = [];
    for (let i = 0; i < howMany; i++) inners.push(new Deferred<void>());
    const originals = inners.slice();
    const last = new Deferred<void>();
    let inner = inners.pop() as Deferred<void>;
    const firstInner = inner;
    top.addCallback(() => firstInner);
    top.addCallback(() => {
      depths.push((new Error().stack ?? "").split("\n").length);
    });
    while (inners.length > 0) {
      const next = inners.pop() as Deferred<void>;
      inner.addCallback(() => next);
      inner = next;
    }
    inner.addCallback(() => last);
    top.callback(undefined);
    for (const d of originals) d.callback(undefined);
    expect(depths).toEqual([]);
    last.callback(undefined);
    return depths[0];
  }

  test("the stack depth at which callbacks run does not grow with the number of chained Deferreds", () => {
    const saved = Error.stackTraceLimit;
    Error.stackTraceLimit = 200;
    try {
      expect(chainDeferreds(1)).toBe(chainDeferreds(2));
      expect(chainDeferreds(1)).toBe(chainDeferreds(50));
    } finally {
      Error.stackTraceLimit = saved;
    }
  });

  test("10,000 Deferreds each returning the next do not overflow the stack", () => {
    const n = 10000;
    const { ds, seen } = chainOf(n);
    for (let i = 0; i < n - 1; i++) ds[i].callback(i);
    expect(seen).toEqual([]);
    ds[n - 1].callback(42);
    expect(seen).toEqual([42]);
  });

  test("10,000 already-fired Deferreds returned in turn by callbacks do not overflow the stack", () => {
    const d = new Deferred<number>();
    for (let i = 0; i < 10000; i++) d.addCallback((r: number) => succeed(r + 1));
    d.callback(0);
    expect(successResultOf(d)).toBe(10000);
  });

  test("10,000 chained Deferreds fired innermost first collapse at once into the outermost", () => {
    const n = 10000;
    const { ds, seen } = chainOf(n);
    ds[n - 1].callback(7);
    for (let i = n - 2; i >= 0; i--) ds[i].callback(0);
    expect(seen).toEqual([7]);
  });
});
