/**
 * One HTTP request on the server and its response (Twisted's server.Request): what the
 * client asked (method, uri, path, args, headers, content) and the calls that answer it
 * (setResponseCode, setHeader, write, finish).
 *
 * The response goes out in as few transport writes as possible: `finish(body)` (or a
 * render method returning the body) writes the whole response — status line, headers,
 * Content-Length and body — in one write. `write` before `finish` streams: the head goes
 * out first, and the body is chunked unless a Content-Length was set (HTTP/1.0 clients
 * get a close-delimited body instead).
 */
import { Deferred, type Failure } from "../defer";
import { ConnectionDone } from "../error";
import type { Address, IPullProducer, IPushProducer, ITransport } from "../net/interfaces";
import { Headers, checkField } from "./headers";
import { LAST_CHUNK, currentDateLine, parseQuery, reasonPhrase, writeChunk } from "./http";

/** What a Request needs from its connection (the server's HTTPChannel). */
export interface IRequestChannel {
  /** The connection's transport. */
  readonly transport: ITransport | null;
  /** The default Content-Type of responses that set none ("" for none). */
  readonly defaultContentType: string;
  /** The request has finished its response. */
  requestDone(request: Request): void;
  /** The time of the latest read, in ms since the epoch (0: unknown), for the Date header. */
  readonly now: number;
}

const STATUS_LINES: Record<number, string> = {};
for (const code of [200, 201, 204, 301, 302, 304, 400, 404, 405, 413, 431, 500]) STATUS_LINES[code] = `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n`;

/** Header names already checked (and their lowercase), so a hot setHeader skips the checks. */
const checkedNames = new Map<string, string>();

/** The lowercase of a header name, cached for names seen before. */
function lowerName(name: string): string {
  return checkedNames.get(name) ?? name.toLowerCase();
}

/** The lowercase of a header name the caller has checked, remembered (bounded) as checkFieldCached does: no new string per call. */
function checkedLowerName(name: string): string {
  let lower = checkedNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (checkedNames.size < 1024) checkedNames.set(name, lower);
  }
  return lower;
}

/** No name: what `lastName` holds before the first setHeader (no string is equal to it). */
const NOT_A_NAME = {};
/** The name setHeader checked last, and its lowercase: a handler sets the same names per request, and this spares the Map lookups. */
let lastName: string | object = NOT_A_NAME;
let lastLower = "";

/** checkField, with the name's check remembered (bounded) and the value checked by a loop; returns the name's lowercase. */
function checkFieldCached(name: string, value: string): string {
  if (name !== lastName) {
    if (typeof name !== "string" || typeof value !== "string" || !checkedNames.has(name)) {
      checkField(name, value);
      if (checkedNames.size < 1024) checkedNames.set(name, name.toLowerCase());
    }
    lastLower = lowerName(name);
    lastName = name;
  } else if (typeof value !== "string") {
    checkField(name, value); // throws with the message
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f || c > 0xff) {
      checkField(name, value); // throws with the message
    }
  }
  return lastLower;
}

/** The string utf8Length measured last (a short one) and its UTF-8 length: a handler answering with one constant body is not measured again. */
let lastBody = "";
let lastBodyLength = 0;

/** Buffer.byteLength(s, "utf8"), remembered for the last short string measured. */
function utf8Length(s: string): number {
  if (s === lastBody) return lastBodyLength;
  const n = Buffer.byteLength(s, "utf8");
  if (s.length <= MAX_CACHED_BODY) {
    lastBody = s;
    lastBodyLength = n;
  }
  return n;
}

/** True when `s` holds an ASCII capital (a header name that lowercasing changes). */
function hasUpperAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/** Shared empty segment list of requests routed to a leaf root (never mutated: traversal assigns new arrays). */
const NO_SEGMENTS: string[] = [];

const EMPTY = Buffer.alloc(0);

/** The header list of a request that has set none (never changed). */
const NO_FIELDS: readonly string[] = Object.freeze([]);

/**
 * A response head rendered once and reused (`Request.writeSharedHead`): by every request
 * that answers with the same status, the same header fields in the same order, on the same
 * kind of connection (HTTP/1.1 keep-alive or not), within the same second of the Date
 * header. A static File keeps one per open file, so a hot file's 200 costs no string
 * building and no encoding per response. The bytes are only ever read once handed out.
 */
export class SharedHead {
  /** @internal The head last rendered (null before the first). */
  bytes: Uint8Array | null = null;
  /** @internal What it was rendered for: the Date line, status, connection, fields. */
  dateLine = "";
  /** @internal */
  code = 0;
  /** @internal */
  keepAlive = false;
  /** @internal */
  minor = -1;
  /** @internal The channel's default Content-Type (the head names it when no Content-Type is set). */
  defaultType = "";
  /** @internal [name, value, ...] as set on the request that rendered it. */
  fields: string[] = [];
}

/**
 * A whole response (head, or head and a short string body) encoded once and written again
 * by every later request that would render the very same bytes: same status, header
 * fields, connection, framing and body, in the same second of the Date header. The key
 * is everything `Request.head` reads, so a hit writes byte for byte what rendering would
 * have; the bytes are never changed once handed to a transport (a new entry is made when
 * anything differs).
 */
class CachedResponse extends SharedHead {
  /** The length given to `head` (-1: none, Content-Length not added by it). */
  length = -2;
  /** True when the head is chunked (a streamed HTTP/1.1 body of unknown length). */
  chunked = false;
  /** The request had set a Content-Length / Content-Type of its own (noteHeader). */
  hasLength = false;
  /** @internal */
  hasType = false;
  /** The body that follows the head in `bytes` ("" for none). */
  body = "";
  /** The head is encoded as latin1 (to be joined with a byte body), else as UTF-8 (the transport's string write). */
  latin1 = false;
}

/** Strings longer than this are not kept in the response cache (the encoding is cheap next to them, and an entry holds its bytes). */
const MAX_CACHED_BODY = 1024;
/** Entries of the response cache (a site usually answers with a handful of distinct responses). */
const CACHED_RESPONSES = 4;
/** The response cache, shared by every Site of the process; replaced round-robin. */
const responseCache: CachedResponse[] = [];
for (let i = 0; i < CACHED_RESPONSES; i++) responseCache.push(new CachedResponse());
let nextCached = 0;

/** A request and its response (see the file comment). */
export class Request {
  /** The method ("GET"). */
  readonly method: string;
  /** The request-target as sent ("/a/b?x=1"). */
  readonly uri: string;
  /** The request's header fields, flat [lowercased name, value, ...] as parsed. */
  readonly rawHeaders: string[];
  // The fields declared here and given a default on the prototype (below the class) are
  // set on few requests: a request that keeps the default has no slot for them, 88 bytes
  // less per request (each request is garbage for the young generation).
  /** The request body (empty when none). */
  declare content: Buffer;
  /** The connection may carry another request after this one. */
  keepAlive: boolean;
  /** Path segments already consumed by resource traversal (set by the Site's traversal). */
  declare prepath: string[];
  /** Path segments still to consume (set by the Site's traversal). */
  declare postpath: string[];

  /** The response status code. */
  code = 200;
  /** The response reason phrase ("" for the standard one). */
  declare codeMessage: string;
  /**
   * The response header fields (flat [name, value, ...], the caller's casing), made on first
   * use; or, after `adoptHeaders`, a list shared with other requests and never changed,
   * copied before anything could change it or see it (responseHeaders, setHeader, addHeader).
   */
  private fields: string[] | null = null;
  /** `fields` is a shared list (adoptHeaders): copy it before a change or handing it out. */
  private fieldsShared = false;
  /** True once the head has been written. */
  startedWriting = false;
  /** True once finish() was called. */
  finished = false;
  /** Body bytes written so far. */
  sentLength = 0;
  /** The connection was lost before the response finished. */
  declare lost: boolean;
  /** The channel (connection) this request arrived on. */
  readonly channel: IRequestChannel;

  private readonly minor: number;
  declare private chunked: boolean;
  private hasLength = false;
  private hasType = false;
  private pathCache: string | null = null;
  declare private argsCache: Record<string, string[]> | null;
  declare private finishWaiters: Deferred<void>[] | null;
  declare private producing: boolean;
  declare private headersCache: Headers | null;

  /** Made by the channel once a request's head and body have arrived. */
  constructor(channel: IRequestChannel, method: string, uri: string, versionMinor: number, headers: string[], keepAlive: boolean) {
    this.channel = channel;
    this.method = method;
    this.uri = uri;
    this.minor = versionMinor;
    this.rawHeaders = headers;
    this.keepAlive = keepAlive;
  }

  /** The protocol version, "HTTP/1.1" or "HTTP/1.0". */
  get clientproto(): string {
    return this.minor === 1 ? "HTTP/1.1" : "HTTP/1.0";
  }

  /** Response header fields, flat [name, value, ...] with the caller's casing. */
  get responseHeaders(): string[] {
    return this.ownFields();
  }

  /** `fields` as this request's own array (made, or copied from a shared list, now). */
  private ownFields(): string[] {
    const f = this.fields;
    if (f === null) return (this.fields = []);
    if (!this.fieldsShared) return f;
    this.fieldsShared = false;
    return (this.fields = f.slice());
  }

  /**
   * @internal Sets the header fields of `fields` ([name, value, ...], checked by the caller
   * with checkField, none repeated, never changed afterwards), as setHeader of each pair in
   * order would: a request that has no response header yet shares the list itself (a static
   * File's 200 then makes no array per response) until something changes or reads it.
   */
  adoptHeaders(fields: readonly string[]): void {
    if (this.startedWriting) throw new Error("adoptHeaders: the response head has already been written");
    if (this.fields !== null) {
      // Fields set, or the array handed out (a caller may hold it): setHeader, pair by pair.
      for (let i = 0; i < fields.length; i += 2) this.setHeader(fields[i], fields[i + 1]);
      return;
    }
    for (let i = 0; i < fields.length; i += 2) this.noteHeader(checkedLowerName(fields[i]), fields[i + 1]);
    this.fields = fields as string[];
    this.fieldsShared = true;
  }

  /** The request's header fields (made on first use). */
  get requestHeaders(): Headers {
    return (this.headersCache ??= new Headers(this.rawHeaders));
  }

  /** The request's header fields (same as requestHeaders). */
  get headers(): Headers {
    return this.requestHeaders;
  }

  /** The path part of the uri ("/a/b"), without the query. */
  get path(): string {
    if (this.pathCache === null) {
      const q = this.uri.indexOf("?");
      this.pathCache = q < 0 ? this.uri : this.uri.slice(0, q);
    }
    return this.pathCache;
  }

  /** The query arguments: name → values (Twisted's request.args). */
  get args(): Record<string, string[]> {
    if (this.argsCache === null) {
      const q = this.uri.indexOf("?");
      this.argsCache = parseQuery(q < 0 ? "" : this.uri.slice(q + 1));
    }
    return this.argsCache;
  }

  /** The transport of the connection (null once gone). */
  get transport(): ITransport | null {
    return this.channel.transport;
  }

  /** The first value of request header `name`, or undefined. */
  getHeader(name: string): string | undefined {
    const r = this.rawHeaders;
    // Names are stored lowercased: a lowercase name (the usual call) needs no new string.
    for (let i = 0; i < r.length; i += 2) if (r[i] === name) return r[i + 1];
    // toLowerCase makes a new string even when nothing changes: only when it would.
    if (!hasUpperAscii(name)) return undefined;
    const n = name.toLowerCase();
    for (let i = 0; i < r.length; i += 2) if (r[i] === n) return r[i + 1];
    return undefined;
  }

  /** True when the request came over TLS: a listenSSL port, or a connection after startTLS (Twisted's isSecure). */
  isSecure(): boolean {
    const t = this.channel.transport as { isSecure?(): boolean } | null;
    return t !== null && typeof t.isSecure === "function" && t.isSecure();
  }

  /** The client's address. */
  getClientAddress(): Address | null {
    const t = this.channel.transport;
    return t === null ? null : t.getPeer();
  }

  /** Sets the response status (and reason phrase; default the standard one). */
  setResponseCode(code: number, message?: string): void {
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new RangeError(`code must be an integer from 100 to 999, received ${String(code)}`);
    if (this.startedWriting) throw new Error("setResponseCode: the response head has already been written");
    this.code = code;
    if (message !== undefined || this.codeMessage !== "") this.codeMessage = message ?? "";
  }

  /** Sets response header `name` to `value` (replacing earlier values of it). */
  setHeader(name: string, value: string | number): void {
    const v = typeof value === "number" ? String(value) : value;
    const lower = checkFieldCached(name, v);
    if (this.startedWriting) throw new Error(`setHeader(${name}): the response head has already been written`);
    const h = this.ownFields();
    for (let i = 0; i < h.length; i += 2) {
      const n = h[i];
      // Lowercasing keeps a token's length: a name of another length is another name.
      if (n.length === name.length && (n === name || lowerName(n) === lower)) {
        h.splice(i, 2);
        i -= 2;
      }
    }
    this.noteHeader(lower, v);
    h.push(name, v);
  }

  /** Adds a value for response header `name` (Set-Cookie style: several lines). */
  addHeader(name: string, value: string): void {
    checkField(name, value);
    if (this.startedWriting) throw new Error(`addHeader(${name}): the response head has already been written`);
    this.noteHeader(name.toLowerCase(), value);
    this.ownFields().push(name, value);
  }

  private noteHeader(lower: string, value: string): void {
    if (lower === "content-length") this.hasLength = true;
    else if (lower === "content-type") this.hasType = true;
    else if (lower === "connection" && value.toLowerCase().includes("close")) this.keepAlive = false;
  }

  /** Answers with a redirect to `url` (302 unless another 3xx is given). */
  redirect(url: string, code = 302): void {
    this.setResponseCode(code);
    this.setHeader("Location", url);
  }

  /** Streams body bytes: writes the head first (chunked unless a Content-Length was set). */
  write(data: Uint8Array | string): void {
    if (this.finished) throw new Error("write: the request has already finished");
    if (this.lost) return;
    const t = this.channel.transport;
    if (t === null) return;
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (!this.startedWriting) {
      if (!this.hasLength && this.bodyAllowed()) {
        if (this.minor === 1) this.chunked = true;
        else this.keepAlive = false; // HTTP/1.0: the body ends with the connection
      }
      t.write(this.response(-1, "", false));
    }
    if (buf.length === 0 || !this.bodyAllowed() || this.method === "HEAD") return;
    this.sentLength += buf.length;
    if (this.chunked) writeChunk(t, buf);
    else t.write(buf);
  }

  /**
   * Writes the response head now, before a body that the caller sends itself (a File's
   * range on the transport): the same bytes `write` would send first, taken from `shared`
   * when it holds a head rendered for this status, these header fields and this connection
   * in the current second, and otherwise rendered and kept there. Needs a Content-Length
   * set (the body's framing cannot depend on the head being shared).
   */
  writeSharedHead(shared: SharedHead): void {
    if (!(shared instanceof SharedHead)) throw new TypeError("writeSharedHead: shared must be a SharedHead");
    if (this.finished) throw new Error("writeSharedHead: the request has already finished");
    if (this.startedWriting) throw new Error("writeSharedHead: the response head has already been written");
    if (!this.hasLength) throw new Error("writeSharedHead: set a Content-Length first");
    if (this.lost) return;
    const t = this.channel.transport;
    if (t === null) return;
    const date = currentDateLine(this.channel.now);
    if (shared.bytes !== null && shared.dateLine === date && this.sameHead(shared)) {
      this.startedWriting = true;
      t.write(shared.bytes);
      return;
    }
    // Encoded as `write` sends a head (the transport's string write: UTF-8).
    const bytes = Buffer.from(this.head(-1), "utf8");
    this.keepHead(shared, bytes, date);
    t.write(bytes);
  }

  /** Records in `shared` that `bytes` is this request's head (status, connection, fields) in the second of `date`. */
  private keepHead(shared: SharedHead, bytes: Uint8Array, date: string): void {
    shared.bytes = bytes;
    shared.dateLine = date;
    shared.code = this.code;
    shared.keepAlive = this.keepAlive;
    shared.minor = this.minor;
    shared.defaultType = this.channel.defaultContentType;
    // A shared list is never changed: kept as it is; a request's own array is copied.
    shared.fields = this.fieldsShared ? (this.fields as string[]) : this.headerList().slice();
  }

  /**
   * The bytes of `head(length)` followed by `body` ("" for none), the head encoded as
   * latin1 (`latin1`: to be joined with a byte body) or as UTF-8 (as the transport encodes
   * a string): taken from the response cache when an entry was rendered for the same
   * response in the current second (nothing built, nothing encoded), else rendered and
   * kept there. A response with a reason phrase of its own or a long body is not cached:
   * it comes back as the string (the transport encodes it) unless `latin1` asks for bytes.
   */
  private response(length: number, body: string, latin1: boolean): Uint8Array | string {
    if (this.codeMessage !== "" || body.length > MAX_CACHED_BODY) {
      const s = this.head(length) + body;
      return latin1 ? Buffer.from(s, "latin1") : s;
    }
    const date = currentDateLine(this.channel.now);
    const chunked = this.chunked;
    for (let i = 0; i < CACHED_RESPONSES; i++) {
      const e = responseCache[i];
      if (
        e.dateLine === date &&
        e.length === length &&
        e.body === body &&
        e.latin1 === latin1 &&
        e.chunked === chunked &&
        e.hasLength === this.hasLength &&
        e.hasType === this.hasType &&
        e.bytes !== null &&
        this.sameHead(e)
      ) {
        this.startedWriting = true;
        return e.bytes;
      }
    }
    const bytes = Buffer.from(this.head(length) + body, latin1 ? "latin1" : "utf8");
    const e = responseCache[nextCached];
    nextCached = nextCached === CACHED_RESPONSES - 1 ? 0 : nextCached + 1;
    this.keepHead(e, bytes, date);
    e.length = length;
    e.body = body;
    e.latin1 = latin1;
    e.chunked = chunked;
    e.hasLength = this.hasLength;
    e.hasType = this.hasType;
    return bytes;
  }

  /** True when `shared` was rendered for this status, connection and header fields (the Date line is the caller's check). */
  private sameHead(shared: SharedHead): boolean {
    if (shared.code !== this.code || this.codeMessage !== "" || shared.keepAlive !== this.keepAlive || shared.minor !== this.minor) return false;
    if (shared.defaultType !== this.channel.defaultContentType) return false;
    const a = shared.fields;
    const b = this.headerList();
    if (a === b) return true;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * Attaches a producer that writes the body through `request.write` (Twisted's
   * Request.registerProducer): the connection pauses a push producer while more than its
   * write high-water mark (the Site's writeHighWaterMark) is queued and resumes it once
   * the queue drains; a pull producer is asked for more each time the queue is empty.
   * `finish()` detaches it if it is still attached.
   */
  registerProducer(producer: IPushProducer | IPullProducer, streaming: boolean): void {
    const t = this.channel.transport;
    if (t === null || this.lost) {
      producer.stopProducing();
      return;
    }
    t.registerProducer(producer, streaming);
    this.producing = true;
  }

  /** Detaches the producer attached with registerProducer. */
  unregisterProducer(): void {
    if (!this.producing) return;
    this.producing = false;
    this.channel.transport?.unregisterProducer();
  }

  /**
   * Ends the response. With `body` and nothing written yet, the whole response goes out
   * in one write with its Content-Length.
   */
  finish(body?: string | Uint8Array): void {
    if (this.finished) throw new Error("finish: the request has already finished");
    if (this.producing) this.unregisterProducer();
    const t = this.channel.transport;
    if (!this.startedWriting && !this.lost && t !== null) {
      const allowed = this.bodyAllowed();
      if (body === undefined || body.length === 0) {
        t.write(this.response(allowed ? 0 : -1, "", false));
      } else if (typeof body === "string") {
        const n = utf8Length(body);
        this.sentLength = n;
        t.write(this.response(n, this.method === "HEAD" || !allowed ? "" : body, false));
      } else {
        this.sentLength = body.length;
        if (this.method === "HEAD" || !allowed) {
          t.write(this.response(body.length, "", false));
        } else {
          const head = this.response(body.length, "", true) as Uint8Array;
          const out = Buffer.allocUnsafe(head.length + body.length);
          out.set(head, 0);
          out.set(body, head.length);
          t.write(out);
        }
      }
    } else {
      if (body !== undefined && body.length > 0) this.write(body);
      if (this.chunked && !this.lost && t !== null && this.method !== "HEAD") t.write(LAST_CHUNK);
    }
    this.finished = true;
    this.channel.requestDone(this);
    const w = this.finishWaiters;
    if (w !== null) {
      this.finishWaiters = null;
      for (const d of w) d.callback(undefined);
    }
  }

  /** A Deferred that fires when the response is finished, or fails when the connection is lost first. */
  notifyFinish(): Deferred<void> {
    const d = new Deferred<void>();
    if (this.finished) d.callback(undefined);
    else if (this.lost) d.errback(new ConnectionDone("The connection was lost before the response finished."));
    else (this.finishWaiters ??= []).push(d);
    return d;
  }

  /** The connection is gone before finish(): fails the notifyFinish Deferreds with `reason` (a Failure, as in Twisted). */
  connectionLost(reason: Failure): void {
    if (this.finished || this.lost) return;
    this.lost = true;
    const w = this.finishWaiters;
    this.finishWaiters = null;
    if (w !== null) for (const d of w) d.errback(reason);
  }

  /** The response header fields as they stand, for reading here (no copy of a shared list). */
  private headerList(): readonly string[] {
    return this.fields ?? NO_FIELDS;
  }

  private bodyAllowed(): boolean {
    const c = this.code;
    return !(c === 204 || c === 304 || (c >= 100 && c < 200));
  }

  /** The response head; `length` >= 0 adds Content-Length (unless the caller set one). */
  private head(length: number): string {
    this.startedWriting = true;
    const code = this.code;
    let h = this.codeMessage === "" ? STATUS_LINES[code] ?? `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n` : `HTTP/1.1 ${code} ${this.codeMessage}\r\n`;
    h += currentDateLine(this.channel.now);
    const rh = this.headerList();
    for (let i = 0; i < rh.length; i += 2) h += `${rh[i]}: ${rh[i + 1]}\r\n`;
    const allowed = this.bodyAllowed();
    if (!this.hasType && allowed && this.channel.defaultContentType !== "") h += `Content-Type: ${this.channel.defaultContentType}\r\n`;
    if (!this.hasLength && allowed) {
      if (length >= 0) h += `Content-Length: ${length}\r\n`;
      else if (this.chunked) h += "Transfer-Encoding: chunked\r\n";
    }
    if (!this.keepAlive) h += "Connection: close\r\n";
    else if (this.minor === 0) h += "Connection: keep-alive\r\n";
    return h + "\r\n";
  }
}

// The defaults of the fields declared without a slot in Request (see there).
Request.prototype.content = EMPTY;
Request.prototype.prepath = NO_SEGMENTS;
Request.prototype.postpath = NO_SEGMENTS;
Request.prototype.codeMessage = "";
Request.prototype.lost = false;
for (const [name, value] of [
  ["chunked", false],
  ["argsCache", null],
  ["finishWaiters", null],
  ["producing", false],
  ["headersCache", null],
] as const) {
  Object.defineProperty(Request.prototype, name, { value, writable: true, enumerable: false, configurable: false });
}
