/**
 * The connection pool (Twisted's client.HTTPConnectionPool): idle persistent connections
 * per scheme, host and port, each closed after a while; a new connection when none is idle
 * — TCP through connectTCP, TLS through connectSSL with the settings the Agent chose
 * (both resolve host names with the reactor's resolver).
 */
import { Deferred, succeed, type Failure } from "../defer";
import type { IDelayedCall } from "../defer/interfaces";
import { connectSSL, connectTCP, type IReactorFDSet, type ITLSContextFactory } from "../net";
import type { Address, IProtocol } from "../net/interfaces";
import { ClientFactory } from "../protocols/protocol";
import { HTTP11ClientProtocol } from "./client-protocol";

/** Where a pool connects, and how. */
export interface Endpoint {
  host: string;
  port: number;
  /** TLS settings (https), or null for plain TCP. */
  tls: ITLSContextFactory | null;
  connectTimeout: number;
  maxBodySize?: number;
}

/** Builds one client protocol and fires a Deferred with it (or the connect failure). */
class ConnectFactory extends ClientFactory {
  readonly d: Deferred<HTTP11ClientProtocol>;
  connector: { readonly state: string; stopConnecting(): void } | null = null;
  private cancelled = false;
  constructor(private readonly maxBodySize: number | undefined) {
    super();
    this.noisy = false;
    this.d = new Deferred<HTTP11ClientProtocol>(() => {
      this.cancelled = true;
      if (this.connector !== null && this.connector.state === "connecting") this.connector.stopConnecting();
    });
  }
  /** The client protocol; it fires `d` once connected. */
  override buildProtocol(addr: Address): IProtocol {
    void addr;
    const p = new HTTP11ClientProtocol(this.maxBodySize);
    p.factory = this;
    p.onConnected = this.d;
    return p;
  }
  /** The connect failed: `d` fails with the reason (unless cancelled). */
  override clientConnectionFailed(connector: unknown, reason: Failure): void {
    void connector;
    if (!this.d.called && !this.cancelled) this.d.errback(reason);
  }
}

/** Options of an HTTPConnectionPool. */
export interface PoolOptions {
  /** Keep connections open for reuse (default true). */
  persistent?: boolean;
  /** Idle connections kept per scheme, host and port (default 2, as Twisted). */
  maxPersistentPerHost?: number;
  /** Seconds an idle connection is kept (default 240, as Twisted). */
  cachedConnectionTimeout?: number;
  /** Retry an idempotent request once on a new connection when a cached one was closed under it (default true). */
  retryAutomatically?: boolean;
}

/** A pool of persistent connections per scheme, host and port (Twisted's HTTPConnectionPool). */
export class HTTPConnectionPool {
  /** Keep connections for reuse. */
  readonly persistent: boolean;
  /** Idle connections kept per key. */
  readonly maxPersistentPerHost: number;
  /** Seconds an idle connection is kept. */
  readonly cachedConnectionTimeout: number;
  /** Retry once on a fresh connection when a cached one failed before any response. */
  readonly retryAutomatically: boolean;
  /** TCP connections opened so far. */
  connectionsMade = 0;

  private readonly reactor: IReactorFDSet;
  private readonly idle = new Map<string, HTTP11ClientProtocol[]>();
  private readonly timers = new Map<HTTP11ClientProtocol, IDelayedCall>();
  private readonly closing = new Set<HTTP11ClientProtocol>();
  private closeWaiters: Array<() => void> = [];

  /** A pool connecting with `reactor`; RangeError for a bad option. */
  constructor(reactor: IReactorFDSet, options: PoolOptions = {}) {
    if (reactor === null || typeof reactor !== "object" || typeof reactor.callLater !== "function") throw new TypeError("reactor must be a reactor");
    this.reactor = reactor;
    this.persistent = options.persistent ?? true;
    this.maxPersistentPerHost = options.maxPersistentPerHost ?? 2;
    if (!Number.isInteger(this.maxPersistentPerHost) || this.maxPersistentPerHost < 0) throw new RangeError("maxPersistentPerHost must be an integer >= 0");
    this.cachedConnectionTimeout = options.cachedConnectionTimeout ?? 240;
    if (!(this.cachedConnectionTimeout > 0)) throw new RangeError("cachedConnectionTimeout must be > 0 seconds");
    this.retryAutomatically = options.retryAutomatically ?? true;
  }

  /** Idle connections cached for `key` (the Agent's: "https://host:port"). */
  idleCount(key?: string): number {
    if (key !== undefined) return this.idle.get(key)?.length ?? 0;
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  /** A cached idle connection for `key`, or a new one; `cached` says which. */
  getConnection(key: string, ep: Endpoint): Deferred<{ proto: HTTP11ClientProtocol; cached: boolean }> {
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const p = list.pop()!;
      if (list.length === 0) this.idle.delete(key);
      this.stopTimer(p);
      if (p.state === "idle" && p.transport !== null) return succeed({ proto: p, cached: true });
    }
    const f = new ConnectFactory(ep.maxBodySize);
    this.connectionsMade++;
    f.connector =
      ep.tls === null
        ? connectTCP(this.reactor, ep.host, ep.port, f, { timeout: ep.connectTimeout })
        : connectSSL(this.reactor, ep.host, ep.port, f, ep.tls, { timeout: ep.connectTimeout });
    return f.d.addCallback((proto: HTTP11ClientProtocol) => ({ proto, cached: false })) as Deferred<{ proto: HTTP11ClientProtocol; cached: boolean }>;
  }

  /** A connection finished a response: cache it (or close it). */
  putConnection(key: string, p: HTTP11ClientProtocol): void {
    if (!this.persistent || this.maxPersistentPerHost === 0) {
      this.closeConnection(p);
      return;
    }
    let list = this.idle.get(key);
    if (list === undefined) this.idle.set(key, (list = []));
    if (list.length >= this.maxPersistentPerHost) this.closeConnection(list.shift()!);
    list.push(p);
    p.onQuiescent = (q, reusable) => {
      if (!reusable) this.forget(key, q);
    };
    this.timers.set(
      p,
      this.reactor.callLater(this.cachedConnectionTimeout, () => {
        this.timers.delete(p);
        this.forget(key, p);
        this.closeConnection(p);
      }),
    );
  }

  private forget(key: string, p: HTTP11ClientProtocol): void {
    this.stopTimer(p);
    const list = this.idle.get(key);
    if (list === undefined) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(key);
  }

  private stopTimer(p: HTTP11ClientProtocol): void {
    const t = this.timers.get(p);
    if (t !== undefined) {
      this.timers.delete(p);
      if (t.active()) t.cancel();
    }
  }

  private closeConnection(p: HTTP11ClientProtocol): void {
    this.stopTimer(p);
    if (p.transport === null || p.state === "closed") return;
    this.closing.add(p);
    p.onQuiescent = () => {
      this.closing.delete(p);
      if (this.closing.size === 0) {
        const w = this.closeWaiters;
        this.closeWaiters = [];
        for (const f of w) f();
      }
    };
    p.transport.loseConnection();
  }

  /** Closes every idle connection; the Deferred fires once they are all closed. */
  closeCachedConnections(): Deferred<void> {
    for (const [key, list] of [...this.idle]) {
      this.idle.delete(key);
      for (const p of list) this.closeConnection(p);
    }
    const d = new Deferred<void>();
    if (this.closing.size === 0) d.callback(undefined);
    else this.closeWaiters.push(() => d.callback(undefined));
    return d;
  }
}
