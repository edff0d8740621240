/** Promise interop: await, then, asPromise, Deferred.fromPromise, ensureDeferred. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Deferred, Failure, NotAnAwaitableError, ensureDeferred, fail, succeed } from "../../lib/defer";
import { GenericError, assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

/** Lets pending promise reactions run (bounded). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("await and then", () => {
  test("await on a fired Deferred gives its value", async () => {
    expect(await succeed(5)).toBe(5);
  });

  test("await on an unfired Deferred waits until it fires", async () => {
    const d = new Deferred<string>();
    const order: string[] = [];
    const p = (async () => {
      order.push("before");
      const v = await d;
      order.push(`after ${v}`);
    })();
    await flush();
    expect(order).toEqual(["before"]);
    d.callback("x");
    await p;
    expect(order).toEqual(["before", "after x"]);
  });

  test("await on a failed Deferred rejects with the original error, not the Failure", async () => {
    const e = new GenericError("original");
    let caught: unknown = null;
    try {
      await fail(e);
    } catch (x) {
      caught = x;
    }
    expect(caught).toBe(e);
    expect(caught).not.toBeInstanceOf(Failure);
  });

  test("awaiting leaves the result in place for later callbacks", async () => {
    const d = succeed(3);
    expect(await d).toBe(3);
    expect(await d).toBe(3);
    expect(successResultOf(d)).toBe(3);
  });

  test("awaiting a failure leaves it in place too", async () => {
    const d = fail<number>(new RangeError("r"));
    await expect(d.asPromise()).rejects.toBeInstanceOf(RangeError);
    failureResultOf(d, RangeError);
  });

  test("then returns a Promise and runs its handlers like a Promise's", async () => {
    const p = succeed(2).then((v) => v * 10);
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe(20);
    const q = fail<number>(new RangeError("no")).then(
      () => "ok",
      (e: unknown) => `caught ${(e as Error).message}`,
    );
    expect(await q).toBe("caught no");
  });

  test("Promise.resolve adopts a Deferred", async () => {
    const d = new Deferred<number>();
    const p = Promise.resolve(d);
    d.callback(9);
    expect(await p).toBe(9);
  });

  test("an async function may return a Deferred", async () => {
    const d = new Deferred<string>();
    const f = async (): Promise<string> => d;
    const p = f();
    d.callback("from deferred");
    expect(await p).toBe("from deferred");
  });

  test("a callback returning a Promise does not pause the chain (as in Twisted): the Promise is the result", () => {
    const p = Promise.resolve(1);
    const d = succeed(0).addCallback(() => p);
    expect(successResultOf(d)).toBe(p);
  });
});

describe("Deferred.fromPromise and asPromise", () => {
  test("fromPromise fires with the Promise's value", async () => {
    const d = Deferred.fromPromise(Promise.resolve("v"));
    assertNoResult(d);
    await flush();
    expect(successResultOf(d)).toBe("v");
  });

  test("fromPromise fails with a Failure of the Promise's rejection", async () => {
    const e = new GenericError("rejected");
    const d = Deferred.fromPromise(Promise.reject(e));
    await flush();
    expect(failureResultOf(d, GenericError).value).toBe(e);
  });

  test("cancelling a fromPromise Deferred gives CancelledError and ignores the later settlement", async () => {
    let resolve: (v: string) => void = () => undefined;
    const p = new Promise<string>((r) => {
      resolve = r;
    });
    const d = Deferred.fromPromise(p);
    d.cancel();
    failureResultOf(d, CancelledError);
    resolve("too late");
    await flush();
    expect(d.result).toBeNull();
  });

  test("fromPromise of something that is not a thenable is a TypeError", () => {
    expect(() => Deferred.fromPromise(5 as unknown as Promise<number>)).toThrow(/p must be/);
  });

  test("asPromise resolves with the value and rejects with the original error", async () => {
    expect(await succeed("a").asPromise()).toBe("a");
    const e = new RangeError("x");
    await expect(fail(e).asPromise()).rejects.toBe(e);
  });
});

describe("ensureDeferred", () => {
  test("passes a Deferred through unchanged", () => {
    const d = new Deferred<void>();
    expect(ensureDeferred(d)).toBe(d);
  });

  test("turns an async function's Promise into a Deferred", async () => {
    const run = async (): Promise<string> => {
      const r = await succeed("foo");
      return r;
    };
    const d = ensureDeferred(run());
    expect(d).toBeInstanceOf(Deferred);
    await flush();
    expect(successResultOf(d)).toBe("foo");
  });

  test("drives a generator object as inlineCallbacks does", () => {
    function* run(): Generator<unknown, string, any> {
      const r: string = yield succeed("foo");
      return r;
    }
    expect(successResultOf(ensureDeferred(run()))).toBe("foo");
  });

  test("refuses anything else with NotAnAwaitableError, a TypeError", () => {
    for (const thing of ["something", 1, true, null, undefined, (x: unknown) => x, {}]) {
      expect(() => ensureDeferred(thing as unknown as Deferred<unknown>)).toThrow(NotAnAwaitableError);
      expect(() => ensureDeferred(thing as unknown as Deferred<unknown>)).toThrow(TypeError);
    }
  });
});
