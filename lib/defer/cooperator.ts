/**
 * Cooperative multitasking over iterators (Twisted's task.Cooperator, CooperativeTask and
 * coiterate): each tick runs one step of each task in turn, round-robin, until the time
 * slice ends, then yields to the event loop. A step that yields a Deferred (or any
 * thenable) pauses its task until that fires. Time comes in through an injected scheduler
 * (or an IReactorTime), so lib/defer knows no reactor.
 */
import { Deferred, isThenable } from "./deferred";
import { DeferError } from "./errors";
import { Failure } from "./failure";
import type { IReactorTime } from "./interfaces";
import { isClock } from "./timers";

/** Base of the ways a CooperativeTask can have finished (Twisted's TaskFinished). */
export class TaskFinished extends DeferError {}
/** The task's iterator was exhausted; raised by pause/resume/stop of a finished task. */
export class TaskDone extends TaskFinished {}
/** The task was stopped with `stop()`; its whenDone Deferreds fail with this. */
export class TaskStopped extends TaskFinished {}
/** The task's iterator threw (or a Deferred it yielded failed). */
export class TaskFailed extends TaskFinished {}
/** The task's Cooperator was stopped (Twisted's SchedulerStopped). */
export class SchedulerStopped extends DeferError {}
/** The name this project's issue uses for SchedulerStopped. */
export const CooperatorStopped = SchedulerStopped;
/** `resume()` of a task that is not paused. */
export class NotPaused extends DeferError {}

/** Calls `f` soon (on the event loop, never synchronously); returns nothing useful. */
export type Scheduler = (f: () => void) => unknown;

/** A factory of predicates: each tick makes one, and stops when it returns true. */
export type TerminationPredicateFactory = () => () => boolean;

/** Options of a Cooperator. */
export interface CooperatorOptions {
  /** Schedules a tick; defaults to `clock.callLater(0, f)`. One of scheduler or clock is required. */
  scheduler?: Scheduler;
  /** The clock of the default scheduler (the reactor, or a Clock in tests). */
  clock?: IReactorTime;
  /** When a tick ends; defaults to a 10 ms time slice (Twisted's _Timer). */
  terminationPredicateFactory?: TerminationPredicateFactory;
  /** False: nothing runs before start(). Default true. */
  started?: boolean;
}

/** Twisted's _Timer: a slice of 10 ms of wall-clock time. */
const SLICE_MS = 10;
function timeSlice(): () => boolean {
  const end = performance.now() + SLICE_MS;
  return () => performance.now() >= end;
}

/** One iterator driven by a Cooperator (Twisted's CooperativeTask). */
export class CooperativeTask<I extends Iterator<unknown> = Iterator<unknown>> {
  private pauseCount = 0;
  private completion: TaskFinished | SchedulerStopped | null = null;
  private result: I | Failure | null = null;
  private readonly deferreds: Deferred<I>[] = [];

  /** Made by Cooperator.cooperate. */
  constructor(
    private readonly iterator: I,
    private readonly cooperator: Cooperator,
  ) {
    cooperator.addTask(this);
  }

  /** A new Deferred that fires with the iterator when it is exhausted, or fails with why it stopped. */
  whenDone(): Deferred<I> {
    const d = new Deferred<I>();
    if (this.completion === null) this.deferreds.push(d);
    else this.fire(d);
    return d;
  }

  /** Stops running steps until a matching `resume()` (nestable). TaskDone etc. once finished. */
  pause(): void {
    this.checkFinished();
    this.pauseCount += 1;
    if (this.pauseCount === 1) this.cooperator.removeTask(this);
  }

  /** Undoes one `pause()`; NotPaused when not paused. */
  resume(): void {
    if (this.pauseCount === 0) throw new NotPaused("resume: the task is not paused");
    this.pauseCount -= 1;
    if (this.pauseCount === 0 && this.completion === null) this.cooperator.addTask(this);
  }

  /** Stops for good: whenDone Deferreds fail with TaskStopped. TaskDone etc. once finished. */
  stop(): void {
    this.checkFinished();
    this.failWith(new TaskStopped("the task was stopped"));
  }

  /** Runs one step of the iterator (called by the Cooperator). */
  oneWorkUnit(): void {
    let step: IteratorResult<unknown>;
    try {
      step = this.iterator.next();
    } catch (err) {
      this.completeWith(new TaskFailed("the iterator threw"), Failure.from(err));
      return;
    }
    if (step.done) {
      this.completeWith(new TaskDone("the iterator is exhausted"), this.iterator);
      return;
    }
    const v = step.value;
    const isDeferred = v instanceof Deferred;
    if (!isDeferred && !isThenable(v)) return;
    this.pause();
    const failLater = (err: unknown): void => {
      if (this.completion === null) this.completeWith(new TaskFailed("a yielded Deferred failed"), Failure.from(err));
    };
    if (isDeferred) {
      (v as Deferred<unknown>).addCallbacks(
        () => this.resume(),
        (f: Failure) => failLater(f),
      );
    } else {
      (v as PromiseLike<unknown>).then(
        () => this.resume(),
        (err: unknown) => failLater(err),
      );
    }
  }

  /** Ends the task with `error` as both its state and its whenDone Deferreds' failure. */
  failWith(error: TaskFinished | SchedulerStopped): void {
    this.completeWith(error, Failure.from(error));
  }

  /** Ends the task with `state`; `result` is the iterator or the Failure. */
  completeWith(state: TaskFinished | SchedulerStopped, result: I | Failure): void {
    this.completion = state;
    this.result = result;
    if (this.pauseCount === 0) this.cooperator.removeTask(this);
    const ds = this.deferreds.splice(0);
    for (const d of ds) this.fire(d);
  }

  private fire(d: Deferred<I>): void {
    if (this.result instanceof Failure) d.errback(this.result);
    else d.callback(this.result as I);
  }

  private checkFinished(): void {
    if (this.completion !== null) throw this.completion;
  }
}

/**
 * Runs many iterators at once, a step of each in turn, in time slices (Twisted's
 * task.Cooperator).
 */
export class Cooperator {
  private tasks: CooperativeTask<any>[] = [];
  private cursor = 0;
  private readonly scheduler: Scheduler;
  private readonly termination: TerminationPredicateFactory;
  private scheduled = false;
  private started: boolean;
  private mustScheduleOnStart = false;
  private stopped = false;

  /** A Cooperator ticking through `options.scheduler`, or `options.clock.callLater(0, …)`. */
  constructor(options: CooperatorOptions) {
    if (!options || typeof options !== "object") throw new TypeError("Cooperator: options must be an object with a scheduler or a clock");
    const { scheduler, clock, terminationPredicateFactory, started = true } = options;
    if (scheduler !== undefined) {
      if (typeof scheduler !== "function") throw new TypeError("Cooperator: options.scheduler must be a function");
      this.scheduler = scheduler;
    } else {
      if (!isClock(clock, true)) throw new TypeError("Cooperator: options.clock must be an IReactorTime when no scheduler is given");
      this.scheduler = (f) => clock.callLater(0, f);
    }
    if (terminationPredicateFactory !== undefined && typeof terminationPredicateFactory !== "function") {
      throw new TypeError("Cooperator: options.terminationPredicateFactory must be a function");
    }
    this.termination = terminationPredicateFactory ?? timeSlice;
    this.started = started;
  }

  /** True after start() and before stop(). */
  get running(): boolean {
    return this.started && !this.stopped;
  }

  /** Runs `iterator` cooperatively; returns its task (pause, resume, stop, whenDone). */
  cooperate<I extends Iterator<unknown>>(iterator: I): CooperativeTask<I> {
    if (iterator === null || typeof iterator !== "object" || typeof (iterator as Iterator<unknown>).next !== "function") {
      throw new TypeError("cooperate: iterator must be an Iterator (an object with next())");
    }
    return new CooperativeTask(iterator, this);
  }

  /** Runs `iterator` cooperatively; the Deferred fires with the iterator when it is exhausted. */
  coiterate<I extends Iterator<unknown>>(iterator: I): Deferred<I> {
    return this.cooperate(iterator).whenDone();
  }

  /** Begins ticking a Cooperator made with `started: false`. */
  start(): void {
    this.stopped = false;
    this.started = true;
    if (this.mustScheduleOnStart) {
      this.mustScheduleOnStart = false;
      this.reschedule();
    }
  }

  /** Stops every task (their whenDone Deferreds fail with SchedulerStopped) and any later one, until start(). */
  stop(): void {
    this.stopped = true;
    for (const t of this.tasks.slice()) t.failWith(new SchedulerStopped("the Cooperator was stopped"));
    this.tasks = [];
  }

  /** Adds a task to the round (called by CooperativeTask). */
  addTask(t: CooperativeTask<any>): void {
    if (this.stopped) {
      // Twisted's rule: a task given to a stopped Cooperator is finished at once.
      this.tasks.push(t);
      t.failWith(new SchedulerStopped("the Cooperator is stopped"));
      return;
    }
    this.tasks.push(t);
    this.reschedule();
  }

  /** Removes a task from the round (called by CooperativeTask). */
  removeTask(t: CooperativeTask<any>): void {
    const i = this.tasks.indexOf(t);
    if (i < 0) return;
    this.tasks.splice(i, 1);
    if (i < this.cursor) this.cursor -= 1;
  }

  private reschedule(): void {
    if (!this.started) {
      this.mustScheduleOnStart = true;
      return;
    }
    if (this.scheduled || this.tasks.length === 0) return;
    this.scheduled = true;
    this.scheduler(() => this.tick());
  }

  private tick(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const done = this.termination();
    while (this.tasks.length > 0) {
      if (this.cursor >= this.tasks.length) this.cursor = 0;
      const t = this.tasks[this.cursor];
      this.cursor += 1;
      t.oneWorkUnit();
      if (done()) break;
    }
    this.reschedule();
  }
}
