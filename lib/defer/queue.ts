/**
 * DeferredQueue: a queue whose `get` returns a Deferred (Twisted's defer.DeferredQueue).
 * Items wait for getters, or getters wait for items; `size` bounds the items held and
 * `backlog` the getters waiting.
 */
import { QueueOverflow, QueueUnderflow } from "./errors";
import { Deferred, succeed } from "./deferred";
import { dropWaiter } from "./waiting";

/** A FIFO queue of items whose `get` returns a Deferred. */
export class DeferredQueue<T> {
  /** Getters waiting for an item, in order. */
  readonly waiting: Deferred<T>[] = [];
  /** Items waiting for a getter, in order. */
  readonly pending: T[] = [];

  /** `size`: most items held (unbounded when undefined); `backlog`: most getters waiting. */
  constructor(
    readonly size?: number,
    readonly backlog?: number,
  ) {
    if (size !== undefined && !(Number.isInteger(size) && size >= 0)) throw new RangeError("DeferredQueue: size must be a non-negative integer");
    if (backlog !== undefined && !(Number.isInteger(backlog) && backlog >= 0)) {
      throw new RangeError("DeferredQueue: backlog must be a non-negative integer");
    }
  }

  /** Removes a cancelled get from the getters waiting (it then fails with CancelledError). */
  private readonly cancelGet = (d: Deferred<T>): void => dropWaiter(this.waiting, d);

  /** Gives `obj` to the first waiting getter, or holds it; QueueOverflow when `size` items are held. */
  put(obj: T): void {
    const getter = this.waiting.shift();
    if (getter !== undefined) {
      getter.callback(obj);
    } else if (this.size === undefined || this.pending.length < this.size) {
      this.pending.push(obj);
    } else {
      throw new QueueOverflow(`DeferredQueue is full (size ${this.size})`);
    }
  }

  /** A Deferred of the next item (fired at once when one is held); QueueUnderflow when `backlog` getters wait. */
  get(): Deferred<T> {
    if (this.pending.length > 0) return succeed(this.pending.shift() as T);
    if (this.backlog === undefined || this.waiting.length < this.backlog) {
      const d = new Deferred<T>(this.cancelGet);
      this.waiting.push(d);
      return d;
    }
    throw new QueueUnderflow(`DeferredQueue has ${this.waiting.length} getters waiting (backlog ${this.backlog})`);
  }
}
