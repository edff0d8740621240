/**
 * getPage and redirects (Twisted's client.getPage and RedirectAgent): the one-call way
 * to fetch a URL's body.
 *
 * A redirect to another origin (scheme, host or port) does not carry the caller's
 * credentials: Authorization, Cookie and Proxy-Authorization are dropped for the rest of
 * the chain, as Twisted's RedirectAgent and curl -L do (http → https and https → http are
 * other origins too).
 */
import { Deferred, Failure, fail } from "../defer";
import { invalidArgType, invalidArgValue, outOfRange } from "../error";
import type { IReactorFDSet } from "../net";
import { getDefaultReactor } from "../reactor/default";
import { Agent, readBody, type HeadersInit } from "./agent";
import { BytesBodyProducer, type IBodyProducer, type Response } from "./client-protocol";
import { PageError, RedirectError } from "./errors";
import { Headers } from "./headers";
import type { HTTPConnectionPool } from "./pool";
import { BrowserLikePolicyForHTTPS, type IPolicyForHTTPS } from "./tls-policy";
import type { TrustRoot } from "../net";
import { parseURL, type ParsedURL } from "./url";

/** The request fields that carry credentials: never sent across origins by a redirect. */
const CREDENTIAL_FIELDS = ["authorization", "cookie", "proxy-authorization"];

/** True when `a` and `b` differ in scheme, host or port. */
function crossOrigin(a: ParsedURL, b: ParsedURL): boolean {
  return a.scheme !== b.scheme || a.host !== b.host || a.port !== b.port;
}

/** Options of RedirectAgent. */
export interface RedirectOptions {
  /** Most redirects followed for one request (default 20, as Twisted). */
  redirectLimit?: number;
}

/** Follows redirects around another agent (Twisted's RedirectAgent; 303, and 301/302 after POST, become GET). */
export class RedirectAgent {
  /** Most redirects followed for one request. */
  readonly redirectLimit: number;
  /** Wraps `agent`; RangeError for a redirectLimit that is not an integer >= 0. */
  constructor(
    /** The agent making each request of the chain. */
    readonly agent: Agent,
    options: RedirectOptions = {},
  ) {
    this.redirectLimit = options.redirectLimit ?? 20;
    if (!Number.isInteger(this.redirectLimit) || this.redirectLimit < 0) throw new RangeError("redirectLimit must be an integer >= 0");
  }

  /**
   * Like Agent.request, but a 301/302/303/307/308 with a Location is followed; the final
   * Response is given. Credentials (Authorization, Cookie, Proxy-Authorization) are not
   * sent past a redirect to another scheme, host or port. Every error, bad arguments
   * included, comes back through the Deferred.
   */
  request(method: string, url: string, headers?: HeadersInit | null, bodyProducer?: IBodyProducer | string | Uint8Array | null): Deferred<Response> {
    let current: Deferred<unknown> | null = null;
    const out = new Deferred<Response>(() => current?.cancel());
    let hdrs: Headers;
    try {
      hdrs = headers === undefined || headers === null ? new Headers() : headers instanceof Headers ? new Headers(headers) : new Headers(headers);
    } catch (e) {
      return fail(e);
    }
    const step = (m: string, u: string, body: IBodyProducer | string | Uint8Array | null | undefined, left: number, previous: Response | null): void => {
      const d = this.agent.request(m, u, hdrs, body);
      current = d;
      d.addCallbacks(
        (r: Response) => {
          r.previousResponse = previous;
          const code = r.code;
          const location = r.headers.get("location");
          if (!(code === 301 || code === 302 || code === 303 || code === 307 || code === 308) || location === undefined) {
            if (!out.called) out.callback(r);
            return;
          }
          if (left <= 0) {
            r.connection?.abandon();
            if (!out.called) out.errback(new RedirectError(code, u, `Infinite redirection detected: more than ${this.redirectLimit} redirects from ${url}`));
            return;
          }
          let next: string;
          try {
            const to = parseURL(location, u);
            next = to.href;
            if (crossOrigin(parseURL(u), to) && CREDENTIAL_FIELDS.some((f) => hdrs.has(f))) {
              hdrs = new Headers(hdrs);
              for (const f of CREDENTIAL_FIELDS) hdrs.remove(f);
            }
          } catch (e) {
            r.connection?.abandon();
            if (!out.called) out.errback(e);
            return;
          }
          // Drain (and so release) the redirect's body before the next request.
          readBody(r).addBoth(() => undefined);
          let nm = m;
          let nb = body;
          if (code === 303 ? m !== "HEAD" : (code === 301 || code === 302) && m === "POST") {
            nm = "GET";
            nb = null;
          }
          if ((code === 307 || code === 308) && nb !== null && nb !== undefined && typeof nb === "object" && !(nb instanceof Uint8Array) && !(nb instanceof BytesBodyProducer)) {
            if (!out.called) out.errback(new RedirectError(code, u, `cannot repeat a streamed request body for a ${code} redirect to ${next}`));
            return;
          }
          step(nm, next, nb, left - 1, r);
        },
        (f: Failure) => {
          if (!out.called) out.errback(f);
        },
      );
    };
    step(method, url, bodyProducer, this.redirectLimit, null);
    return out;
  }
}

/** Options of getPage. */
export interface GetPageOptions {
  /** Method (default GET). */
  method?: string;
  /** Request header fields. */
  headers?: HeadersInit;
  /** Request body. */
  body?: string | Uint8Array | IBodyProducer;
  /** Seconds before the whole fetch (redirects included) fails with TimeoutError (default: none beyond the two below). */
  timeout?: number;
  /** Seconds for each response of the chain (Agent's responseTimeout: default 300; 0 = none). */
  responseTimeout?: number;
  /** Seconds the server may send nothing while it owes a response (Agent's idleTimeout: default 60; 0 = none). */
  idleTimeout?: number;
  /** Follow redirects (default true). */
  followRedirect?: boolean;
  /** Most redirects (default 20). */
  redirectLimit?: number;
  /** Most body bytes (BodyTooLargeError beyond). Default: no limit. */
  maxBodySize?: number;
  /** The reactor (default: the global one). */
  reactor?: IReactorFDSet;
  /** A connection pool to use (default: one connection per call, closed after). */
  pool?: HTTPConnectionPool;
  /** https: whom to trust instead of the system's store (PEM CA certificates); a shortcut for `tlsPolicy`. */
  trustRoot?: TrustRoot;
  /** https: the TLS settings per origin (default: verify against the system's store, or `trustRoot`). */
  tlsPolicy?: IPolicyForHTTPS;
}

/** The option names getPage knows (a misspelt one is an error, not silently ignored). */
const GET_PAGE_OPTIONS = new Set(["method", "headers", "body", "timeout", "responseTimeout", "idleTimeout", "followRedirect", "redirectLimit", "maxBodySize", "reactor", "pool", "trustRoot", "tlsPolicy"]);

/**
 * Fetches `url` and fires with its body (Twisted's getPage). A 4xx/5xx response fails
 * with PageError (status, body, headers); a bad URL with InvalidURLError; network
 * failures with the connect error or ResponseFailed (ResponseTimeout for the response
 * and idle timeouts); an https server whose certificate is refused with TLSError (its
 * `reason`: "hostname-mismatch", "expired", "self-signed", "untrusted", ...); `timeout`
 * with TimeoutError. Every misuse (a bad URL, header,
 * option or body) fails the Deferred too: getPage never throws.
 */
export function getPage(url: string, options: GetPageOptions = {}): Deferred<Buffer> {
  try {
    return fetchPage(url, options);
  } catch (e) {
    return fail(e);
  }
}

function fetchPage(url: string, options: GetPageOptions): Deferred<Buffer> {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  for (const k of Object.keys(options)) if (!GET_PAGE_OPTIONS.has(k)) throw new TypeError(`getPage: unknown option ${JSON.stringify(k)}`);
  if (options.followRedirect !== undefined && typeof options.followRedirect !== "boolean") throw invalidArgType(`followRedirect must be a boolean, received ${typeof options.followRedirect}`);
  // Checked before anything is sent: a bad timeout must not leave a request in flight.
  if (options.timeout !== undefined && (typeof options.timeout !== "number" || !(options.timeout > 0))) {
    throw typeof options.timeout !== "number"
      ? invalidArgType(`timeout must be a number of seconds > 0, received ${typeof options.timeout}`)
      : outOfRange(`timeout must be a number of seconds > 0, received ${String(options.timeout)}`);
  }
  if (options.trustRoot !== undefined && options.tlsPolicy !== undefined) throw invalidArgValue("trustRoot and tlsPolicy cannot both be given (trustRoot makes a policy)");
  const reactor = options.reactor ?? (getDefaultReactor() as unknown as IReactorFDSet);
  const agent = new Agent(reactor, {
    pool: options.pool,
    tlsPolicy: options.trustRoot !== undefined ? new BrowserLikePolicyForHTTPS({ trustRoot: options.trustRoot }) : options.tlsPolicy,
    maxBodySize: options.maxBodySize,
    responseTimeout: options.responseTimeout,
    idleTimeout: options.idleTimeout,
  });
  const method = options.method ?? "GET";
  const requester = options.followRedirect === false ? agent : new RedirectAgent(agent, { redirectLimit: options.redirectLimit });
  // A bad URL, method or header needs no check here: request() fails its Deferred.
  let d = requester.request(method, url, options.headers, options.body).addCallback((r: Response) => {
    const body = readBody(r, options.maxBodySize ?? Infinity);
    if (r.code < 400) return body;
    return body.addCallback((b: Buffer) => {
      throw new PageError(r.code, r.phrase, r.request.url, b, r.headers);
    });
  }) as Deferred<Buffer>;
  if (options.timeout !== undefined) d = d.addTimeout(options.timeout, reactor);
  return d;
}
