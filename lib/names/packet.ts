/**
 * The DNS wire format of the resolver's hot path (RFC 1035 4.1): the bytes of a query for one
 * A or AAAA question, and a response decoded only as far as the resolver reads it — the
 * header, the question, and the answer and authority records (A, AAAA and CNAME data, the
 * SOA's MINIMUM; other types keep no data). The additional section is not read.
 *
 * Choices the next reader should not undo:
 * - Written here rather than with dns-packet: its general encoder and decoder cost ≈6.7 µs
 *   per query in bench/names, more than the rest of the exchange's JavaScript; this does
 *   the same work for the records used in well under a microsecond.
 * - Every read is bounds-checked and a name's compression pointers may only point backwards,
 *   so no byte string can throw, loop or read past the datagram: a packet that does not
 *   parse as a whole is null (dropped), never half-trusted.
 * - The question is compared with the query's own bytes (ASCII case folded), so accepting
 *   an answer decodes no question name at all.
 * - native/dns_codec.cc applies these same rules to a channel's UDP answers (and hands
 *   decodeResponse the ones it does not read itself): a rule changed here is changed there
 *   too, and test/native/dns-codec.test.ts checks that the two agree.
 */

/** The record types the resolver asks for. */
export type AddressType = "A" | "AAAA";

/** A resource record as the resolver reads it; `data` is null for the types it does not use. */
export interface DNSRecord {
  /** Owner name, without a trailing dot. */
  name: string;
  /** "A", "AAAA", "CNAME", "SOA", "NS", ... or "TYPE<n>". */
  type: string;
  /** "IN", "CH", "HS", "ANY" or "CLASS<n>". */
  class: string;
  ttl: number;
  /** A/AAAA: the address text; CNAME/NS/PTR: the target name; SOA: `{ minimum }`; else null. */
  data: string | { minimum: number } | null;
}

/** A decoded response (the fields the resolver reads). */
export interface DNSResponse {
  id: number;
  /** TC: the answer was cut to fit a datagram (ask again over TCP). */
  flag_tc: boolean;
  /** "NOERROR", "NXDOMAIN", "SERVFAIL", ... or "RCODE_<n>". */
  rcode: string;
  answers: DNSRecord[];
  authorities: DNSRecord[];
}

const TYPE_CODES: Record<AddressType, number> = { A: 1, AAAA: 28 };
const TYPE_NAMES: Record<number, string> = { 1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT" };
const CLASS_NAMES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 255: "ANY" };
const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
/** Header flags of a query: RD (recursion desired). */
const FLAGS_RD = 0x0100;
const HEADER = 12;
/** Labels followed in one name at most (a name has at most 127 labels). */
const MAX_LABELS = 128;

const utf8 = new TextEncoder();
const NO_ROOM = new Uint8Array(0);

/** encodeQuery's bytes as a Buffer (for the TCP path and the tests; a UDP channel writes with writeQueryAt). */
export function encodeQuery(id: number, name: string, type: AddressType): Buffer {
  const buf = Buffer.alloc(-writeQueryAt(NO_ROOM, 0, id, name, type));
  writeQueryAt(buf, 0, id, name, type);
  return buf;
}

/**
 * Writes the wire bytes of a recursive query with `id` for `name` (a trailing dot ignored)
 * and `type` into buf[at..] and returns their length; when they do not fit, writes
 * nothing and returns minus their length. The bytes are written with plain stores: Buffer's
 * write helpers would be more JavaScript for V8 to compile while the first lookups run.
 */
export function writeQueryAt(buf: Uint8Array, at: number, id: number, name: string, type: AddressType): number {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  let nameBytes = n.length;
  for (let i = 0; i < n.length; i++) {
    if (n.charCodeAt(i) < 0x80) continue;
    nameBytes = Buffer.byteLength(n, "utf8");
    break;
  }
  const size = HEADER + (nameBytes === 0 ? 1 : nameBytes + 2) + 4;
  if (buf.length - at < size) return -size;
  const start = at;
  buf[start] = id >>> 8;
  buf[start + 1] = id & 0xff;
  buf[start + 2] = FLAGS_RD >>> 8;
  buf[start + 3] = FLAGS_RD & 0xff;
  buf[start + 4] = 0; // QDCOUNT 1
  buf[start + 5] = 1;
  for (let i = 6; i < HEADER; i++) buf[start + i] = 0; // ANCOUNT, NSCOUNT, ARCOUNT 0
  at = start + HEADER;
  if (nameBytes > 0) {
    // The name's text one byte further on; each dot then becomes the next label's length.
    if (nameBytes === n.length) {
      for (let i = 0; i < nameBytes; i++) buf[at + 1 + i] = n.charCodeAt(i);
    } else {
      utf8.encodeInto(n, buf.subarray(at + 1, at + 1 + nameBytes));
    }
    let lengthAt = at;
    for (let i = at + 1; i <= at + nameBytes; i++) {
      if (buf[i] !== 0x2e) continue;
      buf[lengthAt] = i - lengthAt - 1;
      lengthAt = i;
    }
    buf[lengthAt] = at + nameBytes - lengthAt;
    at += nameBytes + 1;
  }
  const code = TYPE_CODES[type];
  buf[at] = 0;
  buf[at + 1] = code >>> 8;
  buf[at + 2] = code & 0xff;
  buf[at + 3] = 0; // class IN
  buf[at + 4] = 1;
  return size;
}

/**
 * The response in `bytes` if it answers `query` (the bytes encodeQuery made): QR set, the
 * same id, exactly one question equal to the query's (names compared case-insensitively
 * for ASCII letters), and every record within the datagram. Else null; never throws.
 * `questionName` (the name asked, no trailing dot) is given as the owner of records whose
 * owner points at the question, instead of decoding it again.
 */
export function decodeResponse(bytes: Buffer, query: Uint8Array, questionName: string | null = null): DNSResponse | null {
  if (bytes.length < HEADER || query.length < HEADER + 5) return null;
  if (bytes[0] !== query[0] || bytes[1] !== query[1] || (bytes[2] & 0x80) === 0) return null;
  if (((bytes[4] << 8) | bytes[5]) !== 1) return null;
  // The question: byte for byte the query's, letters of either case.
  const qEnd = query.length;
  if (bytes.length < qEnd) return null;
  for (let i = HEADER; i < qEnd; i++) {
    const x = bytes[i];
    const y = query[i];
    if (x !== y && !((x | 0x20) === (y | 0x20) && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a)) return null;
  }
  // A label length is never a letter's code point below 64: a length byte matched as a
  // letter of the other case would differ by 0x20 across 0x40, which cannot be a length.
  const ancount = (bytes[6] << 8) | bytes[7];
  const nscount = (bytes[8] << 8) | bytes[9];
  cursor = qEnd;
  askedName = questionName;
  const answers = readRecords(bytes, ancount);
  if (answers === null) return null;
  const authorities = readRecords(bytes, nscount);
  if (authorities === null) return null;
  const rcode = bytes[3] & 0x0f;
  return {
    id: (bytes[0] << 8) | bytes[1],
    flag_tc: (bytes[2] & 0x02) !== 0,
    rcode: rcode < RCODE_NAMES.length ? RCODE_NAMES[rcode] : `RCODE_${rcode}`,
    answers,
    authorities,
  };
}

/** Where the reader is in the datagram being decoded (one decode runs at a time). */
let cursor = 0;
/** The name of the question of the datagram being decoded, when the caller knows it. */
let askedName: string | null = null;

/** `count` records from `cursor`, or null when one does not fit the datagram. */
function readRecords(bytes: Buffer, count: number): DNSRecord[] | null {
  // Sized once: pushing the first record onto [] would reserve room for 16 more.
  const out: DNSRecord[] = count === 0 ? [] : new Array<DNSRecord>(count);
  for (let i = 0; i < count; i++) {
    const name = readName(bytes, cursor);
    if (name === null) return null;
    const at = nameEnd;
    if (at + 10 > bytes.length) return null;
    const type = (bytes[at] << 8) | bytes[at + 1];
    const klass = (bytes[at + 2] << 8) | bytes[at + 3];
    const ttl = ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) >>> 0;
    const rdlength = (bytes[at + 8] << 8) | bytes[at + 9];
    const start = at + 10;
    const end = start + rdlength;
    if (end > bytes.length) return null;
    let data: DNSRecord["data"] = null;
    if (type === 1) {
      if (rdlength !== 4) return null;
      data = ipv4Text(bytes, start);
    } else if (type === 28) {
      if (rdlength !== 16) return null;
      data = ipv6Text(bytes, start);
    } else if (type === 5 || type === 2 || type === 12) {
      data = readName(bytes, start);
      if (data === null || nameEnd !== end) return null;
    } else if (type === 6) {
      if (rdlength < 22) return null;
      const m = end - 4;
      data = { minimum: ((bytes[m] << 24) | (bytes[m + 1] << 16) | (bytes[m + 2] << 8) | bytes[m + 3]) >>> 0 };
    }
    out[i] = { name, type: TYPE_NAMES[type] ?? `TYPE${type}`, class: CLASS_NAMES[klass] ?? `CLASS${klass}`, ttl, data };
    cursor = end;
  }
  return out;
}

/** IPv4 address texts by their 32 bits: the same addresses come back in answer after answer. */
const ipv4Texts = new Map<number, string>();
/** Texts kept at most; past that the table starts again empty. */
const MAX_IPV4_TEXTS = 1024;

/** The dotted text of the IPv4 address at bytes[at..at+4), made once per address. */
export function ipv4Text(bytes: Uint8Array, at: number): string {
  const key = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) | 0; // a small integer key, no boxed number
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    if (ipv4Texts.size >= MAX_IPV4_TEXTS) ipv4Texts.clear();
    text = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    ipv4Texts.set(key, text);
  }
  return text;
}

/** Where the name last read by readName ended (in the datagram, after any pointer). */
let nameEnd = 0;

/**
 * The name at `at` (labels joined by dots, no trailing dot; "" for the root), following
 * compression pointers, which must point strictly backwards; null when malformed.
 */
function readName(bytes: Buffer, at: number): string | null {
  if (askedName !== null && bytes[at] === 0xc0 && bytes[at + 1] === HEADER && at + 1 < bytes.length) {
    nameEnd = at + 2; // a pointer to the question: the name asked
    return askedName;
  }
  let name = "";
  let pos = at;
  let end = -1;
  let limit = at; // a pointer must go below every position read so far
  for (let labels = 0; labels < MAX_LABELS; labels++) {
    if (pos >= bytes.length) return null;
    const len = bytes[pos];
    if (len === 0) {
      nameEnd = end < 0 ? pos + 1 : end;
      return name;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= bytes.length) return null;
      const target = ((len & 0x3f) << 8) | bytes[pos + 1];
      if (target >= limit) return null;
      if (end < 0) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || pos + 1 + len > bytes.length) return null;
    const label = bytes.toString("utf8", pos + 1, pos + 1 + len);
    name = name === "" ? label : `${name}.${label}`;
    if (name.length > 1024) return null;
    pos += 1 + len;
  }
  return null;
}

/** The RFC 5952 text of the IPv6 address at bytes[at..at+16) (the longest run of two or more zero groups as "::"). */
export function ipv6Text(bytes: Uint8Array, at: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    const zero = bytes[at + 2 * g] === 0 && bytes[at + 2 * g + 1] === 0;
    if (zero && runStart < 0) runStart = g;
    if ((!zero || g === 7) && runStart >= 0) {
      const len = (zero ? g + 1 : g) - runStart;
      if (len > bestLen) {
        bestStart = runStart;
        bestLen = len;
      }
      runStart = -1;
    }
  }
  let text = "";
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += g === 0 ? "::" : ":";
      g += bestLen - 1;
      continue;
    }
    text += ((bytes[at + 2 * g] << 8) | bytes[at + 2 * g + 1]).toString(16);
    if (g < 7) text += ":";
  }
  return text;
}
