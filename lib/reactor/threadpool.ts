/**
 * The reactor's thread pool (Twisted's IReactorThreads.callInThread and threads.deferToThread)
 * on worker_threads. A function is named by module and export (threadpool-protocol.ts);
 * each worker runs one function at a time, so the pool's size bounds the concurrency.
 * Workers start on demand up to the size, report through the reactor's thread channel, are
 * unref'd (they never keep the process alive) and are terminated when the reactor shuts
 * down, after its thread channel is closed; a function still queued or running then fails
 * with ThreadPoolStopped.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { Deferred, maybeDeferred } from "../defer";
import type { Failure } from "../defer";
import { FdReactorError, invalidArgType, outOfRange } from "../error";
import { log } from "../log";
import type { ThreadChannelHandle } from "./thread-caller";
import { BLOCKING_CALL, RESULT_CALL, errorFromRecord, errorRecord } from "./threadpool-protocol";
import type { BlockingReply, ErrorRecord, PoolWorkerData, RunMessage, ThreadFunction } from "./threadpool-protocol";

/** The pool stopped (its reactor shut down) before the function ran or returned. */
export class ThreadPoolStopped extends FdReactorError {}

/** What the pool needs of its reactor. */
export interface ThreadPoolHost {
  exposeToThreads(name: string, f: (...a: any[]) => unknown): void;
  threadChannel(): ThreadChannelHandle;
  threadFunction(name: string): ((...a: any[]) => unknown) | undefined;
  addSystemEventTrigger(phase: "during", eventType: "shutdown", f: () => void): unknown;
}

/** Twisted's default maximum number of threads. */
export const DEFAULT_POOL_SIZE = 10;

/**
 * The worker's main script: threadpool-worker.js beside this file. Running from the
 * TypeScript sources (the tests), there is none, and FDREACTOR_THREAD_WORKER names a
 * compiled one.
 */
function workerScript(): string {
  const beside = path.join(__dirname, "threadpool-worker.js");
  if (fs.existsSync(beside)) return beside;
  const override = process.env.FDREACTOR_THREAD_WORKER;
  if (override) return path.resolve(override);
  throw new Error(`thread pool: no worker script at ${beside} (compile the library, or set FDREACTOR_THREAD_WORKER)`);
}

/** Checks a ThreadFunction argument; `what` names it in the error. */
export function checkThreadFunction(what: string, f: unknown): asserts f is ThreadFunction {
  const o = f as ThreadFunction;
  if (o === null || typeof o !== "object" || typeof o.module !== "string" || o.module === "" || typeof o.export !== "string" || o.export === "") {
    throw invalidArgType(`${what} must be a ThreadFunction { module: string, export: string } (functions cannot cross threads)`);
  }
}

interface PoolWorker {
  /** Its index, sent back with each of its results. */
  index: number;
  worker: Worker;
  replyPort: MessagePort;
  replyFlag: Int32Array;
  /** The job it runs, or null when idle. */
  job: Job | null;
}

interface Job {
  id: number;
  fn: ThreadFunction;
  args: unknown[];
  /** Fired with the outcome; null for callInThread (outcome logged on failure). */
  d: Deferred<unknown> | null;
}

/** A reactor's pool of worker threads. */
export class ThreadPool {
  /** Most workers at once (Twisted's maxthreads). */
  private max = DEFAULT_POOL_SIZE;
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private workerIndex = 0;
  private stopped = false;
  private exposed = false;

  /** The pool of `host` (made by the reactor on first use). */
  constructor(private readonly host: ThreadPoolHost) {
    host.addSystemEventTrigger("during", "shutdown", () => this.stop());
  }

  /** The maximum number of workers. */
  get size(): number {
    return this.max;
  }

  /** Workers started and not stopped. */
  get workerCount(): number {
    return this.workers.length;
  }

  /** Sets the maximum number of workers (Twisted's suggestThreadPoolSize); extra idle workers end. */
  adjustPoolsize(size: number): void {
    if (!Number.isInteger(size)) throw invalidArgType("size must be an integer");
    if (size < 1) throw outOfRange("size must be at least 1");
    this.max = size;
    for (let i = this.workers.length - 1; i >= 0 && this.workers.length > size; i--) {
      if (this.workers[i].job === null) this.retire(i);
    }
    this.dispatch();
  }

  /** Runs `fn(...args)` in a worker; a failure is logged (Twisted's callInThread). */
  callInThread(fn: ThreadFunction, args: unknown[]): void {
    this.submit(fn, args, null);
  }

  /** Runs `fn(...args)` in a worker; the Deferred fires with its (awaited) result or fails with its error. */
  deferToThread<T = unknown>(fn: ThreadFunction, args: unknown[]): Deferred<T> {
    const d = new Deferred<unknown>();
    this.submit(fn, args, d);
    return d as Deferred<T>;
  }

  /**
   * Fails every queued and running job with ThreadPoolStopped ("during shutdown"). The
   * workers live on until terminateWorkers: a worker killed between its post and its wake
   * would leave the thread channel's in-flight count up for good (thread-caller.ts).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const jobs = this.queue.splice(0);
    for (const w of this.workers) {
      if (w.job !== null) jobs.push(w.job);
      w.job = null;
      // A worker blocked in blockingCallFromThread gets an error reply rather than waiting forever.
      this.reply(w, [false, errorRecord(new ThreadPoolStopped("the reactor's thread pool stopped"))]);
    }
    for (const job of jobs) this.settle(job, false, new ThreadPoolStopped("the reactor's thread pool stopped before the function returned"));
  }

  /** Terminates every worker, even one blocked in its function; the reactor calls it once its thread channel is closed. */
  terminateWorkers(): void {
    this.stop();
    for (const w of this.workers.splice(0)) {
      void w.worker.terminate();
      w.replyPort.close();
    }
  }

  private submit(fn: ThreadFunction, args: unknown[], d: Deferred<unknown> | null): void {
    checkThreadFunction("fn", fn);
    if (this.stopped) throw new ThreadPoolStopped("the reactor's thread pool has stopped");
    this.ensureExposed();
    this.queue.push({ id: this.nextId++, fn, args, d });
    this.dispatch();
  }

  private ensureExposed(): void {
    if (this.exposed) return;
    this.exposed = true;
    this.host.exposeToThreads(RESULT_CALL, (worker: number, id: number, ok: boolean, value: unknown) => this.onResult(worker, id, ok, value));
    this.host.exposeToThreads(BLOCKING_CALL, (worker: number, name: string, args: unknown[]) => this.onBlockingCall(worker, name, args));
  }

  /** Hands queued jobs to idle workers, starting workers up to the size. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => x.job === null);
      if (w === undefined) {
        if (this.workers.length >= this.max) return;
        w = this.spawn();
      }
      const job = this.queue.shift() as Job;
      w.job = job;
      const m: RunMessage = { id: job.id, module: job.fn.module, export: job.fn.export, args: job.args };
      try {
        w.worker.postMessage(m);
      } catch (err) {
        // An argument that cannot be cloned fails this job only.
        w.job = null;
        this.settle(job, false, err);
      }
    }
  }

  private spawn(): PoolWorker {
    const channel = this.host.threadChannel();
    const { port1, port2 } = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const data: PoolWorkerData = { channel, worker: this.workerIndex++, replyPort: port2, replyFlag: flag };
    const worker = new Worker(workerScript(), { workerData: { fdreactorThreadPool: data }, transferList: [channel.port, port2] });
    worker.unref();
    const w: PoolWorker = { index: data.worker, worker, replyPort: port1, replyFlag: new Int32Array(flag), job: null };
    worker.on("error", (err) => this.onWorkerDied(w, err));
    worker.on("exit", (code) => this.onWorkerDied(w, new Error(`thread-pool worker exited with code ${code}`)));
    this.workers.push(w);
    return w;
  }

  private byIndex(index: number): PoolWorker | undefined {
    return this.workers.find((w) => w.index === index);
  }

  private onResult(index: number, id: number, ok: boolean, value: unknown): void {
    const w = this.byIndex(index);
    if (w === undefined || w.job === null || w.job.id !== id) return;
    const job = w.job;
    w.job = null;
    if (this.workers.length > this.max) this.retire(this.workers.indexOf(w));
    this.settle(job, ok, ok ? value : errorFromRecord(value as ErrorRecord));
    this.dispatch();
  }

  private onBlockingCall(index: number, name: string, args: unknown[]): void {
    const w = this.byIndex(index);
    if (w === undefined) return;
    const f = this.host.threadFunction(name);
    if (f === undefined) {
      this.reply(w, [false, errorRecord(new Error(`blockingCallFromThread: no function exposed as "${name}"`))]);
      return;
    }
    maybeDeferred(f, ...args).addCallbacks(
      (value: unknown) => {
        this.reply(w, [true, value]);
        return null;
      },
      (failure: Failure) => {
        this.reply(w, [false, errorRecord(failure.value)]);
        return null;
      },
    );
  }

  /** Posts a blockingCallFromThread reply and wakes the worker. */
  private reply(w: PoolWorker, reply: BlockingReply): void {
    try {
      w.replyPort.postMessage(reply);
    } catch (err) {
      w.replyPort.postMessage([false, errorRecord(err)]);
    }
    Atomics.store(w.replyFlag, 0, 1);
    Atomics.notify(w.replyFlag, 0);
  }

  /** A worker that died (its own error, or exit) fails its job; the rest of the pool goes on. */
  private onWorkerDied(w: PoolWorker, err: Error): void {
    const i = this.workers.indexOf(w);
    if (i < 0) return;
    this.workers.splice(i, 1);
    w.replyPort.close();
    if (w.job !== null) this.settle(w.job, false, err);
    w.job = null;
    this.dispatch();
  }

  /** Ends an idle worker by asking it to leave (not terminate: it may still be finishing its last report). */
  private retire(i: number): void {
    const [w] = this.workers.splice(i, 1);
    w.replyPort.close();
    w.worker.postMessage(null);
  }

  private settle(job: Job, ok: boolean, value: unknown): void {
    if (job.d === null) {
      // A pool stopping with its reactor is no error of the function's: not logged.
      if (!ok && !(value instanceof ThreadPoolStopped)) log("error", `callInThread: ${job.fn.module}#${job.fn.export} failed`, value);
      return;
    }
    if (ok) job.d.callback(value);
    else job.d.errback(value);
  }
}
