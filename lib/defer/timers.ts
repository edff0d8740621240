/**
 * Timed calls without I/O, shared by the real reactor and by Clock: `DelayedCall`
 * (Twisted's IDelayedCall) kept in `TimerQueue`, a binary min-heap ordered by (due time,
 * scheduling sequence). Every call knows its heap index, so reset/delay re-place it in
 * O(log n). Cancel is lazy (O(1)): the call stays in the heap, marked, until it reaches the
 * top (where it is discarded before anyone looks at the next deadline) or until cancelled
 * calls make up half the heap, which is then rebuilt in O(n). The schedule-then-cancel
 * pattern of timeouts thus costs one push and one flag.
 *
 * The sequence number breaks ties in scheduling order. With `renewOnMove` (the reactor) a
 * reset or delayed call takes a new sequence number, so a caller can run only the calls that
 * were due *and scheduled* before some moment (`popDue`'s `seqLimit`): a callLater(0) made
 * by a timer then runs in the reactor's next iteration, after I/O. Without it (Clock) a
 * moved call keeps its place among calls due at the same time, as task.Clock's stable
 * re-sort does.
 */
import { invalidArgType } from "../error";
import { AlreadyCalled, AlreadyCancelled } from "./errors";
import type { IDelayedCall, IReactorTime } from "./interfaces";

/** A call scheduled by `callLater` (reactor or Clock); cancel, reset or delay it while it is active. */
export class DelayedCall implements IDelayedCall {
  /** True once the call has run (set just before `func` is called). */
  called = false;
  /** True once the call has been cancelled. */
  cancelled = false;
  /** Due time, in the owner's seconds (reset and delay change it). */
  time: number;
  /** Scheduling order among calls due at the same time. */
  seq: number;
  /** Position in the owner's heap, -1 when not queued. */
  heapIndex = -1;

  /** A call of `func(...args)` due at `time`, `seq`-th in `owner`'s scheduling order. */
  constructor(
    time: number,
    seq: number,
    /** The function to run. */
    readonly func: (...a: any[]) => unknown,
    /** Its arguments. */
    readonly args: unknown[],
    private readonly owner: TimerQueue,
  ) {
    this.time = time;
    this.seq = seq;
  }

  /** The time (owner's seconds) at which the call is due. */
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
    this.owner.checkMove(seconds);
    this.checkActive();
    this.time = this.owner.seconds() + seconds;
    this.owner.moved(this);
  }

  /** Moves the due time by `seconds` (later when positive, earlier when negative). */
  delay(seconds: number): void {
    this.owner.checkMove(seconds);
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

  /** Throws AlreadyCancelled or AlreadyCalled when the call is no longer active. */
  private checkActive(): void {
    if (this.cancelled) throw new AlreadyCancelled("DelayedCall was already cancelled");
    if (this.called) throw new AlreadyCalled("DelayedCall has already been called");
  }
}

/** Throws a TypeError naming `name` unless `v` is a finite number. */
export function checkSeconds(name: string, v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalidArgType(`${name} must be a finite number of seconds, got ${String(v)}`);
}

/** Throws a TypeError "`name` must be a number" (", got `v`" with `showValue`) unless `v` is a number other than NaN. */
export function checkNumber(name: string, v: unknown, showValue = false): asserts v is number {
  if (typeof v !== "number" || Number.isNaN(v)) throw invalidArgType(showValue ? `${name} must be a number, got ${String(v)}` : `${name} must be a number`);
}

/** True when `c` is an object with callLater (and, with `withSeconds`, seconds): the IReactorTime the caller uses. */
export function isClock(c: unknown, withSeconds = false): c is IReactorTime {
  return (
    c !== null &&
    typeof c === "object" &&
    typeof (c as IReactorTime).callLater === "function" &&
    (!withSeconds || typeof (c as IReactorTime).seconds === "function")
  );
}

/** (time, seq) order: earlier due first, then earlier scheduled. */
function before(a: DelayedCall, b: DelayedCall): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** (time, seq) order as a sort comparator. */
function byDueOrder(a: DelayedCall, b: DelayedCall): number {
  return a.time - b.time || a.seq - b.seq;
}

/** Does nothing (the default `onEarlier`). */
function ignore(): void {}

/** How a TimerQueue treats moved calls and hears of deadlines. */
export interface TimerQueueOptions {
  /** Hears of every new earliest deadline (a call scheduled or moved to the top). */
  onEarlier?: (time: number) => void;
  /** A reset or delayed call counts as newly scheduled (default true); false keeps its place among ties. */
  renewOnMove?: boolean;
  /** reset/delay refuse non-finite seconds (default true); false refuses only non-numbers and NaN. */
  finiteMoves?: boolean;
}

/** A min-heap of DelayedCalls by (due time, scheduling order), with lazy cancel. */
export class TimerQueue {
  private readonly heap: DelayedCall[] = [];
  private nextSeq = 0;
  /** Cancelled calls still in the heap. */
  private dead = 0;
  private readonly onEarlier: (time: number) => void;
  private readonly renewOnMove: boolean;
  private readonly finiteMoves: boolean;

  /** `now` is the clock the calls' times are measured in; see TimerQueueOptions for the rest. */
  constructor(
    private readonly now: () => number,
    options: TimerQueueOptions = {},
  ) {
    this.onEarlier = options.onEarlier ?? ignore;
    this.renewOnMove = options.renewOnMove ?? true;
    this.finiteMoves = options.finiteMoves ?? true;
  }

  /** The current time (the owner's clock). */
  seconds(): number {
    return this.now();
  }

  /** Schedules `func(...args)` at `seconds() + delay` (the caller has checked its arguments). */
  schedule(delay: number, func: (...a: any[]) => unknown, args: unknown[]): DelayedCall {
    const call = new DelayedCall(this.now() + delay, this.nextSeq++, func, args, this);
    this.insert(call);
    return call;
  }

  /** Number of active calls. */
  get size(): number {
    return this.heap.length - this.dead;
  }

  /** The earliest active call, or undefined. */
  peek(): DelayedCall | undefined {
    this.dropCancelledTop();
    return this.heap[0];
  }

  /** The sequence number the next scheduled (or, with renewOnMove, moved) call will get. */
  get sequence(): number {
    return this.nextSeq;
  }

  /** A copy of the active calls (heap order, not sorted). */
  list(): DelayedCall[] {
    return this.dead === 0 ? this.heap.slice() : this.heap.filter((c) => !c.cancelled);
  }

  /** A copy of the active calls in due order (ties in scheduling order). */
  sorted(): DelayedCall[] {
    return this.list().sort(byDueOrder);
  }

  /** Removes and returns the earliest call if it is due at `now` and was scheduled before `seqLimit`. */
  popDue(now: number, seqLimit: number): DelayedCall | undefined {
    this.dropCancelledTop();
    const top = this.heap[0];
    if (top === undefined || top.time > now || top.seq >= seqLimit) return undefined;
    this.removeAt(0);
    return top;
  }

  /** For DelayedCall.reset/delay: throws a TypeError unless `seconds` is an amount this queue accepts. */
  checkMove(seconds: unknown): asserts seconds is number {
    if (this.finiteMoves) checkSeconds("seconds", seconds);
    else checkNumber("seconds", seconds, true);
  }

  /** For DelayedCall.cancel: a call was cancelled (it is already marked); it leaves the heap lazily. */
  remove(call: DelayedCall): void {
    if (call.heapIndex < 0) return;
    this.dead++;
    if (this.dead > 64 && this.dead * 2 > this.heap.length) this.compact();
  }

  /** For DelayedCall.reset/delay: re-places a call whose time changed. */
  moved(call: DelayedCall): void {
    if (this.renewOnMove) call.seq = this.nextSeq++;
    const i = call.heapIndex;
    if (i < 0) return;
    this.siftDown(this.siftUp(i));
    if (call.heapIndex === 0) this.onEarlier(call.time);
  }

  /** Pops cancelled calls off the top, so heap[0] (if any) is active. */
  private dropCancelledTop(): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0].cancelled) {
      this.removeAt(0);
      this.dead--;
    }
  }

  /** Rebuilds the heap without its cancelled calls (Floyd's heapify, O(n)). */
  private compact(): void {
    const heap = this.heap;
    let n = 0;
    for (let i = 0; i < heap.length; i++) {
      const c = heap[i];
      if (c.cancelled) c.heapIndex = -1;
      else heap[n++] = c;
    }
    heap.length = n;
    for (let i = 0; i < n; i++) heap[i].heapIndex = i;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
    this.dead = 0;
  }

  /** Adds `call` to the heap, telling onEarlier when it became the earliest. */
  private insert(call: DelayedCall): void {
    const i = this.heap.length;
    this.heap.push(call);
    call.heapIndex = i;
    if (this.siftUp(i) === 0) this.onEarlier(call.time);
  }

  /** Removes heap[i], moving the last call into its place. */
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
