import { expectNoFdLeaks, openFds } from "../support/fds";
import { setLogObservers } from "../../lib/log";
import { Deferred } from "../../lib/defer";
import { native } from "../../lib/native";
import { ConnectionLost, ReactorAlreadyRunning, ReactorNotRunning, UnknownBackendError } from "../../lib/error";
import * as reactorModule from "../../lib/reactor";
import { Reactor, ReactorNotRestartable, getDefaultReactor, installReactor, ReactorAlreadyInstalledError } from "../../lib/reactor";
import { configTable, makeReactor, FdReader, closeAll } from "./helpers";

expectNoFdLeaks();

describe.each(configTable())("lifecycle (%s)", (_label, config) => {
  test("run() resolves after stop(); running is true only in between", async () => {
    const r = makeReactor(config);
    expect(r.running).toBe(false);
    const seen: boolean[] = [];
    r.callWhenRunning(() => {
      seen.push(r.running);
      r.stop();
    });
    const p = r.run();
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(seen).toEqual([true]);
    expect(r.running).toBe(false);
  });

  test("running twice throws ReactorAlreadyRunning; stopping twice ReactorNotRunning; running again ReactorNotRestartable", async () => {
    const r = makeReactor(config);
    const errors: unknown[] = [];
    r.callWhenRunning(() => {
      try {
        void r.run();
      } catch (e) {
        errors.push(e);
      }
      r.stop();
      try {
        r.stop();
      } catch (e) {
        errors.push(e);
      }
    });
    await r.run();
    expect(errors[0]).toBeInstanceOf(ReactorAlreadyRunning);
    expect(errors[1]).toBeInstanceOf(ReactorNotRunning);
    expect(() => r.stop()).toThrow(ReactorNotRunning);
    expect(() => r.run()).toThrow(ReactorNotRestartable);
  });

  test("startup and shutdown triggers run in phase order; callWhenRunning after startup", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    r.addSystemEventTrigger("after", "shutdown", () => order.push(`after shutdown running=${r.running}`));
    r.addSystemEventTrigger("during", "shutdown", () => order.push(`during shutdown running=${r.running}`));
    r.addSystemEventTrigger("before", "shutdown", () => order.push(`before shutdown running=${r.running}`));
    r.callWhenRunning(() => order.push("callWhenRunning"));
    r.addSystemEventTrigger("after", "startup", () => order.push("after startup"));
    r.addSystemEventTrigger("during", "startup", () => order.push(`during startup running=${r.running}`));
    r.addSystemEventTrigger("before", "startup", () => order.push(`before startup running=${r.running}`));
    r.callWhenRunning(() => {
      r.callWhenRunning(() => order.push("callWhenRunning while running: now"));
      r.stop();
    });
    await r.run();
    expect(order).toEqual([
      "before startup running=false",
      "during startup running=true",
      "callWhenRunning",
      "after startup",
      "callWhenRunning while running: now",
      "before shutdown running=true",
      "during shutdown running=false",
      "after shutdown running=false",
    ]);
  });

  test("a before-shutdown trigger returning a promise or a Deferred delays shutdown; the loop keeps dispatching meanwhile", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    r.addSystemEventTrigger("before", "shutdown", () => {
      order.push("before 1");
      return new Promise<void>((resolve) =>
        r.callLater(0.01, () => {
          order.push("timer while shutting down");
          resolve();
        }),
      );
    });
    r.addSystemEventTrigger("before", "shutdown", () => {
      order.push("before 2");
      const d = new Deferred<void>();
      r.callLater(0.02, () => {
        order.push("deferred fires");
        d.callback(undefined);
      });
      return d;
    });
    r.addSystemEventTrigger("during", "shutdown", () => order.push("during"));
    r.addSystemEventTrigger("after", "shutdown", () => order.push("after"));
    r.callWhenRunning(() => r.stop());
    await r.run();
    expect(order).toEqual(["before 1", "before 2", "timer while shutting down", "deferred fires", "during", "after"]);
  });

  test("shutdown removes every reader and tells it ConnectionLost", async () => {
    const r = makeReactor(config);
    const [rd, wr] = native.pipe();
    const reader = new FdReader(rd);
    r.addReader(reader);
    r.callWhenRunning(() => r.stop());
    await r.run();
    expect(reader.lost?.value).toBeInstanceOf(ConnectionLost);
    expect(r.getReaders()).toEqual([]);
    closeAll(rd, wr);
  });

  test("a trigger that throws is logged and the others still run", async () => {
    const records: string[] = [];
    const restore = setLogObservers([(level, msg) => records.push(`${level}: ${msg}`)]);
    try {
      const r = makeReactor(config);
      const order: string[] = [];
      r.addSystemEventTrigger("before", "shutdown", function bad() {
        throw new Error("trigger failed");
      });
      r.addSystemEventTrigger("before", "shutdown", () => Promise.reject(new Error("rejected")));
      r.addSystemEventTrigger("after", "shutdown", () => order.push("after"));
      r.callWhenRunning(() => r.stop());
      await r.run();
      expect(order).toEqual(["after"]);
      expect(records).toEqual(['error: "before shutdown" trigger bad threw', 'error: "before shutdown" trigger failed']);
    } finally {
      restore();
    }
  });

  test("a removed trigger does not run; removing it twice is a RangeError", async () => {
    const r = makeReactor(config);
    const order: string[] = [];
    const h = r.addSystemEventTrigger("after", "shutdown", () => order.push("removed"));
    r.addSystemEventTrigger("after", "shutdown", () => order.push("kept"));
    r.removeSystemEventTrigger(h);
    expect(() => r.removeSystemEventTrigger(h)).toThrow(RangeError);
    r.callWhenRunning(() => r.stop());
    await r.run();
    expect(order).toEqual(["kept"]);
  });

  test("the reactor's fds (poller, watcher, waker) are all released when it stops", async () => {
    const before = openFds();
    const r = makeReactor(config);
    r.threadChannel().port.close();
    r.callWhenRunning(() => r.stop());
    await r.run();
    expect(openFds()).toBe(before);
  });
});

describe("failures of the loop itself", () => {
  test("iterate() from inside an iteration is refused", () => {
    const r = new Reactor();
    let err: unknown;
    r.callLater(0, () => {
      try {
        r.iterate(0);
      } catch (e) {
        err = e;
      }
    });
    r.iterate(0);
    expect(err).toBeInstanceOf(ReactorAlreadyRunning);
    r.close();
  });

  test.each(configTable())("a poller that fails makes run() reject with its error (%s)", async (_label, config) => {
    const records: string[] = [];
    const restore = setLogObservers([(level, msg) => records.push(`${level}: ${msg}`)]);
    let fds: number[] = [];
    try {
      const r = makeReactor(config);
      // White box: break the poller under the running loop, and give the loop a reason to
      // wait again: a byte on a registered pipe (integrated mode waits only when the
      // poller's fd wakes it, not for a due call).
      const [rd, wr] = native.pipe();
      fds = [rd, wr];
      r.addReader(new FdReader(rd));
      r.callLater(0.001, () => {
        (r as unknown as { poller: { wait(): number } }).poller.wait = () => {
          throw new Error("poller broke");
        };
        native.write(wr, Buffer.from("x"), 0, 1);
      });
      await expect(r.run()).rejects.toThrow("poller broke");
      expect(r.running).toBe(false);
      expect(records).toEqual(["error: The reactor's loop failed; stopping without shutdown triggers"]);
    } finally {
      restore();
      closeAll(...fds);
    }
  });
});

describe("construction", () => {
  test("an unknown backend is an UnknownBackendError naming the available ones", () => {
    let err: unknown;
    try {
      new Reactor({ backend: "iocp" as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownBackendError);
    expect((err as Error).message).toBe(`Unknown poller backend "iocp": this build has ${native.backends().join(", ")}`);
  });

  test.each(["poll", "select"] as const)("integrated mode with %s is refused and says why", (backend) => {
    expect(() => new Reactor({ backend, mode: "integrated" })).toThrow(RangeError);
    expect(() => new Reactor({ backend, mode: "integrated" })).toThrow(`the ${backend} backend has none; use mode "exclusive"`);
    expect(new Reactor({ backend }).mode).toBe("exclusive");
  });

  test("the default backend is the best one, run integrated", () => {
    const r = new Reactor();
    expect(r.backend).toBe(native.backends()[0]);
    expect(r.mode).toBe("integrated");
  });

  test("bad options are refused, naming the option", () => {
    expect(() => new Reactor({ mode: "fast" as never })).toThrow(/mode/);
    expect(() => new Reactor({ maxEvents: 0 })).toThrow(/maxEvents/);
    expect(() => new Reactor({ slabSize: 10, maxReadPerFd: 100 })).toThrow(/slabSize/);
  });

  test("a reactor given readers but never run releases its fds on close()", () => {
    const before = openFds();
    const [rd, wr] = native.pipe();
    const r = new Reactor();
    r.addReader(new FdReader(rd));
    expect(openFds()).toBe(before + 3);
    r.close();
    closeAll(rd, wr);
    expect(openFds()).toBe(before);
    expect(() => r.run()).toThrow(ReactorNotRestartable);
  });
});

describe("the global reactor", () => {
  test("is made once, lazily, and is what `reactor` exports; installReactor then refuses", () => {
    const a = getDefaultReactor();
    expect(getDefaultReactor()).toBe(a);
    expect(reactorModule.reactor).toBe(a);
    expect(a.backend).toBe(native.backends()[0]);
    expect(() => installReactor(new Reactor())).toThrow(ReactorAlreadyInstalledError);
  });
});
