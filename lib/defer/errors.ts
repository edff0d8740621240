/**
 * Typed errors of the Deferred layer (Twisted's defer.* and error.* that concern
 * Deferreds and delayed calls). Each carries its cause where it has one.
 */

/** Base of every lib/defer error. */
export class DeferError extends Error {
  /** An error with `message`, its name set to the class name, `cause` kept. */
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A Deferred was fired (callback/errback) a second time. */
export class AlreadyCalledError extends DeferError {}

/** A Deferred was cancelled before it had a result. */
export class CancelledError extends DeferError {
  /** A cancellation, with an optional message and cause. */
  constructor(message = "Deferred was cancelled", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A Deferred given to `addTimeout` did not fire within its time; `seconds` says how long that was. */
export class TimeoutError extends DeferError {
  /** The timeout that expired, in seconds. */
  readonly seconds: number;
  /** "`what` timed out after `seconds` seconds". */
  constructor(seconds: number, what = "Deferred", options?: { cause?: unknown }) {
    super(`${what} timed out after ${seconds} seconds`, options);
    this.seconds = seconds;
  }
}

/**
 * The first failure of a DeferredList fired with `fireOnOneErrback` (and so of
 * gatherResults): `subFailure` is that Failure, `index` the position of its Deferred.
 */
export class FirstError extends DeferError {
  /** The Failure of the Deferred that failed first (a lib/defer Failure). */
  readonly subFailure: unknown;
  /** The index of that Deferred in the list. */
  readonly index: number;
  /** The first failure `subFailure` of the Deferred at `index`. */
  constructor(subFailure: { getErrorMessage(): string; value: unknown }, index: number) {
    super(`FirstError[#${index}, ${subFailure.getErrorMessage()}]`, { cause: subFailure.value });
    this.subFailure = subFailure;
    this.index = index;
  }
}

/**
 * An operation the object's current state does not allow: releasing a DeferredLock that
 * is not locked, a DeferredSemaphore more often than acquired, starting a LoopingCall that
 * is running or stopping one that is not.
 */
export class InvalidStateError extends DeferError {}

/** DeferredQueue.put when the queue already holds `size` items. */
export class QueueOverflow extends DeferError {}

/** DeferredQueue.get when `backlog` gets are already waiting. */
export class QueueUnderflow extends DeferError {}

/** A DelayedCall was cancelled, reset or delayed after it had already run. */
export class AlreadyCalled extends DeferError {}

/** A DelayedCall was cancelled, reset or delayed after it had already been cancelled. */
export class AlreadyCancelled extends DeferError {}

/** ensureDeferred was given something that is neither a Deferred, a thenable nor a generator. */
export class NotAnAwaitableError extends TypeError {
  /** A TypeError named NotAnAwaitableError. */
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}
