/** Deferred's callback/errback chain: Twisted's DeferredTests, behaviour by behaviour. */
import { expectNoFdLeaks } from "../support/fds";
import { AlreadyCalledError, Deferred, Failure, succeed, fail } from "../../lib/defer";
import { GenericError, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("Deferred callbacks", () => {
  test("a callback receives the result it was fired with", () => {
    const calls: unknown[][] = [];
    const d = new Deferred<string>();
    d.addCallback((...a: unknown[]) => calls.push(a));
    d.callback("hello");
    expect(calls).toEqual([["hello"]]);
  });

  test("extra arguments given to addCallback follow the result", () => {
    const calls: unknown[][] = [];
    const d = new Deferred<string>();
    d.addCallback((r: string, w: string, n: number) => calls.push([r, w, n]), "world", 3);
    d.callback("hello");
    expect(calls).toEqual([["hello", "world", 3]]);
  });

  test("two callbacks run in order, each receiving what the previous returned", () => {
    const order: string[] = [];
    const d = new Deferred<string>();
    d.addCallback((r) => {
      order.push(`1:${r}`);
      return r + "!";
    }).addCallback((r) => {
      order.push(`2:${r}`);
    });
    d.callback("hello");
    expect(order).toEqual(["1:hello", "2:hello!"]);
  });

  test("callbacks added after firing run at once", () => {
    const d = succeed("success");
    const l: string[] = [];
    d.addCallback((r) => l.push(r));
    expect(l).toEqual(["success"]);
  });

  test("an errback added after failing runs at once with the Failure", () => {
    const l: Failure[] = [];
    fail(new GenericError("fail")).addErrback((f) => l.push(f));
    expect(l).toHaveLength(1);
    expect((l[0].value as Error).message).toBe("fail");
  });

  test("addCallbacks with a null errback passes the failure through", () => {
    const error = new GenericError("oopsie");
    const cb = jest.fn();
    const seen: Failure[] = [];
    const d = new Deferred<void>();
    d.addCallbacks(cb, null);
    d.errback(error);
    d.addErrback((f) => seen.push(f));
    expect(cb).not.toHaveBeenCalled();
    expect(seen).toHaveLength(1);
    expect(seen[0].value).toBe(error);
  });

  test("addCallbacks passes callbackArgs and errbackArgs to the matching function", () => {
    const log: unknown[][] = [];
    const d1 = new Deferred<string>();
    d1.addCallbacks((r: string, a: number) => log.push(["cb", r, a]), (f: Failure, b: string) => log.push(["eb", f.getErrorMessage(), b]), [1], ["x"]);
    d1.callback("v");
    const d2 = new Deferred<string>();
    d2.addCallbacks((r: string, a: number) => log.push(["cb", r, a]), (f: Failure, b: string) => log.push(["eb", f.getErrorMessage(), b]), [2], ["y"]);
    d2.errback(new Error("boom"));
    expect(log).toEqual([
      ["cb", "v", 1],
      ["eb", "boom", "y"],
    ]);
  });

  test("addCallbacks treats null argument lists as none", () => {
    const calls: unknown[][] = [];
    const d = new Deferred<string>();
    d.addCallbacks((...a: unknown[]) => calls.push(a), null, null as unknown as [], null as unknown as []);
    d.callback("hello");
    expect(calls).toEqual([["hello"]]);
  });

  test("addBoth runs on success and on failure", () => {
    const seen: unknown[] = [];
    succeed(1).addBoth((r) => seen.push(r));
    const f = new Failure(new Error("x"));
    fail(f).addBoth((r) => {
      seen.push(r);
    });
    expect(seen).toEqual([1, f]);
  });

  test("a callback that throws switches the chain to the errback path", () => {
    const l: Failure[] = [];
    const d = new Deferred<number>();
    d.addCallback(() => {
      throw new RangeError("div by zero");
    }).addErrback((f) => l.push(f));
    d.callback(1);
    expect(l[0].value).toBeInstanceOf(RangeError);
  });

  test("a callback that returns a Failure switches the chain to the errback path", () => {
    const l: Failure[] = [];
    const d = new Deferred<number>();
    d.addCallback(() => new Failure(new RangeError("x"))).addErrback((f) => l.push(f));
    d.callback(1);
    expect(l[0].value).toBeInstanceOf(RangeError);
  });

  test("callbacks and errbacks alternate with the result: an errback returning a value switches back", () => {
    const order: string[] = [];
    const d = new Deferred<number>();
    d.addCallback((r) => {
      order.push(`cb1 ${r}`);
      throw new Error("e1");
    })
      .addCallback(() => {
        order.push("cb2 skipped?");
      })
      .addErrback((f) => {
        order.push(`eb1 ${f.getErrorMessage()}`);
        return 5;
      })
      .addErrback(() => {
        order.push("eb2 skipped?");
      })
      .addCallback((r) => {
        order.push(`cb3 ${r}`);
      });
    d.callback(1);
    expect(order).toEqual(["cb1 1", "eb1 e1", "cb3 5"]);
  });

  test("a callback may return either a value or a Failure", () => {
    const rte = new Error("rte");
    let shouldFail = false;
    const maybeFail = (r: number): number | Failure => (shouldFail ? new Failure(rte) : r + 1);
    const d = new Deferred<number>();
    d.callback(6);
    expect(successResultOf(d.addCallback(maybeFail))).toBe(7);
    shouldFail = true;
    const d2 = new Deferred<number>();
    d2.callback(6);
    expect(failureResultOf(d2.addCallback(maybeFail).addCallback(maybeFail)).value).toBe(rte);
  });

  test("a failure rethrown unchanged by an errback keeps its Failure", () => {
    const f0 = new Failure(new GenericError("same"));
    const seen: Failure[] = [];
    fail(f0)
      .addErrback((f) => f.raiseException())
      .addErrback((f) => seen.push(f));
    expect(seen[0]).toBe(f0);
  });

  test("trap in an errback passes other failures down the chain", () => {
    const seen: string[] = [];
    fail(new TypeError("t"))
      .addErrback((f) => {
        f.trap(RangeError);
        seen.push("trapped?");
      })
      .addErrback((f) => {
        seen.push(`${f.getTypeName()}:${f.getErrorMessage()}`);
      });
    expect(seen).toEqual(["TypeError:t"]);
  });

  test("a callback added by a running callback runs after the current chain, not inside it", () => {
    const called: number[] = [];
    const d = new Deferred<void>();
    d.addCallback(() => {
      called.push(1);
      d.addCallback(() => called.push(3));
      expect(called).toEqual([1]);
    });
    d.addCallback(() => {
      called.push(2);
    });
    d.callback(undefined);
    expect(called).toEqual([1, 2, 3]);
  });

  test("an error thrown by a callback added by a callback goes to the next errback", () => {
    const d = new Deferred<void>();
    d.addCallback(() => {
      d.addCallback(() => {
        throw new Error("callback raised exception");
      });
    });
    d.callback(undefined);
    expect((failureResultOf(d, Error).value as Error).message).toBe("callback raised exception");
  });
});

describe("Deferred firing", () => {
  test.each([
    ["callback then callback", (d: Deferred<string>) => d.callback("hello"), (d: Deferred<string>) => d.callback("twice")],
    ["callback then errback", (d: Deferred<string>) => d.callback("hello"), (d: Deferred<string>) => d.errback(new Error())],
    ["errback then errback", (d: Deferred<string>) => d.errback(new Error()), (d: Deferred<string>) => d.errback(new Error())],
    ["errback then callback", (d: Deferred<string>) => d.errback(new Error()), (d: Deferred<string>) => d.callback("twice")],
  ])("firing twice (%s) throws AlreadyCalledError", (_name, first, second) => {
    const d = new Deferred<string>();
    d.addCallbacks(
      () => undefined,
      () => undefined,
    );
    first(d);
    expect(() => second(d)).toThrow(AlreadyCalledError);
  });

  test("callback refuses a Deferred as its result", () => {
    const d = new Deferred<unknown>();
    expect(() => d.callback(new Deferred())).toThrow(TypeError);
    expect(d.called).toBe(false);
  });

  test("errback wraps a thrown value that is not a Failure", () => {
    const e = new GenericError("Bang");
    const d = new Deferred<void>();
    d.errback(e);
    const f = failureResultOf(d, GenericError);
    expect(f.value).toBe(e);
  });

  test("errback without an argument is a TypeError", () => {
    const d = new Deferred<void>();
    expect(() => (d.errback as () => void)()).toThrow(TypeError);
  });

  test("called and result show the state of the Deferred", () => {
    const d = new Deferred<number>();
    expect(d.called).toBe(false);
    expect(d.result).toBeUndefined();
    d.callback(3);
    expect(d.called).toBe(true);
    expect(d.result).toBe(3);
    d.addCallback((r) => r * 2);
    expect(d.result).toBe(6);
    expect(d.hasFailed()).toBe(false);
  });

  test("wrong arguments are TypeErrors naming the argument", () => {
    const d = new Deferred<number>();
    expect(() => d.addCallback(3 as unknown as () => void)).toThrow(/callback/);
    expect(() => d.addErrback(null as unknown as () => void)).toThrow(/errback/);
    expect(() => d.addBoth(undefined as unknown as () => void)).toThrow(/f must be/);
    expect(() => new Deferred(5 as unknown as () => void)).toThrow(/canceller/);
  });
});

describe("pause and unpause", () => {
  test("a paused Deferred runs no callbacks until unpaused", () => {
    const l: Failure[] = [];
    const d = fail(new GenericError("fail"));
    d.pause();
    d.addErrback((f) => l.push(f));
    expect(l).toEqual([]);
    d.unpause();
    expect((l[0].value as Error).message).toBe("fail");
  });

  test("unpausing before the callback fires nothing early", () => {
    const seen: number[] = [];
    const d = new Deferred<number>();
    d.pause();
    d.addCallback((r) => seen.push(r));
    d.unpause();
    expect(seen).toEqual([]);
    d.callback(1);
    expect(seen).toEqual([1]);
  });

  test("pauses nest: the chain runs only when every pause is undone", () => {
    const seen: number[] = [];
    const d = new Deferred<number>();
    d.pause();
    d.pause();
    d.addCallback((r) => seen.push(r));
    d.callback(1);
    d.unpause();
    expect(seen).toEqual([]);
    d.unpause();
    expect(seen).toEqual([1]);
  });

  test("a pause taken inside a running callback holds back only later runs (as in Twisted)", () => {
    const order: string[] = [];
    const d = new Deferred<number>();
    d.addCallback((r) => {
      order.push("first");
      d.pause();
      return r + 1;
    });
    d.addCallback((r) => {
      order.push(`second ${r}`);
      return r;
    });
    d.callback(1);
    expect(order).toEqual(["first", "second 2"]);
    d.addCallback((r) => {
      order.push(`third ${r}`);
    });
    expect(order).toEqual(["first", "second 2"]);
    d.unpause();
    expect(order).toEqual(["first", "second 2", "third 2"]);
  });
});

describe("toString", () => {
  test("says whether a Deferred has a result or waits on another", () => {
    const a = new Deferred<void>();
    expect(String(a)).toBe("<Deferred>");
    const b = new Deferred<void>();
    b.chainDeferred(a);
    expect(String(a)).toBe("<Deferred waiting on Deferred>");
    expect(String(succeed("orange"))).toBe("<Deferred current result: orange>");
  });
});
