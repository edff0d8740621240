/**
 * The answer cache: addresses per (name, type) until their smallest TTL runs out, and
 * failures (NXDOMAIN, NODATA) until the negative-caching TTL of RFC 2308 (the SOA's
 * minimum, bounded by the SOA record's own TTL) runs out. Time comes from an injected
 * clock (the reactor, or a deterministic Clock in tests). Bounded: the oldest entry goes
 * when full (a Map keeps insertion order).
 */
import type { DNSQueryError } from "./errors";

/** Where the cache reads the time (the reactor is one). */
export interface CacheClock {
  /** Now, in seconds. */
  seconds(): number;
}

/** A cached outcome: addresses, or the failure to report again. */
export type CachedOutcome = { addresses: string[] } | { failure: DNSQueryError };

interface Entry {
  outcome: CachedOutcome;
  expires: number;
}

/** Default upper bound on cached entries. */
export const DEFAULT_CACHE_SIZE = 4096;
/** TTLs above this are capped (a week, as common resolvers do). */
export const MAX_TTL = 7 * 24 * 3600;

/** Outcomes of queries keyed by name and record type, each kept for its TTL. */
export class DNSCache {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: CacheClock;
  private readonly maxEntries: number;

  /** A cache reading time from `clock`, holding at most `maxEntries` outcomes. */
  constructor(clock: CacheClock, maxEntries = DEFAULT_CACHE_SIZE) {
    if (clock === null || typeof clock !== "object" || typeof clock.seconds !== "function") throw new TypeError("clock must have seconds()");
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError(`maxEntries must be an integer >= 0, received ${maxEntries}`);
    this.clock = clock;
    this.maxEntries = maxEntries;
  }

  /** The outcome cached for `name`/`type` if it has not expired, else undefined. */
  get(name: string, type: string): CachedOutcome | undefined {
    if (this.entries.size === 0) return undefined; // no key to build for an empty (or disabled) cache
    const key = keyOf(name, type);
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (this.clock.seconds() >= e.expires) {
      this.entries.delete(key);
      return undefined;
    }
    return e.outcome;
  }

  /** Keeps `outcome` for `ttl` seconds (nothing is kept for a TTL of 0). */
  put(name: string, type: string, outcome: CachedOutcome, ttl: number): void {
    if (!(ttl > 0) || this.maxEntries === 0) return;
    const key = keyOf(name, type);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { outcome, expires: this.clock.seconds() + Math.min(ttl, MAX_TTL) });
  }

  /** How many outcomes are held (expired ones included until looked up). */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
  }
}

/** The cache key of `name`/`type` (also the key of the resolver's in-flight queries). */
export function keyOf(name: string, type: string): string {
  return `${type} ${name.toLowerCase()}`;
}
