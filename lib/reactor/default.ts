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

/**
 * The `reactor` of the ES module entry (scripts/esm-entry.js), where a binding cannot be a
 * getter: a stand-in that makes the global reactor only when it is first used, so that
 * importing the package neither makes one nor keeps installReactor() from choosing it.
 * Every property read, write and `in` test goes to getDefaultReactor(); methods come bound
 * to the real reactor (one bound function per method, kept), and `instanceof Reactor`
 * holds. It is not the same object as getDefaultReactor(): compare with that, not with it.
 */
export const lazyDefaultReactor: Reactor = makeLazyReactor();

function makeLazyReactor(): Reactor {
  const bound = new Map<PropertyKey, { fn: (...a: unknown[]) => unknown; bound: (...a: unknown[]) => unknown }>();
  const handler: ProxyHandler<Reactor> = {
    get(_target, key) {
      const r = getDefaultReactor();
      const v: unknown = Reflect.get(r, key, r);
      if (typeof v !== "function") return v;
      let entry = bound.get(key);
      if (entry === undefined || entry.fn !== v) {
        const fn = v as (...a: unknown[]) => unknown;
        entry = { fn, bound: fn.bind(r) };
        bound.set(key, entry);
      }
      return entry.bound;
    },
    set(_target, key, value) {
      const r = getDefaultReactor();
      return Reflect.set(r, key, value, r);
    },
    has(_target, key) {
      return Reflect.has(getDefaultReactor(), key);
    },
  };
  // The target only carries the prototype (for instanceof); it never holds a property.
  return new Proxy(Object.create(Reactor.prototype) as Reactor, handler);
}
