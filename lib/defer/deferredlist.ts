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
function record(result: unknown, list: DeferredList<unknown>, index: number, succeeded: boolean): unknown {
  (list.resultList as unknown[])[index] = list._valuesOnly ? result : [succeeded, result];
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

/** A watched Deferred succeeded: record it (one args array [list, index] serves both paths). */
function onSuccess(result: unknown, list: DeferredList<unknown>, index: number): unknown {
  return record(result, list, index, true);
}

/** A watched Deferred failed: record it. */
function onFailure(result: unknown, list: DeferredList<unknown>, index: number): unknown {
  return record(result, list, index, false);
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
  /** gatherResults' mode: resultList holds bare values (it always fails on the first failure). */
  readonly _valuesOnly: boolean;

  /**
   * Watches `deferredList`; with no Deferreds and no fireOnOneCallback it fires at once
   * with []. (`valuesOnly` is gatherResults' internal mode.)
   */
  constructor(deferredList: Iterable<Deferred<T>>, options: DeferredListOptions = {}, valuesOnly = false) {
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
    this._valuesOnly = valuesOnly && this.fireOnOneErrback && !this.fireOnOneCallback;
    if (ds.length === 0 && !this.fireOnOneCallback) this.callback([]);
    for (let i = 0; i < ds.length; i++) {
      const args: [DeferredList<unknown>, number] = [this as DeferredList<unknown>, i];
      ds[i].addCallbacks(onSuccess, onFailure, args, args);
    }
  }
}

/**
 * A Deferred of all the values, in order; it fails with FirstError (wrapping the first
 * Failure and its index) as soon as one fails. Cancelling it cancels them all.
 * (A DeferredList that records bare values: no [success, value] pairs to build and unpack.)
 */
export function gatherResults<T>(deferredList: Iterable<Deferred<T>>, consumeErrors = false): Deferred<T[]> {
  return new DeferredList<T>(deferredList, { fireOnOneErrback: true, consumeErrors }, true) as unknown as Deferred<T[]>;
}
