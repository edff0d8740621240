/**
 * Every open port and connection of lib/net, per reactor, so that a reactor's shutdown
 * closes them all. The reactor itself closes what is registered with it; a connection
 * that is paused (not reading, nothing to write), half-closed and idle, still resolving
 * its destination, or a port backing off after EMFILE is registered for nothing, and
 * would otherwise keep its fd past the end of the run.
 */
import { Failure } from "../defer/failure";
import { ConnectionLost } from "../error";
import { log } from "../log";
import type { IReactorFDSet } from "./fdset";

/** Something that closes itself when told its connection is lost. */
export interface Closable {
  /** Closes with `reason` (a Failure wrapping the error). */
  connectionLost(reason: Failure): void;
}

const live = new WeakMap<IReactorFDSet, Set<Closable>>();

/** Remembers `d` as open on `reactor` (the first call per reactor hooks its shutdown). */
export function track(reactor: IReactorFDSet, d: Closable): void {
  let set = live.get(reactor);
  if (set === undefined) {
    set = new Set();
    live.set(reactor, set);
    if (typeof reactor.addSystemEventTrigger === "function") reactor.addSystemEventTrigger("during", "shutdown", () => closeAll(reactor));
  }
  set.add(d);
}

/** Forgets `d` (it has closed). */
export function untrack(reactor: IReactorFDSet, d: Closable): void {
  live.get(reactor)?.delete(d);
}

function closeAll(reactor: IReactorFDSet): void {
  const set = live.get(reactor);
  live.delete(reactor);
  if (set === undefined) return;
  for (const d of [...set]) {
    try {
      d.connectionLost(new Failure(new ConnectionLost("The reactor shut down.")));
    } catch (e) {
      log("error", `connectionLost of ${d.constructor.name} threw at shutdown`, e);
    }
  }
}
