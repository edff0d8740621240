/**
 * Deferred: a result that is not there yet, with Twisted's exact semantics.
 *
 * A Deferred holds a chain of (callback, errback) pairs. When it fires, the result runs
 * down the chain: a pair's callback runs when the current result is a value, its errback
 * when it is a Failure; whatever the function returns (or throws) becomes the new result.
 * A function that returns another Deferred pauses the chain until that one fires.
 *
 * Why it is written this way:
 * - The chain is one flat array of 4 slots per pair (callback, callbackArgs, errback,
 *   errbackArgs) consumed through a head index: adding and running a callback allocate
 *   nothing but the slots (extra arguments are read from `arguments`, not a rest array).
 * - Chained Deferreds are run by one loop over an explicit stack (`runCallbacks`), never
 *   by recursion, so 10,000 Deferreds returning one another do not overflow the stack.
 * - Unhandled failures are tracked only for Deferreds that end on a Failure: the success
 *   path never touches the FinalizationRegistry.
 */
import { AlreadyCalledError, CancelledError, TimeoutError } from "./errors";
import { Failure } from "./failure";
import type { IReactorTime } from "./interfaces";
import { checkNumber, isClock } from "./timers";
import { log } from "../log";

/** The result type a callback's return value gives the chain: a Deferred's value, never a Failure. */
export type ChainResult<U> = U extends Deferred<infer V> ? V : U extends Failure ? never : U;

/** Called by `cancel()` on an unfired Deferred; it may fire the Deferred itself. */
export type Canceller<T> = (d: Deferred<T>) => void;

/** A function `onTimeout(result, seconds)` that turns a timed-out cancellation into the result wanted. */
export type TimeoutHandler = (result: unknown, seconds: number) => unknown;

let debugging = false;

/** Turns debug mode on or off: new Deferreds then record where they were created and fired. */
export function setDebugging(on: boolean): void {
  debugging = !!on;
}

/** Whether debug mode is on. */
export function getDebugging(): boolean {
  return debugging;
}

/** Where a Deferred was created and fired (debug mode), and the Failure it ended on, if unhandled. */
class DebugInfo {
  /** The Failure the Deferred's chain ended on; null once something handled it. */
  failResult: Failure | null = null;
  /** Stack at creation (debug mode only). */
  creator: string | null = null;
  /** Stack at the first callback/errback (debug mode only). */
  invoker: string | null = null;
  /** Whether the owning Deferred is registered for finalization. */
  registered = false;

  /** The debug lines of the unhandled-error report, "" when nothing was recorded. */
  describe(): string {
    let s = "";
    if (this.creator !== null) s += `\n(debug:  C: Deferred was created:\n${this.creator})`;
    if (this.invoker !== null) s += `\n(debug:  I: First Invoker was:\n${this.invoker})`;
    return s;
  }
}

/** Logs the Failure a collected Deferred ended on, unless something handled it meanwhile. */
function reportUnhandled(info: DebugInfo): void {
  const f = info.failResult;
  if (f === null || f.observed) return;
  const isError = f.value instanceof Error;
  const message = `Unhandled error in Deferred:${info.describe()}${isError ? "" : `\n${f.getTraceback()}`}`;
  log("error", message, isError ? f.value : undefined);
}

const unhandledRegistry = new FinalizationRegistry<DebugInfo>(reportUnhandled);

/** A stack trace of the caller, for debug mode. */
function stackHere(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, stackHere);
  const s = holder.stack ?? "";
  const nl = s.indexOf("\n");
  return nl >= 0 ? s.slice(nl + 1) : s;
}

/** Marker placed in an inner Deferred's chain: "hand your result to the outer Deferred in the args slot". */
function CONTINUE(): never {
  throw new Error("CONTINUE marker must never be called");
}

/** chainDeferred's callback: fire the chained Deferred with the value. */
function chainCallback(result: unknown, d: Deferred<unknown>): void {
  d.callback(result);
}

/** chainDeferred's errback: fire the chained Deferred with the Failure. */
function chainErrback(f: Failure, d: Deferred<unknown>): void {
  d.errback(f);
}

/** asPromise's callback: resolve the Promise, leave the result for the rest of the chain. */
function settleResolve(result: unknown, resolve: (v: unknown) => void): unknown {
  resolve(result);
  return result;
}

/** asPromise's errback: reject with the original error; the Promise now owns the Failure. */
function settleReject(f: Failure, reject: (e: unknown) => void): Failure {
  f.observed = true;
  reject(f.value);
  return f;
}

/** A result that will arrive later, with Twisted's callback/errback chain (see the file header). */
export class Deferred<T = unknown> implements PromiseLike<T> {
  /** True once callback or errback has been called. */
  called = false;
  /** How many pauses are in force; the chain runs only at 0. */
  paused = 0;
  /**
   * The current result: undefined before firing; a value, a Failure, or the Deferred
   * this one waits for while paused on it; null after it was handed to a chained Deferred.
   */
  result: unknown = undefined;
  /** The Deferred whose result this one is waiting for, if any. */
  _chainedTo: Deferred<unknown> | null = null;

  /** Flat chain: [callback, callbackArgs, errback, errbackArgs] per pair. */
  private readonly _cbs: unknown[] = [];
  /** Index in `_cbs` of the next pair to run. */
  private _head = 0;
  /** Index in `_cbs` past the last pair (the array is reused, never truncated: no reallocation). */
  private _tail = 0;
  private _canceller: Canceller<any> | null;
  private _runningCallbacks = false;
  private _suppressAlreadyCalled = false;
  private _debugInfo: DebugInfo | null = null;

  /** A new unfired Deferred; `canceller(d)` runs on `cancel()` before it has fired. */
  constructor(canceller?: Canceller<T> | null) {
    if (canceller !== undefined && canceller !== null && typeof canceller !== "function") {
      throw new TypeError("Deferred: canceller must be a function");
    }
    this._canceller = canceller ?? null;
    if (debugging) {
      const info = new DebugInfo();
      info.creator = stackHere();
      this._debugInfo = info;
    }
  }

  /** A Deferred that fires with the outcome of `p` (it cannot cancel `p`, only stop waiting). */
  static fromPromise<T>(p: PromiseLike<T>): Deferred<T> {
    if (p === null || (typeof p !== "object" && typeof p !== "function") || typeof (p as { then?: unknown }).then !== "function") {
      throw new TypeError("fromPromise: p must be a Promise or thenable");
    }
    const d = new Deferred<T>();
    p.then(
      (v) => d.callback(v),
      (e) => d.errback(e),
    );
    return d;
  }

  /** Adds a callback/errback pair; extra args are passed after the result. Returns this. */
  addCallbacks<U, V = never, A extends unknown[] = [], B extends unknown[] = []>(
    callback: ((result: T, ...args: A) => U) | null,
    errback?: ((failure: Failure, ...args: B) => V) | null,
    callbackArgs?: A,
    errbackArgs?: B,
  ): Deferred<ChainResult<U> | ChainResult<V>>;
  addCallbacks(callback: unknown, errback?: unknown, callbackArgs?: unknown, errbackArgs?: unknown): Deferred<unknown> {
    if (callback !== null && typeof callback !== "function") throw new TypeError("addCallbacks: callback must be a function");
    if (errback !== undefined && errback !== null && typeof errback !== "function") {
      throw new TypeError("addCallbacks: errback must be a function");
    }
    if (callbackArgs !== undefined && callbackArgs !== null && !Array.isArray(callbackArgs)) {
      throw new TypeError("addCallbacks: callbackArgs must be an array");
    }
    if (errbackArgs !== undefined && errbackArgs !== null && !Array.isArray(errbackArgs)) {
      throw new TypeError("addCallbacks: errbackArgs must be an array");
    }
    const n1 = callbackArgs as unknown[] | undefined;
    const n2 = errbackArgs as unknown[] | undefined;
    this._push(
      callback,
      n1 !== undefined && n1 !== null && n1.length > 0 ? n1 : undefined,
      errback ?? null,
      n2 !== undefined && n2 !== null && n2.length > 0 ? n2 : undefined,
    );
    if (this.called) this._runCallbacks();
    return this;
  }

  /** Adds `callback(result, ...args)` for the success path (failures pass by). Returns this. */
  addCallback<U, A extends unknown[]>(callback: (result: T, ...args: A) => U, ...args: A): Deferred<ChainResult<U>>;
  addCallback(callback: unknown): Deferred<unknown> {
    if (typeof callback !== "function") throw new TypeError("addCallback: callback must be a function");
    let args: unknown[] | undefined;
    if (arguments.length > 1) args = Array.prototype.slice.call(arguments, 1);
    this._push(callback, args, null, undefined);
    if (this.called) this._runCallbacks();
    return this;
  }

  /** Adds `errback(failure, ...args)` for the failure path (values pass by). Returns this. */
  addErrback<U, A extends unknown[]>(errback: (failure: Failure, ...args: A) => U, ...args: A): Deferred<T | ChainResult<U>>;
  addErrback(errback: unknown): Deferred<unknown> {
    if (typeof errback !== "function") throw new TypeError("addErrback: errback must be a function");
    let args: unknown[] | undefined;
    if (arguments.length > 1) args = Array.prototype.slice.call(arguments, 1);
    this._push(null, undefined, errback, args);
    if (this.called) this._runCallbacks();
    return this;
  }

  /** Adds `f(resultOrFailure, ...args)` on both paths. Returns this. */
  addBoth<U, A extends unknown[]>(f: (result: T | Failure, ...args: A) => U, ...args: A): Deferred<ChainResult<U>>;
  addBoth(f: unknown): Deferred<unknown> {
    if (typeof f !== "function") throw new TypeError("addBoth: f must be a function");
    let args: unknown[] | undefined;
    if (arguments.length > 1) args = Array.prototype.slice.call(arguments, 1);
    this._push(f, args, f, args);
    if (this.called) this._runCallbacks();
    return this;
  }

  /**
   * Fires `d` with this Deferred's result when it arrives (this one's result becomes
   * undefined afterwards, as `d.callback` returns nothing). Returns this.
   */
  chainDeferred(d: Deferred<T>): Deferred<void> {
    if (!(d instanceof Deferred)) throw new TypeError("chainDeferred: d must be a Deferred");
    d._chainedTo = this as Deferred<unknown>;
    return this.addCallbacks(chainCallback as (r: T, d: Deferred<T>) => void, chainErrback as (f: Failure, d: Deferred<T>) => void, [d], [d]);
  }

  /** Fires the chain with a value (not a Deferred). Throws AlreadyCalledError when already fired. */
  callback(result: T): void {
    if (result instanceof Deferred) throw new TypeError("callback: result must not be a Deferred (return it from a callback instead)");
    this._startRunCallbacks(result);
  }

  /** Fires the chain with a failure: a Failure, or any thrown value, which is wrapped in one. */
  errback(fail: unknown): void {
    if (arguments.length === 0) throw new TypeError("errback: fail is required (a Failure or the thrown value)");
    this._startRunCallbacks(Failure.from(fail));
  }

  /** Stops the chain from running (nestable) until a matching `unpause`. */
  pause(): void {
    this.paused++;
  }

  /** Undoes one `pause`; at zero, runs whatever callbacks are due. */
  unpause(): void {
    this.paused--;
    if (this.paused !== 0) return;
    if (this.called) this._runCallbacks();
  }

  /**
   * Cancels: before firing, runs the canceller, and if the Deferred still has no result,
   * errbacks it with CancelledError (a later callback from the original source is then
   * ignored once when there was no canceller). After firing, cancels the Deferred this
   * one waits on, if any; otherwise does nothing.
   */
  cancel(): void {
    if (!this.called) {
      const canceller = this._canceller;
      if (canceller !== null) canceller(this);
      else this._suppressAlreadyCalled = true;
      if (!this.called) this.errback(new Failure(new CancelledError()));
    } else if (this.result instanceof Deferred) {
      this.result.cancel();
    }
  }

  /**
   * Cancels this Deferred if it has not fired `seconds` from now on `clock`; the
   * resulting CancelledError becomes a TimeoutError, or whatever
   * `onTimeout(result, seconds)` returns. Returns this.
   */
  addTimeout(seconds: number, clock: IReactorTime, onTimeout?: TimeoutHandler): Deferred<T> {
    checkNumber("addTimeout: seconds", seconds);
    if (!isClock(clock)) throw new TypeError("addTimeout: clock must provide callLater (IReactorTime)");
    if (onTimeout !== undefined && typeof onTimeout !== "function") throw new TypeError("addTimeout: onTimeout must be a function");
    let timedOut = false;
    const call = clock.callLater(seconds, () => {
      timedOut = true;
      this.cancel();
    });
    // One link does both jobs: once timed out the call has run, so there is nothing to cancel.
    this.addBoth((result: unknown) => {
      if (timedOut) return (onTimeout ?? cancelledToTimedOut)(result, seconds);
      if (call.active()) call.cancel();
      return result;
    });
    return this;
  }

  /** True when the Deferred has fired and its current result is a Failure. */
  hasFailed(): boolean {
    return this.called && this.result instanceof Failure;
  }

  /** A Promise settled by this Deferred's outcome: rejected with the original error, not the Failure. */
  asPromise(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.addCallbacks(settleResolve as (r: T, res: unknown) => T, settleReject as (f: Failure, rej: unknown) => Failure, [resolve], [reject]);
    });
  }

  /**
   * Thenable: `await d` and `d.then(...)` see the outcome without consuming it (a value
   * stays the result for later callbacks; a failure stays too, but no longer counts as
   * unhandled since the Promise rejected with it).
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.asPromise().then(onfulfilled, onrejected);
  }

  /** "<Deferred at current result: ...>" for logs. */
  toString(): string {
    if (this._chainedTo !== null) return "<Deferred waiting on Deferred>";
    if (!this.called) return "<Deferred>";
    return `<Deferred current result: ${String(this.result)}>`;
  }

  /** Inserts a pair before every pending one (inlineCallbacks' cancellation needs to run first). */
  _addFirst(callback: unknown, errback: unknown): void {
    this._cbs.splice(this._head, 0, callback, undefined, errback, undefined);
    this._tail += 4;
  }

  /** Appends one pair at `_tail`, overwriting the slots of pairs already run. */
  private _push(callback: unknown, callbackArgs: unknown, errback: unknown, errbackArgs: unknown): void {
    const cbs = this._cbs;
    const t = this._tail;
    if (t === cbs.length) {
      cbs.push(callback, callbackArgs, errback, errbackArgs);
    } else {
      cbs[t] = callback;
      cbs[t + 1] = callbackArgs;
      cbs[t + 2] = errback;
      cbs[t + 3] = errbackArgs;
    }
    this._tail = t + 4;
  }

  /** callback/errback's common path: AlreadyCalled check, debug stack, run. */
  private _startRunCallbacks(result: unknown): void {
    if (this.called) {
      if (this._suppressAlreadyCalled) {
        this._suppressAlreadyCalled = false;
        return;
      }
      let extra = "";
      const info = this._debugInfo;
      if (info !== null && (info.creator !== null || info.invoker !== null)) {
        extra = info.describe();
      }
      throw new AlreadyCalledError(`Deferred has already been called${extra}`);
    }
    if (debugging) {
      let info = this._debugInfo;
      if (info === null) info = this._debugInfo = new DebugInfo();
      info.invoker = stackHere();
    }
    this.called = true;
    this.result = result;
    this._canceller = null; // a canceller often holds its Deferred: drop the cycle once fired
    this._runCallbacks();
  }

  /**
   * Runs pending callbacks of this Deferred and of every Deferred waiting on it, with an
   * explicit stack instead of recursion. A callback returning an unfired (or paused)
   * Deferred pauses `current` and places a CONTINUE marker in that Deferred's chain; a
   * CONTINUE reached here hands the result on and runs the waiting Deferred next.
   */
  private _runCallbacks(): void {
    if (this._runningCallbacks) return; // the loop further up the stack picks up new pairs
    let chain: Deferred<unknown>[] | null = null;
    let current: Deferred<unknown> = this as Deferred<unknown>;
    for (;;) {
      if (current.paused !== 0) return;
      let finished = true;
      current._chainedTo = null;
      const cbs = current._cbs;
      while (current._head < current._tail) {
        const i = current._head;
        current._head = i + 4;
        const r = current.result;
        const failed = r instanceof Failure;
        const fn = (failed ? cbs[i + 2] : cbs[i]) as ((...a: unknown[]) => unknown) | null;
        const args = (failed ? cbs[i + 3] : cbs[i + 1]) as unknown[] | undefined;
        // release what this pair references (closures often hold large things)
        cbs[i] = cbs[i + 1] = cbs[i + 2] = cbs[i + 3] = undefined;
        if (fn === null) continue;
        if (fn === CONTINUE) {
          const waiting = args as unknown as Deferred<unknown>;
          waiting.result = r;
          current.result = null;
          if (current._debugInfo !== null) current._debugInfo.failResult = null;
          waiting.paused--;
          if (chain === null) chain = [current];
          chain.push(waiting);
          current = waiting;
          finished = false;
          break;
        }
        current._runningCallbacks = true;
        try {
          if (args === undefined) current.result = fn(r);
          else if (args.length === 1) current.result = fn(r, args[0]);
          else if (args.length === 2) current.result = fn(r, args[0], args[1]);
          else current.result = fn(r, ...args);
        } catch (e) {
          current.result = failed && e === (r as Failure).value ? r : new Failure(e);
        }
        current._runningCallbacks = false;
        const nr = current.result;
        if (nr instanceof Deferred) {
          if (nr === current) {
            current.result = new Failure(new TypeError("a callback returned the Deferred it was added to"));
            continue;
          }
          const inner = nr as Deferred<unknown>;
          if (!inner.called || inner.paused !== 0 || inner.result instanceof Deferred) {
            current.paused++;
            current._chainedTo = inner;
            inner._push(CONTINUE, current, CONTINUE, current);
            break;
          }
          current.result = inner.result;
          inner.result = null;
          if (inner._debugInfo !== null) inner._debugInfo.failResult = null;
        }
      }
      if (finished) {
        if (current._head >= current._tail) {
          current._head = 0;
          current._tail = 0;
        }
        const r = current.result;
        if (r instanceof Failure) {
          r.cleanFailure(); // the registry holds it: it must not keep this Deferred alive through its frames
          let info = current._debugInfo;
          if (info === null) info = current._debugInfo = new DebugInfo();
          info.failResult = r;
          if (!info.registered) {
            info.registered = true;
            unhandledRegistry.register(current, info);
          }
        } else if (current._debugInfo !== null) {
          current._debugInfo.failResult = null;
        }
        if (chain === null) return;
        chain.pop();
        if (chain.length === 0) return;
        current = chain[chain.length - 1];
      }
    }
  }
}

/** addTimeout's default: a CancelledError caused by the timeout becomes a TimeoutError. */
function cancelledToTimedOut(result: unknown, seconds: number): unknown {
  if (result instanceof Failure) {
    result.trap(CancelledError);
    throw new TimeoutError(seconds, "Deferred", { cause: result.value });
  }
  return result;
}

/** A Deferred already fired with `result`. */
export function succeed<T>(result: T): Deferred<T> {
  const d = new Deferred<T>();
  d.callback(result);
  return d;
}

/** A Deferred already failed with `fail` (a Failure or any thrown value). */
export function fail<T = never>(fail: unknown): Deferred<T> {
  const d = new Deferred<T>();
  d.errback(fail);
  return d;
}

/** True for an object with a `then` method that is not a Deferred. */
export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === "object" || typeof x === "function") &&
    !(x instanceof Deferred) &&
    typeof (x as { then?: unknown }).then === "function"
  );
}

/**
 * Calls `f(...args)` and gives its outcome as a Deferred: a returned Deferred as is, a
 * Promise adopted, a returned Failure or a throw as a failure, anything else as a value.
 */
export function maybeDeferred<A extends unknown[], R>(f: (...args: A) => R, ...args: A): Deferred<ChainResult<Awaited<R>>> {
  if (typeof f !== "function") throw new TypeError("maybeDeferred: f must be a function");
  let r: unknown;
  try {
    r = f(...args);
  } catch (e) {
    return fail(e);
  }
  if (r instanceof Deferred) return r as Deferred<ChainResult<Awaited<R>>>;
  if (r instanceof Failure) return fail(r);
  if (isThenable(r)) return Deferred.fromPromise(r) as Deferred<ChainResult<Awaited<R>>>;
  return succeed(r as ChainResult<Awaited<R>>);
}

/** Calls `f(...args)` now; a Deferred fired with its return value, or failed with what it threw. */
export function execute<A extends unknown[], R>(f: (...args: A) => R, ...args: A): Deferred<R> {
  if (typeof f !== "function") throw new TypeError("execute: f must be a function");
  let r: R;
  try {
    r = f(...args);
  } catch (e) {
    return fail(e);
  }
  return succeed(r);
}
