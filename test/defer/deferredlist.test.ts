/** DeferredList: [success, value] pairs, fireOnOneCallback/Errback, consumeErrors, cancel. */
import { expectNoFdLeaks } from "../support/fds";
import { CancelledError, Deferred, DeferredList, Failure, FirstError, fail, succeed } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import { GenericError, assertNoResult, failureResultOf, successResultOf } from "./support";

expectNoFdLeaks();

const callbackCanceller = (d: Deferred<string>): void => d.callback("Callback Result");

describe("DeferredList", () => {
  test("fires with [success, result] pairs in list order once every Deferred has fired", () => {
    const d1 = new Deferred<string>();
    const d2 = new Deferred<string>();
    const d3 = new Deferred<string>();
    const dl = new DeferredList([d1, d2, d3]);
    const result: unknown[] = [];
    dl.addCallback((r) => {
      result.push(...r);
    });
    d1.callback("1");
    d2.addErrback(() => null);
    d3.callback("3");
    expect(result).toEqual([]);
    d2.errback(new GenericError("2"));
    expect(result[0]).toEqual([true, "1"]);
    expect((result[1] as [boolean, Failure])[0]).toBe(false);
    expect(((result[1] as [boolean, Failure])[1].value as Error).message).toBe("2");
    expect(result[2]).toEqual([true, "3"]);
  });

  test("an empty list fires at once with []; with fireOnOneCallback it never fires", () => {
    expect(successResultOf(new DeferredList([]))).toEqual([]);
    assertNoResult(new DeferredList([], { fireOnOneCallback: true }));
  });

  test("fireOnOneCallback fires with [result, index] of the first success", () => {
    const d1 = new Deferred<string>();
    const d2 = new Deferred<string>();
    const dl = new DeferredList([d1, d2], { fireOnOneCallback: true });
    d2.callback("two");
    expect(successResultOf(dl as Deferred<unknown>)).toEqual(["two", 1]);
    d1.callback("one"); // later results are recorded but fire nothing
    expect(dl.finishedCount).toBe(2);
  });

  test("fireOnOneErrback fails with FirstError carrying the failure and its index", () => {
    const d1 = new Deferred<string>();
    const d2 = new Deferred<string>();
    const d3 = new Deferred<string>();
    const dl = new DeferredList([d1, d2, d3], { fireOnOneErrback: true });
    const result: Failure[] = [];
    dl.addErrback((f) => {
      result.push(f);
    });
    d2.addErrback(() => null);
    d1.callback("1");
    expect(result).toEqual([]);
    d2.errback(new GenericError("from def2"));
    expect(result).toHaveLength(1);
    expect(result[0].type).toBe(FirstError);
    const first = result[0].value as FirstError;
    expect((first.subFailure as Failure).type).toBe(GenericError);
    expect(((first.subFailure as Failure).value as Error).message).toBe("from def2");
    expect(first.index).toBe(1);
    expect(first.message).toBe("FirstError[#1, from def2]");
  });

  test("without consumeErrors the failure stays in the given Deferred's chain", () => {
    const d1 = new Deferred<void>();
    const dl = new DeferredList([d1]);
    const trapped: Failure[] = [];
    d1.addErrback((f) => {
      trapped.push(f);
    });
    const lists: unknown[] = [];
    dl.addCallback((r) => lists.push(r));
    d1.errback(new GenericError("Bang"));
    expect((trapped[0].value as Error).message).toBe("Bang");
    expect(lists).toHaveLength(1);
  });

  test("consumeErrors turns the failure in the given Deferred's chain into undefined", () => {
    const d1 = new Deferred<void>();
    const dl = new DeferredList([d1], { consumeErrors: true });
    const trapped: Failure[] = [];
    d1.addErrback((f) => {
      trapped.push(f);
    });
    const lists: [boolean, unknown][][] = [];
    dl.addCallback((r) => lists.push(r));
    d1.errback(new GenericError("Bang"));
    expect(trapped).toEqual([]);
    expect(((lists[0][0][1] as Failure).value as Error).message).toBe("Bang");
    expect(d1.result).toBeUndefined();
  });

  test("Deferreds that already fired are counted at once", () => {
    const d1 = new Deferred<number>();
    const d2 = new Deferred<number>();
    d1.errback(new GenericError("Bang"));
    d2.callback(2);
    const dl = new DeferredList([d1, d2]);
    const r = successResultOf(dl);
    expect(r[0][0]).toBe(false);
    expect(r[1]).toEqual([true, 2]);
    d1.addErrback(() => null);
  });

  test("fireOnOneErrback with an already failed Deferred fails at once", () => {
    const d1 = fail(new GenericError("Bang"));
    const dl = new DeferredList([d1, new Deferred<void>()], { fireOnOneErrback: true });
    failureResultOf(dl, FirstError);
    d1.addErrback(() => null);
  });

  test("cancel cancels every Deferred of the list", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    new DeferredList([d1, d2]).cancel();
    failureResultOf(d1, CancelledError);
    failureResultOf(d2, CancelledError);
  });

  test("cancel of a plain list gives the pairs, successes from cancellers included", () => {
    const d1 = new Deferred<string>(callbackCanceller);
    const d2 = new Deferred<string>();
    const dl = new DeferredList([d1, d2]);
    dl.cancel();
    failureResultOf(d2, CancelledError);
    const r = successResultOf(dl);
    expect(r[0]).toEqual([true, "Callback Result"]);
    expect(r[1][0]).toBe(false);
    expect((r[1][1] as Failure).check(CancelledError)).toBe(CancelledError);
  });

  test("cancel with fireOnOneCallback cancels all, and a canceller's success fires the list", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    new DeferredList([d1, d2], { fireOnOneCallback: true }).cancel();
    failureResultOf(d1, CancelledError);
    failureResultOf(d2, CancelledError);
    const e1 = new Deferred<string>(callbackCanceller);
    const e2 = new Deferred<string>();
    const dl = new DeferredList([e1, e2], { fireOnOneCallback: true });
    dl.cancel();
    failureResultOf(e2, CancelledError);
    expect(successResultOf(dl as Deferred<unknown>)).toEqual(["Callback Result", 0]);
  });

  test("cancel with fireOnOneErrback fails with FirstError of a CancelledError", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    const dl = new DeferredList([d1, d2], { fireOnOneErrback: true });
    dl.cancel();
    failureResultOf(d1, CancelledError);
    failureResultOf(d2, CancelledError);
    const f = failureResultOf(dl, FirstError);
    expect(((f.value as FirstError).subFailure as Failure).check(CancelledError)).toBe(CancelledError);
  });

  test("cancel with fireOnOneErrback where every canceller succeeds gives the pairs", () => {
    const dl = new DeferredList([new Deferred<string>(callbackCanceller), new Deferred<string>(callbackCanceller)], { fireOnOneErrback: true });
    dl.cancel();
    expect(successResultOf(dl)).toEqual([
      [true, "Callback Result"],
      [true, "Callback Result"],
    ]);
  });

  test("cancel cancels the Deferreds given, not ones added to the caller's array later", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    const args = [d1, d2];
    const dl = new DeferredList(args);
    const d3 = new Deferred<void>();
    args.push(d3);
    dl.cancel();
    failureResultOf(d1, CancelledError);
    failureResultOf(d2, CancelledError);
    assertNoResult(d3);
  });

  test("a canceller that throws is logged and the other Deferreds are still cancelled", () => {
    const records: [string, string][] = [];
    const restore = setLogObservers([(level, msg) => records.push([level, msg])]);
    try {
      const d1 = new Deferred<void>(() => {
        throw new RangeError("test");
      });
      const d2 = new Deferred<void>();
      new DeferredList([d1, d2]).cancel();
      failureResultOf(d2, CancelledError);
      expect(records).toEqual([["error", "Exception raised from user supplied canceller"]]);
    } finally {
      restore();
    }
  });

  test("after firing on one callback, cancel leaves the other Deferreds alone", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    const dl = new DeferredList([d1, d2], { fireOnOneCallback: true });
    d1.callback(undefined);
    dl.cancel();
    assertNoResult(d2);
  });

  test("after firing on one errback, cancel leaves the other Deferreds alone", () => {
    const d1 = new Deferred<void>();
    const d2 = new Deferred<void>();
    const dl = new DeferredList([d1, d2], { fireOnOneErrback: true });
    d1.errback(new GenericError("test"));
    dl.cancel();
    assertNoResult(d2);
    failureResultOf(d1, GenericError);
    failureResultOf(dl, FirstError);
  });

  test("a list item that is not a Deferred is a TypeError", () => {
    expect(() => new DeferredList([succeed(1), 2 as unknown as Deferred<number>])).toThrow(TypeError);
  });
});
