/** succeed, fail, maybeDeferred, execute. */
import { expectNoFdLeaks } from "../support/fds";
import { Deferred, Failure, execute, fail, maybeDeferred, succeed } from "../../lib/defer";
import { GenericError, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("succeed and fail", () => {
  test("succeed gives a Deferred already fired with the value", () => {
    const d = succeed("success");
    expect(d.called).toBe(true);
    expect(successResultOf(d)).toBe("success");
  });

  test("fail gives a Deferred already failed, wrapping the value in a Failure", () => {
    const e = new GenericError("fail");
    expect(failureResultOf(fail(e), GenericError).value).toBe(e);
    const f = new Failure(e);
    expect(failureResultOf(fail(f))).toBe(f);
  });
});

describe("maybeDeferred", () => {
  test("gives a synchronous result as a fired Deferred", () => {
    const result = {};
    const d = maybeDeferred(() => result);
    expect(successResultOf(d)).toBe(result);
  });

  test("passes arguments to the function", () => {
    expect(successResultOf(maybeDeferred((x: number) => x + 5, 10))).toBe(15);
  });

  test("turns a synchronous throw into a failed Deferred", () => {
    const expected = new RangeError("that value is unacceptable");
    const d = maybeDeferred(() => {
      throw expected;
    });
    expect(failureResultOf(d, RangeError).value).toBe(expected);
  });

  test("turns a returned Failure into a failed Deferred with that Failure", () => {
    const expected = new Failure(new TypeError("10 + 5"));
    expect(failureResultOf(maybeDeferred(() => expected))).toBe(expected);
  });

  test("passes a returned Deferred through", () => {
    const d1 = new Deferred<string>();
    const d2 = maybeDeferred(() => d1);
    expect(d2).toBe(d1);
    d1.callback("Success");
    expect(successResultOf(d2)).toBe("Success");
  });

  test("passes a returned failing Deferred through", () => {
    const d1 = new Deferred<void>();
    const d2 = maybeDeferred(() => d1);
    d1.errback(new Failure(new RangeError()));
    failureResultOf(d2, RangeError);
  });

  test("adopts a returned Promise (an async function's result)", async () => {
    const d = maybeDeferred(async () => 7);
    expect(d).toBeInstanceOf(Deferred);
    expect(await d).toBe(7);
    class SomeError extends Error {}
    const e = maybeDeferred(async () => {
      throw new SomeError("x");
    });
    await expect(e.asPromise()).rejects.toBeInstanceOf(SomeError);
  });
});

describe("execute", () => {
  test("gives the return value as a fired Deferred, or the throw as a failure", () => {
    expect(successResultOf(execute((a: number, b: number) => a * b, 6, 7))).toBe(42);
    failureResultOf(
      execute(() => {
        throw new GenericError("x");
      }),
      GenericError,
    );
  });
});
