/**
 * The Reactor: one poller, a slot table of registered descriptors, a timer heap and the
 * dispatch loop (docs/design.md, "The reactor"). One iteration is:
 *
 *   wait → dispatch events (doRead / doWrite; batch readers collected) → one readBatch for
 *   the batch readers → calls from threads → due timers → one writevBatch for the batch
 *   writers that asked for a flush → (shutdown, when stop() was called)
 *
 * Two run modes drive the same `iterate`:
 * - integrated (default where the backend has its own fd): libuv watches the poller's fd
 *   (FdWatcher) and a Node timer covers the nearest deadline; each wake-up runs one
 *   non-blocking iteration, so Node's timers, promises and fs keep working beside it.
 * - exclusive: the reactor blocks in the kernel wait on this thread. While events keep
 *   coming it stays in its own loop (microtasks and nextTicks drained between iterations,
 *   a turn of Node's loop every `yieldIntervalMs`); before blocking it always gives Node's
 *   loop a turn (setImmediate), so every microtask has run, and it blocks at most
 *   `blockCapMs` so that Node timers and signals still get their turn.
 */
import { performance } from "node:perf_hooks";
import { types } from "node:util";
import { native, READABLE, WRITABLE, ERROR, HANGUP, AGAIN, EVENT_STRIDE } from "../native";
import type { Backend, FdWatcher, Poller } from "../native";
import { ConnectionLost, ReactorAlreadyRunning, ReactorNotRunning, UnknownBackendError } from "../error";
import { log } from "../log";
import type { IReactorTime } from "../defer";
import { DelayedCall, TimerQueue, checkSeconds } from "../defer/timers";
import { ReactorNotRestartable } from "./errors";
import { Registry } from "./registry";
import { SystemEventTriggers } from "./triggers";
import type { TriggerHandle, TriggerPhase } from "./triggers";
import { ThreadInbox } from "./thread-inbox";
import type { ThreadChannelHandle } from "./thread-caller";
import type { IBatchReadDescriptor, IBatchWriter, IFileDescriptor, IReadDescriptor, IWriteDescriptor } from "./interfaces";

/** How the reactor's loop is driven (see the file comment). */
export type RunMode = "integrated" | "exclusive";

/** Options of `new Reactor(...)`. */
export interface ReactorOptions {
  /** Poller backend; default: the best this build has (`native.backends()[0]`). */
  backend?: Backend;
  /** Run mode; default "integrated" when the backend has its own fd, else "exclusive". */
  mode?: RunMode;
  /** Install SIGINT/SIGTERM handlers that stop the reactor, by default, at run(). Default false. */
  installSignalHandlers?: boolean;
  /** Events fetched per wait. Default 1024. */
  maxEvents?: number;
  /** Bytes per read slab of batch readers. Default 256 KiB. */
  slabSize?: number;
  /** Most bytes a batch read takes from one fd per iteration. Default 64 KiB. */
  maxReadPerFd?: number;
  /** Exclusive mode: longest run of busy iterations before Node's loop gets a turn. Default 10 ms. */
  yieldIntervalMs?: number;
  /** Exclusive mode: longest blocking wait (bounds Node timer and signal latency). Default 50 ms. */
  blockCapMs?: number;
}

/** Options of `run()`. */
export interface RunOptions {
  /** Stop gracefully on SIGINT/SIGTERM while running (handlers removed at stop). */
  installSignalHandlers?: boolean;
}

// Lifecycle states.
const IDLE = 0;
const RUNNING = 1;
const STOPPING = 2; // shutdown triggers are running; the loop still dispatches
const ENDED = 3;

const READ_BITS = READABLE | HANGUP | ERROR;
const MAX_TIMEOUT_MS = 0x7fffffff;
const BACKENDS_WITH_FD: ReadonlySet<string> = new Set(["epoll", "kqueue"]);
const EPOCH_SECONDS = performance.timeOrigin / 1000;

/** The waker fd as a reader of the reactor's own. */
class WakerReader implements IReadDescriptor {
  constructor(private readonly reactor: Reactor, private readonly inbox: ThreadInbox) {}
  fileno(): number {
    return this.inbox.waker[0];
  }
  doRead(): void {
    this.inbox.drainWaker();
    this.reactor.threadCallsReady();
  }
  connectionLost(): void {}
}

/**
 * A Twisted reactor over one native poller: readers/writers (IReadDescriptor,
 * IWriteDescriptor and the batch roles), timers (IReactorTime), lifecycle and system event
 * triggers, calls from other threads.
 */
export class Reactor implements IReactorTime {
  /** The poller backend this reactor uses. */
  readonly backend: Backend;
  /** The run mode this reactor uses. */
  readonly mode: RunMode;

  private readonly events: Uint32Array;
  private readonly maxEvents: number;
  private readonly slabSize: number;
  private readonly maxReadPerFd: number;
  private readonly yieldIntervalMs: number;
  private readonly blockCapMs: number;
  private readonly defaultSignals: boolean;

  private poller: Poller | null = null;
  private registry: Registry | null = null;
  private readonly timers: TimerQueue;
  private readonly triggers = new SystemEventTriggers();

  private state = IDLE;
  private isRunning = false;
  private stopRequested = false;
  private inIteration = false;
  private runPromise: Promise<void> | null = null;
  private resolveRun: (() => void) | null = null;
  private rejectRun: ((err: Error) => void) | null = null;
  private signalHandler: ((signal: NodeJS.Signals) => void) | null = null;

  // callFromThread on this thread: FIFO of functions and their arguments.
  private threadFns: ((...a: any[]) => unknown)[] = [];
  private threadArgs: unknown[][] = [];
  // calls from other threads
  private inbox: ThreadInbox | null = null;
  private wakerReader: WakerReader | null = null;
  private inboxReady = false;
  private inboxBacklog = false;

  // batch reads collected during dispatch
  private readonly batchFds: Int32Array;
  private readonly batchReaders: (IBatchReadDescriptor | null)[];
  private batchCount = 0;
  private readonly batchOut: Int32Array;
  private slab: Buffer;
  private slabOffset = 0;

  // batch writes requested for the end of the iteration
  private flushQueue: IBatchWriter[] = [];
  private flushSpare: IBatchWriter[] = [];
  private flushScheduled = false;
  private flushFds = new Int32Array(64);
  private flushCounts = new Int32Array(64);
  private flushOut = new Int32Array(64);
  private readonly flushBufs: Uint8Array[] = [];

  // integrated mode
  private watcher: FdWatcher | null = null;
  private nodeTimer: NodeJS.Timeout | null = null;
  private nodeTimerAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;

  /** Makes a reactor; throws UnknownBackendError for a backend this build lacks. */
  constructor(options: ReactorOptions = {}) {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    const available = native.backends();
    const backend = options.backend ?? available[0];
    if (!available.includes(backend)) {
      throw new UnknownBackendError(`Unknown poller backend "${String(backend)}": this build has ${available.join(", ")}`);
    }
    this.backend = backend;
    const hasFd = BACKENDS_WITH_FD.has(backend);
    const mode = options.mode ?? (hasFd ? "integrated" : "exclusive");
    if (mode !== "integrated" && mode !== "exclusive") throw new RangeError(`mode must be "integrated" or "exclusive", got ${String(mode)}`);
    if (mode === "integrated" && !hasFd) {
      throw new RangeError(
        `mode: "integrated" needs a poller with a pollable fd of its own for libuv to watch, and the ${backend} backend has none; use mode "exclusive"`,
      );
    }
    this.mode = mode;
    this.maxEvents = positiveInt("maxEvents", options.maxEvents ?? 1024);
    this.maxReadPerFd = positiveInt("maxReadPerFd", options.maxReadPerFd ?? 64 * 1024);
    this.slabSize = positiveInt("slabSize", options.slabSize ?? 256 * 1024);
    if (this.slabSize < this.maxReadPerFd) throw new RangeError("slabSize must be at least maxReadPerFd");
    this.yieldIntervalMs = nonNegative("yieldIntervalMs", options.yieldIntervalMs ?? 10);
    this.blockCapMs = positiveInt("blockCapMs", options.blockCapMs ?? 50);
    this.defaultSignals = options.installSignalHandlers ?? false;
    this.events = new Uint32Array(this.maxEvents * EVENT_STRIDE);
    this.batchFds = new Int32Array(this.maxEvents);
    this.batchReaders = new Array<IBatchReadDescriptor | null>(this.maxEvents).fill(null);
    this.batchOut = new Int32Array(this.maxEvents * 3);
    this.slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.timers = new TimerQueue(() => this.seconds(), { onEarlier: () => this.deadlineMoved() });
    this.addSystemEventTrigger("during", "startup", () => {
      this.isRunning = true;
    });
    this.addSystemEventTrigger("during", "shutdown", () => this.disconnectAll());
  }

  // ---------------------------------------------------------------- lifecycle

  /** True from startup until the "during shutdown" phase (Twisted's `running`). */
  get running(): boolean {
    return this.isRunning;
  }

  /**
   * Starts the reactor: fires "startup" (callWhenRunning functions run in its "after"
   * phase), then runs the loop until stop() and the "shutdown" event have completed.
   * Resolves then. Throws ReactorAlreadyRunning, or ReactorNotRestartable once ended.
   */
  run(options: RunOptions = {}): Promise<void> {
    if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has already run and stopped; make a new Reactor");
    if (this.state !== IDLE) throw new ReactorAlreadyRunning("The reactor is already running");
    this.state = RUNNING;
    this.runPromise = new Promise<void>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
    });
    try {
      this.ensureRegistry();
      if (this.inbox !== null && this.wakerReader === null) this.registerWaker();
      if (this.mode === "integrated") {
        const pfd = (this.poller as Poller).fd();
        if (pfd < 0) throw new RangeError(`mode: "integrated" needs a pollable poller fd and the ${this.backend} poller has none`);
        this.watcher = new native.FdWatcher(pfd, () => this.step());
        this.watcher.start();
      }
    } catch (e) {
      this.teardown();
      throw e;
    }
    if (options.installSignalHandlers ?? this.defaultSignals) this.installSignals();
    this.triggers.fire("startup", () => undefined);
    if (this.mode === "integrated") this.arm();
    else void this.runExclusive();
    return this.runPromise;
  }

  /** Asks the reactor to shut down after the current iteration; ReactorNotRunning when it is not running. */
  stop(): void {
    if (this.state !== RUNNING || this.stopRequested) throw new ReactorNotRunning("Can't stop reactor that isn't running.");
    this.stopRequested = true;
    this.arm();
  }

  /** Runs `f(...args)` once the reactor is running (now, when it already is); returns the trigger handle otherwise. */
  callWhenRunning(f: (...a: any[]) => unknown, ...args: unknown[]): TriggerHandle | undefined {
    if (typeof f !== "function") throw new TypeError("callable must be a function");
    if (this.isRunning) {
      f(...args);
      return undefined;
    }
    return this.addSystemEventTrigger("after", "startup", f, ...args);
  }

  /** Registers `f(...args)` for `phase` of `eventType`; a "before" trigger may return a thenable to delay the event. */
  addSystemEventTrigger(phase: TriggerPhase, eventType: string, f: (...a: any[]) => unknown, ...args: unknown[]): TriggerHandle {
    return this.triggers.add(phase, eventType, f, args);
  }

  /** Removes a trigger added by addSystemEventTrigger (RangeError when unknown). */
  removeSystemEventTrigger(handle: TriggerHandle): void {
    this.triggers.remove(handle);
  }

  /** Fires a system event now (its before/during/after triggers); `done` hears when it has finished. */
  fireSystemEvent(eventType: string, done: () => void = () => undefined): void {
    this.triggers.fire(eventType, done);
  }

  // ---------------------------------------------------------------- time (IReactorTime)

  /** Seconds since the epoch, from a monotonic clock. */
  seconds(): number {
    return EPOCH_SECONDS + performance.now() / 1000;
  }

  /** Runs `f(...args)` `delay` seconds from now; the DelayedCall can cancel, reset or delay it. */
  callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): DelayedCall {
    if (typeof delay !== "number" || !(delay >= 0) || delay === Infinity || typeof f !== "function") badCallLater(delay, f);
    return this.timers.schedule(delay, f, args);
  }

  /** Every scheduled call still active. */
  getDelayedCalls(): DelayedCall[] {
    return this.timers.list();
  }

  // ---------------------------------------------------------------- readers and writers

  /** Starts calling `r.doRead()` (or, for a batch reader, reading for it) whenever its fd is readable. */
  addReader(r: IReadDescriptor): void {
    this.ensureRegistry().addReader(r);
  }

  /** Starts calling `w.doWrite()` whenever its fd is writable. */
  addWriter(w: IWriteDescriptor): void {
    this.ensureRegistry().addWriter(w);
  }

  /** Stops reading for `r` (a no-op when it is not a reader). */
  removeReader(r: IReadDescriptor): void {
    this.registry?.removeReader(r);
  }

  /** Stops writing for `w` (a no-op when it is not a writer). */
  removeWriter(w: IWriteDescriptor): void {
    this.registry?.removeWriter(w);
  }

  /** Removes every reader and writer (nobody is told) and returns them. */
  removeAll(): IFileDescriptor[] {
    return this.registry ? this.registry.removeAll() : [];
  }

  /** The registered readers. */
  getReaders(): IReadDescriptor[] {
    return this.registry ? this.registry.getReaders() : [];
  }

  /** The registered writers. */
  getWriters(): IWriteDescriptor[] {
    return this.registry ? this.registry.getWriters() : [];
  }

  /**
   * Asks for `w.pendingBuffers()` to be written at the end of the current iteration, in
   * one writevBatch with every other writer that asked; `w.wrote(result)` then says how it
   * went. Outside an iteration the flush runs in a microtask (once for all requests). A
   * transport's `doWrite` asks for this too, so a WRITABLE event joins the same batch.
   */
  requestFlush(w: IBatchWriter): void {
    if (w.flushQueued === true) return;
    w.flushQueued = true;
    this.flushQueue.push(w);
    if (!this.inIteration && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushSoon);
    }
  }

  /**
   * Withdraws a flush request (a writer must do this, or return -1 from fileno(), before
   * closing its fd). O(1): the entry stays in the queue and flush() skips it, seeing
   * `flushQueued` false.
   */
  cancelFlush(w: IBatchWriter): void {
    w.flushQueued = false;
  }

  // ---------------------------------------------------------------- threads

  /** Runs `f(...args)` on the reactor thread in its next iteration (FIFO); for other threads see threadChannel(). */
  callFromThread(f: (...a: any[]) => unknown, ...args: unknown[]): void {
    if (typeof f !== "function") throw new TypeError("callable must be a function");
    this.threadFns.push(f);
    this.threadArgs.push(args);
    this.arm();
  }

  /** Makes `f` callable by name from threads holding a ThreadCaller on one of this reactor's channels. */
  exposeToThreads(name: string, f: (...a: any[]) => unknown): void {
    this.ensureInbox().expose(name, f);
  }

  /**
   * A channel for one worker thread: pass it in `workerData` with `handle.port` in the
   * transfer list; the worker calls `new ThreadCaller(handle).callFromThread(name, ...args)`.
   */
  threadChannel(): ThreadChannelHandle {
    if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped; it takes no more thread calls");
    const inbox = this.ensureInbox();
    if (this.state !== IDLE && this.wakerReader === null) this.registerWaker();
    return inbox.channel();
  }

  /** Called by the waker's doRead: other threads have queued calls. */
  threadCallsReady(): void {
    this.inboxReady = true;
  }

  // ---------------------------------------------------------------- one iteration

  /**
   * Runs one iteration now: waits up to `delay` seconds for I/O (0: just polls), dispatches,
   * runs due timers and thread calls, flushes batch writers (Twisted's iterate()).
   */
  iterate(delay = 0): void {
    checkSeconds("delay", delay);
    if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped");
    if (this.inIteration) throw new ReactorAlreadyRunning("iterate() called from inside an iteration");
    this.ensureRegistry();
    this.iteration(Math.min(Math.ceil(delay * 1000), MAX_TIMEOUT_MS));
  }

  /** One iteration with a wait of `timeoutMs`; returns how many events the wait gave. */
  private iteration(timeoutMs: number): number {
    this.inIteration = true;
    let n = 0;
    try {
      n = (this.poller as Poller).wait(timeoutMs);
      if (n > 0) this.dispatch(n);
      if (this.batchCount > 0) this.readBatches();
      if (this.threadFns.length > 0 || this.inboxReady || this.inboxBacklog) this.runThreadCalls();
      if (this.timers.size > 0) this.runTimers();
      if (this.flushQueue.length > 0) this.flush();
    } finally {
      this.inIteration = false;
    }
    if (this.stopRequested) this.beginShutdown();
    return n;
  }

  /** Hands each of the `n` fetched events to its descriptor. The hot path: no allocation. */
  private dispatch(n: number): void {
    const ev = this.events;
    const reg = this.registry as Registry;
    for (let j = 0, end = n * EVENT_STRIDE; j < end; j += EVENT_STRIDE) {
      const slot = ev[j];
      const gen = ev[j + 1];
      // Stale: the slot was released or handed to another descriptor since the wait.
      if (reg.gens[slot] !== gen) continue;
      const bits = ev[j + 2];
      const r = reg.readers[slot];
      const w = reg.writers[slot];
      if (r !== null && (bits & READ_BITS) !== 0) {
        if (reg.batch[slot] === 1) {
          this.batchFds[this.batchCount] = reg.fds[slot];
          this.batchReaders[this.batchCount++] = r as IBatchReadDescriptor;
        } else {
          this.doRead(r);
        }
      }
      // A writer also hears of errors and hang-ups when nobody reads the fd.
      if (w !== null && ((bits & WRITABLE) !== 0 || (r === null && (bits & (ERROR | HANGUP)) !== 0))) {
        if (reg.gens[slot] === gen && reg.writers[slot] === w) this.doWrite(w);
      }
    }
  }

  private doRead(r: IReadDescriptor): void {
    let why: unknown;
    try {
      why = r.doRead();
    } catch (e) {
      log("error", `Unhandled error in doRead of ${describe(r)}`, e);
      why = asError(e);
    }
    if (why !== undefined && isError(why)) this.disconnect(r, why);
  }

  private doWrite(w: IWriteDescriptor): void {
    let why: unknown;
    try {
      why = w.doWrite();
    } catch (e) {
      log("error", `Unhandled error in doWrite of ${describe(w)}`, e);
      why = asError(e);
    }
    if (why !== undefined && isError(why)) this.disconnect(w, why);
  }

  /**
   * Reads every batch reader collected in this iteration with one readBatch per slab and
   * hands each its bytes. A reader removed since dispatch is skipped (its fd may be closed,
   * or even reused); bytes already read are always delivered to the reader they were read
   * for, even when it stopped reading meanwhile (nothing read is ever dropped).
   */
  private readBatches(): void {
    const reg = this.registry as Registry;
    const fds = this.batchFds;
    const readers = this.batchReaders;
    let m = 0;
    for (let k = 0; k < this.batchCount; k++) {
      const r = readers[k];
      const slot = reg.slotOf(fds[k]);
      if (slot >= 0 && reg.readers[slot] === r) {
        fds[m] = fds[k];
        readers[m++] = r;
      }
    }
    for (let k = m; k < this.batchCount; k++) readers[k] = null;
    this.batchCount = 0;
    let done = 0;
    let emptyRounds = 0;
    while (done < m) {
      if (this.slab.length - this.slabOffset < this.maxReadPerFd) this.newSlab();
      const out = this.batchOut;
      const k = native.readBatch(done === 0 ? fds : fds.subarray(done), m - done, this.slab, this.slabOffset, this.maxReadPerFd, out);
      if (k === 0) {
        // Cannot happen with a fresh slab (it holds maxReadPerFd); never loop on it.
        if (++emptyRounds > 1) break;
        this.newSlab();
        continue;
      }
      const slab = this.slab;
      let end = this.slabOffset;
      for (let i = 0, t = 0; i < k; i++, t += 3) {
        const res = out[t + 2];
        if (res > 0 && out[t + 1] + res > end) end = out[t + 1] + res;
      }
      // Past every byte handed out below: later reads never write over them.
      this.slabOffset = end;
      for (let i = 0, t = 0; i < k; i++, t += 3) {
        const r = readers[done + i] as IBatchReadDescriptor;
        readers[done + i] = null;
        const res = out[t + 2];
        if (res === AGAIN) continue;
        // Buffer.from(arrayBuffer, offset, length) makes the same view as subarray, cheaper.
        this.readResult(r, res > 0 ? Buffer.from(slab.buffer, slab.byteOffset + out[t + 1], res) : null, res);
      }
      done += k;
    }
    for (let k = done; k < m; k++) readers[k] = null;
  }

  private readResult(r: IBatchReadDescriptor, data: Buffer | null, result: number): void {
    let why: unknown;
    try {
      why = r.readResult(data, result);
    } catch (e) {
      log("error", `Unhandled error in readResult of ${describe(r)}`, e);
      why = asError(e);
    }
    if (why !== undefined && isError(why)) this.disconnect(r, why);
  }

  private newSlab(): void {
    this.slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.slabOffset = 0;
  }

  /** Runs this thread's queued calls (those queued before now) and the calls of other threads. */
  private runThreadCalls(): void {
    const count = this.threadFns.length;
    if (count > 0) {
      const fns = this.threadFns;
      const args = this.threadArgs;
      this.threadFns = [];
      this.threadArgs = [];
      for (let i = 0; i < count; i++) {
        try {
          fns[i].apply(undefined, args[i]);
        } catch (e) {
          log("error", "Unhandled error in a callFromThread call", e);
        }
      }
    }
    if ((this.inboxReady || this.inboxBacklog) && this.inbox !== null) {
      this.inboxReady = false;
      this.inboxBacklog = this.inbox.runQueued();
    }
  }

  /** Runs the calls due now that were scheduled before this phase began (a callLater(0) storm yields to I/O). */
  private runTimers(): void {
    const now = this.seconds();
    const limit = this.timers.sequence;
    let c: DelayedCall | undefined;
    while ((c = this.timers.popDue(now, limit)) !== undefined) {
      c.called = true;
      try {
        c.func.apply(undefined, c.args);
      } catch (e) {
        log("error", `Unhandled error in ${c.toString()}`, e);
      }
    }
  }

  private readonly flushSoon = (): void => {
    this.flushScheduled = false;
    if (!this.inIteration) this.flush();
  };

  /**
   * Writes every batch writer that asked, with one writevBatch, then tells each its own
   * result through `wrote`: bytes taken, AGAIN or -errno, exactly as the kernel said; the
   * writer handles all three (a transport's `wrote` is its one write routine). A writer
   * with nothing queued is told 0 without a syscall (a close waiting for its queue to empty
   * completes that way). Requests made from `wrote` go to the next flush.
   */
  private flush(): void {
    const queue = this.flushQueue;
    if (queue.length === 0) return;
    this.flushQueue = this.flushSpare;
    this.flushSpare = queue;
    // Drop the entries cancelFlush() withdrew (flushQueued already false; a writer that
    // cancelled and asked again has one live entry and one it skips here), then reset
    // the flags of the rest before calling any writer.
    let count = 0;
    for (let i = 0; i < queue.length; i++) {
      const w = queue[i];
      if (w.flushQueued !== true) continue;
      w.flushQueued = false;
      queue[count++] = w;
    }
    queue.length = count;
    if (count === 0) return;
    if (this.flushFds.length < count) {
      let size = this.flushFds.length;
      while (size < count) size *= 2;
      this.flushFds = new Int32Array(size);
      this.flushCounts = new Int32Array(size);
      this.flushOut = new Int32Array(size);
    }
    const fds = this.flushFds;
    const counts = this.flushCounts;
    const bufs = this.flushBufs;
    let m = 0;
    for (let i = 0; i < count; i++) {
      const w = queue[i];
      const fd = w.fileno();
      if (fd < 0) continue; // closed since it asked: the fd number may already be reused
      const pending = w.pendingBuffers();
      fds[m] = fd;
      counts[m] = pending.length;
      for (let b = 0; b < pending.length; b++) bufs.push(pending[b]);
      queue[m++] = w;
    }
    let refused: unknown = null;
    try {
      native.writevBatch(fds, m, counts, bufs, this.flushOut);
    } catch (e) {
      refused = e;
    }
    bufs.length = 0;
    if (refused !== null) this.flushEachAlone(queue, m, refused);
    else for (let i = 0; i < m; i++) this.tellWrote(queue[i], this.flushOut[i]);
    queue.length = 0;
  }

  /**
   * The batch refused every write because one writer handed it a bad buffer (it checks all
   * before writing any): the same call, one writer at a time, so that only the culprit is
   * dropped; every other writer still hears `wrote`.
   */
  private flushEachAlone(queue: IBatchWriter[], m: number, batchError: unknown): void {
    log("warn", "writevBatch refused the batch; flushing writers one by one", batchError);
    const fd = this.flushFds.subarray(0, 1);
    const count = this.flushCounts.subarray(0, 1);
    const out = this.flushOut.subarray(0, 1);
    for (let i = 0; i < m; i++) {
      const w = queue[i];
      const pending = w.pendingBuffers();
      fd[0] = w.fileno();
      if (fd[0] < 0) continue;
      count[0] = pending.length;
      try {
        native.writevBatch(fd, 1, count, pending, out);
      } catch (e) {
        log("error", `Bad pendingBuffers() of ${describe(w)}`, e);
        this.disconnect(w, asError(e));
        continue;
      }
      this.tellWrote(w, out[0]);
    }
  }

  /** `w.wrote(result)`; a writer that throws is logged and disconnected. */
  private tellWrote(w: IBatchWriter, result: number): void {
    try {
      w.wrote(result);
    } catch (e) {
      log("error", `Unhandled error in wrote() of ${describe(w)}`, e);
      this.disconnect(w, asError(e));
    }
  }

  /** Drops a descriptor that failed and tells it why; the reactor goes on. */
  private disconnect(d: IFileDescriptor, reason: Error): void {
    const reg = this.registry;
    if (reg !== null) {
      reg.removeReader(d as IReadDescriptor);
      reg.removeWriter(d as IWriteDescriptor);
    }
    this.cancelFlush(d as IBatchWriter);
    try {
      d.connectionLost(reason);
    } catch (e) {
      log("error", `Unhandled error in connectionLost of ${describe(d)}`, e);
    }
  }

  /** "during shutdown": every descriptor is removed and loses its connection. */
  private disconnectAll(): void {
    this.isRunning = false;
    const lost = this.removeAll();
    for (const d of lost) {
      this.cancelFlush(d as IBatchWriter);
      try {
        d.connectionLost(new ConnectionLost());
      } catch (e) {
        log("error", `Unhandled error in connectionLost of ${describe(d)}`, e);
      }
    }
  }

  // ---------------------------------------------------------------- shutdown

  private beginShutdown(): void {
    this.stopRequested = false;
    if (this.state !== RUNNING) return;
    this.state = STOPPING;
    this.triggers.fire("shutdown", () => this.teardown());
  }

  /** Releases everything the run acquired; resolves run(), or rejects it with `failure`. */
  private teardown(failure?: Error): void {
    this.isRunning = false;
    this.state = ENDED;
    if (this.watcher !== null) {
      this.watcher.close();
      this.watcher = null;
    }
    if (this.nodeTimer !== null) clearTimeout(this.nodeTimer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.nodeTimer = null;
    this.immediate = null;
    this.removeSignals();
    this.release();
    const resolve = this.resolveRun;
    const reject = this.rejectRun;
    this.resolveRun = null;
    this.rejectRun = null;
    if (failure !== undefined) reject?.(failure);
    else resolve?.();
  }

  /**
   * Releases the poller, the waker and every registration without running anything. For a
   * reactor that was given descriptors but never run; a run's end does it by itself.
   */
  close(): void {
    if (this.state === RUNNING || this.state === STOPPING) throw new ReactorAlreadyRunning("close() on a running reactor: stop() it instead");
    this.state = ENDED;
    this.release();
  }

  private release(): void {
    this.isRunning = false;
    if (this.registry !== null) {
      this.registry.removeAll();
      if (this.wakerReader !== null) this.registry.removeReader(this.wakerReader);
    }
    this.wakerReader = null;
    if (this.inbox !== null) this.inbox.close();
    this.inbox = null;
    if (this.poller !== null) this.poller.close();
    this.poller = null;
    this.registry = null;
    for (const w of this.flushQueue) w.flushQueued = false;
    this.flushQueue.length = 0;
  }

  // ---------------------------------------------------------------- run modes

  /** Integrated mode: one non-blocking iteration per wake-up from libuv. */
  private step(): void {
    if (this.state === IDLE || this.state === ENDED || this.inIteration) return;
    try {
      this.iteration(0);
    } catch (e) {
      this.crash(e);
      return;
    }
    if (this.state !== ENDED) this.arm();
  }

  /**
   * The loop itself failed (the poller's wait threw, say): descriptors' own errors never
   * get here. Nothing sensible can run any more, so release everything and reject run().
   */
  private crash(e: unknown): void {
    log("error", "The reactor's loop failed; stopping without shutdown triggers", e);
    if (this.state !== ENDED) this.teardown(asError(e));
  }

  private readonly onImmediate = (): void => {
    this.immediate = null;
    this.step();
  };

  private readonly onNodeTimer = (): void => {
    this.nodeTimer = null;
    this.nodeTimerAt = Infinity;
    this.step();
  };

  /**
   * Integrated mode: makes libuv wake us for the next due work (I/O wakes us through the
   * watcher). Does nothing in exclusive mode, when not running, or inside an iteration
   * (step() arms after it).
   */
  private arm(): void {
    if (this.mode !== "integrated" || this.state === IDLE || this.state === ENDED || this.inIteration) return;
    const ms = this.computeTimeout();
    if (ms === 0) {
      if (this.immediate === null) this.immediate = setImmediate(this.onImmediate);
      return;
    }
    if (ms < 0) return;
    const top = this.timers.peek() as DelayedCall;
    // An armed timer that fires no later than needed will re-arm us when it fires.
    if (this.nodeTimer !== null && this.nodeTimerAt <= top.time) return;
    if (this.nodeTimer !== null) clearTimeout(this.nodeTimer);
    this.nodeTimer = setTimeout(this.onNodeTimer, ms);
    this.nodeTimerAt = top.time;
  }

  /** TimerQueue: a call became the earliest. */
  private deadlineMoved(): void {
    this.arm();
  }

  /** Milliseconds the next wait may block: 0 when work is due, -1 for "until an event". */
  private computeTimeout(): number {
    if (this.stopRequested || this.threadFns.length > 0 || this.inboxBacklog || this.flushQueue.length > 0) return 0;
    const top = this.timers.peek();
    if (top === undefined) return -1;
    const ms = (top.time - this.seconds()) * 1000;
    if (ms <= 0) return 0;
    return ms >= MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : Math.ceil(ms);
  }

  /** Exclusive mode: the loop (see the file comment). */
  private async runExclusive(): Promise<void> {
    let lastYield = performance.now();
    let busy = false;
    try {
      while (this.state === RUNNING || this.state === STOPPING) {
        let timeout = 0;
        if (!busy) {
          // About to block: give Node's loop a turn first, so that every microtask, tick,
          // Node timer and signal handler has run.
          await yieldToNode();
          lastYield = performance.now();
          if (this.state !== RUNNING && this.state !== STOPPING) break;
          timeout = this.computeTimeout();
          if (timeout < 0 || timeout > this.blockCapMs) timeout = this.blockCapMs;
        }
        const n = this.iteration(timeout);
        if (this.state !== RUNNING && this.state !== STOPPING) break;
        busy = n > 0 || this.computeTimeout() === 0;
        if (busy) {
          if (performance.now() - lastYield >= this.yieldIntervalMs) {
            await yieldToNode();
            lastYield = performance.now();
          } else {
            await drainMicrotasks();
          }
        }
      }
    } catch (e) {
      this.crash(e);
    }
  }

  // ---------------------------------------------------------------- helpers

  private ensureRegistry(): Registry {
    if (this.registry === null) {
      if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped");
      this.poller = new native.Poller(this.backend, this.events);
      this.registry = new Registry(this.poller);
    }
    return this.registry;
  }

  private ensureInbox(): ThreadInbox {
    if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped; it takes no more thread calls");
    if (this.inbox === null) this.inbox = new ThreadInbox();
    return this.inbox;
  }

  private registerWaker(): void {
    const inbox = this.ensureInbox();
    this.wakerReader = new WakerReader(this, inbox);
    this.ensureRegistry().addReader(this.wakerReader, true);
  }

  private installSignals(): void {
    const handler = (signal: NodeJS.Signals): void => {
      log("info", `Received ${signal}, shutting down.`);
      if (this.state === RUNNING && !this.stopRequested) this.stop();
    };
    this.signalHandler = handler;
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  }

  private removeSignals(): void {
    if (this.signalHandler === null) return;
    process.removeListener("SIGINT", this.signalHandler);
    process.removeListener("SIGTERM", this.signalHandler);
    this.signalHandler = null;
  }
}

/** Throws the error callLater's arguments deserve (kept out of the hot path). */
function badCallLater(delay: unknown, f: unknown): never {
  checkSeconds("delay", delay);
  if (delay < 0) throw new RangeError(`delay must not be negative, got ${delay}`);
  if (typeof f !== "function") throw new TypeError("callable must be a function");
  throw new RangeError(`delay must be a finite number of seconds, got ${String(delay)}`);
}

function yieldToNode(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** Is `e` an Error, from this realm or another (the addon's errors under jest's vm contexts)? */
function isError(e: unknown): e is Error {
  return e instanceof Error || types.isNativeError(e);
}

function asError(e: unknown): Error {
  return isError(e) ? e : new Error(`non-Error thrown: ${String(e)}`);
}

function describe(d: IFileDescriptor): string {
  let fd = -1;
  try {
    fd = d.fileno();
  } catch {
    /* a broken fileno is reported as -1 */
  }
  return `${d?.constructor?.name ?? "descriptor"}(fd ${fd})`;
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number, got ${String(v)}`);
  return v;
}
