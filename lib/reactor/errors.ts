/**
 * Errors of the reactor's own lifecycle that lib/error.ts does not already name.
 * (ReactorAlreadyRunning, ReactorNotRunning and UnknownBackendError live there.)
 */
import { FdReactorError } from "../error";

/** A reactor that has run and stopped cannot run again (Twisted's ReactorNotRestartable). */
export class ReactorNotRestartable extends FdReactorError {}

/** installReactor was called after the global reactor had been made or installed. */
export class ReactorAlreadyInstalledError extends FdReactorError {}
