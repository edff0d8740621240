/**
 * HTTP header fields (Twisted's http_headers.Headers): names are case-insensitive and kept
 * lowercased, values in the order received; a field may appear several times.
 *
 * Stored as one flat array [name0, value0, name1, value1, ...] and searched linearly: a
 * message has a dozen fields, where a scan beats a Map and allocates nothing.
 */

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when `s` is an HTTP token (RFC 9110 §5.6.2): what a field name or a method must be. */
export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}
const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A set of header fields with case-insensitive names. */
export class Headers {
  /** [lowercased name, value, ...] in arrival order. */
  readonly raw: string[];

  /** Headers from an object (`{ "Content-Type": "text/html", Accept: ["a", "b"] }`) or a flat list. */
  constructor(init?: Record<string, string | number | ReadonlyArray<string>> | string[] | Headers) {
    if (init === undefined || init === null) {
      this.raw = [];
    } else if (init instanceof Headers) {
      this.raw = init.raw.slice();
    } else if (Array.isArray(init)) {
      this.raw = init;
    } else if (typeof init === "object") {
      this.raw = [];
      for (const k of Object.keys(init)) {
        const v = init[k];
        if (Array.isArray(v)) for (const x of v) this.add(k, x);
        else this.add(k, String(v));
      }
    } else {
      throw new TypeError("headers must be an object of name → value(s), or a Headers");
    }
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    const r = this.raw;
    for (let i = 0; i < r.length; i += 2) if (r[i] === n) return r[i + 1];
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const r = this.raw;
    const out: string[] = [];
    for (let i = 0; i < r.length; i += 2) if (r[i] === n) out.push(r[i + 1]);
    return out;
  }

  /** Whether `name` is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds a value for `name` (after any existing ones); throws TypeError on an invalid name or value. */
  add(name: string, value: string): void {
    checkField(name, value);
    this.raw.push(name.toLowerCase(), value);
  }

  /** Replaces every value of `name` with `value`. */
  set(name: string, value: string): void {
    this.remove(name);
    this.add(name, value);
  }

  /** Removes every value of `name`; returns whether there was one. */
  remove(name: string): boolean {
    const n = name.toLowerCase();
    const r = this.raw;
    let w = 0;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] !== n) {
        r[w++] = r[i];
        r[w++] = r[i + 1];
      }
    }
    const removed = w !== r.length;
    r.length = w;
    return removed;
  }

  /** Number of fields (a repeated name counts each time). */
  get size(): number {
    return this.raw.length >> 1;
  }

  /** [name, value] pairs in order. */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.raw.length; i += 2) out.push([this.raw[i], this.raw[i + 1]]);
    return out;
  }

  /** A plain object name → values (lowercased names). */
  toObject(): Record<string, string[]> {
    const o: Record<string, string[]> = {};
    for (let i = 0; i < this.raw.length; i += 2) (o[this.raw[i]] ??= []).push(this.raw[i + 1]);
    return o;
  }
}

/** Throws TypeError naming the problem when `name` is not a token or `value` holds CR, LF or NUL. */
export function checkField(name: string, value: string): void {
  if (typeof name !== "string" || !TOKEN_RE.test(name)) throw new TypeError(`header name must be a token, received ${JSON.stringify(name)}`);
  if (typeof value !== "string" || !VALUE_RE.test(value)) {
    throw new TypeError(`header value of ${name} must be a string without CR, LF or control characters, received ${JSON.stringify(value)}`);
  }
}
