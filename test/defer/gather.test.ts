/** gatherResults: the values in order, or FirstError. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Deferred, Failure, FirstError, fail, gatherResults, succeed } from "../../lib/defer";
import { failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

describe("gatherResults", () => {
  test("fires with the values in list order", () => {
    const d1 = new Deferred<number>();
    const d2 = new Deferred<number>();
    const g = gatherResults([d1, d2, succeed(3)]);
    d2.callback(2);
    d1.callback(1);
    expect(successResultOf(g)).toEqual([1, 2, 3]);
  });

  test("an empty list gives []", () => {
    expect(successResultOf(gatherResults([]))).toEqual([]);
  });

  test("fails with FirstError as soon as one fails", () => {
    const dl = [succeed(1), fail<number>(new RangeError("bad"))];
    const errors: Failure[] = [];
    gatherResults(dl).addErrback((f) => {
      errors.push(f);
    });
    expect(errors).toHaveLength(1);
    expect(errors[0].value).toBeInstanceOf(FirstError);
    expect((errors[0].value as FirstError).index).toBe(1);
    dl[1].addErrback(() => 1);
  });

  test("consumeErrors leaves undefined in the failed Deferred and the failure in FirstError", () => {
    const good = succeed(1);
    const bad = fail<number>(new RangeError("oh noes"));
    const d = gatherResults([good, bad], true);
    const unconsumed: Failure[] = [];
    bad.addErrback((f) => {
      unconsumed.push(f);
    });
    const gathered: Failure[] = [];
    d.addErrback((f) => {
      gathered.push(f);
    });
    expect([unconsumed.length, gathered.length]).toEqual([0, 1]);
    const first = gathered[0].value as FirstError;
    expect((first.subFailure as Failure).value).toBeInstanceOf(RangeError);
  });

  test("cancel cancels every Deferred and fails with FirstError of CancelledError", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    const g = gatherResults([d1, d2]);
    g.cancel();
    failureResultOf(d1, CancelledError);
    failureResultOf(d2, CancelledError);
    const f = failureResultOf(g, FirstError);
    expect(((f.value as FirstError).subFailure as Failure).check(CancelledError)).toBe(CancelledError);
  });

  test("cancel where every canceller callbacks gives the values", () => {
    const c = (d: Deferred<string>): void => d.callback("Callback Result");
    const g = gatherResults([new Deferred<string>(c), new Deferred<string>(c)]);
    g.cancel();
    expect(successResultOf(g)).toEqual(["Callback Result", "Callback Result"]);
  });

  test("works over 10,000 Deferreds fired in reverse", () => {
    const ds: Deferred<number>[] = [];
    for (let i = 0; i < 10000; i++) ds.push(new Deferred<number>());
    const g = gatherResults(ds);
    for (let i = ds.length - 1; i >= 0; i--) ds[i].callback(i);
    const r = successResultOf(g);
    expect(r).toHaveLength(10000);
    expect(r[0]).toBe(0);
    expect(r[9999]).toBe(9999);
  });
});
