/**
 * Unhandled errors: a Deferred collected while its chain ends on a Failure logs
 * "Unhandled error in Deferred" through lib/log. The collector is driven for real:
 * `--expose-gc` is switched on at run time and `gc()` fetched from a fresh context.
 */
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { expectNoFdLeaks } from "../support/fds";
import { Deferred, fail, setDebugging } from "../../lib/defer";
import { type LogLevel, setLogObservers } from "../../lib/log";

expectNoFdLeaks();

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

interface Record_ {
  level: LogLevel;
  message: string;
  error: unknown;
}

let records: Record_[] = [];
let restore: () => void = () => undefined;

beforeEach(() => {
  records = [];
  restore = setLogObservers([(level, message, error) => records.push({ level, message, error })]);
});

afterEach(() => {
  restore();
  setDebugging(false);
});

/** Collects garbage until a record mentioning `marker` appears (bounded); returns the records about it. */
async function collectUntilLogged(marker: string): Promise<Record_[]> {
  const about = (): Record_[] => records.filter((r) => r.message.includes(marker) || (r.error instanceof Error && r.error.message.includes(marker)));
  for (let i = 0; i < 40 && about().length === 0; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return about();
}

/** Leaves behind, unreferenced, a Deferred whose chain ends on an Error with `message`. */
function dropFailing(message: string): void {
  const d = new Deferred<number>();
  d.addCallback(() => {
    throw new RangeError(message);
  });
  d.callback(1);
}

/** A marker Deferred that is unhandled: once it is logged, the collector has run past the others. */
function dropControl(): void {
  dropFailing("control");
}

describe("unhandled errors", () => {
  test("a collected Deferred ending on a failure logs 'Unhandled error in Deferred' with the error", async () => {
    dropFailing("lost error");
    const logged = await collectUntilLogged("lost error");
    expect(logged).toHaveLength(1);
    expect(logged[0].level).toBe("error");
    expect(logged[0].message.startsWith("Unhandled error in Deferred")).toBe(true);
    expect(logged[0].error).toBeInstanceOf(RangeError);
    expect((logged[0].error as Error).stack).toMatch(/lost error/);
  });

  test("a thrown value that is not an Error is logged with its traceback in the message", async () => {
    (() => {
      fail("a plain string reason");
    })();
    const logged = await collectUntilLogged("a plain string reason");
    expect(logged).toHaveLength(1);
    expect(logged[0].message).toMatch(/^Unhandled error in Deferred:\nString: a plain string reason\n\s+at /);
  });

  test("a failure handled by an errback is not logged", async () => {
    (() => {
      fail(new RangeError("handled")).addErrback(() => null);
    })();
    dropControl();
    await collectUntilLogged("control");
    expect(records.filter((r) => (r.error as Error)?.message === "handled")).toEqual([]);
  });

  test("a failure moved into an outer Deferred by chaining is not logged for the inner one", async () => {
    (() => {
      const d = new Deferred<void>();
      d.addCallback(() => fail(new RangeError("zoop")));
      d.callback(undefined);
      d.addErrback(() => null);
    })();
    dropControl();
    await collectUntilLogged("control");
    expect(records.filter((r) => (r.error as Error)?.message === "zoop")).toEqual([]);
  });

  test("a failure cleared by an errback returning another Deferred is not logged", async () => {
    (() => {
      const bad = fail(new RangeError("oh no"));
      const good = new Deferred<void>();
      bad.addErrback(() => good);
    })();
    dropControl();
    await collectUntilLogged("control");
    expect(records.filter((r) => (r.error as Error)?.message === "oh no")).toEqual([]);
  });

  test("a failure that a Promise rejected with (await, then) is the Promise's, not logged again", async () => {
    await (async () => {
      const d = fail(new RangeError("awaited"));
      await d.then(
        () => undefined,
        () => undefined,
      );
    })();
    dropControl();
    await collectUntilLogged("control");
    expect(records.filter((r) => (r.error as Error)?.message === "awaited")).toEqual([]);
  });

  test("a Deferred that failed and then recovered is not logged", async () => {
    (() => {
      const d = fail(new RangeError("recovered"));
      d.addErrback(() => "fine");
    })();
    dropControl();
    await collectUntilLogged("control");
    expect(records.filter((r) => (r.error as Error)?.message === "recovered")).toEqual([]);
  });

  test("in debug mode the report says where the Deferred was created and first fired", async () => {
    setDebugging(true);
    (function createAndFireHere() {
      const d = new Deferred<number>();
      d.addCallback(() => {
        throw new RangeError("debugged");
      });
      d.callback(1);
    })();
    setDebugging(false);
    const logged = await collectUntilLogged("debugged");
    expect(logged).toHaveLength(1);
    expect(logged[0].message).toMatch(/\(debug: {2}C: Deferred was created:\n[^]*createAndFireHere/);
    expect(logged[0].message).toMatch(/\(debug: {2}I: First Invoker was:\n[^]*createAndFireHere/);
  });

  test("a failing Deferred that references itself (a cycle) is still collected and logged", async () => {
    (() => {
      const d = new Deferred<number>() as Deferred<number> & { self?: unknown };
      d.self = d;
      d.addCallback(() => {
        void d; // the callback closes over its own Deferred
        throw new RangeError("cycle");
      });
      d.callback(1);
    })();
    const logged = await collectUntilLogged("cycle");
    expect(logged).toHaveLength(1);
  });
});

