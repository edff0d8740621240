/**
 * DeferredLock and DeferredSemaphore: mutual exclusion for code that waits on Deferreds
 * (Twisted's defer.DeferredLock / defer.DeferredSemaphore). Waiters are served in FIFO
 * order; cancelling a waiting acquire removes it from the queue.
 */
import { Deferred, maybeDeferred, succeed, type ChainResult } from "./deferred";
import { InvalidStateError } from "./errors";
import { dropWaiter } from "./waiting";

/** Shared by lock and semaphore: the waiting queue and `run`. */
abstract class ConcurrencyPrimitive {
  /** Deferreds of acquires not yet granted, in order. */
  readonly waiting: Deferred<this>[] = [];

  /** A Deferred that fires (with this) when the caller holds the primitive. */
  abstract acquire(): Deferred<this>;
  /** Gives the primitive back; the first waiter, if any, gets it. */
  abstract release(): void;

  /** Removes a cancelled acquire from the queue (it then fails with CancelledError). */
  protected cancelAcquire = (d: Deferred<this>): void => dropWaiter(this.waiting, d);

  /** Acquires, runs `f(...args)`, releases whatever its outcome; a Deferred of that outcome. */
  run<A extends unknown[], R>(f: (...args: A) => R, ...args: A): Deferred<ChainResult<Awaited<R>>> {
    if (typeof f !== "function") throw new TypeError("run: f must be a function");
    return this.acquire().addCallback(() =>
      maybeDeferred(f, ...args).addBoth((r: unknown) => {
        this.release();
        return r;
      }),
    ) as unknown as Deferred<ChainResult<Awaited<R>>>;
  }
}

/** A lock for Deferred-using code: one holder at a time. */
export class DeferredLock extends ConcurrencyPrimitive {
  /** True while someone holds the lock. */
  locked = false;

  /** A Deferred firing with the lock once the caller holds it (at once when free). */
  acquire(): Deferred<this> {
    const d = new Deferred<this>(this.cancelAcquire);
    if (this.locked) {
      this.waiting.push(d);
    } else {
      this.locked = true;
      d.callback(this);
    }
    return d;
  }

  /** Releases the lock, handing it straight to the first waiter if there is one. */
  release(): void {
    if (!this.locked) throw new InvalidStateError("release: the lock is not locked");
    const next = this.waiting.shift();
    if (next !== undefined) next.callback(this);
    else this.locked = false;
  }
}

/** A semaphore for Deferred-using code: at most `limit` holders at a time. */
export class DeferredSemaphore extends ConcurrencyPrimitive {
  /** How many more holders are allowed now. */
  tokens: number;
  /** The maximum number of holders. */
  readonly limit: number;

  /** A semaphore with `tokens` (>= 1) slots. */
  constructor(tokens: number) {
    super();
    if (!Number.isInteger(tokens)) throw new TypeError("DeferredSemaphore: tokens must be an integer");
    if (tokens < 1) throw new RangeError("DeferredSemaphore: tokens must be at least 1");
    this.tokens = tokens;
    this.limit = tokens;
  }

  /** A Deferred firing with the semaphore once the caller holds a token (at once when one is free). */
  acquire(): Deferred<this> {
    if (this.tokens <= 0) {
      const d = new Deferred<this>(this.cancelAcquire);
      this.waiting.push(d);
      return d;
    }
    this.tokens--;
    return succeed(this);
  }

  /** Returns a token, handing it straight to the first waiter if there is one. */
  release(): void {
    if (this.tokens >= this.limit) throw new InvalidStateError("release: semaphore released more often than acquired");
    this.tokens++;
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.tokens--;
      next.callback(this);
    }
  }
}
