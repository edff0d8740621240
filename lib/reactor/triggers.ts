/**
 * System event triggers (Twisted's addSystemEventTrigger / fireSystemEvent): for each event
 * ("startup", "shutdown", or any name), three phases run in order: "before", "during",
 * "after". A "before" trigger may return a thenable (a Deferred or a promise); the later
 * phases then wait until every such thenable has settled. A trigger that throws or
 * rejects is logged and the event goes on.
 */
import { log } from "../log";

/** The three phases of a system event. */
export type TriggerPhase = "before" | "during" | "after";

/** The handle returned by addSystemEventTrigger, accepted by removeSystemEventTrigger. */
export interface TriggerHandle {
  /** The system event ("startup", "shutdown", ...). */
  readonly event: string;
  /** The phase the function runs in. */
  readonly phase: TriggerPhase;
  /** Unique per registration: tells apart two handles for the same event and phase. */
  readonly id: number;
}

interface Trigger {
  handle: TriggerHandle;
  f: (...a: any[]) => unknown;
  args: unknown[];
}

interface EventTriggers {
  before: Trigger[];
  during: Trigger[];
  after: Trigger[];
}

const PHASES: readonly TriggerPhase[] = ["before", "during", "after"];

/** The triggers of one reactor, by event. */
export class SystemEventTriggers {
  private readonly events = new Map<string, EventTriggers>();
  private nextId = 1;

  /** Registers `f(...args)` to run in `phase` of `event`; returns the handle that removes it. */
  add(phase: TriggerPhase, event: string, f: (...a: any[]) => unknown, args: unknown[]): TriggerHandle {
    if (!PHASES.includes(phase)) throw new RangeError(`phase must be "before", "during" or "after", got ${String(phase)}`);
    if (typeof event !== "string" || event === "") throw new TypeError("eventType must be a non-empty string");
    if (typeof f !== "function") throw new TypeError("callable must be a function");
    const handle: TriggerHandle = { event, phase, id: this.nextId++ };
    this.triggers(event)[phase].push({ handle, f, args });
    return handle;
  }

  /** Removes a trigger that has not run yet; RangeError when the handle is unknown. */
  remove(handle: TriggerHandle): void {
    const list = handle && PHASES.includes(handle.phase) ? this.events.get(handle.event)?.[handle.phase] : undefined;
    const i = list ? list.findIndex((t) => t.handle.id === handle.id) : -1;
    if (!list || i < 0) throw new RangeError("triggerID: no such system event trigger (already run or removed)");
    list.splice(i, 1);
  }

  /**
   * Runs the triggers of `event` (each runs once and is then forgotten) and calls `done`
   * when the last phase has run: synchronously when no "before" trigger returned a thenable.
   */
  fire(event: string, done: () => void): void {
    const t = this.triggers(event);
    const waits: PromiseLike<unknown>[] = [];
    while (t.before.length > 0) {
      const result = runTrigger(t.before.shift() as Trigger, event);
      if (isThenable(result)) waits.push(result);
    }
    const finish = (): void => {
      for (const phase of [t.during, t.after]) {
        while (phase.length > 0) runTrigger(phase.shift() as Trigger, event);
      }
      done();
    };
    if (waits.length === 0) {
      finish();
      return;
    }
    let pending = waits.length;
    const settled = (): void => {
      if (--pending === 0) finish();
    };
    for (const w of waits) {
      w.then(settled, (err: unknown) => {
        log("error", `"before ${event}" trigger failed`, err);
        settled();
      });
    }
  }

  private triggers(event: string): EventTriggers {
    let t = this.events.get(event);
    if (t === undefined) {
      t = { before: [], during: [], after: [] };
      this.events.set(event, t);
    }
    return t;
  }
}

function runTrigger(t: Trigger, event: string): unknown {
  try {
    return t.f(...t.args);
  } catch (err) {
    log("error", `"${t.handle.phase} ${event}" trigger ${t.f.name || "(anonymous)"} threw`, err);
    return undefined;
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === "object" || typeof x === "function") && typeof (x as PromiseLike<unknown>).then === "function";
}
