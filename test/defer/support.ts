/**
 * Assertions on Deferreds in the manner of Twisted's SynchronousTestCase:
 * successResultOf, failureResultOf, assertNoResult.
 */
import { Deferred, Failure, type FailureType } from "../../lib/defer";

const NOTHING = Symbol("nothing");

/** The current result of `d`, which must have fired with a value (the result is left in place). */
export function successResultOf<T>(d: Deferred<T>): T {
  let got: unknown = NOTHING;
  d.addBoth((r: unknown) => {
    got = r;
    if (r instanceof Failure) return null; // consumed: the test reports it instead
    return r;
  });
  if (got === NOTHING) throw new Error("successResultOf: the Deferred has no result");
  if (got instanceof Failure) throw new Error(`successResultOf: the Deferred failed: ${got.getTraceback()}`);
  return got as T;
}

/** The Failure `d` has failed with (consumed), optionally checked against `types`. */
export function failureResultOf(d: Deferred<unknown>, ...types: FailureType[]): Failure {
  let got: unknown = NOTHING;
  d.addBoth((r: unknown) => {
    got = r;
    return null;
  });
  if (got === NOTHING) throw new Error("failureResultOf: the Deferred has no result");
  if (!(got instanceof Failure)) throw new Error(`failureResultOf: the Deferred succeeded with ${String(got)}`);
  if (types.length > 0 && got.check(...types) === null) {
    throw new Error(`failureResultOf: expected one of ${types.map((t) => (typeof t === "string" ? t : t.name)).join(", ")}, got ${got.getBriefTraceback()}`);
  }
  return got;
}

/** Asserts that `d` has no result yet (it has not fired, or waits on another Deferred). */
export function assertNoResult(d: Deferred<unknown>): void {
  let got: unknown = NOTHING;
  d.addBoth((r: unknown) => {
    got = r;
    return r;
  });
  if (got !== NOTHING) throw new Error(`assertNoResult: the Deferred has a result: ${String(got)}`);
}

/** A plain error class to fail with. */
export class GenericError extends Error {
  constructor(message?: string) {
    super(message);
    this.name = "GenericError";
  }
}
