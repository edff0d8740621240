/**
 * Plugs a Resolver into a reactor through lib/net's resolver hook (Twisted's
 * IReactorPluggableResolver.installResolver): afterwards `reactor.resolve(name)` returns a
 * Deferred of one address, and `connectTCP(host, ...)` (which calls that hook for any
 * name that is not an address literal) resolves through DNS without blocking.
 * `reactor.resolveAll(name)` gives every address (IPv4 first) for connectors that try
 * each address in turn.
 */
import type { Deferred } from "../defer";
import type { IReactorFDSet } from "../net/fdset";
import { Reactor } from "../reactor/reactor";
import type { QueryReactor } from "./query";
import { Resolver, type ResolverOptions } from "./resolver";

declare module "../reactor/reactor" {
  interface Reactor {
    /** One address for a host name (installed by lib/names' installResolver). */
    resolve?: (name: string) => PromiseLike<string>;
    /** Every address of a host name, IPv4 first (installed by installResolver). */
    resolveAll?: (name: string) => PromiseLike<string[]>;
    /** The resolver installed by installResolver, if any. */
    nameResolver?: Resolver;
  }
}

/** A reactor that can carry a resolver: the hook of lib/net plus the extras installed here. */
export type ResolvingReactor = QueryReactor & {
  resolveAll?: (name: string) => PromiseLike<string[]>;
  nameResolver?: Resolver;
};

/**
 * Makes `resolver` (or a new Resolver with `options`) the reactor's: sets
 * `reactor.resolve`, `reactor.resolveAll` and `reactor.nameResolver`. Returns the resolver.
 */
export function installResolver(reactor: QueryReactor, resolver?: Resolver | ResolverOptions): Resolver {
  const r = resolver instanceof Resolver ? resolver : new Resolver(reactor, resolver ?? {});
  const target = reactor as ResolvingReactor;
  target.resolve = r.resolve;
  target.resolveAll = (name: string): Deferred<string[]> => r.getAllHostsByName(name);
  target.nameResolver = r;
  return r;
}

/** Removes what installResolver set: the reactor falls back to a default Resolver made on its next lookup. */
export function uninstallResolver(reactor: IReactorFDSet): void {
  const target = reactor as ResolvingReactor;
  delete target.resolve;
  delete target.resolveAll;
  delete target.nameResolver;
}

/** `reactor.installResolver(...)` on Reactor, as in Twisted. */
declare module "../reactor/reactor" {
  interface Reactor {
    /** Installs a DNS resolver for this reactor (lib/names' installResolver). */
    installResolver(resolver?: Resolver | ResolverOptions): Resolver;
  }
}

Reactor.prototype.installResolver = function installResolverMethod(this: Reactor, resolver?: Resolver | ResolverOptions): Resolver {
  return installResolver(this as unknown as QueryReactor, resolver);
};

/**
 * Once lib/names is loaded (the package's index loads it), every Reactor resolves host
 * names through DNS by default: the first `resolve`/`resolveAll` on a reactor that has no
 * resolver of its own installs one with the system's settings (/etc/hosts, then
 * /etc/resolv.conf's servers). An explicit installResolver overrides this per reactor.
 */
function defaultResolverOf(reactor: Reactor): Resolver {
  return reactor.nameResolver ?? installResolver(reactor as unknown as QueryReactor);
}

Reactor.prototype.resolve = function resolveByDefault(this: Reactor, name: string): PromiseLike<string> {
  return defaultResolverOf(this).getHostByName(name);
};

Reactor.prototype.resolveAll = function resolveAllByDefault(this: Reactor, name: string): PromiseLike<string[]> {
  return defaultResolverOf(this).getAllHostsByName(name);
};
