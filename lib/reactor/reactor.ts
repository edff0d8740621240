/**
 * The Reactor: one poller, a slot table of registered descriptors (registry.ts), a timer
 * heap and the dispatch loop (docs/design.md "The reactor", docs/reactor.md). One iteration is:
 *
 *   wait → dispatch events (doRead / doWrite; batch readers collected) → one readBatch for
 *   the batch readers → calls from threads → due timers → one writevBatch for the batch
 *   writers that asked for a flush → (shutdown, when stop() was called)
 *
 * The batched reads and writes are batch-io.ts's; who calls `iteration` and how long its
 * wait may block is the run mode's: integrated.ts (libuv watches the poller's fd) or
 * exclusive.ts (the reactor blocks in the kernel wait itself).
 */
import { performance } from "node:perf_hooks";
import { native, kernelRefusal, READABLE, WRITABLE, ERROR, HANGUP, EVENT_STRIDE, RECV } from "../native";
import type { Accepted, Backend, Poller } from "../native";
import { ConnectionLost, ReactorAlreadyRunning, ReactorNotRunning, UnknownBackendError, outOfRange } from "../error";
import { log } from "../log";
import type { IReactorTime } from "../defer";
import { Failure } from "../defer/failure";
import { DelayedCall, TimerQueue, checkSeconds } from "../defer/timers";
import { ReactorNotRestartable } from "./errors";
import { Registry } from "./registry";
import { SystemEventTriggers } from "./triggers";
import type { TriggerHandle, TriggerPhase } from "./triggers";
import { ThreadInbox } from "./thread-inbox";
import { ThreadPool } from "./threadpool";
import type { ThreadFunction } from "./threadpool-protocol";
import type { ThreadChannelHandle } from "./thread-caller";
import type { IBatchReadDescriptor, IBatchWriter, IFileDescriptor, IReadDescriptor, ITLSBatchDescriptor, IWriteDescriptor } from "./interfaces";
import { ReadBatch, WriteBatch, type BatchSink } from "./batch-io";
import { Receives } from "./receives";
import { asError, describe, isError } from "./failures";
import { IntegratedLoop } from "./integrated";
import { runExclusive } from "./exclusive";
import type { LoopHost } from "./loop-host";

/** How the reactor's loop is driven: integrated.ts or exclusive.ts. */
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
  /**
   * io_uring: buffers in a ring that socket reads complete into (a power of two, at least
   * slabSize / maxReadPerFd; 64 is a good size), each maxReadPerFd bytes cut from a read
   * slab. Default 0: reads go through readiness and read batches, measured cheaper in CPU
   * per message (docs/platforms.md). A kernel without incrementally consumed buffer rings
   * (before Linux 6.12) reads through readiness whatever this says (see `readPath`).
   */
  recvRing?: number;
  /**
   * io_uring: watched fds go in a registered-file table (slot = fd number, Linux 5.19+),
   * so the kernel skips its file lookup on each of their requests. Default false: not
   * measured cheaper per request (docs/platforms.md); a kernel that refuses the table names
   * fds by number (`fixedFilesRefusal` says why).
   */
  fixedFiles?: boolean;
  /** Exclusive mode: longest run of busy iterations before Node's loop gets a turn. Default 10 ms. */
  yieldIntervalMs?: number;
  /** Exclusive mode: longest blocking wait (bounds Node timer and signal latency). Default 50 ms. */
  blockCapMs?: number;
  /**
   * Listening ports' connections accepted by the poller itself where it can (io_uring's
   * multishot accept, Linux 5.19+) instead of readiness and accept4. Default true.
   */
  acceptByPoller?: boolean;
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
const BACKENDS_WITH_FD: ReadonlySet<string> = new Set(["epoll", "io_uring", "kqueue"]);
// Backends whose changes wait for the next wait() (io_uring's re-arms): integrated mode,
// where libuv blocks instead, flushes them after each iteration.
const BACKENDS_THAT_DEFER: ReadonlySet<string> = new Set(["io_uring"]);
// Backends a build may have but the running kernel may refuse (io_uring_setup's EPERM under
// a sysctl or seccomp, ENOSYS): tried once per process, at the first reactor that names one.
const BACKENDS_TO_PROBE: ReadonlySet<string> = new Set(["io_uring"]);
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
  private readonly maxReadPerFd: number;
  private readonly slabSize: number;
  private readonly recvRing: number;
  // io_uring's completion path: the records of each wait (null: reads go through readiness).
  private recv: Receives | null = null;
  private recvPath: "completion" | "readiness" = "readiness";
  private recvRefusal: string | null = null;
  private readonly wantFixedFiles: boolean;
  private fixedRefusal: string | null = null;
  private readonly yieldIntervalMs: number;
  private readonly blockCapMs: number;
  private readonly defaultSignals: boolean;
  private readonly acceptByPoller: boolean;

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
  private threadPool: ThreadPool | null = null;
  private wakerReader: WakerReader | null = null;
  private inboxReady = false;
  private inboxBacklog = false;

  // batched I/O: readers collected during dispatch, writers that asked for a flush
  private readonly reads: ReadBatch;
  private readonly writes = new WriteBatch();
  private flushScheduled = false;
  /** How the batches hand results back: guarded calls, failures dropped (see disconnect). */
  private readonly sink: BatchSink = {
    readResult: (r, data, result) => this.readResult(r, data, result),
    wrote: (w, result) => this.tellWrote(w, result),
    tlsReadResult: (r, data, result, status) => this.tlsReadResult(r, data, result, status),
    tlsWrote: (w, taken, status) => this.tellTlsWrote(w, taken, status),
    drop: (d, reason) => this.disconnect(d, reason),
  };

  // run modes: what integrated.ts and exclusive.ts see of this reactor
  private integrated: IntegratedLoop | null = null;
  // Integrated mode on a backend that defers changes to its next wait (BACKENDS_THAT_DEFER).
  private flushPoller = false;
  // Integrated mode: the poller holds events its fd does not show (flush() said so).
  private pollerHolds = false;
  private readonly loopHost: LoopHost = {
    looping: () => this.state === RUNNING || this.state === STOPPING,
    inIteration: () => this.inIteration,
    iteration: (timeoutMs, wait) => this.iteration(timeoutMs, wait),
    fdShowsAll: () => !this.flushPoller && !this.pollerHolds,
    computeTimeout: () => this.computeTimeout(),
    nextDeadline: () => this.timers.peek()?.time ?? Infinity,
    crash: (e) => this.crash(e),
  };

  /**
   * Makes a reactor; throws UnknownBackendError for a backend this build lacks, and the
   * kernel's error (code, errno, syscall, and why) for one it refuses (io_uring).
   */
  constructor(options: ReactorOptions = {}) {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    const available = native.backends();
    const backend = options.backend ?? available[0];
    if (!available.includes(backend)) {
      throw new UnknownBackendError(`Unknown poller backend "${String(backend)}": this build has ${available.join(", ")}`);
    }
    if (BACKENDS_TO_PROBE.has(backend)) {
      const refused = kernelRefusal(backend); // its setup's errno, code, syscall and why
      if (refused !== null) throw refused;
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
    const maxEvents = positiveInt("maxEvents", options.maxEvents ?? 1024);
    const maxReadPerFd = positiveInt("maxReadPerFd", options.maxReadPerFd ?? 64 * 1024);
    const slabSize = positiveInt("slabSize", options.slabSize ?? 256 * 1024);
    if (slabSize < maxReadPerFd) throw new RangeError("slabSize must be at least maxReadPerFd");
    const recvRing = options.recvRing ?? 0;
    const perSlab = Math.floor(slabSize / maxReadPerFd);
    if (!Number.isInteger(recvRing) || recvRing < 0 || recvRing > 32768 || (recvRing & (recvRing - 1)) !== 0 || (recvRing > 0 && recvRing < perSlab)) {
      throw new RangeError(`recvRing must be 0 or a power of two from slabSize / maxReadPerFd (${perSlab}) to 32768, got ${String(recvRing)}`);
    }
    this.recvRing = recvRing;
    this.maxReadPerFd = maxReadPerFd;
    this.slabSize = slabSize;
    this.yieldIntervalMs = nonNegative("yieldIntervalMs", options.yieldIntervalMs ?? 10);
    this.blockCapMs = positiveInt("blockCapMs", options.blockCapMs ?? 50);
    this.defaultSignals = options.installSignalHandlers ?? false;
    this.acceptByPoller = options.acceptByPoller ?? true;
    this.wantFixedFiles = options.fixedFiles ?? false;
    if (typeof this.wantFixedFiles !== "boolean") throw new TypeError(`fixedFiles must be a boolean, got ${typeof this.wantFixedFiles}`);
    if (typeof this.acceptByPoller !== "boolean") throw new TypeError(`acceptByPoller must be a boolean, got ${typeof this.acceptByPoller}`);
    this.events = new Uint32Array(maxEvents * EVENT_STRIDE);
    this.reads = new ReadBatch(maxEvents, slabSize, maxReadPerFd);
    this.timers = new TimerQueue(() => this.seconds(), { onEarlier: () => this.deadlineMoved() });
    this.addSystemEventTrigger("during", "startup", () => {
      this.isRunning = true;
    });
    this.addSystemEventTrigger("during", "shutdown", () => this.disconnectAll());
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * How socket reads happen once the poller exists (the first reader, or run()):
   * "completion" (io_uring receives into its buffer ring; the wait reports the bytes) or
   * "readiness" (the wait reports READABLE, a read batch reads). `readPathRefusal` says why
   * io_uring fell back to readiness, when it did.
   */
  get readPath(): "completion" | "readiness" {
    return this.recvPath;
  }

  /** Why the kernel refused the completion path (null when it was not refused, or not asked for). */
  get readPathRefusal(): string | null {
    return this.recvRefusal;
  }

  /**
   * Whether this reactor's poller names watched fds through a registered-file table
   * (io_uring, once the poller exists); `fixedFilesRefusal` says why not, when the kernel refused.
   */
  get fixedFiles(): boolean {
    return this.poller?.fixedFiles ?? false;
  }

  /** Why the kernel refused the registered-file table (null when it was not refused, or not asked for). */
  get fixedFilesRefusal(): string | null {
    return this.fixedRefusal;
  }

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
        const pfd = (this.poller as Poller).enterIntegratedMode();
        if (pfd < 0) throw new RangeError(`mode: "integrated" needs a pollable poller fd and the ${this.backend} poller has none`);
        this.flushPoller = BACKENDS_THAT_DEFER.has(this.backend);
        this.integrated = new IntegratedLoop(this.loopHost);
        this.integrated.start(pfd);
      }
    } catch (e) {
      this.teardown();
      throw e;
    }
    if (options.installSignalHandlers ?? this.defaultSignals) this.installSignals();
    this.triggers.fire("startup", () => undefined);
    if (this.mode === "integrated") {
      this.arm();
    } else {
      // The reactor's own loop waits right after each iteration: the write batch can wait
      // for that enter (or the next read batch's) instead of making its own.
      const poller = this.poller as Poller;
      if (poller.completesIo) this.writes.deferTo = poller;
      void runExclusive(this.loopHost, this.yieldIntervalMs, this.blockCapMs);
    }
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
    // Records held while it was not reading go out next iteration, before any newer one.
    if (this.recv !== null && this.recv.resume(r)) this.arm();
  }

  /** Starts calling `w.doWrite()` whenever its fd is writable. */
  addWriter(w: IWriteDescriptor): void {
    this.ensureRegistry().addWriter(w);
  }

  /**
   * The connections the poller accepted for listening reader fd `fd` (at most `max`), or
   * null when the poller does not accept for it (the caller then accepts: native.accept).
   * Throws the errno (EMFILE...) that stopped the poller's accepting, once.
   */
  takeAccepted(fd: number, max: number): Accepted[] | null {
    const reg = this.registry;
    if (reg === null || !reg.acceptsFor(fd)) return null;
    return (this.poller as Poller).accept(fd, max);
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
    if (!this.writes.add(w)) return;
    if (!this.inIteration && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushSoon);
    }
  }

  /**
   * Reads TLS reader `r` in the next batch read as if its fd were readable (its session
   * holds plaintext the kernel no longer signals: more than one read's worth, or held while
   * it was paused). Ignored unless `r` is registered as a reader with a session on.
   */
  requestRead(r: ITLSBatchDescriptor): void {
    this.reads.addTls(r);
    this.arm();
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

  /** The function exposed to threads as `name` (exposeToThreads), if any. */
  threadFunction(name: string): ((...a: any[]) => unknown) | undefined {
    return this.inbox?.lookup(name);
  }

  /** This reactor's thread pool, made on first use (Twisted's getThreadPool). */
  getThreadPool(): ThreadPool {
    if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped; it has no thread pool");
    if (this.threadPool === null) this.threadPool = new ThreadPool(this);
    return this.threadPool;
  }

  /**
   * Runs `fn(...args)` in a worker of the thread pool; a failure is logged (Twisted's
   * callInThread). `fn` names a function by `{ module, export }`; args are structured-cloned.
   */
  callInThread(fn: ThreadFunction, ...args: unknown[]): void {
    this.getThreadPool().callInThread(fn, args);
  }

  /** Sets the thread pool's maximum number of workers (Twisted's suggestThreadPoolSize). */
  suggestThreadPoolSize(size: number): void {
    this.getThreadPool().adjustPoolsize(size);
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

  /** One iteration with a wait of `timeoutMs` (none when `wait` is false); returns how many events the wait gave. */
  private iteration(timeoutMs: number, wait = true): number {
    this.inIteration = true;
    let n = 0;
    try {
      if (wait) n = (this.poller as Poller).wait(timeoutMs);
      // Receive records first: the bytes a wait completed, straight to their readers.
      if (this.recv !== null) this.recv.run(this.registry as Registry, this.sink, this.poller as Poller);
      if (n > 0) this.dispatch(n);
      if (this.reads.pending) this.reads.run(this.registry as Registry, this.sink);
      // The deferred writes went with the wait's or the read batch's enter: their results.
      if (this.writes.unfinished) this.writes.finish(this.sink, false);
      if (this.threadFns.length > 0 || this.inboxReady || this.inboxBacklog) this.runThreadCalls();
      if (this.timers.size > 0) this.runTimers();
      if (this.writes.pending) this.writes.flush(this.sink);
      if (this.flushPoller) this.pollerHolds = (this.poller as Poller).flush();
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
        const lane = reg.batch[slot];
        if (lane === 1) {
          this.reads.add(reg.fds[slot], r as IBatchReadDescriptor);
        } else if (lane === 2) {
          this.reads.addTls(r as ITLSBatchDescriptor);
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

  private tlsReadResult(r: ITLSBatchDescriptor, data: Buffer | null, result: number, status: number): void {
    let why: unknown;
    try {
      why = r.tlsReadResult(data, result, status);
    } catch (e) {
      log("error", `Unhandled error in tlsReadResult of ${describe(r)}`, e);
      why = asError(e);
    }
    if (why !== undefined && isError(why)) this.disconnect(r, why);
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
    if (!this.inIteration) this.writes.flush(this.sink);
  };

  /** `w.wrote(result)`; a writer that throws is logged and disconnected. */
  private tellWrote(w: IBatchWriter, result: number): void {
    try {
      w.wrote(result);
    } catch (e) {
      log("error", `Unhandled error in wrote() of ${describe(w)}`, e);
      this.disconnect(w, asError(e));
    }
  }

  /** `w.tlsWrote(taken, status)`; a writer that throws is logged and disconnected. */
  private tellTlsWrote(w: ITLSBatchDescriptor, taken: number, status: number): void {
    try {
      w.tlsWrote(taken, status);
    } catch (e) {
      log("error", `Unhandled error in tlsWrote() of ${describe(w)}`, e);
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
      d.connectionLost(new Failure(reason));
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
        d.connectionLost(new Failure(new ConnectionLost()));
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
    if (this.integrated !== null) this.integrated.close();
    this.integrated = null;
    this.flushPoller = false;
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
    // Only once the channel is closed: a worker killed mid-call would hold it open (threadpool.ts).
    if (this.threadPool !== null) this.threadPool.terminateWorkers();
    // Sends still queued go out before the ring closes (their writers, disconnected, ignore the results).
    if (this.writes.unfinished) this.writes.finish(this.sink, true);
    this.writes.deferTo = null;
    if (this.poller !== null) this.poller.close();
    this.poller = null;
    this.recv = null;
    this.pollerHolds = false;
    // A write after the end (a transport flushing late) goes to the syscalls again.
    this.reads.io = this.writes.io = native;
    this.registry = null;
    this.writes.clear();
  }

  // ---------------------------------------------------------------- run modes

  /**
   * The loop itself failed (the poller's wait threw, say): descriptors' own errors never
   * get here. Nothing sensible can run any more, so release everything and reject run().
   */
  private crash(e: unknown): void {
    log("error", "The reactor's loop failed; stopping without shutdown triggers", e);
    if (this.state !== ENDED) this.teardown(asError(e));
  }

  /** Integrated mode: makes libuv wake us for the next due work (a no-op in exclusive mode). */
  private arm(): void {
    if (this.integrated !== null) this.integrated.arm();
  }

  /** TimerQueue: a call became the earliest. */
  private deadlineMoved(): void {
    this.arm();
  }

  /** Milliseconds the next wait may block: 0 when work is due, -1 for "until an event". */
  private computeTimeout(): number {
    if (this.stopRequested || this.threadFns.length > 0 || this.inboxBacklog || this.writes.pending || this.reads.pending || this.pollerHolds) return 0;
    if (this.recv !== null && this.recv.pending) return 0;
    const top = this.timers.peek();
    if (top === undefined) return -1;
    const ms = (top.time - this.seconds()) * 1000;
    if (ms <= 0) return 0;
    return ms >= MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : Math.ceil(ms);
  }

  // ---------------------------------------------------------------- helpers

  private ensureRegistry(): Registry {
    if (this.registry === null) {
      if (this.state === ENDED) throw new ReactorNotRestartable("This reactor has stopped");
      this.poller = new native.Poller(this.backend, this.events);
      if (this.poller.completesIo && this.wantFixedFiles) {
        this.fixedRefusal = this.poller.enableFixedFiles();
        if (this.fixedRefusal !== null) log("info", `io_uring names fds by number: ${this.fixedRefusal}`);
      }
      this.registry = new Registry(this.poller, this.acceptByPoller, this.enableReceives(this.poller));
      // io_uring: the batches' reads and writes go to its ring as SQEs, one enter per batch.
      if (this.poller.completesIo) this.reads.io = this.writes.io = this.poller;
    }
    return this.registry;
  }

  /** io_uring: sets up the completion path (recvRing); returns the RECV option when it runs, else 0. */
  private enableReceives(poller: Poller): number {
    if (!poller.completesIo || this.recvRing === 0) return 0;
    const receives = new Receives(this.events.length / EVENT_STRIDE, this.slabSize, this.maxReadPerFd);
    this.recvRefusal = poller.enableRecv(receives.records, this.recvRing, this.maxReadPerFd);
    if (this.recvRefusal !== null) {
      log("info", `io_uring reads through readiness: ${this.recvRefusal}`);
      return 0;
    }
    receives.lend(poller, this.recvRing);
    this.recv = receives;
    this.recvPath = "completion";
    return RECV;
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
  if (delay < 0) throw outOfRange(`delay must not be negative, got ${delay}`);
  if (typeof f !== "function") throw new TypeError("callable must be a function");
  throw new RangeError(`delay must be a finite number of seconds, got ${String(delay)}`);
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number, got ${String(v)}`);
  return v;
}
