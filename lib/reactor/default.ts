/**
 * The global default reactor of Twisted-style scripts: made on first use with the best
 * backend of this build, installing SIGINT/SIGTERM handlers at run() (as Twisted's does).
 * Everything else takes an explicit reactor.
 */
import { Reactor } from "./reactor";
import { ReactorAlreadyInstalledError } from "./errors";

let installed: Reactor | null = null;

/** The global reactor, made on first call. */
export function getDefaultReactor(): Reactor {
  if (installed === null) installed = new Reactor({ installSignalHandlers: true });
  return installed;
}

/** Makes `r` the global reactor (Twisted's installReactor); ReactorAlreadyInstalledError when one exists. */
export function installReactor(r: Reactor): void {
  if (!(r instanceof Reactor)) throw new TypeError("reactor must be a Reactor");
  if (installed !== null) throw new ReactorAlreadyInstalledError("A global reactor is already installed");
  installed = r;
}
