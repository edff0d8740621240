/**
 * The HTTP/1.1 client (Twisted's web.client Agent and _newclient): an `Agent` makes
 * requests over connections from an `HTTPConnectionPool`, one request at a time per
 * connection; the Deferred of `request()` fires with a `Response` as soon as its head
 * has arrived, and the body is then streamed to a protocol (`deliverBody`) or collected
 * (`readBody`). Content-Length, chunked and close-delimited bodies are understood; a
 * connection goes back to the pool only after its response was fully read and both sides
 * agreed to keep it.
 *
 * Host names go through connectTCP, which resolves them with the reactor's resolver.
 */
import { Deferred, Failure, fail, succeed } from "../defer";
import type { IDelayedCall } from "../defer/interfaces";
import { ConnectionDone } from "../error";
import { log } from "../log";
import { connectTCP, type IReactorFDSet, type TCPConnector } from "../net";
import type { Address, IProtocol, IPushProducer } from "../net/interfaces";
import { ClientFactory, Protocol } from "../protocols/protocol";
import {
  BodyTooLargeError,
  HTTPParseError,
  PotentialDataLoss,
  RequestGenerationFailed,
  ResponseDone,
  ResponseFailed,
  ResponseNeverReceived,
} from "./errors";
import { Headers, checkField, isToken } from "./headers";
import { LAST_CHUNK, writeChunk } from "./http";
import { HTTPParser, RESPONSE, type IHTTPParserHandler } from "./parser";
import { parseURL, type ParsedURL } from "./url";

/** A request body (Twisted's IBodyProducer): writes to a consumer, the Deferred fires when done. */
export interface IBodyProducer extends IPushProducer {
  /** Bytes it will write, or null when unknown (then the body is chunked). */
  readonly length: number | null;
  /** Writes the body to `consumer`; the Deferred fires when it is all written. */
  startProducing(consumer: { write(data: Uint8Array | string): void }): Deferred<void>;
}

/** A body from bytes in memory (Twisted's FileBodyProducer over a BytesIO); it can be replayed. */
export class BytesBodyProducer implements IBodyProducer {
  /** The body. */
  readonly body: Buffer;
  /** Its length. */
  readonly length: number;
  /** A producer of `body` (a string is UTF-8 encoded; bytes are not copied). */
  constructor(body: string | Uint8Array) {
    this.body = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.length = this.body.length;
  }
  /** Writes the body at once. */
  startProducing(consumer: { write(data: Uint8Array | string): void }): Deferred<void> {
    if (this.length > 0) consumer.write(this.body);
    return succeed(undefined);
  }
  /** Nothing to pause. */
  pauseProducing(): void {}
  /** Nothing to resume. */
  resumeProducing(): void {}
  /** Nothing to stop. */
  stopProducing(): void {}
}

/** A request to send on a connection. */
interface OutgoingRequest {
  method: string;
  url: ParsedURL;
  headers: Headers;
  body: IBodyProducer | null;
  persistent: boolean;
}

/** What a body protocol gets as its transport: flow control over the connection. */
class BodyTransport implements IPushProducer {
  constructor(private readonly response: Response) {}
  /** Stops reading from the connection. */
  pauseProducing(): void {
    this.response.connection?.transport?.pauseProducing();
  }
  /** Reads again. */
  resumeProducing(): void {
    this.response.connection?.transport?.resumeProducing();
  }
  /** Abandons the body: the connection is closed. */
  stopProducing(): void {
    this.response.connection?.abandon();
  }
}

/** A protocol that takes a response body (only these three calls are made). */
export interface IBodyProtocol {
  /** Called once with flow control. */
  makeConnection(transport: any): void;
  /** Body bytes (views that stay valid). */
  dataReceived(data: Buffer): void;
  /** ResponseDone when complete; PotentialDataLoss for close-delimited bodies; ResponseFailed otherwise. */
  connectionLost(reason: Error): void;
}

/** A response (Twisted's IResponse): status and headers now, the body through deliverBody. */
export class Response {
  /** "HTTP/1.1" or "HTTP/1.0". */
  readonly version: string;
  /** Status code. */
  readonly code: number;
  /** Reason phrase. */
  readonly phrase: string;
  /** Header fields. */
  readonly headers: Headers;
  /** Content-Length, or null when unknown (chunked or close-delimited). */
  readonly length: number | null;
  /** The URL and method of the request this answers. */
  readonly request: { method: string; url: string };
  /** The redirect this one followed, when a RedirectAgent followed one. */
  previousResponse: Response | null = null;
  /** The connection while the body is arriving (null after). */
  connection: HTTP11ClientProtocol | null;

  private buffered: Buffer[] | null = [];
  private endReason: Error | null = null;
  private protocol: IBodyProtocol | null = null;
  private delivered = false;

  /** Made by the client protocol when a response head arrives. */
  constructor(p: HTTPParser, request: { method: string; url: string }, connection: HTTP11ClientProtocol) {
    this.version = p.versionMinor === 1 ? "HTTP/1.1" : "HTTP/1.0";
    this.code = p.status;
    this.phrase = p.reason;
    this.headers = new Headers(p.headers);
    this.length = p.chunked || p.readingUntilClose ? null : p.contentLength >= 0 ? p.contentLength : 0;
    this.request = request;
    this.connection = connection;
  }

  /** The status code (same as `code`). */
  get status(): number {
    return this.code;
  }

  /** Streams the body to `protocol` (once): buffered bytes first, then as they arrive. */
  deliverBody(protocol: IBodyProtocol): void {
    if (protocol === null || typeof protocol !== "object" || typeof protocol.dataReceived !== "function") {
      throw new TypeError("deliverBody: protocol must have makeConnection, dataReceived and connectionLost");
    }
    if (this.delivered) throw new Error("deliverBody: the body has already been delivered");
    this.delivered = true;
    this.protocol = protocol;
    protocol.makeConnection(new BodyTransport(this));
    const b = this.buffered;
    this.buffered = null;
    if (b !== null) for (const chunk of b) protocol.dataReceived(chunk);
    if (this.endReason !== null) protocol.connectionLost(this.endReason);
  }

  /** Body bytes from the connection. */
  bodyData(data: Buffer): void {
    if (this.protocol !== null) this.protocol.dataReceived(data);
    else if (this.buffered !== null) this.buffered.push(data);
  }

  /** The body ended (ResponseDone, PotentialDataLoss or ResponseFailed). */
  bodyEnded(reason: Error): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    this.connection = null;
    if (this.protocol !== null) this.protocol.connectionLost(reason);
  }
}

/** Idle → waiting (request sent) → body → idle again (or closed). */
type ClientState = "idle" | "waiting" | "body" | "closed";

/** One persistent HTTP/1.1 connection (Twisted's HTTP11ClientProtocol). */
export class HTTP11ClientProtocol extends Protocol implements IHTTPParserHandler {
  /** Where the connection is in its request/response cycle. */
  state: ClientState = "idle";
  /** Requests sent on this connection. */
  requestsSent = 0;
  /** Told when the connection is ready for another request (true) or done (false). */
  onQuiescent: ((p: HTTP11ClientProtocol, reusable: boolean) => void) | null = null;

  /** Fired with this protocol once connected (set by the pool's connecting factory). */
  onConnected: Deferred<HTTP11ClientProtocol> | null = null;

  private readonly parser: HTTPParser;
  private pending: Deferred<Response> | null = null;
  private response: Response | null = null;
  private outgoing: OutgoingRequest | null = null;
  private gotBytes = false;
  private untilClose = false;
  private producing: IBodyProducer | null = null;

  /** A connection's protocol; responses with bodies over `maxBodySize` bytes fail (default: no limit). */
  constructor(maxBodySize?: number) {
    super();
    this.parser = new HTTPParser(RESPONSE, this, { maxHeaderSize: 64 * 1024, maxBodySize: maxBodySize ?? Number.MAX_SAFE_INTEGER });
  }

  /** Connected: fires onConnected. */
  override connectionMade(): void {
    const d = this.onConnected;
    this.onConnected = null;
    if (d !== null && !d.called) d.callback(this);
  }

  /** Sends a request; the Deferred fires with the Response once its head arrives. */
  request(req: OutgoingRequest): Deferred<Response> {
    if (this.state !== "idle" || this.transport === null) {
      return fail(new RequestGenerationFailed(`connection is ${this.state}: cannot send ${req.method} ${req.url.href}`));
    }
    this.state = "waiting";
    this.requestsSent++;
    this.outgoing = req;
    this.gotBytes = false;
    this.parser.noBody = req.method === "HEAD";
    const d = new Deferred<Response>((dd) => {
      // Cancelled: the Deferred fails with CancelledError (not with the close it causes).
      if (this.pending === dd) {
        this.pending = null;
        this.abandon();
      }
    });
    this.pending = d;
    const t = this.transport;
    let head = `${req.method} ${req.url.path} HTTP/1.1\r\n`;
    if (!req.headers.has("host")) head += `Host: ${req.url.hostHeader}\r\n`;
    const raw = req.headers.raw;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i] === "content-length" || raw[i] === "transfer-encoding" || raw[i] === "connection") continue;
      head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    if (!req.persistent) head += "Connection: close\r\n";
    const body = req.body;
    if (body === null) {
      if (req.method === "POST" || req.method === "PUT" || req.method === "PATCH") head += "Content-Length: 0\r\n";
      t.write(head + "\r\n");
    } else if (body instanceof BytesBodyProducer) {
      head += `Content-Length: ${body.length}\r\n\r\n`;
      if (body.length === 0) t.write(head);
      else t.writeSequence([head, body.body]);
    } else {
      this.produceBody(head, body);
    }
    return d;
  }

  private produceBody(head: string, body: IBodyProducer): void {
    const t = this.transport!;
    const chunked = body.length === null;
    t.write(head + (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${body.length}\r\n\r\n`));
    this.producing = body;
    const consumer = {
      write: (data: Uint8Array | string): void => {
        const b = typeof data === "string" ? Buffer.from(data, "utf8") : data;
        if (b.length === 0 || this.transport === null) return;
        if (chunked) writeChunk(this.transport, b);
        else this.transport.write(b);
      },
    };
    t.registerProducer(body, true);
    let d: Deferred<void>;
    try {
      d = body.startProducing(consumer);
    } catch (e) {
      this.bodyFailed(e);
      return;
    }
    d.addCallbacks(
      () => {
        if (this.producing !== body) return;
        this.producing = null;
        this.transport?.unregisterProducer();
        if (chunked) this.transport?.write(LAST_CHUNK);
      },
      (f: Failure) => {
        this.bodyFailed(f.value);
      },
    );
  }

  private bodyFailed(e: unknown): void {
    if (this.producing === null) return;
    this.producing = null;
    this.transport?.unregisterProducer();
    const d = this.pending;
    this.pending = null;
    if (d !== null) d.errback(new RequestGenerationFailed(`the request body producer failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    this.abandon();
  }

  /** Closes the connection now (a cancelled request, an abandoned body). */
  abandon(): void {
    this.transport?.abortConnection();
  }

  /** Bytes from the server. */
  override dataReceived(data: Buffer): void {
    if (this.state === "idle") {
      // Bytes with no request outstanding: the server misbehaves; stop reusing this connection.
      log("debug", "HTTP client: unexpected bytes on an idle connection: closing it");
      this.abandon();
      return;
    }
    this.gotBytes = true;
    this.parser.feed(data);
  }

  /** IHTTPParserHandler: the response head arrived: fire the request's Deferred. */
  headComplete(p: HTTPParser): void {
    const req = this.outgoing!;
    const r = new Response(p, { method: req.method, url: req.url.href }, this);
    this.response = r;
    this.untilClose = p.readingUntilClose;
    this.state = "body";
    const d = this.pending;
    this.pending = null;
    if (d !== null) d.callback(r);
  }

  /** IHTTPParserHandler: body bytes. */
  bodyData(data: Buffer): void {
    if (data.length > 0) this.response?.bodyData(data);
  }

  /** IHTTPParserHandler: the response is complete: the body ends; the connection is reusable or closed. */
  messageComplete(p: HTTPParser): void {
    const r = this.response;
    this.response = null;
    const untilClose = this.untilClose;
    this.untilClose = false;
    const reusable = p.keepAlive && this.outgoing !== null && this.outgoing.persistent && this.producing === null && !untilClose;
    this.outgoing = null;
    this.state = reusable ? "idle" : "closed";
    if (!reusable) this.transport?.loseConnection();
    if (r !== null) r.bodyEnded(untilClose ? new PotentialDataLoss("body ended with the connection") : new ResponseDone());
    const q = this.onQuiescent;
    if (q !== null) q(this, reusable);
  }

  /** IHTTPParserHandler: malformed response. */
  parseError(e: HTTPParseError): void {
    const err =
      e.status === 413
        ? new BodyTooLargeError(this.parser.maxBodySize, "response body")
        : new ResponseFailed(`malformed response: ${e.message}`, { cause: e });
    this.failCurrent(err);
    this.abandon();
  }

  private failCurrent(err: Error): void {
    const d = this.pending;
    this.pending = null;
    if (d !== null) d.errback(err);
    const r = this.response;
    this.response = null;
    if (r !== null) r.bodyEnded(err);
  }

  /** The connection is gone: a close-delimited body ends; anything else in progress fails. */
  override connectionLost(reason: Error): void {
    const wasState = this.state;
    this.state = "closed";
    if (wasState === "body" && this.parser.readingUntilClose) {
      this.parser.finish(); // → messageComplete with PotentialDataLoss
    } else if (wasState === "waiting") {
      const why = reason instanceof ConnectionDone ? "the server closed the connection" : reason.message;
      const E = this.gotBytes ? ResponseFailed : ResponseNeverReceived;
      this.failCurrent(new E(`no complete response to ${this.outgoing?.method} ${this.outgoing?.url.href}: ${why}`, { cause: reason }));
    } else if (wasState === "body") {
      this.failCurrent(new ResponseFailed(`the connection closed before the response body was complete: ${reason.message}`, { cause: reason }));
    }
    const q = this.onQuiescent;
    this.onQuiescent = null;
    if (q !== null) q(this, false);
  }
}

/** Where a pool connects. */
interface Endpoint {
  host: string;
  port: number;
  connectTimeout: number;
  maxBodySize?: number;
}

/** Builds one client protocol and fires a Deferred with it (or the connect failure). */
class ConnectFactory extends ClientFactory {
  readonly d: Deferred<HTTP11ClientProtocol>;
  connector: TCPConnector | null = null;
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
  override clientConnectionFailed(connector: unknown, reason: Error): void {
    void connector;
    if (!this.d.called && !this.cancelled) this.d.errback(reason);
  }
}

/** Options of an HTTPConnectionPool. */
export interface PoolOptions {
  /** Keep connections open for reuse (default true). */
  persistent?: boolean;
  /** Idle connections kept per host:port (default 2, as Twisted). */
  maxPersistentPerHost?: number;
  /** Seconds an idle connection is kept (default 240, as Twisted). */
  cachedConnectionTimeout?: number;
  /** Retry an idempotent request once on a new connection when a cached one was closed under it (default true). */
  retryAutomatically?: boolean;
}

/** A pool of persistent connections per host:port (Twisted's HTTPConnectionPool). */
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

  /** Idle connections cached for `key` ("host:port"). */
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
    f.connector = connectTCP(this.reactor, ep.host, ep.port, f, { timeout: ep.connectTimeout });
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

/** Options of an Agent. */
export interface AgentOptions {
  /** The connection pool (default: a non-persistent pool, as Twisted's Agent). */
  pool?: HTTPConnectionPool;
  /** Seconds to wait for a TCP connection (default 30). */
  connectTimeout?: number;
  /** Most response body bytes before the response fails with BodyTooLargeError (default: no limit). */
  maxBodySize?: number;
}

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

  /** An agent connecting with `reactor`, through `options.pool` (default: a new non-persistent pool). */
  constructor(
    /** The reactor its connections run on. */
    readonly reactor: IReactorFDSet,
    options: AgentOptions = {},
  ) {
    if (reactor === null || typeof reactor !== "object" || typeof reactor.callLater !== "function") throw new TypeError("reactor must be a reactor");
    this.pool = options.pool ?? new HTTPConnectionPool(reactor, { persistent: false });
    this.connectTimeout = options.connectTimeout ?? 30;
    if (!(this.connectTimeout >= 0)) throw new RangeError("connectTimeout must be >= 0 seconds");
    this.maxBodySize = options.maxBodySize;
  }

  /**
   * Requests `url` with `method`; fires with the Response once its head arrived, or fails
   * with InvalidURLError, a connect error (ConnectionRefusedError, DNSLookupError,
   * TCPTimedOutError), ResponseFailed or ResponseNeverReceived. Cancelling closes the connection.
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
    const req: OutgoingRequest = { method, url: parsed, headers: hdrs, body, persistent: this.pool.persistent };
    return this.send(req, true);
  }

  private send(req: OutgoingRequest, mayRetry: boolean): Deferred<Response> {
    const key = `${req.url.host}:${req.url.port}`;
    let current: Deferred<unknown> | null = null;
    const out = new Deferred<Response>(() => {
      if (current !== null) current.cancel();
    });
    const conn = this.pool.getConnection(key, { host: req.url.host, port: req.url.port, connectTimeout: this.connectTimeout, maxBodySize: this.maxBodySize });
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
            if (!out.called) out.errback(f);
          },
        );
      },
      (f: Failure) => {
        current = null;
        if (!out.called) out.errback(f);
      },
    );
    return out;
  }
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
    connectionLost(reason: Error): void {
      if (d.called || cancelled) return;
      if (reason instanceof ResponseDone || reason instanceof PotentialDataLoss) d.callback(parts.length === 1 ? parts[0] : Buffer.concat(parts, total));
      else d.errback(reason);
    },
  });
  return d;
}
