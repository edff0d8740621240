/**
 * The module-level helpers that need a reactor (Twisted's task.react; coiterate/cooperate
 * on a Cooperator driven by the global reactor; threads.deferToThread). They live here, not in
 * lib/defer, because lib/defer knows no reactor (docs/design.md, *Layers*).
 */
import { Cooperator, Failure, maybeDeferred } from "../defer";
import type { CooperativeTask, Deferred } from "../defer";
import { ReactorNotRunning } from "../error";
import { log } from "../log";
import { getDefaultReactor } from "./default";
import { Reactor } from "./reactor";
import type { ThreadFunction } from "./threadpool-protocol";

/** Options of react. */
export interface ReactOptions {
  /** The reactor to run (default: the global reactor). */
  reactor?: Reactor;
  /** Set `process.exitCode` to the result (default true, as Twisted's sys.exit). */
  setExitCode?: boolean;
}

/**
 * Runs the reactor, calls `main(reactor, ...argv)` once it runs and stops the reactor when
 * the Deferred (or promise, or value) it returns settles (Twisted's task.react). Resolves,
 * after the reactor has shut down, with the exit code: 0 on success, 1 on failure (the
 * failure is logged); the code is also set as `process.exitCode` unless told otherwise.
 */
export async function react<A extends unknown[]>(
  main: (reactor: Reactor, ...argv: A) => unknown,
  argv: A = [] as unknown as A,
  options: ReactOptions = {},
): Promise<number> {
  if (typeof main !== "function") throw new TypeError("react: main must be a function");
  if (!Array.isArray(argv)) throw new TypeError("react: argv must be an array");
  if (options === null || typeof options !== "object") throw new TypeError("react: options must be an object");
  if (options.reactor !== undefined && !(options.reactor instanceof Reactor)) throw new TypeError("react: options.reactor must be a Reactor");
  const reactor = options.reactor ?? getDefaultReactor();
  let code = 0;
  let stopping = false;
  reactor.addSystemEventTrigger("before", "shutdown", () => {
    stopping = true;
  });
  const finish = (result: unknown, stopReactor: boolean): void => {
    if (stopReactor) {
      try {
        reactor.stop();
      } catch (err) {
        if (!(err instanceof ReactorNotRunning)) throw err;
      }
    }
    if (result instanceof Failure) {
      log("error", "main function encountered error", result.value);
      code = 1;
    }
  };
  reactor.callWhenRunning(() => {
    maybeDeferred(main, reactor, ...argv).addBoth((result: unknown) => {
      // Stopping from inside a shutdown already under way would fail: just record the code.
      if (stopping) finish(result, false);
      else reactor.callWhenRunning(finish, result, true);
      return null;
    });
  });
  await reactor.run();
  if (options.setExitCode !== false) process.exitCode = code;
  return code;
}

/**
 * Runs `fn(...args)` in a worker of the global reactor's thread pool; the Deferred fires
 * with its result or fails with its error (Twisted's threads.deferToThread). `fn` is
 * `{ module, export }`: functions cannot cross threads (docs/reactor.md, *The thread pool*).
 * With an explicit reactor: `reactor.getThreadPool().deferToThread(fn, args)`.
 */
export function deferToThread<T = unknown>(fn: ThreadFunction, ...args: unknown[]): Deferred<T> {
  return getDefaultReactor().getThreadPool().deferToThread<T>(fn, args);
}

let theCooperator: Cooperator | null = null;

/** The Cooperator of coiterate/cooperate, ticking on the global reactor. */
export function getDefaultCooperator(): Cooperator {
  if (theCooperator === null) theCooperator = new Cooperator({ scheduler: (f) => getDefaultReactor().callLater(0, f) });
  return theCooperator;
}

/** Runs `iterator` on the global Cooperator; fires with the iterator when it is exhausted (Twisted's task.coiterate). */
export function coiterate<I extends Iterator<unknown>>(iterator: I): Deferred<I> {
  return getDefaultCooperator().coiterate(iterator);
}

/** Runs `iterator` on the global Cooperator; returns its task (Twisted's task.cooperate). */
export function cooperate<I extends Iterator<unknown>>(iterator: I): CooperativeTask<I> {
  return getDefaultCooperator().cooperate(iterator);
}
