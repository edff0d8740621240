/**
 * inlineCallbacks: write Deferred-using code as a generator that `yield`s what it waits
 * for (Twisted's defer.inlineCallbacks), and ensureDeferred for Promises and generators.
 *
 * Typing `yield`: TypeScript gives every `yield` in a generator one result type, so the
 * generator is typed `Generator<unknown, T, any>` and each `yield` expression is `any`;
 * the caller names the type where it receives it:
 *   const page: string = yield getPage(url);
 * The return type `T` is checked and becomes the Deferred's: `Deferred<T>`.
 */
import { CancelledError } from "./errors";
import { NotAnAwaitableError } from "./errors";
import { Deferred, isThenable } from "./deferred";
import { Failure } from "./failure";

/** Thrown into the outer Deferred's own chain to start inlineCallbacks' cancellation. */
class InlineCallbacksCancelled extends Error {}

/** The state of one running generator. */
interface Status<T> {
  /** The Deferred that will get the generator's outcome (replaced once per cancellation). */
  deferred: Deferred<T>;
  /** The Deferred the generator is waiting on, null while it runs. */
  waitingOn: Deferred<unknown> | null;
}

/**
 * Drives `gen` from `result` until it waits on an unfired Deferred or finishes: a
 * yielded Deferred that has already fired is resumed in this same loop (no recursion);
 * a plain value is sent straight back; a Promise is adopted as a Deferred.
 */
function step<T>(gen: Generator<unknown, T, unknown>, result: unknown, status: Status<T>): void {
  for (;;) {
    let r: IteratorResult<unknown, T>;
    try {
      r = result instanceof Failure ? gen.throw(result.value) : gen.next(result);
    } catch (e) {
      status.deferred.errback(e);
      return;
    }
    if (r.done === true) {
      const value: unknown = r.value;
      if (value instanceof Deferred) (value as Deferred<T>).chainDeferred(status.deferred);
      else if (isThenable(value)) Deferred.fromPromise(value as PromiseLike<T>).chainDeferred(status.deferred);
      else status.deferred.callback(value as T);
      return;
    }
    let y: unknown = r.value;
    if (isThenable(y)) y = Deferred.fromPromise(y);
    if (!(y instanceof Deferred)) {
      result = y;
      continue;
    }
    let inLoop = true;
    let firedNow = false;
    let syncResult: unknown;
    (y as Deferred<unknown>).addBoth((res: unknown) => {
      if (inLoop) {
        firedNow = true;
        syncResult = res;
      } else {
        status.waitingOn = null;
        step(gen, res, status);
      }
      return null;
    });
    if (firedNow) {
      result = syncResult;
      continue;
    }
    inLoop = false;
    status.waitingOn = y as Deferred<unknown>;
    return;
  }
}

/** Runs `gen` to completion; the returned Deferred fires with its return value or what it threw. */
function drive<T>(gen: Generator<unknown, T, unknown>): Deferred<T> {
  const status: Status<T> = { deferred: null as unknown as Deferred<T>, waitingOn: null };
  // Cancelling: fire the outer Deferred with a private error caught by a first errback that
  // swaps in a fresh Deferred for the generator's outcome and cancels what the generator
  // waits on; the generator sees CancelledError at its yield and may catch it and go on.
  const handleCancel = (f: Failure): unknown => {
    f.trap(InlineCallbacksCancelled);
    status.deferred = new Deferred<T>(cancel);
    const awaited = status.waitingOn;
    if (awaited === null) return new Failure(new CancelledError());
    awaited.cancel();
    return status.deferred;
  };
  const cancel = (it: Deferred<T>): void => {
    it._addFirst(null, handleCancel);
    it.errback(new InlineCallbacksCancelled());
  };
  const outer = new Deferred<T>(cancel);
  status.deferred = outer;
  step(gen, undefined, status);
  return outer;
}

/** True for a generator object (has next and throw). */
function isGenerator(x: unknown): x is Generator<unknown, unknown, unknown> {
  return (
    x !== null &&
    typeof x === "object" &&
    typeof (x as { next?: unknown }).next === "function" &&
    typeof (x as { throw?: unknown }).throw === "function"
  );
}

/**
 * Wraps a generator function: calling the result runs the generator, resuming it with
 * each yielded Deferred's (or Promise's) value, or throwing its error in at the `yield`;
 * it returns a Deferred of the generator's return value.
 */
export function inlineCallbacks<A extends unknown[], T>(
  f: (...args: A) => Generator<unknown, T, any>,
): (...args: A) => Deferred<T> {
  if (typeof f !== "function") throw new TypeError("inlineCallbacks: f must be a generator function");
  const name = f.name || "anonymous";
  return function (this: unknown, ...args: A): Deferred<T> {
    const gen = f.apply(this, args);
    if (!isGenerator(gen)) {
      throw new TypeError(`inlineCallbacks requires ${name} to produce a generator; instead got ${String(gen)}`);
    }
    return drive(gen as Generator<unknown, T, unknown>);
  };
}

/**
 * A Deferred for `x`: a Deferred as is, a Promise (an async function's result) adopted,
 * a generator object driven as inlineCallbacks does. Anything else is a NotAnAwaitableError.
 */
export function ensureDeferred<T>(x: Deferred<T> | PromiseLike<T> | Generator<unknown, T, any>): Deferred<T> {
  if (x instanceof Deferred) return x;
  if (isThenable(x)) return Deferred.fromPromise(x as PromiseLike<T>);
  if (isGenerator(x)) return drive(x as Generator<unknown, T, unknown>);
  throw new NotAnAwaitableError(`ensureDeferred: x must be a Deferred, a Promise or a generator, not ${String(x)}`);
}
