/**
 * Framing protocols (Twisted's twisted.protocols.basic): turn a byte stream into lines,
 * length-prefixed strings or netstrings, and back.
 *
 * Memory and copying choices, so that the next reader does not undo them:
 * - A frame that lies wholly inside one `dataReceived` chunk reaches the callback as a
 *   `subarray` of that chunk: no copy (the chunk belongs to the protocol, docs/design.md).
 * - An incomplete frame left at the end of a chunk is copied into a buffer of our own, so
 *   that a few pending bytes never keep the reactor's whole read slab alive.
 * - That buffer only ever grows past its end: bytes already handed to a callback are never
 *   written over, so every Buffer given to a callback stays valid after it returns.
 * - Pending input is bounded by MAX_LENGTH (plus one chunk): a frame that cannot fit is
 *   reported (lineLengthExceeded / lengthLimitExceeded / a NetstringParseError) and dropped.
 *   For length-prefixed streams, which cannot resynchronise, everything after is discarded.
 */
import { FdReactorError } from "../error";
import { log } from "../log";
import { Protocol } from "./protocol";

const EMPTY = Buffer.alloc(0);
/** Smallest buffer allocated for pending bytes (below it, allocUnsafe slices Node's pool). */
const MIN_CAPACITY = 256;
/**
 * Most room reserved up front for an announced frame: beyond it the buffer grows by
 * doubling as bytes arrive, so a 4-byte header cannot make us allocate MAX_LENGTH at once.
 */
const MAX_RESERVE = 1024 * 1024;

/**
 * Received bytes not yet framed: `buf[pos, end)`. `buf` is either the caller's chunk
 * (`owned` false: read only) or our own accumulator (`owned` true: appended to past `end`).
 */
class ReceiveBuffer {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;
  owned = false;
  /** Pending bytes already searched for `searchedFor` without success (reset by a find and by clear). */
  private searched = 0;
  /** The delimiter `searched` is about. */
  private searchedFor: Buffer | null = null;

  /** Number of pending bytes. */
  get length(): number {
    return this.end - this.pos;
  }

  /** Adds `data` after the pending bytes (adopting it without a copy when nothing is pending). */
  append(data: Buffer): void {
    const n = data.length;
    if (n === 0) return;
    if (this.pos === this.end) {
      this.buf = data;
      this.pos = 0;
      this.end = n;
      this.owned = false;
      return;
    }
    if (!this.owned || this.buf.length - this.end < n) this.relocate(this.length + n);
    data.copy(this.buf, this.end);
    this.end += n;
  }

  /** Makes sure the pending bytes sit in our own buffer with room for `total` bytes from `pos` (at most MAX_RESERVE). */
  reserve(total: number): void {
    const want = Math.max(this.length, Math.min(total, MAX_RESERVE));
    if (this.owned && this.buf.length - this.pos >= want) return;
    this.relocate(want);
  }

  /** Copies the pending bytes, if they are a view of the caller's chunk, into our own buffer. */
  detach(): void {
    if (!this.owned && this.pos < this.end) this.relocate(0);
  }

  private relocate(atLeast: number): void {
    const pending = this.length;
    const nb = Buffer.allocUnsafe(Math.max(atLeast, pending * 2, MIN_CAPACITY));
    this.buf.copy(nb, 0, this.pos, this.end);
    this.buf = nb;
    this.pos = 0;
    this.end = pending;
    this.owned = true;
  }

  /** The next `n` pending bytes (a view that is never written over), consumed. */
  take(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Consumes `n` pending bytes. */
  skip(n: number): void {
    this.pos += n;
  }

  /** Every pending byte (a view), leaving nothing pending. */
  clear(): Buffer {
    const b = this.pos === 0 && this.end === this.buf.length ? this.buf : this.buf.subarray(this.pos, this.end);
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
    this.owned = false;
    this.searched = 0;
    return b;
  }

  /**
   * Start (in `buf`) of the first whole `delimiter` among the pending bytes, or -1. A failed
   * search is remembered, so the next one for the same delimiter looks only at the bytes
   * appended since (and the dl - 1 before them): a long line arriving in many chunks is
   * searched once, not once per chunk. Allocates nothing.
   */
  indexOfDelimiter(delimiter: Buffer): number {
    const dl = delimiter.length;
    const searched = delimiter === this.searchedFor ? this.searched : 0; // a new delimiter: search it all
    const at = findDelimiter(this.buf, delimiter, this.pos + (searched >= dl ? searched - dl + 1 : 0), this.end);
    if (at < 0) {
      this.searched = this.length;
      this.searchedFor = delimiter;
    } else {
      this.searched = 0;
    }
    return at;
  }
}

/** True when the transport says it is closing (then no further frame is delivered, as in Twisted). */
function disconnecting(p: Protocol): boolean {
  const t = p.transport;
  return t !== null && t.disconnecting;
}

/**
 * Start of the first whole `delimiter` in `buf[from, end)`, or -1. Searches for its last
 * byte with the single-byte `indexOf` (several times faster than `indexOf(Buffer)` for
 * short delimiters) and checks the bytes before it. Bytes of `buf` past `end` are ignored.
 */
function findDelimiter(buf: Buffer, delimiter: Buffer, from: number, end: number): number {
  const dl = delimiter.length;
  const last = delimiter[dl - 1];
  let i = from + dl - 1;
  while (i < end) {
    i = buf.indexOf(last, i);
    if (i < 0 || i >= end) return -1;
    let k = 1;
    while (k < dl && buf[i - k] === delimiter[dl - 1 - k]) k++;
    if (k === dl) return i - dl + 1;
    i++;
  }
  return -1;
}

/** Bytes of `s` (UTF-8 for a string). */
function bytesOf(s: Uint8Array | string, argument: string): Uint8Array {
  if (typeof s === "string") return Buffer.from(s, "utf8");
  if (s instanceof Uint8Array) return s;
  throw new TypeError(`${argument} must be a Buffer, Uint8Array or string`);
}

/** A delimiter as bytes (a non-empty Buffer); throws naming `delimiter` otherwise. */
function checkDelimiter(d: unknown): Buffer {
  if (!(d instanceof Uint8Array) || d.length === 0) throw new TypeError("delimiter must be a non-empty Buffer");
  return d as Buffer;
}

/**
 * A protocol that can pause its own delivery (Twisted's _PauseableMixin): while paused, no
 * frame is delivered and the transport stops reading; resuming delivers what is pending.
 */
abstract class PausableFramer extends Protocol {
  /** True while delivery is paused. */
  paused = false;

  /** Stops delivering frames and asks the transport to stop reading. */
  pauseProducing(): void {
    this.paused = true;
    this.transport?.pauseProducing();
  }

  /** Resumes reading and delivers the frames already received. */
  resumeProducing(): void {
    this.paused = false;
    this.transport?.resumeProducing();
    this.dataReceived(EMPTY);
  }

  /** Stops delivering for good and tells the transport to stop producing. */
  stopProducing(): void {
    this.paused = true;
    this.transport?.stopProducing();
  }
}

/**
 * A protocol that receives lines and/or raw data (Twisted's LineReceiver). In line mode
 * each line (without its delimiter) goes to `lineReceived`; after `setRawMode()`
 * everything goes to `rawDataReceived` until `setLineMode()`.
 */
export class LineReceiver extends PausableFramer {
  /** The line delimiter (default CRLF); may be changed between lines. */
  delimiter: Buffer = Buffer.from("\r\n");
  /** The longest line accepted; a longer one goes to lineLengthExceeded. */
  MAX_LENGTH = 16384;
  /** True in line mode, false in raw mode. */
  lineMode = true;

  private readonly received = new ReceiveBuffer();
  /** True while dataReceived runs: re-entrant data is queued behind what is pending. */
  private busy = false;

  /** Frames `data` into lines (or passes it on raw); never throws for any input. */
  override dataReceived(data: Buffer): void {
    const rb = this.received;
    rb.append(data);
    if (this.busy) return;
    this.busy = true;
    try {
      while (rb.length > 0 && !this.paused) {
        if (!this.lineMode) {
          this.rawDataReceived(rb.clear());
          continue;
        }
        const delimiter = checkDelimiter(this.delimiter);
        const dl = delimiter.length;
        const at = rb.indexOfDelimiter(delimiter);
        if (at < 0) {
          if (rb.length >= this.MAX_LENGTH + dl) this.lineLengthExceeded(rb.clear());
          return;
        }
        const length = at - rb.pos;
        if (length > this.MAX_LENGTH) {
          this.lineLengthExceeded(rb.clear());
          return;
        }
        const line = rb.take(length);
        rb.skip(dl);
        this.lineReceived(line);
        if (disconnecting(this)) return;
      }
    } finally {
      this.busy = false;
      rb.detach();
    }
  }

  /** A line arrived (without its delimiter); override it. */
  lineReceived(line: Buffer): void {
    void line;
  }

  /** Raw data arrived in raw mode; override it when using setRawMode. */
  rawDataReceived(data: Buffer): void {
    void data;
  }

  /**
   * A line longer than MAX_LENGTH arrived (or that many bytes came without a delimiter):
   * `line` is everything pending, which is dropped. The default closes the connection.
   */
  lineLengthExceeded(line: Buffer): void {
    void line;
    this.transport?.loseConnection();
  }

  /** Switches to line mode; `extra` (if any) is then framed as received data. */
  setLineMode(extra?: Buffer): void {
    this.lineMode = true;
    if (extra !== undefined && extra.length > 0) this.dataReceived(extra);
  }

  /** Switches to raw mode: pending and future bytes go to rawDataReceived. */
  setRawMode(): void {
    this.lineMode = false;
  }

  /** Drops and returns every byte received but not yet delivered. */
  clearLineBuffer(): Buffer {
    return this.received.clear();
  }

  /** Writes `line` followed by the delimiter. */
  sendLine(line: Uint8Array | string): void {
    const bytes = bytesOf(line, "line");
    this.transport?.writeSequence([bytes, this.delimiter]);
  }
}

/**
 * A faster, line-only receiver (Twisted's LineOnlyReceiver): no raw mode, no re-entrancy
 * guard; each line without its delimiter goes to `lineReceived`.
 */
export class LineOnlyReceiver extends Protocol {
  /** The line delimiter (default CRLF). */
  delimiter: Buffer = Buffer.from("\r\n");
  /** The longest line accepted; a longer one goes to lineLengthExceeded. */
  MAX_LENGTH = 16384;

  private readonly received = new ReceiveBuffer();

  /** Frames `data` into lines; never throws for any input. */
  override dataReceived(data: Buffer): void {
    const rb = this.received;
    rb.append(data);
    const delimiter = checkDelimiter(this.delimiter);
    const dl = delimiter.length;
    try {
      for (;;) {
        if (disconnecting(this)) break; // still bound what stays pending
        const at = rb.indexOfDelimiter(delimiter);
        if (at < 0) break;
        const length = at - rb.pos;
        if (length > this.MAX_LENGTH) {
          const line = rb.take(length);
          rb.clear();
          this.lineLengthExceeded(line);
          return;
        }
        const line = rb.take(length);
        rb.skip(dl);
        this.lineReceived(line);
      }
      // A line of MAX_LENGTH may still be pending with a partial delimiter after it.
      if (rb.length >= this.MAX_LENGTH + dl) this.lineLengthExceeded(rb.clear());
    } finally {
      rb.detach();
    }
  }

  /** A line arrived (without its delimiter); override it. */
  lineReceived(line: Buffer): void {
    void line;
  }

  /** A line longer than MAX_LENGTH arrived: it and everything pending are dropped; the default closes the connection. */
  lineLengthExceeded(line: Buffer): void {
    void line;
    this.transport?.loseConnection();
  }

  /** Writes `line` followed by the delimiter. */
  sendLine(line: Uint8Array | string): void {
    const bytes = bytesOf(line, "line");
    this.transport?.writeSequence([bytes, this.delimiter]);
  }
}

/** A string too long for its length prefix was given to sendString (Twisted's StringTooLongError). */
export class StringTooLongError extends RangeError {
  /** A RangeError named StringTooLongError with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "StringTooLongError";
  }
}

/**
 * Strings prefixed by their length as an unsigned big-endian integer of `prefixLength`
 * bytes (Twisted's IntNStringReceiver). Subclasses fix the prefix size.
 */
export abstract class IntNStringReceiver extends PausableFramer {
  /** Size of the length prefix in bytes. */
  abstract readonly prefixLength: 1 | 2 | 4;
  /** The longest string accepted; a longer announced length goes to lengthLimitExceeded. */
  MAX_LENGTH = 99999;
  /** True once a length limit was exceeded: the stream is out of step, further input is discarded. */
  brokenPeer = false;

  private readonly received = new ReceiveBuffer();
  private busy = false;

  /** Frames `data` into strings; never throws for any input. */
  override dataReceived(data: Buffer): void {
    const rb = this.received;
    if (this.brokenPeer) return;
    rb.append(data);
    if (this.busy) return;
    this.busy = true;
    const p = this.prefixLength;
    try {
      while (!this.paused && !this.brokenPeer) {
        const available = rb.length;
        if (available < p) break;
        const length = p === 4 ? rb.buf.readUInt32BE(rb.pos) : p === 2 ? rb.buf.readUInt16BE(rb.pos) : rb.buf[rb.pos];
        if (length > this.MAX_LENGTH) {
          this.brokenPeer = true;
          rb.clear();
          this.lengthLimitExceeded(length);
          return;
        }
        if (available < p + length) {
          // Room for the whole frame at once: no repeated growth while it trickles in.
          rb.reserve(p + length);
          break;
        }
        rb.skip(p);
        this.stringReceived(rb.take(length));
        if (disconnecting(this)) break;
      }
    } finally {
      this.busy = false;
      if (this.brokenPeer) rb.clear();
      else rb.detach();
    }
  }

  /** A whole string arrived; override it. */
  stringReceived(data: Buffer): void {
    void data;
  }

  /** The peer announced a string of `length` > MAX_LENGTH bytes; the default closes the connection. */
  lengthLimitExceeded(length: number): void {
    void length;
    this.transport?.loseConnection();
  }

  /** Writes `data` prefixed by its length; throws StringTooLongError when the prefix cannot hold it. */
  sendString(data: Uint8Array | string): void {
    const bytes = bytesOf(data, "data");
    const p = this.prefixLength;
    if (bytes.length >= 2 ** (8 * p)) {
      throw new StringTooLongError(`data is ${bytes.length} bytes: a ${p}-byte length prefix holds at most ${2 ** (8 * p) - 1}`);
    }
    const prefix = Buffer.allocUnsafe(p);
    if (p === 4) prefix.writeUInt32BE(bytes.length, 0);
    else if (p === 2) prefix.writeUInt16BE(bytes.length, 0);
    else prefix[0] = bytes.length;
    this.transport?.writeSequence([prefix, bytes]);
  }
}

/** Strings prefixed by a 4-byte big-endian unsigned length (Twisted's Int32StringReceiver). */
export class Int32StringReceiver extends IntNStringReceiver {
  /** 4-byte prefix. */
  readonly prefixLength = 4 as const;
}

/** Strings prefixed by a 2-byte big-endian unsigned length (Twisted's Int16StringReceiver). */
export class Int16StringReceiver extends IntNStringReceiver {
  /** 2-byte prefix. */
  readonly prefixLength = 2 as const;
}

/** Strings prefixed by a 1-byte unsigned length (Twisted's Int8StringReceiver). */
export class Int8StringReceiver extends IntNStringReceiver {
  /** 1-byte prefix. */
  readonly prefixLength = 1 as const;
}

/** Input that is not a netstring (bad length, too long, missing comma); the message says which. */
export class NetstringParseError extends FdReactorError {}

/**
 * Not enough bytes yet for a whole netstring (Twisted's IncompleteNetstring). The parser
 * here reports this by waiting, not by throwing; the class exists for code ported from
 * Twisted that names it.
 */
export class IncompleteNetstring extends FdReactorError {}

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;
const COMMA_BYTES = Buffer.from(",");

/**
 * Netstrings (`<decimal length>:<bytes>,`, D. J. Bernstein's format; Twisted's
 * NetstringReceiver). Malformed input sets `brokenPeer` and `parseError` (a
 * NetstringParseError saying what was wrong), logs it, and closes the connection.
 */
export class NetstringReceiver extends Protocol {
  /** The longest string accepted; a longer announced length is a parse error. */
  MAX_LENGTH = 99999;
  /** True once malformed input arrived: further input is discarded. */
  brokenPeer = false;
  /** What was wrong with the input, once brokenPeer. */
  parseError: NetstringParseError | null = null;

  private readonly received = new ReceiveBuffer();
  /** Payload length announced by the current netstring's header, or -1 while reading a header. */
  private expected = -1;

  /** Parses `data` into netstrings; never throws for any input. */
  override dataReceived(data: Buffer): void {
    if (this.brokenPeer) return;
    const rb = this.received;
    rb.append(data);
    try {
      while (rb.length > 0 && !this.brokenPeer) {
        if (this.expected < 0) {
          const problem = this.parseLength(rb);
          if (problem !== null) {
            this.fail(problem);
            return;
          }
          if (this.expected < 0) break; // header incomplete
        }
        const need = this.expected + 1; // payload and its comma
        if (rb.length < need) {
          rb.reserve(need);
          break;
        }
        if (rb.buf[rb.pos + this.expected] !== COMMA) {
          this.fail(`netstring of length ${this.expected} is not followed by ','`);
          return;
        }
        const payload = rb.take(this.expected);
        rb.skip(1);
        this.expected = -1;
        this.stringReceived(payload);
        if (disconnecting(this)) break;
      }
    } finally {
      if (this.brokenPeer) this.received.clear();
      else rb.detach();
    }
  }

  /**
   * Reads a `<length>:` header at the start of the pending bytes: sets `expected` and
   * consumes it when whole, leaves it when partial, returns what is wrong when malformed.
   */
  private parseLength(rb: ReceiveBuffer): string | null {
    const buf = rb.buf;
    let value = 0;
    for (let i = rb.pos; i < rb.end; i++) {
      const c = buf[i];
      const digits = i - rb.pos;
      if (c === COLON && digits > 0) {
        rb.skip(digits + 1);
        this.expected = value;
        return null;
      }
      if (c < ZERO || c > NINE || (digits === 1 && value === 0)) {
        return `netstring does not start with a length: expected decimal digits without leading zeros, then ':' (byte 0x${c.toString(16).padStart(2, "0")} at offset ${digits})`;
      }
      value = value * 10 + (c - ZERO);
      // Checked digit by digit (no leading zeros, so value only grows): a huge header stops early.
      if (value > this.MAX_LENGTH) return `netstring length ${value}${i + 1 < rb.end && buf[i + 1] !== COLON ? "..." : ""} exceeds MAX_LENGTH ${this.MAX_LENGTH}`;
    }
    return null;
  }

  private fail(problem: string): void {
    const error = new NetstringParseError(problem);
    this.brokenPeer = true;
    this.parseError = error;
    this.received.clear();
    log("info", `${this.logPrefix()}: closing the connection: ${problem}`);
    this.handleParseError(error);
  }

  /** Malformed input arrived (`error` says how); the default closes the connection. */
  handleParseError(error: NetstringParseError): void {
    void error;
    this.transport?.loseConnection();
  }

  /** A whole netstring's payload arrived; override it. */
  stringReceived(data: Buffer): void {
    void data;
  }

  /** Writes `data` as one netstring. */
  sendString(data: Uint8Array | string): void {
    const bytes = bytesOf(data, "data");
    this.transport?.writeSequence([Buffer.from(`${bytes.length}:`, "latin1"), bytes, COMMA_BYTES]);
  }
}
