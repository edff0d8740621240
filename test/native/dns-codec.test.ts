/**
 * The resolver's native answer check (native/dns_codec.cc, dnsParse and dnsRecvBatch): it
 * must accept exactly the datagrams lib/names/packet.ts's decodeResponse accepts, and sum
 * up the ones it answers itself as the resolver would read them. Random responses and
 * random damage to them, hand-made malformed ones (pointer loops and chains, forward
 * pointers, records cut short, names too long), and the batch call on real sockets. Run
 * under ASan by npm run test:asan.
 */
import * as dgram from "node:dgram";
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { AGAIN, DNS_ADDRESSES, DNS_DECODE, DNS_NEGATIVE, DNS_QUERIES_USED, DNS_RECORD_WORDS, DNS_REJECTED, DNS_SEND_WORDS, DNS_SLOT_COUNT, DNS_SLOT_WORDS, DNS_TABLE_HEAD, native } from "../../lib/native";
import { decodeResponse, encodeQuery, ipv4Text, ipv6Text, type DNSResponse } from "../../lib/names/packet";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const record = new Int32Array(DNS_RECORD_WORDS);
const addresses = new Uint8Array(1024);

/** What the native check makes of `bytes` as the answer to `query`. */
function parse(bytes: Uint8Array, query: Uint8Array, room = addresses) {
  const kind = native.dnsParse(bytes, query, record, room);
  return { kind, rcode: record[4] & 15, tc: (record[4] & 16) !== 0, ttl: record[5] >>> 0, negative: record[6] >>> 0, count: record[8] };
}

/** The addresses the native check wrote, as text. */
function texts(type: "A" | "AAAA", count: number): string[] {
  return Array.from({ length: count }, (_, i) => (type === "A" ? ipv4Text(addresses, 4 * i) : ipv6Text(addresses, 16 * i)));
}

/** What lib/names/resolver.ts reads from a decoded response for `name`/`type` (before any CNAME chase). */
function reading(r: DNSResponse, name: string, type: "A" | "AAAA") {
  const lower = name.toLowerCase();
  const mine = r.answers.filter((a) => a.type === type && a.class === "IN" && a.name.toLowerCase() === lower);
  const soa = r.authorities.find((a) => a.type === "SOA");
  const negative = soa === undefined ? 0 : Math.min(soa.ttl, (soa.data as { minimum: number }).minimum);
  const cname = r.answers.some((a) => a.type === "CNAME" && a.class === "IN" && a.name.toLowerCase() === lower);
  if (r.flag_tc || (r.rcode !== "NOERROR" && r.rcode !== "NXDOMAIN")) return { kind: DNS_DECODE };
  if (r.rcode === "NXDOMAIN") return { kind: DNS_NEGATIVE, negative };
  if (mine.length > 0) return { kind: DNS_ADDRESSES, addresses: [...new Set(mine.map((a) => a.data as string))], ttl: Math.min(...mine.map((a) => a.ttl)) };
  return cname ? { kind: DNS_DECODE } : { kind: DNS_NEGATIVE, negative };
}

/**
 * Asserts the native verdict on `bytes` is decodeResponse's, and its summary the resolver's reading.
 * `oddBytes`: the datagram may hold a label with a '.' or a non-ASCII byte in it (damaged or random
 * bytes), which the native check rightly leaves to JavaScript though its text may look plain: a label
 * "a.b" reads as the two labels of "a.b".
 */
function agrees(bytes: Uint8Array, id: number, name: string, type: "A" | "AAAA", oddBytes = false): number {
  const query = encodeQuery(id, name, type);
  const mine = parse(bytes, query);
  const theirs = decodeResponse(Buffer.from(bytes), query, name);
  expect(mine.kind === DNS_REJECTED).toBe(theirs === null);
  if (theirs === null) return mine.kind;
  const want = reading(theirs, name, type);
  if (mine.kind === DNS_DECODE) {
    // Left to JavaScript: only what needs it (or names that are not plain ASCII).
    if (want.kind !== DNS_DECODE && !oddBytes) expect(theirs.answers.some((a) => /[^\x21-\x7e]|\.\./.test(a.name)) || /[^\x00-\x7f]/.test(name)).toBe(true);
    return mine.kind;
  }
  expect(mine.kind).toBe(want.kind);
  expect([mine.rcode, mine.tc]).toEqual([theirs.rcode === "NXDOMAIN" ? 3 : 0, false]);
  if (want.kind === DNS_ADDRESSES) {
    expect(texts(type, mine.count)).toEqual(want.addresses);
    expect(mine.ttl).toBe(want.ttl);
  } else {
    expect(mine.negative).toBe(want.negative);
  }
  return mine.kind;
}

const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,10}$/);
const zone = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join("."));
const qtype = fc.constantFrom("A" as const, "AAAA" as const);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));
const ipv6 = fc.array(fc.constantFrom(0, 1, 0xdb8, 0xffff), { minLength: 8, maxLength: 8 }).map((g) => new URL(`http://[${g.map((x) => x.toString(16)).join(":")}]/`).hostname.slice(1, -1));

/** A random response to `name`: owners the name asked (in any case) or others, some records repeated, CNAMEs, SOAs. */
const response = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffff }),
    name: zone,
    type: qtype,
    rcode: fc.constantFrom(0, 0, 0, 3, 2),
    tc: fc.constantFrom(false, false, false, false, true),
    answers: fc.array(
      fc.record({
        own: fc.constantFrom("same", "upper", "other"),
        other: zone,
        kind: fc.constantFrom("A", "AAAA", "CNAME", "TXT", "A", "AAAA"),
        klass: fc.constantFrom("IN", "IN", "IN", "CH"),
        ttl: fc.nat(0xffffffff),
        v4: ipv4,
        v6: ipv6,
        target: zone,
      }),
      { maxLength: 6 },
    ),
    soa: fc.array(fc.record({ ttl: fc.nat(0xffffffff), minimum: fc.nat(0xffffffff) }), { maxLength: 2 }),
  })
  .map((r) => {
    const answers = r.answers.map((a) => {
      const owner = a.own === "same" ? r.name : a.own === "upper" ? r.name.toUpperCase() : a.other;
      const data = a.kind === "A" ? a.v4 : a.kind === "AAAA" ? a.v6 : a.kind === "CNAME" ? a.target : "txt";
      return { type: a.kind, name: owner, class: a.klass, ttl: a.ttl, data } as dnsPacket.Answer;
    });
    const authorities = r.soa.map(
      (s) => ({ type: "SOA", name: r.name, class: "IN", ttl: s.ttl, data: { mname: "ns.x", rname: "h.x", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: s.minimum } }) as dnsPacket.Answer,
    );
    const bytes = dnsPacket.encode({
      type: "response",
      id: r.id,
      flags: r.rcode | (r.tc ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: [{ name: r.name, type: r.type, class: "IN" }],
      answers,
      authorities,
    });
    return { ...r, bytes: new Uint8Array(bytes) };
  });

test("dnsParse accepts what decodeResponse accepts, and reads addresses, TTLs and negative TTLs as the resolver does", () => {
  const seen = new Set<number>();
  fc.assert(
    fc.property(response, (r) => {
      seen.add(agrees(r.bytes, r.id, r.name, r.type));
    }),
    { numRuns: 1500 },
  );
  expect([...seen].sort()).toEqual([DNS_ADDRESSES, DNS_NEGATIVE, DNS_DECODE]);
});

/** True when a byte past the header is a '.' or not ASCII: a label may hold it. */
function hasOddBytes(bytes: Uint8Array): boolean {
  return bytes.subarray(12).some((b) => b === 0x2e || b >= 0x80);
}

test("dnsParse and decodeResponse agree on damaged responses: bytes changed, cut short, or random", () => {
  let rejected = 0;
  fc.assert(
    fc.property(
      response,
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
      fc.option(fc.nat(), { nil: undefined }),
      (r, flips, cut) => {
        const bytes = Uint8Array.from(r.bytes);
        // Damage past the header and question mostly, where the record walk has to catch it.
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        const damaged = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
        if (agrees(damaged, r.id, r.name, r.type, hasOddBytes(damaged)) === DNS_REJECTED) rejected++;
      },
    ),
    { numRuns: 3000 },
  );
  expect(rejected).toBeGreaterThan(100);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), zone, qtype, (bytes, name, type) => {
      agrees(bytes, (bytes[0] << 8) | bytes[1], name, type, hasOddBytes(bytes));
    }),
    { numRuns: 1000 },
  );
});

/** A response to id 0x1234, question `q.test` A, then `tail` (the answer section) with ANCOUNT `an`. */
function handMade(an: number, tail: number[], ns = 0): Uint8Array {
  const header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, an, 0, ns, 0, 0];
  const question = [1, 0x71, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]; // q.test A IN, at offset 12
  return Uint8Array.from([...header, ...question, ...tail]);
}
const A = (rd: number[]) => [0, 1, 0, 1, 0, 0, 0, 5, 0, rd.length, ...rd];
const CNAME = (rd: number[]) => [0, 5, 0, 1, 0, 0, 0, 5, 0, rd.length, ...rd];
const TYPE99 = (rd: number[]) => [0, 99, 0, 1, 0, 0, 0, 5, rd.length >> 8, rd.length & 0xff, ...rd];
const query = encodeQuery(0x1234, "q.test", "A");

test("an answer whose owner has a '.' inside a label is left to JavaScript, which reads the address as before", () => {
  // Found by the property below (seed 1674777898): a label "A-AAaaa" damaged to ".-AAaaa".
  const bytes = handMade(2, [0xc0, 12, ...A([1, 2, 3, 4]), 3, 0x61, 0x2e, 0x62, 0, 0, 5, 0, 1, 0, 0, 0, 5, 0, 2, 0xc0, 12]);
  expect(parse(bytes, query).kind).toBe(DNS_DECODE);
  expect(reading(decodeResponse(Buffer.from(bytes), query, "q.test")!, "q.test", "A")).toEqual({ kind: DNS_ADDRESSES, addresses: ["1.2.3.4"], ttl: 5 });
  expect(agrees(bytes, 0x1234, "q.test", "A", true)).toBe(DNS_DECODE);
});

test("malformed answers are rejected whole: pointer loops and forward pointers, records and names cut short, bad lengths", () => {
  const bad: [string, Uint8Array][] = [
    ["a pointer to itself", handMade(1, [0xc0, 24, ...A([1, 2, 3, 4])])],
    ["a forward pointer", handMade(1, [0xc0, 40, ...A([1, 2, 3, 4])])],
    ["two pointers at each other", handMade(1, [0xc0, 26, 0xc0, 24, ...A([1, 2, 3, 4])])],
    ["a pointer past the end", handMade(1, [0xff, 0xff, ...A([1, 2, 3, 4])])],
    ["a pointer cut in half", handMade(1, [0xc0])],
    ["a record header cut short", handMade(1, [0xc0, 12, 0, 1, 0, 1, 0, 0])],
    ["RDATA past the end", handMade(1, [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2])],
    ["an A of 3 bytes", handMade(1, [0xc0, 12, ...A([1, 2, 3])])],
    ["an A of 5 bytes", handMade(1, [0xc0, 12, ...A([1, 2, 3, 4, 5])])],
    ["an AAAA of 4 bytes", handMade(1, [0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4])],
    ["a CNAME target longer than its RDATA", handMade(1, [0xc0, 12, ...CNAME([1, 0x77]), 0])],
    ["a CNAME target shorter than its RDATA", handMade(1, [0xc0, 12, ...CNAME([1, 0x77, 0, 0])])],
    ["a CNAME target pointing at itself", handMade(1, [0xc0, 12, ...CNAME([0xc0, 36])])],
    ["a label running past the end", handMade(1, [9, 0x61, 0x62])],
    ["a label length with bits 0x40", handMade(1, [0x41, 0x61, 0, ...A([1, 2, 3, 4])])],
    ["a label length with bits 0x80", handMade(1, [0x81, 0x61, 0, ...A([1, 2, 3, 4])])],
    ["ANCOUNT one too many", handMade(2, [0xc0, 12, ...A([1, 2, 3, 4])])],
    ["an SOA of 21 bytes", handMade(0, [0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 5, 0, 21, ...new Array(21).fill(0)], 1)],
    ["an authority cut short", handMade(0, [0xc0, 12, 0, 6], 1)],
  ];
  for (const [why, bytes] of bad) {
    expect([why, decodeResponse(Buffer.from(bytes), query, "q.test")]).toEqual([why, null]);
    expect([why, parse(bytes, query).kind]).toEqual([why, DNS_REJECTED]);
  }
  const good = handMade(1, [0xc0, 12, ...A([1, 2, 3, 4])]);
  expect(parse(good, query)).toMatchObject({ kind: DNS_ADDRESSES, count: 1, ttl: 5 });
  expect(texts("A", 1)).toEqual(["1.2.3.4"]);
});

test("a chain of backward pointers is followed up to 128 labels and pointers, and refused past that", () => {
  // A TYPE99 record whose RDATA is `hops` pointers, each to the one before, the first to
  // the question; the A record's owner points at the last of them.
  const chain = (hops: number) => {
    const start = 24 + 2 + 10; // the TYPE99's RDATA
    const rd: number[] = [];
    for (let i = 0; i < hops; i++) {
      const target = i === 0 ? 12 : start + 2 * (i - 1);
      rd.push(0xc0 | (target >> 8), target & 0xff);
    }
    const last = start + 2 * (hops - 1);
    return handMade(2, [0xc0, 12, ...TYPE99(rd), 0xc0 | (last >> 8), last & 0xff, ...A([9, 9, 9, 9])]);
  };
  // The owner's pointer, n pointers, then q, test and the root: n + 4 steps of at most 128.
  for (const [hops, ok] of [[124, true], [125, false], [200, false]] as const) {
    expect([hops, decodeResponse(Buffer.from(chain(hops)), query) !== null]).toEqual([hops, ok]);
    expect([hops, parse(chain(hops), query).kind]).toEqual([hops, ok ? DNS_ADDRESSES : DNS_REJECTED]);
  }
});

test("names past 1,024 characters are refused as decodeResponse refuses them; a non-ASCII one is left to it", () => {
  const long = (labels: number, byte: number) => {
    const name: number[] = [];
    for (let i = 0; i < labels; i++) name.push(62, ...new Array(62).fill(byte));
    return handMade(1, [...name, 0, ...A([1, 2, 3, 4])]);
  };
  expect(parse(long(16, 0x61), query).kind).toBe(DNS_NEGATIVE); // 16 × 63 - 1 = 1,007 characters
  expect(decodeResponse(Buffer.from(long(16, 0x61)), query)).not.toBeNull();
  expect(parse(long(17, 0x61), query).kind).toBe(DNS_REJECTED); // 1,070
  expect(decodeResponse(Buffer.from(long(17, 0x61)), query)).toBeNull();
  // 17 labels of 31 two-byte letters: 1,070 bytes but 543 characters of text.
  const accented = handMade(1, [...Array.from({ length: 17 }, () => [62, ...new Array(31).fill([0xc3, 0xa9]).flat()]).flat(), 0, ...A([1, 2, 3, 4])]);
  expect(decodeResponse(Buffer.from(accented), query)).not.toBeNull();
  expect(parse(accented, query).kind).toBe(DNS_DECODE);
});

test("addresses are written distinct, and an answer with more than the room given is left to JavaScript", () => {
  const five = handMade(5, [...[1, 2, 1, 3, 2].flatMap((x) => [0xc0, 12, ...A([10, 0, 0, x])])]);
  expect(parse(five, query)).toMatchObject({ kind: DNS_ADDRESSES, count: 3 });
  expect(texts("A", 3)).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  expect(parse(five, query, new Uint8Array(8)).kind).toBe(DNS_DECODE);
});

test("wrong arguments throw errors naming the argument", () => {
  expect(() => native.dnsParse("x" as never, query, record, addresses)).toThrow(/datagram/);
  expect(() => native.dnsParse(query, query, new Int32Array(2), addresses)).toThrow(/record/);
  const fd = native.socket("IPv4", "udp");
  try {
    const slab = new Uint8Array(4096);
    expect(() => native.dnsRecvBatch(fd, slab, 512, 4, new Int32Array(4), query, new Int32Array(64), addresses)).toThrow(/table/);
    const table = new Int32Array(DNS_TABLE_HEAD + DNS_SLOT_WORDS);
    table[DNS_SLOT_COUNT] = 2; // says 2 slots, holds 1
    expect(() => native.dnsRecvBatch(fd, slab, 512, 4, table, query, new Int32Array(64), addresses)).toThrow(/table/);
    table[DNS_SLOT_COUNT] = 1;
    expect(() => native.dnsRecvBatch(fd, slab, 512, 4, table, query, new Int32Array(8), addresses)).toThrow(/records/);
    expect(() => native.dnsRecvBatch(fd, slab, 8192, 4, table, query, new Int32Array(64), addresses)).toThrow(/slab/);
  } finally {
    native.close(fd);
  }
});

test("dnsRecvBatch keeps only answers to the table's queries in flight, from one batch of real datagrams", async () => {
  const server = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
  const fd = native.socket("IPv4", "udp");
  try {
    native.bind(fd, "127.0.0.1", 0);
    native.connect(fd, "127.0.0.1", server.address().port);
    const port = (native.getsockname(fd) as { port: number }).port;
    // Two slots: query 0x1234 q.test A in flight, query 0x4321 q.test A settled (-1).
    const q1 = encodeQuery(0x1234, "q.test", "A");
    const queries = new Uint8Array(64);
    queries.set(q1, 0);
    queries.set(encodeQuery(0x4321, "q.test", "A"), 32);
    const table = new Int32Array(DNS_TABLE_HEAD + 2 * DNS_SLOT_WORDS);
    table[DNS_SLOT_COUNT] = 2;
    table.set([0x1234, 0, q1.length, -1, 32, q1.length], DNS_TABLE_HEAD);
    const good = handMade(1, [0xc0, 12, ...A([127, 0, 0, 7])]);
    const settled = Uint8Array.from(good);
    settled[0] = 0x43;
    settled[1] = 0x21;
    const loop = handMade(1, [0xc0, 24, ...A([6, 6, 6, 6])]);
    const tooBig = new Uint8Array(600).fill(0);
    tooBig.set(good);
    const sent = [loop, settled, tooBig, good, Uint8Array.from([0x12])];
    for (const d of sent) await new Promise<void>((resolve, reject) => server.send(d, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
    const slab = new Uint8Array(8 * 512);
    const records = new Int32Array(1 + 8 * DNS_RECORD_WORDS);
    const addrs = new Uint8Array(64);
    let n = 0;
    for (let tries = 0; n === 0 && tries < 200; tries++) {
      n = native.dnsRecvBatch(fd, slab, 512, 8, table, queries, records, addrs);
      if (n === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(n).toBe(sent.length);
    expect(records[0]).toBe(1);
    // [slot, kind, offset, length, rcode | TC, ttl, negative, addresses at, count]: the 4th datagram.
    expect(Array.from(records.subarray(1, 1 + DNS_RECORD_WORDS))).toEqual([0, DNS_ADDRESSES, 3 * 512, good.length, 0, 5, 0, 0, 1]);
    expect(ipv4Text(addrs, 0)).toBe("127.0.0.7");
    // The server's address was read once into the table's head: IPv4, its port, 127.0.0.1.
    expect(Array.from(table.subarray(0, 3))).toEqual([4, server.address().port, 0x7f000001]);
    expect(native.dnsRecvBatch(fd, slab, 512, 8, table, queries, records, addrs)).toBe(0);
  } finally {
    native.close(fd);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A UDP server on 127.0.0.1 and a native socket connected to it; `received` collects what the server gets. */
async function connectedPair() {
  const server = dgram.createSocket("udp4");
  const received: Buffer[] = [];
  server.on("message", (m) => received.push(m));
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", () => resolve()));
  const fd = native.socket("IPv4", "udp");
  native.bind(fd, "127.0.0.1", 0);
  native.connect(fd, "127.0.0.1", server.address().port);
  const close = async () => {
    native.close(fd);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { server, fd, received, close };
}

test("dnsSendQueries writes and sends the bytes encodeQuery writes, for any name, resuming when the buffer fills", async () => {
  const names = fc.sample(
    fc.oneof(
      zone,
      zone.map((n) => `${n}.`),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("", ".", "a..b", "bücher.example", "x".repeat(70) + ".test", "\ud800.test"),
    ),
    { numRuns: 150, seed: 20261205 },
  );
  const { fd, received, close } = await connectedPair();
  try {
    const table = new Int32Array(DNS_TABLE_HEAD + names.length * DNS_SLOT_WORDS);
    table[DNS_SLOT_COUNT] = names.length;
    const ids = names.map((_, i) => (i * 7919 + 13) & 0xffff);
    ids.forEach((id, i) => (table[DNS_TABLE_HEAD + i * DNS_SLOT_WORDS] = id));
    let queries = new Uint8Array(256);
    const records = new Int32Array(64 * DNS_SEND_WORDS);
    let grew = 0;
    for (let start = 0; start < names.length; start += 50) {
      const chunk = names.slice(start, start + 50);
      chunk.forEach((_, k) => {
        records[k * DNS_SEND_WORDS] = start + k;
        records[k * DNS_SEND_WORDS + 1] = (start + k) % 3 === 0 ? 28 : 1;
      });
      let from = 0;
      while ((from = native.dnsSendQueries(fd, table, queries, chunk, records, from, chunk.length)) < chunk.length) {
        const grown = new Uint8Array(queries.length * 2);
        grown.set(queries.subarray(0, table[DNS_QUERIES_USED]));
        queries = grown;
        grew++;
      }
      chunk.forEach((_, k) => expect(records[k * DNS_SEND_WORDS + 2]).not.toBe(AGAIN));
    }
    expect(grew).toBeGreaterThan(2);
    for (let tries = 0; received.length < names.length && tries < 200; tries++) await new Promise((r) => setTimeout(r, 5));
    expect(received.length).toBe(names.length);
    names.forEach((name, i) => {
      const want = encodeQuery(ids[i], name, i % 3 === 0 ? "AAAA" : "A").toString("hex");
      const b = DNS_TABLE_HEAD + i * DNS_SLOT_WORDS;
      expect([name, Buffer.from(queries.subarray(table[b + 1], table[b + 1] + table[b + 2])).toString("hex")]).toEqual([name, want]);
      expect([name, received[i].toString("hex")]).toEqual([name, want]);
    });
  } finally {
    await close();
  }
});

test("dnsSendQueries: wrong arguments throw errors naming the argument", async () => {
  const { fd, close } = await connectedPair();
  try {
    const table = new Int32Array(DNS_TABLE_HEAD + DNS_SLOT_WORDS);
    table[DNS_SLOT_COUNT] = 1;
    const q = new Uint8Array(512);
    const records = new Int32Array(100 * DNS_SEND_WORDS);
    records.set([0, 1]);
    expect(() => native.dnsSendQueries(fd, table, q, "a.test" as never, records, 0, 1)).toThrow(/names/);
    expect(() => native.dnsSendQueries(fd, table, q, [7 as never], records, 0, 1)).toThrow(/names/);
    expect(() => native.dnsSendQueries(fd, table, q, ["x".repeat(4000)], records, 0, 1)).toThrow(/names/);
    expect(() => native.dnsSendQueries(fd, table, q, ["a.test"], records, 0, 2)).toThrow(/records/); // slot 0, then slot 0 type 0
    records.set([1, 1]);
    expect(() => native.dnsSendQueries(fd, table, q, ["a.test"], records, 0, 1)).toThrow(/records/); // slot 1 of 1
    records.set([0, 5]);
    expect(() => native.dnsSendQueries(fd, table, q, ["a.test"], records, 0, 1)).toThrow(/records/); // type 5
    expect(() => native.dnsSendQueries(fd, table, q, [], records, 0, 65)).toThrow(/count/);
    expect(() => native.dnsSendQueries(fd, table, q, ["a.test"], records, 2, 1)).toThrow(/from/);
    table[DNS_QUERIES_USED] = 600;
    records.set([0, 1]);
    expect(() => native.dnsSendQueries(fd, table, q, ["a.test"], records, 0, 1)).toThrow(/table/);
  } finally {
    await close();
  }
});
