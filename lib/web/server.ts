/**
 * The HTTP/1.1 server (Twisted's server.Site and http.HTTPChannel): `Site` is the
 * protocol factory given to listenTCP; each connection gets an `HTTPChannel` that parses
 * requests, routes each through the resource tree and writes the responses in order.
 *
 * - Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive".
 * - Pipelining: requests are answered one at a time, in order. While a response is
 *   outstanding the parser is paused and, if more bytes arrive, reading stops (the
 *   transport is paused) so a client cannot queue unbounded work. Responses that finish
 *   at once can still pile up unsent when the client does not read: once the bytes queued
 *   for the connection pass the site's writeHighWaterMark, the parser and the reading stop
 *   until the queue drains to the transport's low-water mark (the channel is the
 *   transport's producer meanwhile). A client that takes nothing of it for writeTimeout
 *   seconds is dropped.
 * - Limits: a head larger than maxHeaderSize is answered 431, a body larger than
 *   maxBodySize 413 (before reading it when Content-Length says so), malformed input 400,
 *   each with "Connection: close"; only that connection is closed.
 * - Timeouts: a connection with no traffic and no outstanding response for idleTimeout
 *   seconds is closed; a request head that has not fully arrived headerTimeout seconds
 *   after its first byte is answered 408 and closed (slowloris). The idle timeouts cost
 *   one timer per Site, not one per connection: the site keeps its connections in a list
 *   ordered by latest activity (a read moves a connection to the end) and one timer is due
 *   when the oldest one's idleTimeout ends. A header timer exists only while a head is
 *   arriving in pieces.
 * - Memory: an idle keep-alive connection holds no parser or request state; that is taken
 *   from a per-Site pool when bytes arrive and given back after the response.
 */
import type { Failure } from "../defer/failure";
import type { IDelayedCall } from "../defer/interfaces";
import { log } from "../log";
import { getDefaultReactor } from "../reactor/default";
import { DEFAULT_HIGH_WATER_MARK } from "../net/abstract";
import type { Address, IProtocol, IPushProducer, ITCPTransport, ITransport } from "../net/interfaces";
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
  /**
   * Bytes of responses queued for one connection (written, not yet taken by the kernel)
   * above which the server stops reading that connection's requests until the queue
   * drains (and a response producer is paused). Default 64 KiB, the transport's own mark.
   */
  writeHighWaterMark?: number;
  /**
   * Seconds a connection may hold more than writeHighWaterMark queued with the client
   * taking none of it, and an idle-closed connection may wait for its queue to drain,
   * before it is aborted. Default 60; 0 = never.
   */
  writeTimeout?: number;
}

/** Default request body limit. */
export const DEFAULT_SITE_MAX_BODY = 1024 * 1024;

/** Default of SiteOptions.writeHighWaterMark (the transport's default, Twisted's bufferSize). */
export const DEFAULT_SITE_WRITE_HIGH_WATER = DEFAULT_HIGH_WATER_MARK;

const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");

/** A site's idle clock is rebased once it passes this many ms (12.4 days), so it stays an int32. */
const CLOCK_REBASE_MS = 0x40000000;

/** Free RequestReaders a Site keeps for reuse (beyond this many, a released one is dropped). */
const MAX_POOLED_READERS = 1024;

/**
 * What a connection needs only while a request is in progress: the parser, the request
 * whose head and body are arriving, its body parts, the header timer. An idle keep-alive
 * connection holds none of it: a channel takes one from its Site's pool when bytes arrive
 * and gives it back once the response is finished and nothing more is buffered.
 */
class RequestReader implements IHTTPParserHandler {
  /** The parser (reused across requests and connections: it is idle when pooled). */
  readonly parser: HTTPParser;
  /** The channel using this reader, or null while pooled (or dropped). */
  channel: HTTPChannel | null = null;
  /** The request whose head and body are arriving. */
  incoming: Request | null = null;
  /** Body parts of `incoming`. */
  bodyParts: Buffer[] | null = null;
  /** True while the Site renders a request (requestDone then leaves the rest to messageComplete). */
  dispatching = false;
  /** True while the transport is paused because a pipelined request waits for its turn. */
  readingPaused = false;
  /** True while the responses queued for the peer are over the site's writeHighWaterMark (the channel is then the transport's producer). */
  heldForPeer = false;
  /** While held: the timer that drops a peer taking nothing for writeTimeout seconds. */
  sendTimer: IDelayedCall | null = null;
  /** While held: the bytes queued when sendTimer was armed (less when it fires: progress). */
  sendMark = 0;
  /** The header timeout of a request head that has begun and not fully arrived, or null. */
  headTimer: IDelayedCall | null = null;
  /** While pooled: the next free reader of the site (a list through the readers: no array that grows and shrinks with the pool). */
  nextFree: RequestReader | null = null;

  /** A reader parsing with `site`'s limits. */
  constructor(site: Site) {
    this.parser = new HTTPParser(REQUEST, this, { maxHeaderSize: site.maxHeaderSize, maxBodySize: site.maxBodySize });
  }

  /** IHTTPParserHandler: forwards to the channel. */
  headComplete(p: HTTPParser): void {
    this.channel?.headComplete(p);
  }

  /** IHTTPParserHandler: keeps the body bytes here (messageComplete hands them to the request). */
  bodyData(data: Buffer): void {
    if (data.length > 0 && this.channel !== null) (this.bodyParts ??= []).push(data);
  }

  /** IHTTPParserHandler: forwards to the channel. */
  messageComplete(p: HTTPParser): void {
    this.channel?.messageComplete(p);
  }

  /** IHTTPParserHandler: forwards to the channel. */
  parseError(e: HTTPParseError): void {
    this.channel?.parseError(e);
  }
}

/**
 * A connection's HTTP server protocol (Twisted's HTTPChannel). Between requests it holds
 * only its site, transport, counters and its place in the site's idle list: the parser
 * and the per-request state are taken from the site when a request begins and given back
 * after its response (see RequestReader).
 */
export class HTTPChannel extends Protocol implements IRequestChannel, IPushProducer {
  /** The site serving this connection. */
  readonly site: Site;
  /** Requests completed on this connection. */
  requestCount = 0;
  /** @internal Site clock ms (Site.clock) of the latest activity, while in the site's idle list. */
  idleAt = 0;
  /** @internal The previous channel in the site's idle list. */
  idlePrev: HTTPChannel | null = null;
  /** @internal The next channel in the site's idle list. */
  idleNext: HTTPChannel | null = null;

  /** The per-request state while a request is in progress, else null. */
  private reader: RequestReader | null = null;
  /** The request being answered (its response not finished), or null. */
  private current: Request | null = null;
  /** Set while closing after an error response (lingering close) or after an idle close with bytes still queued, else null. */
  private linger: Linger | null = null;

  /** A channel of `site` (made by Site.buildProtocol). */
  constructor(site: Site) {
    super();
    this.site = site;
  }

  /** Content-Type given to responses that set none (the site's). */
  get defaultContentType(): string {
    return this.site.defaultContentType;
  }

  /** Wall-clock ms of the site's latest read (the Date header uses it; 0 before any). */
  get now(): number {
    return this.site.now;
  }

  /** True while this connection holds parser/request state (a request in progress); false when idle. */
  get holdsRequestState(): boolean {
    return this.reader !== null;
  }

  /** Sets TCP_NODELAY and the site's write high-water mark, and enters the site's idle list. */
  override connectionMade(): void {
    const hw = this.site.writeHighWaterMark;
    if (hw !== DEFAULT_SITE_WRITE_HIGH_WATER) {
      const t = this.transport as Partial<WaterMarks> | null;
      if (t !== null && typeof t.writeHighWaterMark === "number") {
        t.writeHighWaterMark = hw;
        t.writeLowWaterMark = Math.min(t.writeLowWaterMark!, Math.floor(hw / 4));
      }
    }
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
    if (this.site.idleTimeout > 0) this.site.touchIdle(this, this.site.clock(Date.now()));
  }

  /** Feeds the parser; stops reading while a pipelined request waits for its turn. */
  override dataReceived(data: Buffer): void {
    if (this.linger !== null) {
      this.discardWhileLingering(data.length);
      return;
    }
    const site = this.site;
    // One clock reading per read serves the timeouts and the Date header.
    const now = Date.now();
    site.now = now;
    if (site.idleTimeout > 0) site.touchIdle(this, site.clock(now));
    let r = this.reader;
    if (r === null) r = this.reader = site.takeReader(this);
    const p = r.parser;
    p.feed(data);
    if (this.reader !== r) return; // the connection was lost meanwhile
    if (p.partialHead > 0) {
      if (r.headTimer === null && site.headerTimeout > 0 && this.current === null && !p.stopped) {
        r.headTimer = site.reactor.callLater(site.headerTimeout, headTimerFired, this);
      }
    } else if (this.current === null) {
      this.releaseIfIdle(r);
      return;
    }
    if (p.isPaused && p.pendingBytes > 0 && !r.readingPaused && this.transport !== null) {
      r.readingPaused = true;
      this.transport.pauseProducing();
    }
  }

  /** From the reader's parser: a request head arrived. */
  headComplete(p: HTTPParser): void {
    const r = this.reader!;
    if (r.headTimer !== null) {
      r.headTimer.cancel();
      r.headTimer = null;
    }
    r.incoming = new Request(this, p.method, p.target, p.versionMinor, p.headers, p.keepAlive);
    r.bodyParts = null;
    if (p.expectContinue && p.versionMinor === 1 && (p.chunked || p.contentLength > 0)) this.transport!.write(CONTINUE);
  }

  /** From the reader's parser: a whole request arrived: answer it (or queue behind the current one). */
  messageComplete(p: HTTPParser): void {
    const r = this.reader!;
    const req = r.incoming!;
    r.incoming = null;
    const parts = r.bodyParts;
    if (parts !== null) {
      req.content = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      r.bodyParts = null;
    }
    this.current = req;
    r.dispatching = true;
    this.site.render(req);
    r.dispatching = false;
    if (!req.finished) p.pause();
    else {
      this.afterResponse(req);
      if (this.reader === r && this.owesTooMuch()) this.holdForPeer(r);
    }
  }

  /** IRequestChannel: a response finished. */
  requestDone(request: Request): void {
    if (request !== this.current) return;
    this.requestCount++;
    const r = this.reader;
    if (r !== null && r.dispatching) return; // messageComplete carries on
    this.afterResponse(request);
    if (request.keepAlive && this.transport !== null && r !== null) {
      // A response finishing is activity: the idle time counts from here.
      if (this.site.idleTimeout > 0) this.site.touchIdle(this, this.site.clock(Date.now()));
      if (this.owesTooMuch()) this.holdForPeer(r);
      else this.readOn(r);
    }
  }

  /** Reads and parses again after a response (or after the queue drained). */
  private readOn(r: RequestReader): void {
    if (r.readingPaused) {
      r.readingPaused = false;
      this.transport?.resumeProducing();
    }
    r.parser.resume();
    if (this.reader === r && this.current === null) this.releaseIfIdle(r);
  }

  /** True when the bytes queued for the peer are over the site's mark. */
  private owesTooMuch(): boolean {
    const t = this.transport as Partial<WaterMarks> | null;
    return t !== null && t.bufferedBytes !== undefined && t.bufferedBytes() > this.site.writeHighWaterMark;
  }

  /**
   * The peer is not taking its responses: stop parsing and reading until the queue drains
   * (this channel becomes the transport's producer: resumeProducing says when), and arm
   * the timer that drops a peer taking nothing at all.
   */
  private holdForPeer(r: RequestReader): void {
    const t = this.transport;
    if (t === null || r.heldForPeer || t.disconnecting) return;
    r.heldForPeer = true;
    r.parser.pause();
    if (!r.readingPaused) {
      r.readingPaused = true;
      t.pauseProducing();
    }
    this.armSendTimer(r);
    t.registerProducer(this, true);
  }

  private armSendTimer(r: RequestReader): void {
    const s = this.site.writeTimeout;
    if (s <= 0) return;
    r.sendMark = (this.transport as Partial<WaterMarks>).bufferedBytes!();
    r.sendTimer = this.site.reactor.callLater(s, sendTimerFired, this);
  }

  /** @internal writeTimeout passed while held: the peer took some bytes (wait on) or none (abort). */
  sendTimerFired(): void {
    const r = this.reader;
    if (r === null || r.sendTimer === null) return;
    r.sendTimer = null;
    const t = this.transport as (ITransport & Partial<WaterMarks>) | null;
    if (t === null || !this.connected) return;
    if (t.bufferedBytes!() < r.sendMark) this.armSendTimer(r);
    else t.abortConnection();
  }

  /** IPushProducer (the transport, while held): nothing to do, reading is already stopped. */
  pauseProducing(): void {}

  /** IPushProducer (the transport, while held): the queue drained to its low-water mark: read on. */
  resumeProducing(): void {
    const r = this.reader;
    const t = this.transport;
    if (t !== null) t.unregisterProducer();
    if (r === null || !r.heldForPeer) return;
    r.heldForPeer = false;
    if (r.sendTimer !== null) {
      if (r.sendTimer.active()) r.sendTimer.cancel();
      r.sendTimer = null;
    }
    if (this.current === null && t !== null && !t.disconnecting) this.readOn(r);
  }

  /** IPushProducer (the transport, when the connection is lost while held): connectionLost cleans up. */
  stopProducing(): void {}

  private afterResponse(request: Request): void {
    this.current = null;
    if (!request.keepAlive) {
      this.reader?.parser.pause(); // nothing after a "close" is read
      this.transport?.loseConnection();
    }
  }

  /** Gives the reader back to the site when nothing of a next request is buffered. */
  private releaseIfIdle(r: RequestReader): void {
    const p = r.parser;
    if (r.headTimer !== null || !p.idle || p.isPaused || p.stopped) return;
    this.reader = null;
    this.site.giveBackReader(r);
  }

  /** From the reader's parser: malformed request: answer with its status and close this connection. */
  parseError(e: HTTPParseError): void {
    const t = this.transport;
    if (t === null) return;
    if (this.current === null) writeErrorResponse(t, e.status, e.message);
    this.closeLingering();
  }

  /**
   * Closes after an error response without destroying it (RFC 9112 §9.6): closing a socket
   * that still has unread bytes makes the kernel send an RST, which can reach the client
   * before it has read the response. So: shut the write side once the response is out,
   * read and discard what the client still sends (bounded in bytes and time), and close
   * when the client closes or the bound is reached.
   */
  private closeLingering(): void {
    const t = this.transport as Partial<ITCPTransport> | null;
    if (t === null || !this.connected) return;
    this.reader?.parser.pause();
    if (this.linger !== null) return;
    if (typeof t.loseWriteConnection !== "function") {
      t.loseConnection!();
      return;
    }
    this.linger = { bytes: 0, timer: this.site.reactor.callLater(LINGER_SECONDS, lingerExpired, this) };
    t.loseWriteConnection();
  }

  private discardWhileLingering(n: number): void {
    const l = this.linger!;
    l.bytes += n;
    if (l.bytes > LINGER_MAX_BYTES) this.lingerExpired();
  }

  /** @internal The lingering close ran out of time or bytes: close now. */
  lingerExpired(): void {
    const l = this.linger;
    if (l === null) return;
    if (l.timer.active()) l.timer.cancel();
    this.transport?.loseConnection();
  }

  /** The connection is gone: leaves the idle list, drops the request state, tells an unfinished request. */
  override connectionLost(reason: Failure): void {
    this.site.unwatchIdle(this);
    const l = this.linger;
    if (l !== null && l.timer.active()) l.timer.cancel();
    const r = this.reader;
    this.reader = null;
    if (r !== null) {
      if (r.headTimer !== null) {
        if (r.headTimer.active()) r.headTimer.cancel();
        r.headTimer = null;
      }
      if (r.sendTimer !== null) {
        if (r.sendTimer.active()) r.sendTimer.cancel();
        r.sendTimer = null;
      }
      // Not pooled: this may run inside the parser's own feed; pausing ends that loop.
      r.channel = null;
      r.incoming = null;
      r.bodyParts = null;
      r.parser.pause();
    }
    const c = this.current;
    this.current = null;
    if (c !== null) c.connectionLost(reason);
  }

  /** @internal The site's idle sweep: true when a response is outstanding, or queued responses wait for the peer to read (not idle: writeTimeout governs that). */
  get busy(): boolean {
    return this.current !== null || (this.reader !== null && this.reader.heldForPeer);
  }

  /**
   * @internal The site's idle sweep found this connection idle for idleTimeout: closes it
   * once its queue is written, or aborts it when the peer has not taken the queue
   * within writeTimeout seconds (a peer that never reads cannot hold the fd).
   */
  idleExpired(): void {
    const t = this.transport as (ITransport & Partial<WaterMarks>) | null;
    if (t === null || !this.connected) return;
    t.loseConnection();
    const s = this.site.writeTimeout;
    if (s > 0 && this.linger === null && this.connected && t.bufferedBytes !== undefined && t.bufferedBytes() > 0) {
      this.linger = { bytes: 0, timer: this.site.reactor.callLater(s, abortStuck, this) };
    }
  }

  /** @internal An idle-closed connection's queue was not taken within writeTimeout: abort. */
  abortStuck(): void {
    if (this.connected) this.transport?.abortConnection();
  }

  /** @internal The header timer fired: a head still incomplete gets a 408 and a close. */
  headTimerFired(): void {
    const r = this.reader;
    if (r === null) return;
    r.headTimer = null;
    const t = this.transport;
    if (t === null || !this.connected) return;
    if (r.parser.partialHead > 0 && this.current === null) {
      writeErrorResponse(t, 408, "the request head did not arrive in time");
      this.closeLingering();
    }
  }
}

/** Writes a plain-text error response that closes the connection: "<status> <phrase>: <message>". */
function writeErrorResponse(t: ITransport, status: number, message: string): void {
  const phrase = reasonPhrase(status);
  const body = `${status} ${phrase}: ${message}\n`;
  t.write(`HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function headTimerFired(channel: HTTPChannel): void {
  channel.headTimerFired();
}

function sendTimerFired(channel: HTTPChannel): void {
  channel.sendTimerFired();
}

function abortStuck(channel: HTTPChannel): void {
  channel.abortStuck();
}

/** What a FileDescriptor transport has beyond ITransport that the channel reads and sets. */
interface WaterMarks {
  bufferedBytes(): number;
  writeHighWaterMark: number;
  writeLowWaterMark: number;
}

/** How long a lingering close waits for the client to close (seconds). */
const LINGER_SECONDS = 2;
/** How many bytes a lingering close reads and discards before it closes anyway. */
const LINGER_MAX_BYTES = 64 * 1024;

/** The state of a lingering close. */
interface Linger {
  bytes: number;
  timer: IDelayedCall;
}

function lingerExpired(channel: HTTPChannel): void {
  channel.lingerExpired();
}

function siteSweep(site: Site): void {
  site.sweepIdle();
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
  /** Queued response bytes per connection above which its reading stops. */
  readonly writeHighWaterMark: number;
  /** Seconds a peer taking nothing of its queued responses is kept (0: forever). */
  readonly writeTimeout: number;
  /** The reactor whose clock the timeouts use (options.reactor, else the global reactor). */
  reactor: SiteReactor;
  /** @internal Wall-clock ms of the latest read on any of this site's connections (0 before any). */
  now = 0;
  /** @internal The oldest-active end of the idle list (channels ordered by their latest activity). */
  idleHead: HTTPChannel | null = null;
  /** @internal The most recently active end of the idle list. */
  idleTail: HTTPChannel | null = null;
  /** Connections in the idle list (every open connection when idleTimeout > 0). */
  idleCount = 0;
  /** The one timer of the idle timeouts: due when the oldest-active connection's idleTimeout ends. */
  private sweepTimer: IDelayedCall | null = null;
  /** True inside sweepIdle (which re-arms the timer itself, once, at the end). */
  private sweeping = false;
  /** Free RequestReaders (idle parsers) for the next request on any connection: the top of their list. */
  private freeReaders: RequestReader | null = null;
  /** Readers in that list. */
  private freeCount = 0;
  /** Wall-clock ms where this site's idle clock reads 0. */
  private clockBase = Date.now();

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
    this.writeHighWaterMark = limit("writeHighWaterMark", options.writeHighWaterMark ?? DEFAULT_SITE_WRITE_HIGH_WATER);
    this.writeTimeout = seconds("writeTimeout", options.writeTimeout ?? 60);
  }

  /** A new HTTPChannel for each connection. */
  override buildProtocol(addr: Address): IProtocol {
    void addr;
    const p = new HTTPChannel(this);
    p.factory = this;
    return p;
  }

  /** @internal A RequestReader for `channel` (pooled, else new). */
  takeReader(channel: HTTPChannel): RequestReader {
    let r = this.freeReaders;
    if (r !== null) {
      this.freeReaders = r.nextFree;
      r.nextFree = null;
      this.freeCount--;
    } else {
      r = new RequestReader(this);
    }
    r.channel = channel;
    return r;
  }

  /** @internal Takes back an idle RequestReader (its parser between messages, not paused). */
  giveBackReader(r: RequestReader): void {
    if (r.channel === null) return; // pooled or dropped already: never listed twice
    r.channel = null;
    r.incoming = null;
    r.bodyParts = null;
    r.dispatching = false;
    r.readingPaused = false;
    r.heldForPeer = false;
    r.sendTimer = null;
    if (this.freeCount < MAX_POOLED_READERS) {
      r.nextFree = this.freeReaders;
      this.freeReaders = r;
      this.freeCount++;
    }
  }

  /** Free RequestReaders pooled for reuse. */
  get pooledReaders(): number {
    return this.freeCount;
  }

  /**
   * @internal The idle clock at wall-clock ms `wallMs`: ms since clockBase as an int32 (a
   * small integer, so a channel's activity time is stored unboxed: 16 bytes less per
   * connection than a double). Past 12.4 days (or when the wall clock went back) the base
   * moves to now and every listed channel's time moves with it.
   */
  clock(wallMs: number): number {
    const t = wallMs - this.clockBase;
    if (t >= 0 && t < CLOCK_REBASE_MS) return t | 0;
    this.clockBase = wallMs;
    for (let ch = this.idleHead, n = this.idleCount; ch !== null && n > 0; ch = ch.idleNext, n--) {
      ch.idleAt = Math.min(Math.max(ch.idleAt - t, -CLOCK_REBASE_MS), 0) | 0;
    }
    return 0;
  }

  /** @internal `channel` was active at clock ms `at`: it moves to the recent end of the idle list. */
  touchIdle(channel: HTTPChannel, at: number): void {
    channel.idleAt = at;
    if (this.idleTail === channel) return;
    if (channel.idlePrev !== null || this.idleHead === channel) this.unlink(channel);
    else this.idleCount++;
    channel.idlePrev = this.idleTail;
    channel.idleNext = null;
    if (this.idleTail !== null) this.idleTail.idleNext = channel;
    else this.idleHead = channel;
    this.idleTail = channel;
    if (this.sweepTimer === null && !this.sweeping) this.sweepTimer = this.reactor.callLater(this.idleTimeout, siteSweep, this);
  }

  /** @internal `channel` is gone: it leaves the idle list (the sweep timer stops with the last one). */
  unwatchIdle(channel: HTTPChannel): void {
    if (channel.idlePrev === null && this.idleHead !== channel) return;
    this.unlink(channel);
    this.idleCount--;
    if (this.idleHead === null && this.sweepTimer !== null) {
      if (this.sweepTimer.active()) this.sweepTimer.cancel();
      this.sweepTimer = null;
    }
  }

  private unlink(channel: HTTPChannel): void {
    const prev = channel.idlePrev;
    const next = channel.idleNext;
    if (prev !== null) prev.idleNext = next;
    else this.idleHead = next;
    if (next !== null) next.idlePrev = prev;
    else this.idleTail = prev;
    channel.idlePrev = null;
    channel.idleNext = null;
  }

  /** @internal The sweep timer fired: closes the connections idle for idleTimeout, re-arms for the next. */
  sweepIdle(): void {
    this.sweepTimer = null;
    const now = this.clock(Date.now());
    const limit = this.idleTimeout * 1000;
    this.sweeping = true;
    // Each channel is looked at once per sweep: a busy one moves to the recent end.
    for (let n = this.idleCount; n > 0; n--) {
      const ch = this.idleHead;
      if (ch === null || ch.idleAt + limit > now) break;
      if (ch.busy) {
        this.touchIdle(ch, now); // a response is outstanding: not idle
        continue;
      }
      this.unwatchIdle(ch);
      try {
        ch.idleExpired();
      } catch (e) {
        log("error", "closing an idle connection threw", e);
      }
    }
    this.sweeping = false;
    const head = this.idleHead;
    if (head !== null && this.sweepTimer === null) {
      this.sweepTimer = this.reactor.callLater(Math.max((head.idleAt + limit - now) / 1000, 0.001), siteSweep, this);
    }
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
