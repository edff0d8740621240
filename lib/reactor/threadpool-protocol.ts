/**
 * What the reactor's thread pool and its worker threads say to each other (threadpool.ts
 * on the reactor thread, threadpool-worker.ts in each worker). Functions cannot cross
 * threads, so a function is named by the module that exports it and the export's name
 * (docs/reactor.md, *The thread pool*); arguments and results are structured-cloned.
 *
 * This file imports nothing of the project, so a worker can load it alone.
 */
import type { MessagePort } from "node:worker_threads";

/** A function that runs in a worker thread: `require(module)[export]`. */
export interface ThreadFunction {
  /** An absolute path (or a package name) that `require` loads in the worker. */
  module: string;
  /** The name of the function among the module's exports. */
  export: string;
}

/** Name under which the pool receives results through the reactor's thread channel. */
export const RESULT_CALL = "fdreactor.threadpool.result";
/** Name under which the pool receives blockingCallFromThread requests. */
export const BLOCKING_CALL = "fdreactor.threadpool.blocking";

/** The reactor → worker message: run one function. */
export interface RunMessage {
  id: number;
  module: string;
  export: string;
  args: unknown[];
}

/** An error as it crosses threads (structured clone would drop its own fields). */
export interface ErrorRecord {
  name: string;
  message: string;
  stack: string | undefined;
  code: unknown;
}

/** The reply to a blockingCallFromThread: [true, value] or [false, error]. */
export type BlockingReply = [true, unknown] | [false, ErrorRecord];

/** What a pool worker gets in `workerData.fdreactorThreadPool`. */
export interface PoolWorkerData {
  /** The reactor's thread channel (see thread-caller.ts). */
  channel: import("./thread-caller").ThreadChannelHandle;
  /** This worker's index in the pool, sent back with every result. */
  worker: number;
  /** Where the reactor posts blockingCallFromThread replies. */
  replyPort: MessagePort;
  /** Int32[1]: set to 1 (and notified) when a reply is posted. */
  replyFlag: SharedArrayBuffer;
}

/** The error `e` as a record that survives a structured clone. */
export function errorRecord(e: unknown): ErrorRecord {
  if (e !== null && typeof e === "object") {
    const o = e as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
    return {
      name: typeof o.name === "string" ? o.name : "Error",
      message: typeof o.message === "string" ? o.message : String(e),
      stack: typeof o.stack === "string" ? o.stack : undefined,
      code: typeof o.code === "string" || typeof o.code === "number" ? o.code : undefined,
    };
  }
  return { name: "Error", message: `thrown value: ${String(e)}`, stack: undefined, code: undefined };
}

const BUILTIN: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** An Error rebuilt from a record: a built-in class for a built-in name, name, message, stack and code kept. */
export function errorFromRecord(r: ErrorRecord): Error {
  const e = new (BUILTIN[r.name] ?? Error)(r.message);
  if (e.name !== r.name) e.name = r.name;
  if (r.stack !== undefined) e.stack = r.stack;
  if (r.code !== undefined) (e as { code?: unknown }).code = r.code;
  return e;
}

/** The state a pool worker keeps for blockingCallFromThread (one per thread, shared by every copy of this library). */
export interface PoolThreadState {
  /** Runs `name(...args)` exposed on the reactor thread and blocks for its result. */
  blockingCall(name: string, args: unknown[]): unknown;
}

/** The global slot of PoolThreadState in a pool worker. */
export const THREAD_STATE = Symbol.for("fdreactor.threadpool.state");

/**
 * Called in a pool thread: runs the function the reactor thread exposed as `name` (with
 * `reactor.exposeToThreads`) with `args`, waits for its result — the value of the Deferred
 * or promise it returns, if it does — and returns it, or throws its error (Twisted's
 * blockingCallFromThread). Throws on any thread that is not one of a pool's workers.
 */
export function blockingCallFromThread(name: string, ...args: unknown[]): unknown {
  if (typeof name !== "string" || name === "") throw new TypeError("blockingCallFromThread: name must be a non-empty string");
  const state = (globalThis as { [THREAD_STATE]?: PoolThreadState })[THREAD_STATE];
  if (state === undefined) throw new Error("blockingCallFromThread: not called in a thread of a reactor's thread pool");
  return state.blockingCall(name, args);
}
