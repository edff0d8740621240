/**
 * Timed calls of the real reactor: `DelayedCall` (Twisted's IDelayedCall) kept in a binary
 * min-heap ordered by (due time, scheduling sequence). Every call knows its heap index, so
 * cancel/reset/delay move or remove it in O(log n) and the heap never holds dead entries:
 * `getDelayedCalls()` and the next deadline are always exact.
 *
 * The sequence number breaks ties in scheduling order and lets the reactor run only the
 * calls that were due *and scheduled* before its timer phase began: a callLater(0) made by
 * a timer runs in the next iteration, after I/O has been polled (no starvation).
 */
import { AlreadyCalled, AlreadyCancelled } from "../defer";
import type { IDelayedCall } from "../defer";

/** What a DelayedCall needs from the queue that owns it. */
interface CallOwner {
  seconds(): number;
  remove(call: DelayedCall): void;
  moved(call: DelayedCall): void;
}

/** A call scheduled by `Reactor.callLater`; cancel, reset or delay it while it is active. */
export class DelayedCall implements IDelayedCall {
  /** True once the call has run (set just before `func` is called). */
  called = false;
  /** True once the call has been cancelled. */
  cancelled = false;
  /** Due time, in the owner's seconds. */
  time: number;
  /** Scheduling order; renewed by reset and delay (the call then counts as newly scheduled). */
  seq: number;
  /** Position in the owner's heap, -1 when not queued. */
  heapIndex = -1;

  constructor(
    time: number,
    seq: number,
    /** The function to run. */
    readonly func: (...a: any[]) => unknown,
    /** Its arguments. */
    readonly args: unknown[],
    private readonly owner: CallOwner,
  ) {
    this.time = time;
    this.seq = seq;
  }

  /** The time (reactor seconds) at which the call is due. */
  getTime(): number {
    return this.time;
  }

  /** Unschedules the call; AlreadyCalled / AlreadyCancelled when it is no longer active. */
  cancel(): void {
    this.checkActive();
    this.cancelled = true;
    this.owner.remove(this);
  }

  /** Makes the call due `seconds` from now. */
  reset(seconds: number): void {
    checkSeconds("seconds", seconds);
    this.checkActive();
    this.time = this.owner.seconds() + seconds;
    this.owner.moved(this);
  }

  /** Moves the due time by `seconds` (later when positive, earlier when negative). */
  delay(seconds: number): void {
    checkSeconds("seconds", seconds);
    this.checkActive();
    this.time += seconds;
    this.owner.moved(this);
  }

  /** True until the call has run or been cancelled. */
  active(): boolean {
    return !(this.called || this.cancelled);
  }

  /** A short description for logs. */
  toString(): string {
    const state = this.cancelled ? "cancelled" : this.called ? "called" : `due at ${this.time}`;
    return `<DelayedCall ${this.func.name || "anonymous"} ${state}>`;
  }

  private checkActive(): void {
    if (this.cancelled) throw new AlreadyCancelled("DelayedCall was already cancelled");
    if (this.called) throw new AlreadyCalled("DelayedCall has already been called");
  }
}

/** Throws a TypeError naming `name` unless `v` is a finite number. */
export function checkSeconds(name: string, v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new TypeError(`${name} must be a finite number of seconds, got ${String(v)}`);
}

/** (time, seq) order: earlier due first, then earlier scheduled. */
function before(a: DelayedCall, b: DelayedCall): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** The reactor's timer heap. */
export class TimerQueue implements CallOwner {
  private readonly heap: DelayedCall[] = [];
  private nextSeq = 0;

  /** `now` is the clock the calls' times are measured in; `onMoved` hears of every new or earlier deadline. */
  constructor(
    private readonly now: () => number,
    private readonly onEarlier: (time: number) => void,
  ) {}

  /** The current time (the owner's clock). */
  seconds(): number {
    return this.now();
  }

  /** Schedules `func(...args)` at `seconds() + delay`. */
  schedule(delay: number, func: (...a: any[]) => unknown, args: unknown[]): DelayedCall {
    const call = new DelayedCall(this.now() + delay, this.nextSeq++, func, args, this);
    this.insert(call);
    return call;
  }

  /** Number of active calls. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest active call, or undefined. */
  peek(): DelayedCall | undefined {
    return this.heap[0];
  }

  /** The sequence number the next scheduled (or moved) call will get. */
  get sequence(): number {
    return this.nextSeq;
  }

  /** A copy of the active calls (heap order, not sorted). */
  list(): DelayedCall[] {
    return this.heap.slice();
  }

  /** Removes and returns the earliest call if it is due at `now` and was scheduled before `seqLimit`. */
  popDue(now: number, seqLimit: number): DelayedCall | undefined {
    const top = this.heap[0];
    if (top === undefined || top.time > now || top.seq >= seqLimit) return undefined;
    this.removeAt(0);
    return top;
  }

  /** CallOwner: unschedules a cancelled call. */
  remove(call: DelayedCall): void {
    if (call.heapIndex >= 0) this.removeAt(call.heapIndex);
  }

  /** CallOwner: re-places a call whose time changed; it counts as newly scheduled. */
  moved(call: DelayedCall): void {
    call.seq = this.nextSeq++;
    const i = call.heapIndex;
    if (i < 0) return;
    this.siftDown(this.siftUp(i));
    if (call.heapIndex === 0) this.onEarlier(call.time);
  }

  /** Drops every call (used when a reactor is torn down). */
  clear(): void {
    for (const c of this.heap) c.heapIndex = -1;
    this.heap.length = 0;
  }

  private insert(call: DelayedCall): void {
    const i = this.heap.length;
    this.heap.push(call);
    call.heapIndex = i;
    if (this.siftUp(i) === 0) this.onEarlier(call.time);
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const gone = heap[i];
    const last = heap.pop() as DelayedCall;
    gone.heapIndex = -1;
    if (last !== gone) {
      heap[i] = last;
      last.heapIndex = i;
      this.siftDown(this.siftUp(i));
    }
  }

  /** Moves heap[i] up while it is before its parent; returns its final index. */
  private siftUp(i: number): number {
    const heap = this.heap;
    const item = heap[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p];
      if (!before(item, parent)) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = item;
    item.heapIndex = i;
    return i;
  }

  /** Moves heap[i] down while a child is before it; returns its final index. */
  private siftDown(i: number): number {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r], heap[l]) ? r : l;
      const child = heap[c];
      if (!before(child, item)) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = item;
    item.heapIndex = i;
    return i;
  }
}
