import { expectNoFdLeaks } from "../support/fds";
import { setLogObservers } from "../../lib/log";
import { Cooperator, Deferred, deferLater } from "../../lib/defer";
import { Reactor, react } from "../../lib/reactor";
import { configTable, makeReactor } from "./helpers";

expectNoFdLeaks();

/** Runs `f` with log records collected, the previous observers and exitCode restored after. */
async function withLog<T>(f: (records: [string, string, unknown][]) => Promise<T>): Promise<T> {
  const records: [string, string, unknown][] = [];
  const restore = setLogObservers([(level, message, error) => records.push([level, message, error])]);
  const exitCode = process.exitCode;
  try {
    return await f(records);
  } finally {
    restore();
    process.exitCode = exitCode;
  }
}

describe.each(configTable())("task.react (%s)", (_label, config) => {
  test("runs the reactor, calls main(reactor, ...argv), stops when its Deferred fires: code 0", async () => {
    await withLog(async (records) => {
      const r = makeReactor(config);
      const seen: unknown[] = [];
      const code = await react(
        (reactor: Reactor, a: string, b: number) => {
          seen.push(reactor === r, reactor.running, a, b);
          return deferLater(reactor, 0.02, () => seen.push("fired"));
        },
        ["x", 2],
        { reactor: r },
      );
      expect(code).toBe(0);
      expect(process.exitCode).toBe(0);
      expect(seen).toEqual([true, true, "x", 2, "fired"]);
      expect(r.running).toBe(false);
      expect(records).toEqual([]);
    });
  });

  test("a failing Deferred gives code 1 and the failure is logged", async () => {
    await withLog(async (records) => {
      const r = makeReactor(config);
      const code = await react(
        (reactor) => deferLater(reactor, 0.01, () => {
          throw new RangeError("main broke");
        }),
        [],
        { reactor: r },
      );
      expect(code).toBe(1);
      expect(process.exitCode).toBe(1);
      expect(records.map(([level, message]) => [level, message])).toEqual([["error", "main function encountered error"]]);
      expect((records[0][2] as Error).message).toBe("main broke");
    });
  });

  test("main throwing at once, or returning a rejected promise, gives code 1", async () => {
    await withLog(async (records) => {
      expect(await react(() => {
        throw new Error("sync");
      }, [], { reactor: makeReactor(config), setExitCode: false })).toBe(1);
      expect(await react(async () => {
        throw new Error("async");
      }, [], { reactor: makeReactor(config), setExitCode: false })).toBe(1);
      expect(records.map((x) => (x[2] as Error).message)).toEqual(["sync", "async"]);
    });
  });

  test("main returning a plain value stops the reactor at once with code 0", async () => {
    const r = makeReactor(config);
    expect(await react(() => 42, [], { reactor: r, setExitCode: false })).toBe(0);
  });

  test("main stopping the reactor itself before its Deferred fires: no ReactorNotRunning, the outcome still counts", async () => {
    await withLog(async (records) => {
      const r = makeReactor(config);
      const code = await react(
        (reactor) => {
          const d = new Deferred<void>();
          reactor.addSystemEventTrigger("before", "shutdown", () => d.errback(new Error("during shutdown")));
          reactor.callLater(0.01, () => reactor.stop());
          return d;
        },
        [],
        { reactor: r, setExitCode: false },
      );
      expect(code).toBe(1);
      expect(records.map((x) => x[1])).toEqual(["main function encountered error"]);
    });
  });

  test("a Cooperator driven by the reactor interleaves tasks until react's main finishes", async () => {
    const out: string[] = [];
    const r = makeReactor(config);
    const code = await react(
      (reactor) => {
        const coop = new Cooperator({ clock: reactor });
        function* count(name: string): Generator<unknown> {
          for (let i = 0; i < 3; i++) {
            out.push(`${name}${i}`);
            yield deferLater(reactor, 0.001);
          }
        }
        return Promise.all([coop.coiterate(count("a")), coop.coiterate(count("b"))]);
      },
      [],
      { reactor: r, setExitCode: false },
    );
    expect(code).toBe(0);
    expect(out).toEqual(["a0", "b0", "a1", "b1", "a2", "b2"]);
  });

  test("wrong arguments throw TypeErrors naming them", async () => {
    await expect(react(3 as never)).rejects.toThrow(/main/);
    await expect(react(() => 0, "x" as never)).rejects.toThrow(/argv/);
    await expect(react(() => 0, [], { reactor: {} as never })).rejects.toThrow(/options\.reactor/);
  });
});
