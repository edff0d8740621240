/**
 * The one logger of fdreactor: unhandled Deferred errors, exceptions thrown by callbacks
 * and protocols, and operational notes (EMFILE while accepting) all go through it.
 * It sits below every layer so that `lib/defer` and `lib/reactor` share it.
 */

/** Severity of a log record. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A destination for log records. */
export type LogObserver = (level: LogLevel, message: string, error?: unknown) => void;

const defaultObserver: LogObserver = (level, message, error) => {
  if (level === "debug") return;
  const stack = error instanceof Error ? `\n${error.stack ?? String(error)}` : error !== undefined ? `\n${String(error)}` : "";
  process.stderr.write(`[fdreactor] ${level}: ${message}${stack}\n`);
};

let observers: LogObserver[] = [defaultObserver];

/** Writes one record to every observer; an observer that throws is skipped. */
export function log(level: LogLevel, message: string, error?: unknown): void {
  for (const o of observers) {
    try {
      o(level, message, error);
    } catch {
      /* a broken observer must not break the caller */
    }
  }
}

/** Adds an observer; returns a function that removes it. */
export function addLogObserver(o: LogObserver): () => void {
  observers.push(o);
  return () => {
    observers = observers.filter((x) => x !== o);
  };
}

/** Replaces the default stderr observer (tests capture records this way); returns a restore function. */
export function setLogObservers(list: LogObserver[]): () => void {
  const previous = observers;
  observers = list.slice();
  return () => {
    observers = previous;
  };
}
