/**
 * An incremental HTTP/1.1 message parser (RFC 9112) for requests and responses.
 *
 * Bytes are fed as they arrive (`feed`), in any split; the parser tells its handler when
 * a message head is complete, hands it body bytes as views into the buffers it was fed
 * (no copy), and says when the message is complete; then it goes on with the next
 * message in the same buffer (pipelining). It never throws on bad input: the first
 * problem becomes an `HTTPParseError` carrying the status a server answers with, given
 * to `handler.parseError`, after which the parser ignores everything.
 *
 * Choices (strict where leniency would let two parsers disagree, i.e. request smuggling):
 * - Lines end with CRLF. A bare LF or a bare CR anywhere in the head is a 400.
 * - obs-fold (a field line starting with SP/HT) is a 400; so is whitespace before ':'.
 * - Transfer-Encoding and Content-Length together: 400. Content-Length repeated with
 *   different values: 400 (the same value repeated, or "5, 5", is accepted).
 * - A request Transfer-Encoding must end in "chunked" (else 400); a coding other than
 *   chunked is 501. A Transfer-Encoding in an HTTP/1.0 request is a 400.
 * - Chunk sizes of more than 15 hex digits are a 400 (overflow); chunk extensions are
 *   skipped (bounded); trailers are parsed like header fields but never change framing.
 * - The head may be preceded by at most two empty lines (RFC 9112 §2.2); bounded by
 *   maxHeaderSize (431 for requests), as are trailers.
 * - HTTP/1.x with x > 1 is read as HTTP/1.1; other versions are a 505.
 * - Requests: Host must appear exactly once in HTTP/1.1 and at most once in HTTP/1.0
 *   (RFC 9112 §3.2), else 400. A Content-Length of more than 15 significant digits is
 *   a 413 (a length, only too large), not a 400.
 * - Responses: at most maxInterimResponses 1xx responses before a final one (else 502),
 *   so an endless stream of "100 Continue" cannot hold a request.
 */
import { HTTPParseError } from "./errors";

/** Default limit of a message head (request line + fields) in bytes. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/** Default limit of a body in bytes. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024;
/** Default limit of interim (1xx) responses before a final response. */
export const DEFAULT_MAX_INTERIM_RESPONSES = 16;
/** Limit of one chunk-size line including its extensions. */
const MAX_CHUNK_LINE = 4096;

/** Parses requests (a server's view). */
export const REQUEST = 0;
/** Parses responses (a client's view). */
export const RESPONSE = 1;

/** What a parser drives. */
export interface IHTTPParserHandler {
  /** The head of a message is parsed: read method/target/status/headers/... from the parser. */
  headComplete(parser: HTTPParser): void;
  /** Body bytes (after dechunking): a view into a fed buffer, valid after the call. */
  bodyData(data: Buffer): void;
  /** The message is complete (trailers, if any, are on `parser.trailers`). */
  messageComplete(parser: HTTPParser): void;
  /** The input is malformed; nothing more will be parsed. */
  parseError(error: HTTPParseError): void;
}

/** Limits a parser enforces. */
export interface ParserLimits {
  /** Most bytes in a head or in a trailer section (431 for requests). */
  maxHeaderSize?: number;
  /** Most body bytes in one message (413). */
  maxBodySize?: number;
  /** RESPONSE parsers: most interim (1xx) responses before the final one (502 beyond). Default 16. */
  maxInterimResponses?: number;
}

// States.
const S_HEAD = 0;
const S_LENGTH = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_EXT = 3;
const S_CHUNK_SIZE_LF = 4;
const S_CHUNK_DATA = 5;
const S_CHUNK_DATA_CR = 6;
const S_CHUNK_DATA_LF = 7;
const S_TRAILER_LINE_START = 8;
const S_TRAILER_LINE = 9;
const S_TRAILER_LINE_LF = 10;
const S_TRAILER_END_LF = 11;
const S_EOF_BODY = 12;
const S_ERROR = 13;

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** parseHead's answer when the bytes ran out first. */
const INCOMPLETE = -2;

/** tchar (RFC 9110 §5.6.2): 1; else 0. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** Bytes allowed in a field value: HT, SP..~, obs-text. */
const VCHAR = new Uint8Array(256);
VCHAR[HT] = 1;
for (let c = 0x20; c < 0x7f; c++) VCHAR[c] = 1;
for (let c = 0x80; c < 0x100; c++) VCHAR[c] = 1;
/** Bytes allowed in a request-target: visible ASCII. */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) TARGET[c] = 1;
/** Hex digit values, 255 for non-hex. */
const HEX = new Uint8Array(256).fill(255);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[65 + c] = HEX[97 + c] = 10 + c;

/** An incremental HTTP/1.x parser for one connection (see the file comment). */
export class HTTPParser {
  /** REQUEST or RESPONSE. */
  readonly kind: number;
  /** Head limit in bytes. */
  readonly maxHeaderSize: number;
  /** Body limit in bytes. */
  maxBodySize: number;
  /** Most interim (1xx) responses before a final one. */
  readonly maxInterimResponses: number;

  // -- the current message (valid from headComplete to the next message) --
  /** Request method ("GET"). */
  method = "";
  /** Request target as sent ("/path?query"). */
  target = "";
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor = 1;
  /** Response status code. */
  status = 0;
  /** Response reason phrase. */
  reason = "";
  /**
   * Header fields, flat: [lowercased name, value, ...]; a new array for each message (from
   * headComplete on), sized to its fields, that the parser never changes afterwards.
   */
  headers: string[] = [];
  /** Trailer fields of a chunked message (flat, like headers), or null. */
  trailers: string[] | null = null;
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** Chunked transfer coding. */
  chunked = false;
  /** Whether the connection may carry another message after this one. */
  keepAlive = true;
  /** The request had `Expect: 100-continue`. */
  expectContinue = false;
  /** RESPONSE parsers: set before each response to a HEAD request (no body follows). */
  noBody = false;
  /** The error that stopped the parser, or null. */
  error: HTTPParseError | null = null;
  /** Bytes of the current head received so far while it is incomplete (0 between messages). */
  partialHead = 0;

  private readonly handler: IHTTPParserHandler;
  private state: number = S_HEAD;
  private remaining = 0;
  private bodyTotal = 0;
  private digits = 0;
  private lineLen = 0;
  private headParts: Buffer[] = [];
  /** The fields of the head being parsed (emptied after each head: its backing store stays). */
  private readonly fields: string[] = [];
  private trailerParts: Buffer[] = [];
  private trailerStart = -1;
  private trailerLen = 0;
  private paused = false;
  private pending: Buffer | null = null;
  private connClose = false;
  private connKeepAlive = false;
  private te: string | null = null;
  private hosts = 0;
  private interim = 0;

  /** A parser of `kind` (REQUEST or RESPONSE) driving `handler`. */
  constructor(kind: number, handler: IHTTPParserHandler, limits: ParserLimits = {}) {
    if (kind !== REQUEST && kind !== RESPONSE) throw new RangeError("kind must be REQUEST or RESPONSE");
    if (handler === null || typeof handler !== "object") throw new TypeError("handler must be an IHTTPParserHandler");
    this.kind = kind;
    this.handler = handler;
    this.maxHeaderSize = positive("maxHeaderSize", limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
    this.maxBodySize = positive("maxBodySize", limits.maxBodySize ?? DEFAULT_MAX_BODY_SIZE);
    this.maxInterimResponses = positive("maxInterimResponses", limits.maxInterimResponses ?? DEFAULT_MAX_INTERIM_RESPONSES);
  }

  /** True between messages (nothing of a next message received yet). */
  get idle(): boolean {
    return this.state === S_HEAD && this.partialHead === 0 && this.pending === null;
  }

  /** True while a close-delimited response body is being read (ended by `finish`). */
  get readingUntilClose(): boolean {
    return this.state === S_EOF_BODY;
  }

  /**
   * Stops parsing after the current message: further bytes (of this feed and later
   * ones) are kept until `resume`. A server pauses while it answers a request, so that
   * pipelined requests are answered in order.
   */
  pause(): void {
    this.paused = true;
  }

  /** Parses what was kept while paused (handlers may pause again). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.feed(p);
    }
  }

  /** True once an error stopped the parser. */
  get stopped(): boolean {
    return this.state === S_ERROR;
  }

  /** True while paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Bytes kept while paused. */
  get pendingBytes(): number {
    return this.pending === null ? 0 : this.pending.length;
  }

  /** Parses `data` (owned by the parser from now on: views of it are handed out). */
  feed(data: Buffer): void {
    if (this.state === S_ERROR) return;
    if (this.paused) {
      this.pending = this.pending === null ? data : Buffer.concat([this.pending, data]);
      return;
    }
    let buf = data;
    let pos = 0;
    while (pos < buf.length) {
      if (this.paused) {
        this.pending = buf.subarray(pos);
        return;
      }
      switch (this.state) {
        case S_HEAD: {
          let end: number;
          if (this.headParts.length > 0) {
            // The head began in an earlier buffer: find its end first, parse once.
            end = this.findHeadEndAcross(buf, pos);
            const taken = end < 0 ? buf.length - pos : end - pos;
            if (this.partialHead + taken > this.maxHeaderSize) return this.headTooLarge();
            if (end < 0 && bareLF(buf, pos, this.byteFromEnd(1))) return this.fail(400, "bare LF in the message head");
            this.headParts.push(buf.subarray(pos, end < 0 ? buf.length : end));
            this.partialHead += taken;
            if (end < 0) return;
            buf = Buffer.concat([...this.headParts, buf.subarray(end)]);
            pos = 0;
            this.headParts.length = 0;
            this.partialHead = 0;
            end = this.parseHead(buf, 0, buf.length);
            if (end < 0) {
              if (end === INCOMPLETE) this.fail(400, "malformed message head");
              return;
            }
          } else {
            // Fast path: parse in place; only an incomplete head is kept for later.
            end = this.parseHead(buf, pos, buf.length);
            if (end === INCOMPLETE) {
              const taken = buf.length - pos;
              if (taken > this.maxHeaderSize) return this.headTooLarge();
              this.headParts.push(buf.subarray(pos));
              this.partialHead = taken;
              return;
            }
            if (end < 0) return;
            if (end - pos > this.maxHeaderSize) return this.headTooLarge();
          }
          pos = end;
          if (this.state === S_HEAD) continue; // an interim (1xx) response was skipped
          this.handler.headComplete(this);
          if (this.stopped) return;
          if (this.state === S_LENGTH && this.remaining === 0) this.complete();
          break;
        }
        case S_LENGTH: {
          const avail = buf.length - pos;
          const n = avail < this.remaining ? avail : this.remaining;
          this.remaining -= n;
          this.handler.bodyData(buf.subarray(pos, pos + n));
          pos += n;
          if (this.stopped) return;
          if (this.remaining === 0) this.complete();
          break;
        }
        case S_CHUNK_DATA: {
          const avail = buf.length - pos;
          const n = avail < this.remaining ? avail : this.remaining;
          this.remaining -= n;
          this.handler.bodyData(buf.subarray(pos, pos + n));
          pos += n;
          if (this.stopped) return;
          if (this.remaining === 0) this.state = S_CHUNK_DATA_CR;
          break;
        }
        case S_EOF_BODY:
          this.handler.bodyData(pos === 0 ? buf : buf.subarray(pos));
          return;
        default:
          pos = this.chunkBytes(buf, pos);
          if (pos < 0) return;
      }
    }
  }

  /** The connection reached EOF: ends a close-delimited body; mid-message it is an error (returned, not thrown). */
  finish(): HTTPParseError | null {
    if (this.state === S_EOF_BODY) {
      this.complete();
      return null;
    }
    if (this.state === S_ERROR) return this.error;
    if (this.state === S_HEAD && this.partialHead === 0) return null;
    const e = new HTTPParseError(400, "connection closed in the middle of a message");
    this.state = S_ERROR;
    this.error = e;
    return e;
  }

  // ---------------------------------------------------------------- head

  /** The end (index after CRLFCRLF) of a head whose start is in headParts, in `buf` from `pos`, or -1. */
  private findHeadEndAcross(buf: Buffer, pos: number): number {
    // The terminator may straddle the previous part and this buffer.
    const last = this.headParts[this.headParts.length - 1];
    const t1 = last.length >= 1 ? last[last.length - 1] : -1;
    const t2 = last.length >= 2 ? last[last.length - 2] : this.headParts.length > 1 ? this.byteFromEnd(2) : -1;
    const t3 = last.length >= 3 ? last[last.length - 3] : this.byteFromEnd(3);
    const b0 = pos < buf.length ? buf[pos] : -1;
    const b1 = pos + 1 < buf.length ? buf[pos + 1] : -1;
    const b2 = pos + 2 < buf.length ? buf[pos + 2] : -1;
    if (t3 === CR && t2 === LF && t1 === CR && b0 === LF) return pos + 1;
    if (t2 === CR && t1 === LF && b0 === CR && b1 === LF) return pos + 2;
    if (t1 === CR && b0 === LF && b1 === CR && b2 === LF) return pos + 3;
    const i = buf.indexOf(HEAD_END, pos);
    return i < 0 ? -1 : i + 4;
  }

  private byteFromEnd(k: number): number {
    let parts = this.headParts.length - 1;
    let skip = k;
    while (parts >= 0) {
      const p = this.headParts[parts];
      if (p.length >= skip) return p[p.length - skip];
      skip -= p.length;
      parts--;
    }
    return -1;
  }

  private headTooLarge(): void {
    this.fail(this.kind === REQUEST ? 431 : 502, `header section larger than ${this.maxHeaderSize} bytes`);
  }

  /**
   * Parses a head starting at `start`, reading no further than `limit`: the index after
   * its final CRLFCRLF, -1 after failing, or INCOMPLETE when `limit` came first.
   */
  private parseHead(buf: Buffer, start: number, limit: number): number {
    let i = start;
    // Up to two empty lines may precede a message.
    for (let k = 0; k < 2 && buf[i] === CR; k++) {
      if (i + 1 >= limit) return INCOMPLETE;
      if (buf[i + 1] !== LF) return this.bad(400, "bare CR before the start line");
      i += 2;
    }
    if (i >= limit) return INCOMPLETE;
    this.trailers = null;
    this.contentLength = -1;
    this.chunked = false;
    this.expectContinue = false;
    this.connClose = false;
    this.connKeepAlive = false;
    this.te = null;
    this.hosts = 0;
    i = this.kind === REQUEST ? this.requestLine(buf, i, limit) : this.statusLine(buf, i, limit);
    if (i < 0) return i;
    // The fields gather in `fields` and are copied out once, sized: no array grown per message.
    const fields = this.fields;
    i = this.fieldLines(buf, i, limit, fields, this.headers);
    if (i !== INCOMPLETE) this.headers = fields.slice();
    for (let k = fields.length; k > 0; k--) fields.pop();
    if (i < 0) return i;
    const ok = this.kind === REQUEST ? this.requestFraming() : this.responseFraming();
    return ok ? i : -1;
  }

  private requestLine(buf: Buffer, i: number, limit: number): number {
    const m0 = i;
    if (i + 4 <= limit && buf[i] === 71 && buf[i + 1] === 69 && buf[i + 2] === 84 && buf[i + 3] === SP) {
      this.method = "GET";
      i += 3;
    } else {
      while (TCHAR[buf[i]] === 1) i++;
      if (i >= limit) return INCOMPLETE;
      if (i === m0 || buf[i] !== SP) return this.bad(400, "malformed request line (method)");
      this.method = internMethod(buf, m0, i);
    }
    i++;
    const t0 = i;
    while (TARGET[buf[i]] === 1) i++;
    if (i >= limit) return INCOMPLETE;
    if (i === t0 || buf[i] !== SP) return this.bad(400, "malformed request line (target)");
    this.target = i === t0 + 1 && buf[t0] === 47 ? "/" : buf.latin1Slice(t0, i);
    i++;
    i = this.version(buf, i, limit);
    if (i < 0) return i;
    if (i + 1 >= limit) return INCOMPLETE;
    if (buf[i] !== CR || buf[i + 1] !== LF) return this.bad(400, "malformed request line (after version)");
    return i + 2;
  }

  /** "HTTP/1.x" at i: sets versionMinor, returns the index after it (-1 failed, INCOMPLETE). */
  private version(buf: Buffer, i: number, limit: number): number {
    if (i + 8 > limit) return INCOMPLETE;
    if (buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 || buf[i + 6] !== 46) {
      return this.bad(400, "malformed HTTP version");
    }
    const major = buf[i + 5] - 48;
    const minor = buf[i + 7] - 48;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) return this.bad(400, "malformed HTTP version");
    if (major !== 1) return this.bad(505, `HTTP version ${major}.${minor} not supported`);
    this.versionMinor = minor === 0 ? 0 : 1;
    return i + 8;
  }

  private statusLine(buf: Buffer, i: number, limit: number): number {
    i = this.version(buf, i, limit);
    if (i < 0) return i;
    if (i + 4 > limit) return INCOMPLETE;
    if (buf[i] !== SP) return this.bad(400, "malformed status line");
    const d0 = buf[i + 1] - 48;
    const d1 = buf[i + 2] - 48;
    const d2 = buf[i + 3] - 48;
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.bad(400, "malformed status code");
    this.status = d0 * 100 + d1 * 10 + d2;
    i += 4;
    if (i >= limit) return INCOMPLETE;
    if (buf[i] === SP) {
      const r0 = ++i;
      while (VCHAR[buf[i]] === 1) i++;
      this.reason = buf.latin1Slice(r0, Math.min(i, limit));
    } else {
      this.reason = "";
    }
    if (i + 1 >= limit) return INCOMPLETE;
    if (buf[i] !== CR || buf[i + 1] !== LF) return this.bad(400, "malformed status line");
    return i + 2;
  }

  /**
   * Field lines from i up to and including the empty line that ends them, into `out`;
   * returns the index after that empty line, -1 after failing, or INCOMPLETE. `prev`: a
   * head's fields are being parsed (they shape framing), and these were the previous
   * message's: a value whose bytes equal the one at the same place there is that string
   * again, not a new one (a keep-alive client repeats its Host, User-Agent, Accept...).
   */
  private fieldLines(buf: Buffer, i: number, limit: number, out: string[], prev: string[] | null): number {
    for (;;) {
      if (i >= limit) return INCOMPLETE;
      const n0 = i;
      const c0 = buf[i];
      if (c0 === CR) {
        if (i + 1 >= limit) return INCOMPLETE;
        if (buf[i + 1] !== LF) return this.bad(400, "bare CR in the message head");
        return i + 2;
      }
      if (c0 === SP || c0 === HT) return this.bad(400, "obsolete line folding in header field");
      let c = c0;
      while (TCHAR[c] === 1) c = buf[++i];
      if (i >= limit) return INCOMPLETE;
      if (i === n0 || c !== COLON) return this.bad(400, c === LF ? "bare LF in the message head" : "malformed header field name");
      const name = internName(buf, n0, i);
      i++;
      while (buf[i] === SP || buf[i] === HT) i++;
      const v0 = i;
      let v1 = i;
      for (;;) {
        c = buf[i];
        if (VCHAR[c] !== 1) break;
        i++;
        if (c !== SP && c !== HT) v1 = i;
      }
      if (i >= limit || (c === CR && i + 1 >= limit)) return INCOMPLETE;
      if (c !== CR || buf[i + 1] !== LF) return this.bad(400, c === CR ? "bare CR in header field" : c === LF ? "bare LF in header field" : "invalid character in header field");
      const k = out.length;
      const value =
        v1 === v0 ? "" : prev !== null && k + 1 < prev.length && prev[k] === name && sameLatin1(prev[k + 1], buf, v0, v1) ? prev[k + 1] : buf.latin1Slice(v0, v1);
      i += 2;
      out.push(name, value);
      if (prev !== null && !this.special(name, value)) return -1;
    }
  }

  /** Notes the fields that shape framing and connection reuse; false after failing. */
  private special(name: string, value: string): boolean {
    switch (name.length) {
      case 14:
        if (name === "content-length") return this.setContentLength(value);
        break;
      case 17:
        if (name === "transfer-encoding") this.te = this.te === null ? value : `${this.te}, ${value}`;
        break;
      case 10:
        if (name === "connection") this.connectionTokens(value);
        break;
      case 6:
        if (name === "expect" && value.toLowerCase() === "100-continue") this.expectContinue = true;
        break;
      case 4:
        if (name === "host") this.hosts++;
        break;
    }
    return true;
  }

  private setContentLength(value: string): boolean {
    let n = -1;
    let cur = -1;
    let digits = 0;
    for (let k = 0; k <= value.length; k++) {
      const c = k < value.length ? value.charCodeAt(k) : 44;
      if (c >= 48 && c <= 57) {
        // Leading zeros do not count: a length of 16 significant digits is a valid number, only too large.
        if ((cur > 0 || c !== 48) && ++digits > 15) return this.reject(413, `Content-Length ${value} is too large`);
        cur = (cur < 0 ? 0 : cur * 10) + (c - 48);
      } else if (c === 44) {
        if (cur < 0) return this.reject(400, `invalid Content-Length ${JSON.stringify(value)}`);
        if (n >= 0 && n !== cur) return this.reject(400, "differing Content-Length values");
        n = cur;
        cur = -1;
        digits = 0;
        while (k + 1 < value.length && (value.charCodeAt(k + 1) === SP || value.charCodeAt(k + 1) === HT)) k++;
      } else if ((c === SP || c === HT) && cur >= 0) {
        // OWS before a comma
        while (k + 1 < value.length && (value.charCodeAt(k + 1) === SP || value.charCodeAt(k + 1) === HT)) k++;
        if (k + 1 < value.length && value.charCodeAt(k + 1) !== 44) return this.reject(400, `invalid Content-Length ${JSON.stringify(value)}`);
      } else {
        return this.reject(400, `invalid Content-Length ${JSON.stringify(value)}`);
      }
    }
    if (this.contentLength >= 0 && this.contentLength !== n) return this.reject(400, "differing Content-Length values");
    this.contentLength = n;
    return true;
  }

  private connectionTokens(value: string): void {
    const v = value.toLowerCase();
    if (v === "close") this.connClose = true;
    else if (v === "keep-alive") this.connKeepAlive = true;
    else {
      for (const t of v.split(",")) {
        const tok = t.trim();
        if (tok === "close") this.connClose = true;
        else if (tok === "keep-alive") this.connKeepAlive = true;
      }
    }
  }

  private requestFraming(): boolean {
    if (this.hosts !== 1 && (this.hosts > 1 || this.versionMinor === 1)) {
      return this.reject(400, this.hosts > 1 ? "more than one Host header field" : "no Host header field in an HTTP/1.1 request");
    }
    this.keepAlive = this.versionMinor === 1 ? !this.connClose : this.connKeepAlive && !this.connClose;
    this.bodyTotal = 0;
    if (this.te !== null) {
      if (this.contentLength >= 0) return this.reject(400, "both Transfer-Encoding and Content-Length");
      if (this.versionMinor === 0) return this.reject(400, "Transfer-Encoding in an HTTP/1.0 request");
      const codings = this.te.toLowerCase().split(",").map((s) => s.trim());
      if (codings[codings.length - 1] !== "chunked") return this.reject(400, "Transfer-Encoding does not end in chunked");
      if (codings.length !== 1) return this.reject(501, `unsupported transfer coding ${JSON.stringify(this.te)}`);
      this.startChunked();
      return true;
    }
    if (this.contentLength > this.maxBodySize) return this.reject(413, `request body of ${this.contentLength} bytes exceeds ${this.maxBodySize}`);
    this.state = S_LENGTH;
    this.remaining = this.contentLength < 0 ? 0 : this.contentLength;
    return true;
  }

  private responseFraming(): boolean {
    const s = this.status;
    if (s >= 100 && s < 200 && s !== 101) {
      // Interim response: skip it, the final one follows (a bounded number of them).
      if (++this.interim > this.maxInterimResponses) return this.reject(502, `more than ${this.maxInterimResponses} interim (1xx) responses`);
      this.state = S_HEAD;
      return true;
    }
    this.keepAlive = this.versionMinor === 1 ? !this.connClose : this.connKeepAlive && !this.connClose;
    this.bodyTotal = 0;
    if (this.noBody || s === 204 || s === 304 || (s >= 100 && s < 200)) {
      this.state = S_LENGTH;
      this.remaining = 0;
      return true;
    }
    if (this.te !== null) {
      if (this.contentLength >= 0) return this.reject(400, "both Transfer-Encoding and Content-Length in a response");
      const codings = this.te.toLowerCase().split(",").map((s) => s.trim());
      if (codings.length === 1 && codings[0] === "chunked") {
        this.startChunked();
        return true;
      }
      if (codings[codings.length - 1] !== "chunked") {
        this.keepAlive = false;
        this.state = S_EOF_BODY;
        return true;
      }
      return this.reject(501, `unsupported transfer coding ${JSON.stringify(this.te)}`);
    }
    if (this.contentLength >= 0) {
      if (this.contentLength > this.maxBodySize) return this.reject(413, `response body of ${this.contentLength} bytes exceeds ${this.maxBodySize}`);
      this.state = S_LENGTH;
      this.remaining = this.contentLength;
      return true;
    }
    this.keepAlive = false;
    this.state = S_EOF_BODY;
    return true;
  }

  private startChunked(): void {
    this.chunked = true;
    this.state = S_CHUNK_SIZE;
    this.remaining = 0;
    this.digits = 0;
    this.lineLen = 0;
  }

  // ---------------------------------------------------------------- chunked body

  /** Runs the byte-wise chunk states over buf from pos; returns the new pos, or -1 when stopped. */
  private chunkBytes(buf: Buffer, pos: number): number {
    const len = buf.length;
    while (pos < len) {
      const c = buf[pos];
      switch (this.state) {
        case S_CHUNK_SIZE: {
          const h = HEX[c];
          if (h !== 255) {
            if (++this.digits > 15) return this.bad(400, "chunk size too large");
            this.remaining = this.remaining * 16 + h;
          } else if (this.digits === 0) {
            return this.bad(400, "invalid chunk size");
          } else if (c === CR) {
            this.state = S_CHUNK_SIZE_LF;
          } else if (c === 59 /* ; */ || c === SP || c === HT) {
            this.state = S_CHUNK_EXT;
            this.lineLen = 0;
            this.digits = c === 59 ? -1 : 0; // -1: ';' seen
          } else {
            return this.bad(400, "invalid chunk size");
          }
          pos++;
          break;
        }
        case S_CHUNK_EXT: {
          if (++this.lineLen > MAX_CHUNK_LINE) return this.bad(400, "chunk extension too long");
          if (c === CR) {
            if (this.digits !== -1) return this.bad(400, "whitespace after chunk size without an extension");
            this.state = S_CHUNK_SIZE_LF;
          } else if (c === 59) {
            this.digits = -1;
          } else if (this.digits !== -1 && c !== SP && c !== HT) {
            return this.bad(400, "invalid chunk size");
          } else if (VCHAR[c] !== 1) {
            return this.bad(400, "invalid character in chunk extension");
          }
          pos++;
          break;
        }
        case S_CHUNK_SIZE_LF:
          if (c !== LF) return this.bad(400, "bare CR after chunk size");
          pos++;
          if (this.remaining === 0) {
            this.state = S_TRAILER_LINE_START;
            this.trailerStart = pos;
            this.trailerLen = 0;
            this.trailerParts.length = 0;
          } else {
            this.bodyTotal += this.remaining;
            if (this.bodyTotal > this.maxBodySize) return this.bad(413, `body exceeds ${this.maxBodySize} bytes`);
            this.state = S_CHUNK_DATA;
            return pos;
          }
          break;
        case S_CHUNK_DATA_CR:
          if (c !== CR) return this.bad(400, "chunk data longer than its size");
          this.state = S_CHUNK_DATA_LF;
          pos++;
          break;
        case S_CHUNK_DATA_LF:
          if (c !== LF) return this.bad(400, "bare CR after chunk data");
          this.state = S_CHUNK_SIZE;
          this.remaining = 0;
          this.digits = 0;
          pos++;
          break;
        case S_TRAILER_LINE_START:
          if (++this.trailerLen > this.maxHeaderSize) return this.bad(this.kind === REQUEST ? 431 : 502, "trailer section too large");
          this.state = c === CR ? S_TRAILER_END_LF : S_TRAILER_LINE;
          pos++;
          break;
        case S_TRAILER_LINE:
          if (++this.trailerLen > this.maxHeaderSize) return this.bad(this.kind === REQUEST ? 431 : 502, "trailer section too large");
          if (c === CR) this.state = S_TRAILER_LINE_LF;
          else if (c === LF) return this.bad(400, "bare LF in trailer");
          pos++;
          break;
        case S_TRAILER_LINE_LF:
          if (c !== LF) return this.bad(400, "bare CR in trailer");
          this.trailerLen++;
          this.state = S_TRAILER_LINE_START;
          pos++;
          break;
        case S_TRAILER_END_LF: {
          if (c !== LF) return this.bad(400, "bare CR in trailer");
          pos++;
          if (this.trailerLen > 1) {
            // The section ends with its empty line, as a head does.
            const start = this.trailerStart < 0 ? 0 : this.trailerStart;
            this.trailerParts.push(buf.subarray(start, pos));
            const all = this.trailerParts.length === 1 ? this.trailerParts[0] : Buffer.concat(this.trailerParts);
            this.trailerParts.length = 0;
            const t: string[] = [];
            if (this.fieldLines(all, 0, all.length, t, null) < 0) return -1;
            this.trailers = t;
          }
          this.trailerParts.length = 0;
          this.complete();
          return pos;
        }
        default:
          return pos;
      }
      if (this.state === S_CHUNK_DATA) return pos;
    }
    if (this.state >= S_TRAILER_LINE_START && this.state <= S_TRAILER_END_LF) {
      // Keep this buffer's share of the trailer section for when it ends.
      const start = this.trailerStart < 0 ? 0 : this.trailerStart;
      if (start < len) this.trailerParts.push(buf.subarray(start));
      this.trailerStart = -1;
    }
    return pos;
  }

  // ---------------------------------------------------------------- ends

  private complete(): void {
    this.state = S_HEAD;
    this.interim = 0;
    this.handler.messageComplete(this);
  }

  private reject(status: number, message: string): false {
    this.fail(status, message);
    return false;
  }

  private bad(status: number, message: string): number {
    this.fail(status, message);
    return -1;
  }

  private fail(status: number, message: string): void {
    if (this.state === S_ERROR) return;
    this.state = S_ERROR;
    this.headParts.length = 0;
    this.partialHead = 0;
    this.trailerParts.length = 0;
    this.pending = null;
    const e = new HTTPParseError(status, message);
    this.error = e;
    this.handler.parseError(e);
  }
}

declare module "node:buffer" {
  interface Buffer {
    /** Node's fast latin1 decoder (undocumented, stable since Node 0.x). */
    latin1Slice(start: number, end: number): string;
  }
}

/** Lowercased field names common enough to be worth not allocating (by length). */
const KNOWN_NAMES: string[][] = [];
for (const n of [
  "host", "connection", "content-length", "content-type", "transfer-encoding", "accept", "accept-encoding", "accept-language",
  "user-agent", "expect", "cookie", "date", "server", "location", "cache-control", "keep-alive", "upgrade", "te", "trailer",
  "referer", "origin", "authorization", "if-modified-since", "if-none-match", "last-modified", "etag", "content-encoding", "vary",
]) (KNOWN_NAMES[n.length] ??= []).push(n);

/** The lowercased field name in buf[start, end): a shared string for common names. */
function internName(buf: Buffer, start: number, end: number): string {
  const cands = KNOWN_NAMES[end - start];
  if (cands !== undefined) {
    for (let k = 0; k < cands.length; k++) {
      const n = cands[k];
      let j = 0;
      // ASCII letters fold to lower case with | 0x20; the other tchars must match exactly.
      for (; j < n.length; j++) {
        const b = buf[start + j];
        const want = n.charCodeAt(j);
        if (b !== want && (b | 0x20) !== want) break;
      }
      if (j === n.length) return n;
    }
  }
  const s = buf.latin1Slice(start, end);
  for (let j = start; j < end; j++) {
    const b = buf[j];
    if (b >= 65 && b <= 90) return s.toLowerCase();
  }
  return s;
}

const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

/** The method in buf[start, end): a shared string for the standard ones. */
function internMethod(buf: Buffer, start: number, end: number): string {
  for (let k = 0; k < KNOWN_METHODS.length; k++) {
    const m = KNOWN_METHODS[k];
    if (m.length !== end - start) continue;
    let j = 0;
    while (j < m.length && buf[start + j] === m.charCodeAt(j)) j++;
    if (j === m.length) return m;
  }
  return buf.latin1Slice(start, end);
}

/** True when string `s` is buf[start, end) read as latin1. */
function sameLatin1(s: string, buf: Buffer, start: number, end: number): boolean {
  if (s.length !== end - start) return false;
  for (let j = 0; j < s.length; j++) if (s.charCodeAt(j) !== buf[start + j]) return false;
  return true;
}

/** Whether buf[from..] holds an LF not preceded by CR (`prev`: the byte before `from`, or -1). */
function bareLF(buf: Buffer, from: number, prev: number): boolean {
  let k = buf.indexOf(LF, from);
  while (k >= 0) {
    const before = k === from ? prev : buf[k - 1];
    if (before !== CR) return true;
    k = buf.indexOf(LF, k + 1);
  }
  return false;
}

function positive(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, received ${String(v)}`);
  return v;
}
