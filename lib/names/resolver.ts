/**
 * The resolver (Twisted's twisted.names client.Resolver behind a hosts-file resolver):
 * address literals as they are, then the hosts file, then DNS on the reactor itself.
 *
 * A lookup of `name` for type A or AAAA:
 * 1. the hosts file (re-read when it changes; files are stat'ed at most once a second);
 * 2. the candidate names of the search list (resolv.conf's `search` and `ndots`, as the C
 *    library orders them), each in turn until one has addresses;
 * 3. for each candidate, the cache, else the servers: every attempt goes over the
 *    servers in order (from the next one in turn with `rotate`), one UDP query each with
 *    `timeout` seconds on the reactor's clock, sent through the resolver's pool of
 *    sockets per server (channels.ts); a truncated answer
 *    is asked again over TCP of the same server; SERVFAIL, REFUSED, a refusal or a
 *    timeout moves on to the next server; NOERROR and NXDOMAIN are final;
 * 4. the answer's CNAME chain is followed from the name asked; when it leaves the answer
 *    the last name is asked for in turn, at most `maxCNAMEHops` links in all.
 * Addresses are cached for the smallest TTL along the chain; NXDOMAIN and empty answers
 * for the SOA's negative TTL (RFC 2308). Every failure is a DNSLookupError naming the host,
 * its `cause` a DNSQueryError saying why (NXDOMAIN, NODATA, SERVFAIL, TIMEOUT, ...).
 */
import { isIP } from "node:net";
import { Deferred, Failure, fail, succeed } from "../defer";
import { DNSLookupError } from "../error";
import { HostsFile } from "../net/hosts";
import { ipv4First } from "../net/resolve";
import { DNSCache, type CacheClock } from "./cache";
import { DNSQueryError } from "./errors";
import { ChannelPool, type PendingQuery, type QueryWaiter } from "./channels";
import { describeServer, queryTCP, type AddressType, type DNSRecord, type DNSResponse, type QueryReactor } from "./query";
import { checkConfig, ResolvConfFile, searchDomain, type ResolverConfig } from "./resolvconf";

/** Options of a Resolver; every file and setting can be injected for tests. */
export interface ResolverOptions {
  /** The hosts file (default /etc/hosts); null for none. */
  hostsPath?: string | null;
  /** The resolv.conf to follow (default /etc/resolv.conf). */
  resolvConfPath?: string;
  /** Settings that override the file's (e.g. `{ nameservers: [{ host: "127.0.0.1", port: 5353 }] }`). */
  config?: Partial<ResolverConfig>;
  /** The cache's clock (default: the reactor). */
  clock?: CacheClock;
  /** Most outcomes cached (default 4096; 0 disables the cache). */
  cacheSize?: number;
  /** Most CNAME links followed for one lookup (default 16). */
  maxCNAMEHops?: number;
  /** Seconds (on the reactor's clock) between checks of the hosts file and resolv.conf for changes (default 1; 0: every lookup). */
  fileCheckInterval?: number;
}

/** Addresses found for a name, and how long they may be kept. */
interface Found {
  addresses: string[];
  ttl: number;
}

/** Default limit on CNAME links followed for one lookup. */
export const DEFAULT_MAX_CNAME_HOPS = 16;

/** A non-blocking stub resolver on a reactor (hosts file, cache, DNS over UDP with TCP fallback). */
export class Resolver {
  /** The outcomes of recent queries. */
  readonly cache: DNSCache;
  /** The hosts file consulted first, or null. */
  readonly hosts: HostsFile | null;
  /** Most CNAME links followed for one lookup. */
  readonly maxCNAMEHops: number;

  private readonly reactor: QueryReactor;
  private readonly resolvConf: ResolvConfFile;
  private readonly overrides: Partial<ResolverConfig>;
  private nextServer = 0;
  /** The UDP sockets the queries go through. */
  private readonly channels: ChannelPool;
  /** config() as last merged, and the file's settings it was merged from. */
  private merged: ResolverConfig | null = null;
  private mergedFrom: ResolverConfig | null = null;
  /** Queries on the wire, by lower-case name (one map per type, so no key is built per lookup): later askers wait for the same answer. */
  private readonly inflightA = new Map<string, SharedQuery>();
  private readonly inflightAAAA = new Map<string, SharedQuery>();

  /** A resolver that sends its queries through `reactor`. */
  constructor(reactor: QueryReactor, options: ResolverOptions = {}) {
    if (reactor === null || typeof reactor !== "object" || typeof reactor.callLater !== "function" || typeof reactor.addReader !== "function") {
      throw new TypeError("reactor must be a reactor (callLater, addReader, ...)");
    }
    this.reactor = reactor;
    this.channels = new ChannelPool(reactor);
    const interval = options.fileCheckInterval ?? 1;
    this.hosts = options.hostsPath === null ? null : new HostsFile(options.hostsPath ?? "/etc/hosts", reactor, interval);
    this.resolvConf = new ResolvConfFile(options.resolvConfPath ?? "/etc/resolv.conf", reactor, interval);
    this.overrides = { ...(options.config ?? {}) };
    if (options.config !== undefined) {
      checkConfig({ ...this.resolvConf.current(), ...this.overrides });
      // Written as resolv.conf's parser leaves them: no trailing dot, lower case, so
      // every name put on the wire ends without a dot.
      if (this.overrides.search !== undefined) this.overrides.search = this.overrides.search.map(searchDomain);
    }
    this.cache = new DNSCache(options.clock ?? reactor, options.cacheSize);
    const hops = options.maxCNAMEHops ?? DEFAULT_MAX_CNAME_HOPS;
    if (!Number.isInteger(hops) || hops < 0) throw new RangeError(`maxCNAMEHops must be an integer >= 0, received ${hops}`);
    this.maxCNAMEHops = hops;
  }

  /** The settings in force now: resolv.conf as it is on disk, with the injected overrides. */
  config(): ResolverConfig {
    return this.configAt(undefined);
  }

  /** config(), with `now` the reactor's time if the caller has just read it. */
  private configAt(now: number | undefined): ResolverConfig {
    const fromFile = this.resolvConf.current(now);
    if (this.merged === null || fromFile !== this.mergedFrom) {
      this.merged = Object.freeze({ ...fromFile, ...this.overrides });
      this.mergedFrom = fromFile;
    }
    return this.merged;
  }

  /** UDP sockets open for queries now (the pool's; closed after IDLE seconds with nothing in flight). */
  get openSockets(): number {
    return this.channels.size;
  }

  /** Every IPv4 address of `name` (Twisted's lookupAddress, as address strings). */
  lookupAddress(name: string): Deferred<string[]> {
    return this.lookup(name, "A");
  }

  /** Every IPv6 address of `name` (Twisted's lookupIPV6Address, as address strings). */
  lookupIPV6Address(name: string): Deferred<string[]> {
    return this.lookup(name, "AAAA");
  }

  /**
   * Every address of `name`, IPv4 ones first: the hosts file's if it names the host, else
   * A and AAAA asked at once. Fails only when neither gives an address.
   */
  getAllHostsByName(name: string): Deferred<string[]> {
    checkName(name);
    if (isIP(name) !== 0) return succeed([name]);
    const fromHosts = this.hosts?.lookup(name) ?? [];
    if (fromHosts.length > 0) return succeed(ipv4First(fromHosts));
    const d = new Deferred<string[]>(() => {
      v4.cancel();
      v6.cancel();
    });
    let v4Result: string[] | Failure | null = null;
    let v6Result: string[] | Failure | null = null;
    const settle = (): void => {
      if (v4Result === null || v6Result === null || d.called) return;
      const all = [...(Array.isArray(v4Result) ? v4Result : []), ...(Array.isArray(v6Result) ? v6Result : [])];
      if (all.length > 0) d.callback(all);
      else d.errback(preferredFailure(v4Result as Failure, v6Result as Failure));
    };
    const v4 = this.lookup(name, "A");
    const v6 = this.lookup(name, "AAAA");
    v4.addCallbacks(
      (a) => {
        v4Result = a;
        settle();
      },
      (f) => {
        v4Result = f;
        settle();
      },
    );
    v6.addCallbacks(
      (a) => {
        v6Result = a;
        settle();
      },
      (f) => {
        v6Result = f;
        settle();
      },
    );
    return d;
  }

  /**
   * One address for `name` (Twisted's getHostByName): a literal as it is, the hosts
   * file's first IPv4 (else IPv6) address, else the first A record, else — when the name
   * exists but has no A record — the first AAAA record.
   */
  getHostByName(name: string): Deferred<string> {
    checkName(name);
    if (isIP(name) !== 0) return succeed(name);
    const fromHosts = this.hosts?.lookup(name) ?? [];
    if (fromHosts.length > 0) return succeed(ipv4First(fromHosts)[0]);
    let current: Deferred<string[]> = this.lookup(name, "A");
    const d = new Deferred<string>(() => current.cancel());
    current.addCallbacks(
      (a) => d.callback(a[0]),
      (f) => {
        if (reasonOf(f) !== "NODATA") {
          d.errback(f);
          return;
        }
        current = this.lookup(name, "AAAA");
        current.addCallbacks(
          (a) => d.callback(a[0]),
          (f6) => d.errback(f6),
        );
      },
    );
    return d;
  }

  /** The reactor hook: `reactor.resolve(name)` (IReactorPluggableResolver). */
  readonly resolve = (name: string): Deferred<string> => this.getHostByName(name);

  /** The addresses of type `type` for `name`: literal, hosts file, then DNS through the search list. */
  lookup(name: string, type: AddressType): Deferred<string[]> {
    checkName(name);
    if (type !== "A" && type !== "AAAA") throw new TypeError(`type must be "A" or "AAAA", received ${String(type)}`);
    // One pass over the name, in this function (the lookup path is compiled as one unit,
    // too large for a caller to inline: docs/names.md, "What a lookup costs"): whether it
    // could be an address literal (only digits and dots, or a colon somewhere; isIP's
    // regexes cost more than the scan), and whether DNS can carry it (1 to 253 characters
    // without the trailing dot, labels of 1 to 63).
    const n = name.charCodeAt(name.length - 1) === 0x2e ? name.length - 1 : name.length;
    let digitsAndDots = true;
    let colon = false;
    let labelsFit = true;
    let labelStart = 0;
    for (let i = 0; i <= n; i++) {
      const c = i < n ? name.charCodeAt(i) : 0x2e;
      if (c === 0x2e) {
        if (i === labelStart || i - labelStart > 63) labelsFit = false;
        labelStart = i + 1;
      } else if (c === 0x3a) colon = true;
      else if (c < 0x30 || c > 0x39) digitsAndDots = false;
    }
    const family = digitsAndDots || colon ? isIP(name) : 0;
    if (family !== 0) {
      if ((family === 4) === (type === "A")) return succeed([name]);
      return failWith(name, new DNSQueryError("NODATA", name, type, "an address literal of the other family"));
    }
    const hosts = this.hosts;
    if (hosts !== null) {
      const fromHosts = type === "A" ? hosts.lookupIPv4(name) : hosts.lookupIPv6(name);
      if (fromHosts.length > 0) return succeed(fromHosts);
    }
    if (n === 0 || n > 253) return failWith(name, new DNSQueryError("BAD_NAME", name, type, "a name must have 1 to 253 characters"));
    if (!labelsFit) return failWith(name, new DNSQueryError("BAD_NAME", name, type, "each label must have 1 to 63 characters"));
    // One reading of the clock serves the file check and the query's deadline.
    const now = this.reactor.seconds();
    const config = this.configAt(now);
    if (config.search.length !== 0 && !name.endsWith(".")) return this.searchList(name, type, config);
    // One candidate: its query fires the lookup's Deferred itself (addresses, or the
    // DNSLookupError naming `name`), with no link added to map one to the other. The
    // common case ends here, in this one function (docs/names.md, "What a lookup costs").
    return this.query(name.endsWith(".") ? name.slice(0, -1) : name, type, this.maxCNAMEHops, null, name, config, now) as Deferred<string[]>;
  }

  /** Tries each candidate of the search list in turn; the first with addresses wins. */
  private searchList(name: string, type: AddressType, config: ResolverConfig): Deferred<string[]> {
    const candidates = searchCandidates(name, config);
    let current: Deferred<Found> | null = null;
    const d = new Deferred<string[]>(() => current?.cancel());
    const failures: DNSQueryError[] = [];
    const next = (i: number): void => {
      if (d.called) return;
      if (i >= candidates.length) {
        d.errback(lookupError(name, chooseFailure(failures)));
        return;
      }
      current = this.query(candidates[i], type, this.maxCNAMEHops, null, null, config, undefined) as Deferred<Found>;
      current.addCallbacks(
        (found) => {
          if (!d.called) d.callback(found.addresses);
        },
        (f) => {
          if (d.called) return;
          if (!(f.value instanceof DNSQueryError)) {
            d.errback(f);
            return;
          }
          failures.push(f.value);
          next(i + 1);
        },
      );
    };
    next(0);
    return d;
  }

  /**
   * The addresses for exactly `qname` (no search list): the cache, else the servers,
   * chains followed. `chain` holds the names already on the CNAME chain when this is a
   * re-query; re-queries never wait on another lookup's query, so two chains that cross
   * cannot wait on each other. With `host` (the name the lookup was asked for) the
   * Deferred is the lookup's own: it fires with the addresses, or fails with the
   * DNSLookupError naming `host`; without, it fires with a Found or the DNSQueryError.
   * `now` is the reactor's time when the caller has just read it.
   */
  private query(
    qname: string,
    type: AddressType,
    hopsLeft: number,
    chain: ReadonlySet<string> | null,
    host: string | null,
    config: ResolverConfig,
    now: number | undefined,
  ): Deferred<Found> | Deferred<string[]> {
    const cached = this.cache.get(qname, type);
    if (cached !== undefined) {
      if (!("addresses" in cached)) return host !== null ? fail<string[]>(lookupError(host, cached.failure)) : fail<Found>(cached.failure);
      if (host !== null) return succeed(cached.addresses.slice());
      return succeed<Found>({ addresses: cached.addresses.slice(), ttl: 0 });
    }
    const inflight = type === "A" ? this.inflightA : this.inflightAAAA;
    const key = chain === null ? qname.toLowerCase() : null;
    const waiting = key !== null ? inflight.get(key) : undefined;
    if (waiting !== undefined) return waiting.join(host);
    const shared = new SharedQuery(this, this.channels, this.reactor, qname, type, hopsLeft, chain, key);
    if (key !== null) inflight.set(key, shared);
    const waiter = shared.join(host);
    shared.start(config, config.rotate ? this.nextServer++ : 0, now);
    return waiter;
  }

  /** SharedQuery is done: it no longer takes waiters. */
  private ended(shared: SharedQuery): void {
    if (shared.key === null) return;
    const inflight = shared.type === "A" ? this.inflightA : this.inflightAAAA;
    if (inflight.get(shared.key) === shared) inflight.delete(shared.key);
  }

  /**
   * What a final response means for `qname`: addresses (following CNAMEs), or a failure
   * (thrown); cached. For SharedQuery only.
   * @internal
   */
  _interpret(response: DNSResponse, qname: string, type: AddressType, hopsLeft: number, chain: ReadonlySet<string> | null): Found | Deferred<Found> {
    const rcode = response.rcode ?? "NOERROR";
    if (rcode === "NXDOMAIN") throw this._negative(qname, type, true, negativeTTL(response));
    const answers = response.answers ?? [];
    let current = qname.toLowerCase();
    let ttl = Infinity;
    let seen: Set<string> | null = null; // the chain's names, made at the first CNAME
    for (;;) {
      // Made at the first address (an array literal of one holds no room for 16 more).
      let addresses: string[] | null = null;
      for (const a of answers) {
        if (a.type !== type || !sameName(a.name, current) || !isInClass(a)) continue;
        const data = a.data;
        // packet.ts gives A and AAAA data only as the address text of 4 and 16 bytes.
        if (typeof data !== "string") continue;
        if (addresses === null) addresses = [data];
        else if (!addresses.includes(data)) addresses.push(data);
        ttl = Math.min(ttl, ttlOf(a));
      }
      if (addresses !== null) return this._found(qname, type, addresses, ttl); // a value, not a Deferred: the chain goes on without pausing
      const cname = answers.find((a) => a.type === "CNAME" && sameName(a.name, current) && isInClass(a));
      if (cname === undefined || typeof cname.data !== "string") break;
      if (hopsLeft <= 0) throw new DNSQueryError("CNAME_LOOP", qname, type, `more than ${this.maxCNAMEHops} CNAME links`);
      const target = cname.data.toLowerCase().replace(/\.$/, "");
      if (seen === null) seen = new Set(chain ?? []).add(current);
      if (seen.has(target)) throw new DNSQueryError("CNAME_LOOP", qname, type, `CNAME loop at ${target}`);
      seen.add(target);
      ttl = Math.min(ttl, ttlOf(cname));
      current = target;
      hopsLeft--;
    }
    if (current !== qname.toLowerCase()) {
      // The chain leaves the answer: ask for its last name, within what is left of the hop budget.
      const chainTTL = ttl;
      const next = this.query(current, type, hopsLeft, seen ?? new Set(chain ?? []).add(current), null, this.config(), undefined) as Deferred<Found>;
      const d = new Deferred<Found>(() => next.cancel());
      next.addCallbacks(
        (found) => {
          const kept = Math.min(chainTTL, found.ttl > 0 ? found.ttl : chainTTL);
          this.cache.put(qname, type, { addresses: found.addresses }, kept);
          d.callback({ addresses: found.addresses, ttl: kept });
        },
        (f) => d.errback(f.value),
      );
      return d;
    }
    throw this._negative(qname, type, false, negativeTTL(response));
  }

  /** `addresses` found for `qname` with `ttl`, cached. For SharedQuery only. @internal */
  _found(qname: string, type: AddressType, addresses: string[], ttl: number): Found {
    this.cache.put(qname, type, { addresses }, ttl);
    return { addresses, ttl };
  }

  /** The NXDOMAIN (`nxdomain`) or NODATA failure for `qname`, cached for `ttl`. For SharedQuery only. @internal */
  _negative(qname: string, type: AddressType, nxdomain: boolean, ttl: number): DNSQueryError {
    const failure = nxdomain ? new DNSQueryError("NXDOMAIN", qname, type, "no such domain") : new DNSQueryError("NODATA", qname, type, "the name has no such record");
    this.cache.put(qname, type, { failure }, ttl);
    return failure;
  }

  /** For SharedQuery only: its query ended (answered, failed or cancelled). @internal */
  _ended(shared: SharedQuery): void {
    this.ended(shared);
  }
}

/**
 * One query on the wire and everyone waiting for it (each waiter gets its own Deferred;
 * cancelling a waiter only removes it, and the query itself is cancelled, its socket
 * released, once no one waits any more). It asks the servers in turn for `qname`/`type`
 * until one gives a final response (NOERROR or NXDOMAIN), `attempts` rounds at most; a
 * truncated UDP answer is asked again over TCP; the response is then interpreted (CNAMEs
 * followed). Fails with the DNSQueryError of the last try (TIMEOUT naming all servers when
 * none answered).
 *
 * One object per query carries the whole exchange, and the channel pool reports to it
 * directly (QueryWaiter): no Deferred or closure per try on the common path, so that a
 * lookup allocates, and V8 compiles, little (docs/names.md, "What a lookup costs").
 */
class SharedQuery implements QueryWaiter {
  /**
   * The first waiter and the host its lookup asked for (null: it wants a Found), and the
   * others as pairs [waiter, host, ...] (most queries have one waiter: no array for them).
   */
  private waiter: Deferred<unknown> | null = null;
  private waiterHost: string | null = null;
  private others: (Deferred<unknown> | string | null)[] | null = null;
  private settled = false;
  private config: ResolverConfig | null = null;
  private first = 0;
  private tries = 0;
  /** The try under way (index into the servers' attempts). */
  private n = 0;
  private lastError: DNSQueryError | null = null;
  private answeredAtAll = false;
  /** What is in flight: a UDP query, a TCP query or a CNAME chase (null: nothing). */
  private pending: PendingQuery | Deferred<DNSResponse> | Deferred<Found> | null = null;

  constructor(
    private readonly resolver: Resolver,
    private readonly pool: ChannelPool,
    private readonly reactor: QueryReactor,
    readonly qname: string,
    readonly type: AddressType,
    private readonly hopsLeft: number,
    private readonly chain: ReadonlySet<string> | null,
    /** The resolver's in-flight key, the name in lower case (null: a re-query of a chain, never shared). */
    readonly key: string | null,
  ) {}

  /**
   * A new Deferred that fires with the query's outcome: for a lookup of `host`, its
   * addresses or the DNSLookupError naming `host`; for null, a Found or the DNSQueryError.
   */
  join(host: string | null): Deferred<Found> | Deferred<string[]> {
    const w: Deferred<unknown> = new Deferred<unknown>(() => this.leave(w));
    if (this.waiter === null) {
      this.waiter = w;
      this.waiterHost = host;
    } else (this.others ??= []).push(w, host);
    return w as Deferred<Found> | Deferred<string[]>;
  }

  /** `w` was cancelled: it waits no more; with no one left, the query stops. */
  private leave(w: Deferred<unknown>): void {
    const others = this.others;
    if (this.waiter === w) {
      if (others !== null && others.length > 0) {
        this.waiter = others[0] as Deferred<unknown>;
        this.waiterHost = others[1] as string | null;
        others.splice(0, 2);
      } else this.waiter = null;
    } else if (others !== null) {
      const i = others.indexOf(w);
      if (i >= 0) others.splice(i, 2);
    }
    if (this.waiter === null && !this.settled) this.cancel();
  }

  /** Sends the first try, to server `turn` (modulo their number). */
  start(config: ResolverConfig, turn: number, now: number | undefined): void {
    this.config = config;
    const count = config.nameservers.length;
    this.first = turn % count;
    this.tries = count * config.attempts;
    this.attempt(0, now);
  }

  /** Sends try `n` (`now`: the reactor's time if just read). */
  private attempt(n: number, now: number | undefined): void {
    if (this.settled) return;
    const config = this.config!;
    const servers = config.nameservers;
    if (n >= this.tries) {
      const last = this.lastError;
      this.finish(
        null,
        this.answeredAtAll || last === null
          ? (last ?? new DNSQueryError("TIMEOUT", this.qname, this.type, "no server"))
          : new DNSQueryError("TIMEOUT", this.qname, this.type, `no answer from ${servers.map(describeServer).join(", ")} after ${config.attempts} attempt(s) of ${config.timeout} s`, { cause: last }),
      );
      return;
    }
    this.n = n;
    this.pending = null;
    // The pool may report a failure at once (no socket): `pending` is then already settled.
    const q = this.pool.query(servers[(this.first + n) % servers.length], this.qname, this.type, config.timeout, this, now);
    if (this.n === n && this.pending === null && !this.settled) this.pending = q;
  }

  /** A UDP response from the pool. */
  answered(r: DNSResponse): void {
    this.pending = null;
    this.response(r, false);
  }

  /** A UDP answer with addresses for the name asked, checked and read natively. */
  found(addresses: string[], ttl: number): void {
    this.pending = null;
    if (!this.settled) this.finish(this.resolver._found(this.qname, this.type, addresses, ttl), null);
  }

  /** A UDP answer of NXDOMAIN or NODATA, checked and read natively. */
  negative(nxdomain: boolean, ttl: number): void {
    this.pending = null;
    if (!this.settled) this.finish(null, this.resolver._negative(this.qname, this.type, nxdomain, ttl));
  }

  /** The UDP try failed (timeout, refusal, no socket). */
  failed(e: DNSQueryError): void {
    this.pending = null;
    this.tryFailed(e);
  }

  private tryFailed(e: unknown): void {
    if (this.settled) return;
    if (!(e instanceof DNSQueryError)) {
      this.finish(null, e);
      return;
    }
    if (e.reason !== "TIMEOUT") this.answeredAtAll = true;
    this.lastError = e;
    this.attempt(this.n + 1, undefined);
  }

  private response(r: DNSResponse, overTCP: boolean): void {
    if (this.settled) return;
    const config = this.config!;
    const server = config.nameservers[(this.first + this.n) % config.nameservers.length];
    if (r.flag_tc && !overTCP) {
      const tcp = queryTCP(this.reactor, server, this.qname, this.type, config.timeout);
      this.pending = tcp;
      tcp.addCallbacks(
        (r2) => this.response(r2, true),
        (f) => this.tryFailed(f.value),
      );
      return;
    }
    const rcode = r.rcode ?? "NOERROR";
    if (rcode !== "NOERROR" && rcode !== "NXDOMAIN") {
      this.answeredAtAll = true;
      this.lastError = new DNSQueryError(serverFailureReason(rcode), this.qname, this.type, `from ${describeServer(server)}`);
      this.attempt(this.n + 1, undefined);
      return;
    }
    let outcome: Found | Deferred<Found>;
    try {
      outcome = this.resolver._interpret(r, this.qname, this.type, this.hopsLeft, this.chain);
    } catch (e) {
      this.finish(null, e);
      return;
    }
    if (!(outcome instanceof Deferred)) {
      this.finish(outcome, null);
      return;
    }
    this.pending = outcome;
    outcome.addCallbacks(
      (found) => this.finish(found, null),
      (f) => this.finish(null, f.value),
    );
  }

  /** No one waits any more: stops what is in flight. */
  private cancel(): void {
    this.settled = true;
    this.resolver._ended(this);
    const p = this.pending;
    this.pending = null;
    if (p instanceof Deferred) p.cancel();
    else if (p !== null) this.pool.cancel(p);
  }

  /** Fires every waiter with the addresses found (each its own copy) or with `error`. */
  private finish(found: Found | null, error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.pending = null;
    this.resolver._ended(this);
    const first = this.waiter;
    const others = this.others;
    this.waiter = null;
    this.others = null;
    if (first !== null) fire(first, this.waiterHost, found, error);
    if (others !== null) for (let i = 0; i < others.length; i += 2) fire(others[i] as Deferred<unknown>, others[i + 1] as string | null, found, error);
  }
}

/**
 * Fires waiter `w` with its own copy of the addresses found, or with `error`: for a
 * lookup of `host`, the addresses themselves or the DNSLookupError naming `host`.
 */
function fire(w: Deferred<unknown>, host: string | null, found: Found | null, error: unknown): void {
  if (w.called) return;
  if (found === null) w.errback(host !== null && error instanceof DNSQueryError ? lookupError(host, error) : error);
  else if (host !== null) w.callback(found.addresses.slice());
  else w.callback({ addresses: found.addresses.slice(), ttl: found.ttl });
}

/** The names to ask for `name`, in order (the C library's res_nsearch order). */
export function searchCandidates(name: string, config: Pick<ResolverConfig, "search" | "ndots">): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  let dots = 0;
  for (let i = name.indexOf("."); i >= 0; i = name.indexOf(".", i + 1)) dots++;
  if (config.search.length === 0) return [name];
  const searched = config.search.filter((d) => d !== "").map((d) => `${name}.${d}`);
  return dots >= config.ndots ? [name, ...searched] : [...searched, name];
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name === "") throw new TypeError(`name must be a non-empty host name, received ${JSON.stringify(name)}`);
}

function serverFailureReason(rcode: string): "SERVFAIL" | "REFUSED" | "NOTIMP" | "FORMERR" {
  if (rcode === "REFUSED" || rcode === "NOTIMP" || rcode === "FORMERR") return rcode;
  return "SERVFAIL";
}

/** Whether record owner `a` (as decoded: no trailing dot) is `b` (lower case, no trailing dot). */
function sameName(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b;
}

function isInClass(a: DNSRecord): boolean {
  return a.class === "IN";
}

function ttlOf(a: DNSRecord): number {
  return a.ttl;
}

/** RFC 2308: the lesser of the SOA record's TTL and its MINIMUM field; 0 (not cached) without an SOA. */
function negativeTTL(response: DNSResponse): number {
  for (const a of response.authorities ?? []) {
    if (a.type !== "SOA") continue;
    const data = a.data;
    const minimum = data !== null && typeof data === "object" ? data.minimum : 0;
    return Math.min(ttlOf(a), minimum);
  }
  return 0;
}

/** The failure to report out of several candidates: a server problem over "not found". */
function chooseFailure(failures: DNSQueryError[]): DNSQueryError {
  const serious = failures.find((f) => f.reason !== "NXDOMAIN" && f.reason !== "NODATA");
  if (serious !== undefined) return serious;
  const nodata = failures.find((f) => f.reason === "NODATA");
  return nodata ?? failures[failures.length - 1];
}

/** The DNSLookupError naming `host`, caused by `cause`. */
function lookupError(host: string, cause: DNSQueryError): DNSLookupError {
  return new DNSLookupError(`DNS lookup failed: address '${host}' not found: ${cause.message}.`, { cause });
}

function reasonOf(f: Failure): string | undefined {
  const v = f.value;
  if (v instanceof DNSLookupError && v.cause instanceof DNSQueryError) return v.cause.reason;
  return undefined;
}

/** Of two failed lookups, the one that says more (a server problem over NODATA). */
function preferredFailure(a: Failure, b: Failure): Failure {
  const ra = reasonOf(a);
  return ra === "NODATA" || ra === "NXDOMAIN" ? (reasonOf(b) === "NODATA" || reasonOf(b) === "NXDOMAIN" ? a : b) : a;
}

function failWith<T>(host: string, cause: DNSQueryError): Deferred<T> {
  return fail(lookupError(host, cause));
}
