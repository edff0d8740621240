/**
 * The Agent (Twisted's client.Agent and readBody): makes requests over connections from
 * an `HTTPConnectionPool`, one request at a time per connection; the Deferred of
 * `request()` fires with a `Response` as soon as its head has arrived, and the body is
 * then streamed to a protocol (`deliverBody`) or collected (`readBody`). A connection goes
 * back to the pool only after its response was fully read and both sides agreed to keep
 * it; an idempotent request that a cached connection never answered is retried once.
 * https:// URLs go over connectSSL with the settings of the Agent's TLS policy (by default
 * verifying the chain against the system's store and the name against the URL's host); a
 * refused certificate fails the request with the connection's TLSError, whose `reason`
 * says which check failed.
 */
import { Deferred, Failure, fail } from "../defer";
import { invalidArgType, outOfRange } from "../error";
import { TLSError } from "../error";
import type { IReactorFDSet } from "../net";
import type { IPushProducer } from "../net/interfaces";
import { BytesBodyProducer, HTTP11ClientProtocol, Response, type IBodyProducer, type OutgoingRequest } from "./client-protocol";
import { BodyTooLargeError, PotentialDataLoss, ResponseDone, ResponseFailed, ResponseNeverReceived } from "./errors";
import { Headers, checkField, isToken } from "./headers";
import { HTTPConnectionPool, type Endpoint } from "./pool";
import { defaultTLSPolicy, type IPolicyForHTTPS } from "./tls-policy";
import { parseURL, type ParsedURL } from "./url";

/** Options of an Agent. */
export interface AgentOptions {
  /** The connection pool (default: a non-persistent pool, as Twisted's Agent). */
  pool?: HTTPConnectionPool;
  /** Seconds to wait for a TCP connection (default 30). */
  connectTimeout?: number;
  /** TLS settings per https:// origin (Twisted's contextFactory; default: one BrowserLikePolicyForHTTPS on the system's store, shared by every Agent given none). */
  tlsPolicy?: IPolicyForHTTPS;
  /** Most response body bytes before the response fails with BodyTooLargeError (default: no limit). */
  maxBodySize?: number;
  /**
   * Seconds from sending a request to the end of its response body, after which it fails
   * with ResponseTimeout ("response") and the connection is closed. Default 300 (as
   * undici's); 0 = none (long downloads and uploads). Time a body consumer spends paused counts.
   */
  responseTimeout?: number;
  /**
   * Seconds nothing may move while the server owes a response (no byte from it, none of
   * a queued request body taken by the kernel), after which the request fails with
   * ResponseTimeout ("idle"). Default 60; 0 = none. Time a body consumer spends paused
   * does not count.
   */
  idleTimeout?: number;
}

/** Default of AgentOptions.responseTimeout, in seconds. */
export const DEFAULT_RESPONSE_TIMEOUT = 300;
/** Default of AgentOptions.idleTimeout, in seconds. */
export const DEFAULT_IDLE_TIMEOUT = 60;

/** The header fields a caller may give: a Headers or an object of name → value(s). */
export type HeadersInit = Headers | Record<string, string | number | ReadonlyArray<string>>;

/** Makes HTTP requests (Twisted's Agent). */
export class Agent {
  /** The connection pool. */
  readonly pool: HTTPConnectionPool;
  /** Seconds to wait for a connection. */
  readonly connectTimeout: number;
  /** Response body limit. */
  readonly maxBodySize: number | undefined;
  /** Seconds for a whole response (0: none). */
  readonly responseTimeout: number;
  /** Seconds without a byte from the server while it owes one (0: none). */
  readonly idleTimeout: number;
  /** TLS settings per https:// origin. */
  readonly tlsPolicy: IPolicyForHTTPS;

  /** An agent connecting with `reactor`, through `options.pool` (default: a new non-persistent pool). */
  constructor(
    /** The reactor its connections run on. */
    readonly reactor: IReactorFDSet,
    options: AgentOptions = {},
  ) {
    if (reactor === null || typeof reactor !== "object" || typeof reactor.callLater !== "function") throw new TypeError("reactor must be a reactor");
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    if (options.pool !== undefined && !(options.pool instanceof HTTPConnectionPool)) throw new TypeError("options.pool must be an HTTPConnectionPool");
    this.pool = options.pool ?? new HTTPConnectionPool(reactor, { persistent: false });
    const policy = options.tlsPolicy;
    if (policy !== undefined && (policy === null || typeof policy.creatorForNetloc !== "function")) throw invalidArgType("options.tlsPolicy must have creatorForNetloc(host, port)");
    this.tlsPolicy = policy ?? defaultTLSPolicy();
    this.connectTimeout = secondsOption("connectTimeout", options.connectTimeout, 30);
    this.responseTimeout = secondsOption("responseTimeout", options.responseTimeout, DEFAULT_RESPONSE_TIMEOUT);
    this.idleTimeout = secondsOption("idleTimeout", options.idleTimeout, DEFAULT_IDLE_TIMEOUT);
    const max = options.maxBodySize;
    if (max !== undefined && typeof max !== "number") throw invalidArgType(`maxBodySize must be a positive integer, received ${typeof max}`);
    if (max !== undefined && (!Number.isInteger(max) || max <= 0)) throw outOfRange(`maxBodySize must be a positive integer, received ${String(max)}`);
    this.maxBodySize = max;
  }

  /**
   * Requests `url` with `method`; fires with the Response once its head arrived, or fails
   * with InvalidURLError, a connect error (ConnectionRefusedError, DNSLookupError,
   * TCPTimedOutError), TLSError (https: `reason` "hostname-mismatch", "expired",
   * "self-signed", "untrusted", ...), ResponseFailed or ResponseNeverReceived. Cancelling
   * closes the connection.
   */
  request(method: string, url: string, headers?: HeadersInit | null, bodyProducer?: IBodyProducer | string | Uint8Array | null): Deferred<Response> {
    if (typeof method !== "string" || !isToken(method)) return fail(new TypeError(`method must be an HTTP method token, received ${JSON.stringify(method)}`));
    let parsed: ParsedURL;
    let hdrs: Headers;
    try {
      parsed = parseURL(url);
      hdrs = headers === undefined || headers === null ? new Headers() : headers instanceof Headers ? new Headers(headers) : new Headers(headers);
      for (const [k, v] of hdrs.entries()) checkField(k, v);
    } catch (e) {
      return fail(e);
    }
    let body: IBodyProducer | null = null;
    if (typeof bodyProducer === "string" || bodyProducer instanceof Uint8Array) body = new BytesBodyProducer(bodyProducer);
    else if (bodyProducer !== undefined && bodyProducer !== null) {
      if (typeof (bodyProducer as IBodyProducer).startProducing !== "function") return fail(new TypeError("bodyProducer must be an IBodyProducer, a string or a Buffer"));
      body = bodyProducer;
    }
    const req: OutgoingRequest = {
      method,
      url: parsed,
      headers: hdrs,
      body,
      persistent: this.pool.persistent,
      clock: this.reactor,
      responseTimeout: this.responseTimeout,
      idleTimeout: this.idleTimeout,
    };
    return this.send(req, true);
  }

  private send(req: OutgoingRequest, mayRetry: boolean): Deferred<Response> {
    const { scheme, host, port } = req.url;
    const key = `${scheme}://${host}:${port}`;
    let ep: Endpoint;
    try {
      ep = { host, port, tls: scheme === "https" ? this.tlsPolicy.creatorForNetloc(host, port) : null, connectTimeout: this.connectTimeout, maxBodySize: this.maxBodySize };
    } catch (e) {
      return fail(e);
    }
    let current: Deferred<unknown> | null = null;
    const out = new Deferred<Response>(() => {
      if (current !== null) current.cancel();
    });
    const conn = this.pool.getConnection(key, ep);
    current = conn;
    conn.addCallbacks(
      ({ proto, cached }: { proto: HTTP11ClientProtocol; cached: boolean }) => {
        if (out.called) {
          proto.abandon();
          return;
        }
        proto.onQuiescent = (p, reusable) => {
          if (reusable) this.pool.putConnection(key, p);
        };
        const rd = proto.request(req);
        current = rd;
        rd.addCallbacks(
          (r: Response) => {
            current = null;
            if (!out.called) out.callback(r);
          },
          (f: Failure) => {
            current = null;
            const e = f.value;
            const retry = mayRetry && cached && this.pool.retryAutomatically && e instanceof ResponseNeverReceived && idempotent(req);
            if (retry && !out.called) {
              const again = this.send(req, false);
              current = again;
              again.addCallbacks(
                (r: Response) => {
                  if (!out.called) out.callback(r);
                },
                (f2: Failure) => {
                  if (!out.called) out.errback(f2);
                },
              );
              return;
            }
            if (!out.called) out.errback(tlsCause(f));
          },
        );
      },
      (f: Failure) => {
        current = null;
        if (!out.called) out.errback(tlsCause(f));
      },
    );
    return out;
  }
}

/** A response that failed because TLS did (a refused certificate, a handshake the server ended) fails with that TLSError itself. */
function tlsCause(f: Failure): Failure {
  const e = f.value;
  return e instanceof ResponseFailed && e.cause instanceof TLSError ? new Failure(e.cause) : f;
}

/** `value` (default `dflt` when undefined) as finite seconds >= 0; TypeError / RangeError naming `name` otherwise. */
function secondsOption(name: string, value: unknown, dflt: number): number {
  const v = value === undefined ? dflt : value;
  if (typeof v !== "number") throw invalidArgType(`${name} must be a number of seconds >= 0, received ${typeof v}`);
  if (!(v >= 0) || v === Infinity) throw outOfRange(`${name} must be a number of seconds >= 0, received ${String(v)}`);
  return v;
}

function idempotent(req: OutgoingRequest): boolean {
  const m = req.method;
  const safe = m === "GET" || m === "HEAD" || m === "OPTIONS" || m === "TRACE" || m === "PUT" || m === "DELETE";
  return safe && (req.body === null || req.body instanceof BytesBodyProducer);
}

/** Collects a response body (Twisted's readBody); fails with BodyTooLargeError past `maxBodySize`. */
export function readBody(response: Response, maxBodySize = Infinity): Deferred<Buffer> {
  if (!(response instanceof Response)) throw new TypeError("readBody: response must be a Response");
  let cancelled = false;
  const d = new Deferred<Buffer>(() => {
    cancelled = true;
    response.connection?.abandon();
  });
  const parts: Buffer[] = [];
  let total = 0;
  let transport: IPushProducer | null = null;
  response.deliverBody({
    makeConnection(t: IPushProducer): void {
      transport = t;
    },
    dataReceived(data: Buffer): void {
      if (d.called) return;
      total += data.length;
      if (total > maxBodySize) {
        d.errback(new BodyTooLargeError(maxBodySize, `response body of ${response.request.url}`));
        transport?.stopProducing();
        return;
      }
      parts.push(data);
    },
    connectionLost(reason: Failure): void {
      if (d.called || cancelled) return;
      if (reason.check(ResponseDone, PotentialDataLoss) !== null) d.callback(parts.length === 1 ? parts[0] : Buffer.concat(parts, total));
      else d.errback(reason);
    },
  });
  return d;
}
