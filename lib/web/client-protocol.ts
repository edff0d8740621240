/**
 * The HTTP/1.1 client wire protocol (Twisted's _newclient): `HTTP11ClientProtocol` writes
 * one request at a time on its connection and parses the response with the shared
 * parser; a `Response` carries the status and headers as soon as the head has arrived and
 * hands the body to a protocol (`deliverBody`). Content-Length, chunked and
 * close-delimited bodies are understood. Which connection to use, and whether to keep it,
 * is the pool's and the Agent's business (pool.ts, agent.ts), not this file's.
 *
 * Every wait is bounded: a request carries a total response timeout and an idle timeout
 * (no byte from the server for that long while it owes one, the body consumer not having
 * paused it); at most 16 interim 1xx responses precede a final one (the parser's limit).
 * Bytes the server sends beyond the response asked for are a protocol error of the
 * connection: it is closed and never reused, and the response already complete stands.
 */
import { Deferred, Failure, fail, succeed } from "../defer";
import type { IDelayedCall, IReactorTime } from "../defer/interfaces";
import { ConnectionDone } from "../error";
import { native } from "../native";
import type { IPushProducer } from "../net/interfaces";
import { Protocol } from "../protocols/protocol";
import {
  BodyTooLargeError,
  HTTPParseError,
  PotentialDataLoss,
  RequestGenerationFailed,
  ResponseDone,
  ResponseFailed,
  ResponseNeverReceived,
  ResponseTimeout,
} from "./errors";
import { Headers } from "./headers";
import { LAST_CHUNK, writeChunk } from "./http";
import { HTTPParser, RESPONSE, type IHTTPParserHandler } from "./parser";
import type { ParsedURL } from "./url";

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

/** @internal A request to send on a connection (built by the Agent). */
export interface OutgoingRequest {
  method: string;
  url: ParsedURL;
  headers: Headers;
  body: IBodyProducer | null;
  persistent: boolean;
  /** The clock of the timeouts (the Agent's reactor). */
  clock: IReactorTime;
  /** Seconds from sending to the end of the body (0: none). */
  responseTimeout: number;
  /** Seconds without a byte from the server while it owes one (0: none). */
  idleTimeout: number;
}

/** What a body protocol gets as its transport: flow control over the connection. */
class BodyTransport implements IPushProducer {
  constructor(private readonly response: Response) {}
  /** Stops reading from the connection (the idle timeout does not run meanwhile). */
  pauseProducing(): void {
    this.response.connection?.pauseBody(true);
  }
  /** Reads again. */
  resumeProducing(): void {
    this.response.connection?.pauseBody(false);
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
  /**
   * The body ended: `reason` is a Failure (as in Twisted) wrapping ResponseDone when
   * complete, PotentialDataLoss for close-delimited bodies, ResponseFailed otherwise.
   */
  connectionLost(reason: Failure): void;
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
  private endReason: Failure | null = null;
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
    const f = new Failure(reason);
    this.endReason = f;
    this.connection = null;
    if (this.protocol !== null) this.protocol.connectionLost(f);
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
  /** The total response timeout of the request in flight, or null. */
  private deadline: IDelayedCall | null = null;
  /** The idle timeout's timer while a request is in flight, or null. */
  private idleTimer: IDelayedCall | null = null;
  /** Clock seconds of the latest byte from the server, or of the request's own bytes leaving. */
  private lastByteAt = 0;
  /** The transport's queued bytes at the latest idle check (a change is the upload moving). */
  private lastQueued = 0;
  /** The body consumer paused reading: the idle timeout waits. */
  private bodyPaused = false;

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
    this.bodyPaused = false;
    this.parser.noBody = req.method === "HEAD";
    this.parser.resume(); // paused after the previous response (see messageComplete)
    this.armTimers(req);
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

  /** Closes the connection now (a cancelled request, an abandoned body, a protocol error). */
  abandon(): void {
    this.transport?.abortConnection();
  }

  private armTimers(req: OutgoingRequest): void {
    this.stopTimers();
    if (req.responseTimeout > 0) this.deadline = req.clock.callLater(req.responseTimeout, responseTimedOut, this);
    if (req.idleTimeout > 0) {
      this.lastByteAt = req.clock.seconds();
      this.lastQueued = this.queuedBytes(req);
      this.idleTimer = req.clock.callLater(req.idleTimeout, idleCheck, this);
    }
  }

  private stopTimers(): void {
    const d = this.deadline;
    const i = this.idleTimer;
    this.deadline = null;
    this.idleTimer = null;
    if (d !== null && d.active()) d.cancel();
    if (i !== null && i.active()) i.cancel();
  }

  /** @internal The body consumer paused (true) or resumed (false) reading. */
  pauseBody(paused: boolean): void {
    const t = this.transport;
    if (t === null) return;
    this.bodyPaused = paused;
    if (paused) t.pauseProducing();
    else {
      if (this.outgoing !== null) this.lastByteAt = this.outgoing.clock.seconds();
      t.resumeProducing();
    }
  }

  /** @internal The total response timeout passed: the request fails, the connection is closed. */
  responseTimedOut(): void {
    this.deadline = null;
    const req = this.outgoing;
    if (req === null) return;
    this.timedOut(new ResponseTimeout("response", req.responseTimeout, `${req.method} ${req.url.href}`));
  }

  /**
   * Bytes of the request not yet acknowledged by the server: queued on the transport, plus,
   * for a request with a body, what the kernel holds in the socket's send queue, so an
   * upload whose last megabytes sit in the kernel is seen moving as the server reads them
   * (a request without one costs no syscall: its bytes are acknowledged at once). 0 where
   * neither can say.
   */
  private queuedBytes(req: OutgoingRequest): number {
    const t = this.transport as { bufferedBytes?: () => number; fileno?: () => number } | null;
    if (t === null) return 0;
    let q = typeof t.bufferedBytes === "function" ? t.bufferedBytes() : 0;
    const fd = req.body !== null && typeof t.fileno === "function" ? t.fileno() : -1;
    if (fd >= 0) {
      try {
        const k = native.unsentBytes(fd);
        if (k > 0) q += k;
      } catch {
        // Not a socket this platform can say this of: the transport's own queue it is.
      }
    }
    return q;
  }

  /**
   * @internal The idle timer fired: fail when nothing moved either way for idleTimeout
   * (no byte from the server, and none of a request body still queued taken by the
   * kernel or acknowledged by the server: a long upload is not idle), else wait for the
   * rest of it.
   */
  idleCheck(): void {
    this.idleTimer = null;
    const req = this.outgoing;
    if (req === null) return;
    const now = req.clock.seconds();
    const q = this.queuedBytes(req);
    if (q !== this.lastQueued) {
      this.lastQueued = q;
      this.lastByteAt = now;
    }
    const left = this.bodyPaused ? req.idleTimeout : this.lastByteAt + req.idleTimeout - now;
    if (left > 0) this.idleTimer = req.clock.callLater(left, idleCheck, this);
    else this.timedOut(new ResponseTimeout("idle", req.idleTimeout, `${req.method} ${req.url.href}`));
  }

  private timedOut(err: ResponseTimeout): void {
    this.stopTimers();
    this.state = "closed";
    this.failCurrent(err);
    this.abandon();
  }

  /** Bytes from the server. */
  override dataReceived(data: Buffer): void {
    if (this.state !== "waiting" && this.state !== "body") {
      // Bytes with no request outstanding: the server misbehaves; never reuse this connection.
      this.protocolError();
      return;
    }
    this.gotBytes = true;
    if (this.idleTimer !== null) this.lastByteAt = this.outgoing!.clock.seconds();
    this.parser.feed(data);
    // Bytes after the complete response, in the same read: kept by the paused parser.
    if (this.parser.pendingBytes > 0) this.protocolError();
  }

  /** The server sent bytes no request asked for: close the connection (the pool forgets it). */
  private protocolError(): void {
    this.state = "closed";
    this.abandon();
  }

  /** IHTTPParserHandler: the response head arrived: fire the request's Deferred. */
  headComplete(p: HTTPParser): void {
    const req = this.outgoing;
    if (req === null) {
      this.protocolError();
      return;
    }
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
    this.stopTimers();
    // Nothing after a response is parsed: bytes the server adds are a protocol error (dataReceived).
    p.pause();
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
    this.stopTimers();
    const d = this.pending;
    this.pending = null;
    if (d !== null) d.errback(err);
    const r = this.response;
    this.response = null;
    if (r !== null) r.bodyEnded(err);
  }

  /** The connection is gone: a close-delimited body ends; anything else in progress fails. */
  override connectionLost(reason: Failure): void {
    const wasState = this.state;
    this.state = "closed";
    this.stopTimers();
    if (wasState === "body" && this.parser.readingUntilClose) {
      this.parser.finish(); // → messageComplete with PotentialDataLoss
    } else if (wasState === "waiting") {
      const why = reason.check(ConnectionDone) !== null ? "the server closed the connection" : reason.getErrorMessage();
      const E = this.gotBytes ? ResponseFailed : ResponseNeverReceived;
      this.failCurrent(new E(`no complete response to ${this.outgoing?.method} ${this.outgoing?.url.href}: ${why}`, { cause: reason.value }));
    } else if (wasState === "body") {
      this.failCurrent(new ResponseFailed(`the connection closed before the response body was complete: ${reason.getErrorMessage()}`, { cause: reason.value }));
    }
    const q = this.onQuiescent;
    this.onQuiescent = null;
    if (q !== null) q(this, false);
  }
}

function responseTimedOut(p: HTTP11ClientProtocol): void {
  p.responseTimedOut();
}

function idleCheck(p: HTTP11ClientProtocol): void {
  p.idleCheck();
}
