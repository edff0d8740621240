/**
 * DeferredList and gatherResults: wait for many Deferreds at once (Twisted's
 * defer.DeferredList / defer.gatherResults).
 */
import { FirstError } from "./errors";
import { Deferred } from "./deferred";
import { Failure } from "./failure";
import { log } from "../log";

/** One entry of a DeferredList's result: [true, value] or [false, Failure]. */
export type DeferredListEntry<T> = [true, T] | [false, Failure];

/** Options of a DeferredList (all false by default). */
export interface DeferredListOptions {
  /** Fire with [value, index] as soon as one Deferred succeeds. */
  fireOnOneCallback?: boolean;
  /** Fail with FirstError(failure, index) as soon as one Deferred fails. */
  fireOnOneErrback?: boolean;
  /** Replace each failure in the given Deferreds' chains by undefined, so none is reported unhandled. */
  consumeErrors?: boolean;
}

/** Records one Deferred's outcome in the list and fires the list when it is complete. */
function cbDeferred(result: unknown, list: DeferredList<unknown>, index: number, succeeded: boolean): unknown {
  list.resultList[index] = [succeeded, result] as DeferredListEntry<unknown>;
  list.finishedCount++;
  if (!list.called) {
    if (succeeded && list.fireOnOneCallback) {
      (list as Deferred<unknown>).callback([result, index]);
    } else if (!succeeded && list.fireOnOneErrback) {
      (list as Deferred<unknown>).errback(new Failure(new FirstError(result as Failure, index)));
    } else if (list.finishedCount === list.resultList.length) {
      (list as Deferred<unknown>).callback(list.resultList);
    }
  }
  if (!succeeded && list.consumeErrors) return undefined;
  return result;
}

/** cancel() of a DeferredList: cancel every given Deferred, logging (not raising) canceller errors. */
function cancelAll(list: Deferred<unknown>): void {
  for (const d of (list as DeferredList<unknown>).deferreds) {
    try {
      d.cancel();
    } catch (e) {
      log("error", "Exception raised from user supplied canceller", e);
    }
  }
}

/**
 * A Deferred that fires when every Deferred of a list has fired, with [success, result]
 * pairs in list order (or earlier, per the fireOnOne* options).
 */
export class DeferredList<T> extends Deferred<DeferredListEntry<T>[]> {
  /** The watched Deferreds (a copy of the given list). */
  readonly deferreds: Deferred<T>[];
  /** One [success, result] entry per Deferred, filled as they fire. */
  readonly resultList: DeferredListEntry<T>[];
  /** How many of the Deferreds have fired. */
  finishedCount = 0;
  /** See DeferredListOptions. */
  readonly fireOnOneCallback: boolean;
  /** See DeferredListOptions. */
  readonly fireOnOneErrback: boolean;
  /** See DeferredListOptions. */
  readonly consumeErrors: boolean;

  /** Watches `deferredList`; with no Deferreds and no fireOnOneCallback it fires at once with []. */
  constructor(deferredList: Iterable<Deferred<T>>, options: DeferredListOptions = {}) {
    super(cancelAll as (d: Deferred<DeferredListEntry<T>[]>) => void);
    if (deferredList === null || typeof (deferredList as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw new TypeError("DeferredList: deferredList must be an iterable of Deferreds");
    }
    const ds = Array.from(deferredList);
    for (const d of ds) if (!(d instanceof Deferred)) throw new TypeError("DeferredList: every item of deferredList must be a Deferred");
    this.deferreds = ds;
    this.resultList = new Array(ds.length);
    this.fireOnOneCallback = !!options.fireOnOneCallback;
    this.fireOnOneErrback = !!options.fireOnOneErrback;
    this.consumeErrors = !!options.consumeErrors;
    if (ds.length === 0 && !this.fireOnOneCallback) this.callback([]);
    for (let i = 0; i < ds.length; i++) {
      ds[i].addCallbacks(cbDeferred, cbDeferred, [this, i, true], [this, i, false]);
    }
  }
}

/** gatherResults' callback: the values of an all-successful DeferredList. */
function valuesOf<T>(entries: DeferredListEntry<T>[]): T[] {
  const out = new Array<T>(entries.length);
  for (let i = 0; i < entries.length; i++) out[i] = entries[i][1] as T;
  return out;
}

/**
 * A Deferred of all the values, in order; it fails with FirstError (wrapping the first
 * Failure and its index) as soon as one fails. Cancelling it cancels them all.
 */
export function gatherResults<T>(deferredList: Iterable<Deferred<T>>, consumeErrors = false): Deferred<T[]> {
  const dl = new DeferredList<T>(deferredList, { fireOnOneErrback: true, consumeErrors });
  return dl.addCallback(valuesOf) as Deferred<T[]>;
}
