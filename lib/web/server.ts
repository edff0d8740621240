/**
 * The HTTP/1.1 server (Twisted's server.Site and http.HTTPChannel): `Site` is the
 * protocol factory given to listenTCP; each connection gets an `HTTPChannel` that parses
 * requests, routes each through the resource tree and writes the responses in order.
 *
 * - Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive".
 * - Pipelining: requests are answered one at a time, in order. While a response is
 *   outstanding the parser is paused and, if more bytes arrive, reading stops (the
 *   transport is paused) so a client cannot queue unbounded work.
 * - Limits: a head larger than maxHeaderSize is answered 431, a body larger than
 *   maxBodySize 413 (before reading it when Content-Length says so), malformed input 400,
 *   each with "Connection: close"; only that connection is closed.
 * - Timeouts (one timer per connection, never one per request): a connection with no
 *   traffic and no outstanding response for idleTimeout seconds is closed; a request head
 *   that has not fully arrived headerTimeout seconds after its first byte is answered 408
 *   and closed (slowloris).
 */
import type { IDelayedCall } from "../defer/interfaces";
import { log } from "../log";
import { getDefaultReactor } from "../reactor/default";
import type { Address, IProtocol, ITCPTransport } from "../net/interfaces";
import { Protocol, ServerFactory } from "../protocols/protocol";
import type { HTTPParseError } from "./errors";
import { reasonPhrase } from "./http";
import { HTTPParser, REQUEST, type IHTTPParserHandler, DEFAULT_MAX_HEADER_SIZE } from "./parser";
import { Request, type IRequestChannel } from "./request";
import { FunctionResource, NOT_DONE_YET, type IResource, type RequestHandler } from "./resource";

/** Options of a Site. */
export interface SiteOptions {
  /** Most bytes of a request head (request line + fields); 431 beyond. Default 16 KiB. */
  maxHeaderSize?: number;
  /** Most bytes of a request body; 413 beyond. Default 1 MiB. */
  maxBodySize?: number;
  /** Seconds a connection may sit idle between requests. Default 60; 0 = never. */
  idleTimeout?: number;
  /** Seconds a request head may take to arrive once begun (408 after). Default 10; 0 = never. */
  headerTimeout?: number;
  /** Content-Type of responses that set none. Default "text/html" (as Twisted); "" for none. */
  defaultContentType?: string;
  /** Set TCP_NODELAY on each connection (default true, as Node's http and uWS do). */
  tcpNoDelay?: boolean;
}

/** Default request body limit. */
export const DEFAULT_SITE_MAX_BODY = 1024 * 1024;

const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");

/** A connection's HTTP server protocol (Twisted's HTTPChannel). */
export class HTTPChannel extends Protocol implements IHTTPParserHandler, IRequestChannel {
  /** The site serving this connection. */
  readonly site: Site;
  /** Content-Type given to responses that set none. */
  readonly defaultContentType: string;
  /** Requests completed on this connection. */
  requestCount = 0;
  /** Wall-clock ms of the latest read (the Date header uses it; 0 before any). */
  now = 0;

  private readonly parser: HTTPParser;
  /** The request being answered (its response not finished), or null. */
  private current: Request | null = null;
  /** The request whose head and body are arriving. */
  private incoming: Request | null = null;
  private bodyParts: Buffer[] | null = null;
  private dispatching = false;
  private readingPaused = false;
  private timer: IDelayedCall | null = null;
  private lastActivity = 0;
  private headStarted = 0;
  private timerDue = 0;

  constructor(site: Site) {
    super();
    this.site = site;
    this.defaultContentType = site.defaultContentType;
    this.parser = new HTTPParser(REQUEST, this, { maxHeaderSize: site.maxHeaderSize, maxBodySize: site.maxBodySize });
  }

  /** Starts the connection's timer. */
  override connectionMade(): void {
    if (this.site.tcpNoDelay) {
      const t = this.transport as Partial<ITCPTransport> | null;
      if (t !== null && typeof t.setTcpNoDelay === "function") {
        try {
          t.setTcpNoDelay(true);
        } catch {
          /* not a TCP socket (Unix): nothing to set */
        }
      }
    }
    this.lastActivity = Date.now() / 1000;
    this.armTimer(this.site.idleTimeout);
  }

  /** Feeds the parser; stops reading while a pipelined request waits for its turn. */
  override dataReceived(data: Buffer): void {
    const site = this.site;
    // One clock reading per read serves the timeouts and the Date header.
    this.now = Date.now();
    if (site.idleTimeout > 0 || site.headerTimeout > 0) {
      this.lastActivity = this.now / 1000;
      const wasIdle = this.parser.idle;
      this.parser.feed(data);
      if (wasIdle && this.parser.partialHead > 0 && site.headerTimeout > 0) this.headBegan();
    } else {
      this.parser.feed(data);
    }
    if (this.parser.isPaused && this.parser.pendingBytes > 0 && !this.readingPaused && this.transport !== null) {
      this.readingPaused = true;
      this.transport.pauseProducing();
    }
  }

  /** IHTTPParserHandler: a request head arrived. */
  headComplete(p: HTTPParser): void {
    this.incoming = new Request(this, p.method, p.target, p.versionMinor, p.headers, p.keepAlive);
    this.bodyParts = null;
    if (p.expectContinue && p.versionMinor === 1 && (p.chunked || p.contentLength > 0)) this.transport!.write(CONTINUE);
  }

  /** IHTTPParserHandler: request body bytes. */
  bodyData(data: Buffer): void {
    if (data.length === 0) return;
    (this.bodyParts ??= []).push(data);
  }

  /** IHTTPParserHandler: a whole request arrived: answer it (or queue behind the current one). */
  messageComplete(p: HTTPParser): void {
    const req = this.incoming!;
    this.incoming = null;
    const parts = this.bodyParts;
    if (parts !== null) {
      req.content = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      this.bodyParts = null;
    }
    this.current = req;
    this.dispatching = true;
    this.site.render(req);
    this.dispatching = false;
    if (!req.finished) p.pause();
    else this.afterResponse(req);
  }

  /** IRequestChannel: a response finished. */
  requestDone(request: Request): void {
    if (request !== this.current) return;
    this.requestCount++;
    if (this.dispatching) return; // messageComplete carries on
    this.afterResponse(request);
    if (request.keepAlive && this.transport !== null) {
      if (this.readingPaused) {
        this.readingPaused = false;
        this.transport.resumeProducing();
      }
      this.parser.resume();
    }
  }

  private afterResponse(request: Request): void {
    this.current = null;
    if (!request.keepAlive) {
      this.parser.pause(); // nothing after a "close" is read
      this.transport?.loseConnection();
    }
  }

  /** IHTTPParserHandler: malformed request: answer with its status and close this connection. */
  parseError(e: HTTPParseError): void {
    const t = this.transport;
    if (t === null) return;
    if (this.current === null) {
      const phrase = reasonPhrase(e.status);
      const body = `${e.status} ${phrase}: ${e.message}\n`;
      t.write(`HTTP/1.1 ${e.status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    t.loseConnection();
  }

  /** The connection is gone: stops the timer and tells an unfinished request. */
  override connectionLost(reason: Error): void {
    if (this.timer !== null) {
      if (this.timer.active()) this.timer.cancel();
      this.timer = null;
    }
    const r = this.current;
    this.current = null;
    if (r !== null) r.connectionLost(reason);
  }

  // ---------------------------------------------------------------- timeouts

  private headBegan(): void {
    this.headStarted = this.lastActivity;
    const t = this.timer;
    const due = this.site.headerTimeout;
    if (t === null || !t.active()) this.armTimer(due);
    else if (this.timerDue > this.headStarted + due) {
      t.reset(due);
      this.timerDue = this.headStarted + due;
    }
  }

  private armTimer(seconds: number): void {
    if (seconds <= 0) return;
    this.timerDue = Date.now() / 1000 + seconds;
    this.timer = this.site.reactor.callLater(seconds, channelTimer, this);
  }

  /** The connection's timer fired: close on an idle or header timeout, else re-arm. */
  timerFired(): void {
    this.timer = null;
    const site = this.site;
    if (this.transport === null || !this.connected) return;
    const now = Date.now() / 1000;
    let next = Infinity;
    if (site.headerTimeout > 0 && this.parser.partialHead > 0 && this.current === null) {
      const due = this.headStarted + site.headerTimeout;
      if (now >= due) {
        const body = "408 Request Timeout: the request head did not arrive in time\n";
        this.transport.write(`HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        this.transport.loseConnection();
        return;
      }
      next = due - now;
    }
    // Idle: nothing received for idleTimeout while no response is outstanding (between
    // requests, or in the middle of a request body that stopped coming).
    if (site.idleTimeout > 0 && this.current === null) {
      const due = this.lastActivity + site.idleTimeout;
      if (now >= due) {
        this.transport.loseConnection();
        return;
      }
      next = Math.min(next, due - now);
    } else if (site.idleTimeout > 0) {
      next = Math.min(next, site.idleTimeout);
    }
    if (next !== Infinity) this.armTimer(Math.max(next, 0.001));
  }
}

function channelTimer(channel: HTTPChannel): void {
  channel.timerFired();
}

/** The time source a Site needs. */
interface SiteReactor {
  /** Now, in seconds. */
  seconds(): number;
  /** Runs f(...args) after `delay` seconds. */
  callLater(delay: number, f: (...a: any[]) => unknown, ...args: unknown[]): IDelayedCall;
}

/**
 * A web site: the protocol factory for listenTCP (Twisted's server.Site). Give it the
 * root resource, or a function `(request) => body | NOT_DONE_YET | void`.
 */
export class Site extends ServerFactory {
  /** The root of the resource tree. */
  readonly resource: IResource;
  /** Most bytes of a request head. */
  readonly maxHeaderSize: number;
  /** Most bytes of a request body. */
  readonly maxBodySize: number;
  /** Idle timeout in seconds (0: none). */
  readonly idleTimeout: number;
  /** Header timeout in seconds (0: none). */
  readonly headerTimeout: number;
  /** Content-Type of responses that set none. */
  readonly defaultContentType: string;
  /** TCP_NODELAY on each connection. */
  readonly tcpNoDelay: boolean;
  /** The reactor whose clock the timeouts use (options.reactor, else the global reactor). */
  reactor: SiteReactor;

  /** A site serving `resource` (or a handler function) with `options`; `reactor` provides the timeout clock. */
  constructor(resource: IResource | RequestHandler, options: SiteOptions & { reactor?: SiteReactor } = {}) {
    super();
    this.noisy = false;
    if (typeof resource === "function") this.resource = new FunctionResource(resource);
    else if (resource !== null && typeof resource === "object" && typeof resource.render === "function") this.resource = resource;
    else throw new TypeError("resource must be an IResource or a function (request) => body");
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object with at least { reactor }");
    const r = options.reactor ?? getDefaultReactor();
    if (r === null || typeof r !== "object" || typeof r.callLater !== "function" || typeof r.seconds !== "function") {
      throw new TypeError("options.reactor must be a reactor (callLater, seconds)");
    }
    this.reactor = r;
    this.maxHeaderSize = limit("maxHeaderSize", options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
    this.maxBodySize = limit("maxBodySize", options.maxBodySize ?? DEFAULT_SITE_MAX_BODY);
    this.idleTimeout = seconds("idleTimeout", options.idleTimeout ?? 60);
    this.headerTimeout = seconds("headerTimeout", options.headerTimeout ?? 10);
    const ct = options.defaultContentType ?? "text/html";
    if (typeof ct !== "string") throw new TypeError("defaultContentType must be a string");
    this.defaultContentType = ct;
    this.tcpNoDelay = options.tcpNoDelay ?? true;
  }

  /** A new HTTPChannel for each connection. */
  override buildProtocol(addr: Address): IProtocol {
    void addr;
    const p = new HTTPChannel(this);
    p.factory = this;
    return p;
  }

  /** Walks the resource tree for `request` (Twisted's getResourceFor), filling prepath/postpath. */
  getResourceFor(request: Request): IResource {
    let res = this.resource;
    if (res.isLeaf) return res;
    const segs = request.path.split("/");
    segs.shift(); // before the leading "/"
    request.prepath = [];
    request.postpath = segs.map(unquote);
    while (request.postpath.length > 0 && !res.isLeaf) {
      const name = request.postpath.shift()!;
      request.prepath.push(name);
      res = res.getChildWithDefault(name, request);
    }
    return res;
  }

  /** Renders `request`: a returned body finishes it; NOT_DONE_YET leaves it to the resource. Errors → 500. */
  render(request: Request): void {
    let body;
    try {
      body = this.getResourceFor(request).render(request);
    } catch (e) {
      log("error", `rendering ${request.method} ${request.uri} threw`, e);
      if (request.finished) return;
      if (!request.startedWriting) {
        request.setResponseCode(500);
        request.keepAlive = false;
        request.finish("500 Internal Server Error\n");
      } else {
        request.transport?.abortConnection();
      }
      return;
    }
    if (body === NOT_DONE_YET) return;
    if (request.finished) {
      log("error", `${request.method} ${request.uri}: the resource returned a body after finishing the request`);
      return;
    }
    if (typeof body !== "string" && !(body instanceof Uint8Array)) {
      log("error", `${request.method} ${request.uri}: the resource returned ${String(body)}, not a string, a Buffer or NOT_DONE_YET`);
      request.setResponseCode(500);
      request.keepAlive = false;
      request.finish("500 Internal Server Error\n");
      return;
    }
    request.finish(body);
  }
}

function unquote(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function limit(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, received ${String(v)}`);
  return v;
}

function seconds(name: string, v: number): number {
  if (typeof v !== "number" || !(v >= 0)) throw new RangeError(`${name} must be a number of seconds >= 0, received ${String(v)}`);
  return v;
}
