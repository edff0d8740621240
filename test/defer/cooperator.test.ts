import {
  Clock,
  Cooperator,
  CooperatorStopped,
  Deferred,
  NotPaused,
  SchedulerStopped,
  TaskDone,
  TaskStopped,
} from "../../lib/defer";
import { failureResultOf, successResultOf } from "./support";

/**
 * A Cooperator on a hand-run scheduler (`clock.advance(0)` runs the ticks scheduled so far,
 * not the ones they schedule) whose every tick runs `stepsPerTick` steps in all.
 */
function setup(stepsPerTick = Infinity): { clock: { advance(s: number): void; pending(): number }; coop: Cooperator } {
  let queue: (() => void)[] = [];
  const clock = {
    advance(): void {
      const now = queue;
      queue = [];
      for (const f of now) f();
    },
    pending: (): number => queue.length,
  };
  const coop = new Cooperator({
    scheduler: (f) => queue.push(f),
    terminationPredicateFactory: () => {
      let n = 0;
      return () => ++n >= stepsPerTick;
    },
  });
  return { clock, coop };
}

function* letters(name: string, n: number, out: string[]): Generator<unknown> {
  for (let i = 0; i < n; i++) {
    out.push(`${name}${i}`);
    yield undefined;
  }
}

describe("Cooperator", () => {
  test("interleaves tasks round-robin, one step each in turn, and fires coiterate with the iterator", () => {
    const { clock, coop } = setup();
    const out: string[] = [];
    const a = letters("a", 3, out);
    const da = coop.coiterate(a);
    const db = coop.coiterate(letters("b", 2, out));
    expect(out).toEqual([]); // nothing runs synchronously
    clock.advance(0);
    expect(out).toEqual(["a0", "b0", "a1", "b1", "a2"]);
    expect(successResultOf(da)).toBe(a);
    successResultOf(db);
  });

  test("a tick ends when the termination predicate says so, and the next tick resumes the round", () => {
    const { clock, coop } = setup(3);
    const out: string[] = [];
    coop.coiterate(letters("a", 3, out));
    coop.coiterate(letters("b", 3, out));
    clock.advance(0);
    expect(out).toEqual(["a0", "b0", "a1"]);
    clock.advance(0);
    expect(out).toEqual(["a0", "b0", "a1", "b1", "a2", "b2"]);
  });

  test("a yielded Deferred pauses its task (others go on) until it fires", () => {
    const { clock, coop } = setup();
    const out: string[] = [];
    const gate = new Deferred<void>();
    function* waiting(): Generator<unknown> {
      out.push("w0");
      yield gate;
      out.push("w1");
    }
    const dw = coop.coiterate(waiting());
    coop.coiterate(letters("b", 3, out));
    clock.advance(0);
    expect(out).toEqual(["w0", "b0", "b1", "b2"]);
    clock.advance(1);
    expect(out).toEqual(["w0", "b0", "b1", "b2"]);
    expect(clock.pending()).toBe(0); // nothing to run: no tick scheduled
    gate.callback(undefined);
    clock.advance(0);
    expect(out).toEqual(["w0", "b0", "b1", "b2", "w1"]);
    successResultOf(dw);
  });

  test("a yielded Deferred that fails fails the task with that failure", () => {
    const { clock, coop } = setup();
    const gate = new Deferred<void>();
    const d = coop.coiterate((function* () {
      yield gate;
    })());
    clock.advance(0);
    gate.errback(new RangeError("gate broke"));
    expect(failureResultOf(d, RangeError).getErrorMessage()).toBe("gate broke");
  });

  test("an iterator that throws fails its Deferred with the error; the other tasks go on", () => {
    const { clock, coop } = setup();
    const out: string[] = [];
    const bad = coop.coiterate((function* () {
      yield 1;
      throw new TypeError("step 2 broke");
    })());
    const good = coop.coiterate(letters("g", 3, out));
    clock.advance(0);
    expect(failureResultOf(bad, TypeError).getErrorMessage()).toBe("step 2 broke");
    expect(out).toEqual(["g0", "g1", "g2"]);
    successResultOf(good);
  });

  test("pause and resume of a task; resume when not paused is NotPaused", () => {
    const { clock, coop } = setup();
    const out: string[] = [];
    const t = coop.cooperate(letters("p", 2, out));
    t.pause();
    t.pause();
    clock.advance(0);
    expect(out).toEqual([]);
    t.resume();
    clock.advance(0);
    expect(out).toEqual([]);
    t.resume();
    clock.advance(0);
    expect(out).toEqual(["p0", "p1"]);
    expect(() => t.resume()).toThrow(NotPaused);
  });

  test("stop() of a task fails whenDone with TaskStopped; stop/pause after the end raise the finished state", () => {
    const { clock, coop } = setup(1);
    const out: string[] = [];
    const t = coop.cooperate(letters("s", 5, out));
    const d = t.whenDone();
    clock.advance(0);
    t.stop();
    clock.advance(0);
    expect(out).toEqual(["s0"]);
    failureResultOf(d, TaskStopped);
    failureResultOf(t.whenDone(), TaskStopped); // later whenDone calls see the same end
    expect(() => t.stop()).toThrow(TaskStopped);
    const done = coop.cooperate(letters("x", 1, out));
    clock.advance(0);
    clock.advance(0);
    expect(() => done.pause()).toThrow(TaskDone);
  });

  test("stop() of the Cooperator fails every task with SchedulerStopped (CooperatorStopped), and later ones at once", () => {
    const { clock, coop } = setup(1);
    const out: string[] = [];
    const d1 = coop.coiterate(letters("a", 5, out));
    const d2 = coop.coiterate(letters("b", 5, out));
    clock.advance(0);
    coop.stop();
    expect(coop.running).toBe(false);
    clock.advance(0);
    expect(out).toEqual(["a0"]);
    failureResultOf(d1, SchedulerStopped);
    failureResultOf(d2, CooperatorStopped);
    failureResultOf(coop.coiterate(letters("c", 1, out)), SchedulerStopped);
  });

  test("with a clock, a tick is scheduled with callLater(0)", () => {
    const clock = new Clock();
    const coop = new Cooperator({ clock });
    const out: string[] = [];
    const d = coop.coiterate(letters("c", 2, out));
    expect(clock.getDelayedCalls().map((c) => c.getTime())).toEqual([0]);
    clock.advance(0);
    expect(out).toEqual(["c0", "c1"]);
    successResultOf(d);
  });

  test("a Cooperator made with started: false runs nothing until start()", () => {
    const clock = new Clock();
    const coop = new Cooperator({ clock, started: false });
    const out: string[] = [];
    const d = coop.coiterate(letters("z", 2, out));
    clock.advance(1);
    expect(out).toEqual([]);
    coop.start();
    clock.advance(0);
    expect(out).toEqual(["z0", "z1"]);
    successResultOf(d);
  });

  test("a yielded promise pauses the task like a Deferred", async () => {
    const { clock, coop } = setup();
    const out: string[] = [];
    let release!: () => void;
    const p = new Promise<void>((res) => (release = res));
    const d = coop.coiterate((function* () {
      out.push("before");
      yield p;
      out.push("after");
    })());
    clock.advance(0);
    clock.advance(0);
    expect(out).toEqual(["before"]);
    release();
    await p;
    clock.advance(0);
    expect(out).toEqual(["before", "after"]);
    successResultOf(d);
  });

  test("wrong arguments throw TypeErrors naming them", () => {
    expect(() => new Cooperator({} as never)).toThrow(/options\.clock/);
    expect(() => new Cooperator({ scheduler: 3 as never })).toThrow(/options\.scheduler/);
    const { coop } = setup();
    expect(() => coop.cooperate([1, 2] as never)).toThrow(/iterator/);
    expect(() => coop.coiterate(null as never)).toThrow(TypeError);
  });
});
