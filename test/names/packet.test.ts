/**
 * The resolver's own DNS codec (lib/names/packet.ts) against dns-packet, an independent
 * implementation: the same query bytes, the same reading of responses, compression
 * pointers followed (and refused when they loop or point forwards), RFC 5952 IPv6 text.
 */
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { isIP } from "node:net";
import { decodeResponse, encodeQuery, ipv6Text } from "../../lib/names/packet";

const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("."));
const qtype = fc.constantFrom("A" as const, "AAAA" as const);

/** The canonical text of an IPv6 literal (URL's parser writes RFC 5952 text too). */
const canonical6 = (s: string): string => new URL(`http://[${s}]/`).hostname.slice(1, -1);

test("encodeQuery writes the bytes dns-packet writes for the same recursive query", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), name, qtype, fc.boolean(), (id, n, type, dot) => {
      const mine = encodeQuery(id, dot ? `${n}.` : n, type);
      const theirs = dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: n, type, class: "IN" }] });
      expect(mine.toString("hex")).toBe(theirs.toString("hex"));
    }),
    { numRuns: 500 },
  );
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join("."));
const ipv6 = fc.array(fc.constantFrom(0, 0, 0, 1, 0xdb8, 0xffff, 0x2001), { minLength: 8, maxLength: 8 }).map((g) => canonical6(g.map((x) => x.toString(16)).join(":")));
const record = fc.oneof(
  fc.record({ type: fc.constant("A" as const), name, ttl: fc.nat(1 << 30), data: ipv4 }),
  fc.record({ type: fc.constant("AAAA" as const), name, ttl: fc.nat(1 << 30), data: ipv6 }),
  fc.record({ type: fc.constant("CNAME" as const), name, ttl: fc.nat(1 << 30), data: name }),
  fc.record({ type: fc.constant("MX" as const), name, ttl: fc.nat(1000), data: fc.record({ preference: fc.nat(100), exchange: name }) }),
  fc.record({ type: fc.constant("TXT" as const), name, ttl: fc.nat(1000), data: fc.constant("hello") }),
);
const soa = fc.record({ type: fc.constant("SOA" as const), name, ttl: fc.nat(100000), data: fc.record({ mname: name, rname: name, serial: fc.nat(), refresh: fc.nat(), retry: fc.nat(), expire: fc.nat(), minimum: fc.nat(1 << 30) }) });

test("decodeResponse reads what dns-packet reads: rcode, TC, every answer and authority", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      name,
      qtype,
      fc.constantFrom(0, 2, 3, 5),
      fc.boolean(),
      fc.array(record, { maxLength: 6 }),
      fc.array(soa, { maxLength: 2 }),
      (id, n, type, rcode, tc, answers, authorities) => {
        const bytes = dnsPacket.encode({
          type: "response",
          id,
          flags: rcode | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0),
          questions: [{ name: n, type, class: "IN" }],
          answers: answers.map((a) => ({ ...a, class: "IN" })) as dnsPacket.Answer[],
          authorities: authorities.map((a) => ({ ...a, class: "IN" })) as dnsPacket.Answer[],
        });
        const mine = decodeResponse(bytes, encodeQuery(id, n, type));
        const theirs = dnsPacket.decode(bytes) as dnsPacket.DecodedPacket & { rcode: string };
        expect(mine).not.toBeNull();
        expect([mine!.id, mine!.rcode, mine!.flag_tc]).toEqual([theirs.id, theirs.rcode, theirs.flag_tc]);
        const view = (rs: dnsPacket.Answer[]) =>
          rs.map((r) => {
            const d = (r as { data: unknown }).data;
            const data = r.type === "SOA" ? { minimum: (d as { minimum: number }).minimum } : r.type === "AAAA" ? canonical6(d as string) : r.type === "A" || r.type === "CNAME" ? d : null;
            const { class: klass, ttl } = r as { class?: string; ttl?: number };
            return { name: r.name, type: r.type, class: klass, ttl, data };
          });
        expect(mine!.answers).toEqual(view(theirs.answers!));
        expect(mine!.authorities).toEqual(view(theirs.authorities!));
      },
    ),
    { numRuns: 500 },
  );
});

/** A response to id 0x1234, question `q.test` A, followed by `tail` (the answer section) with ANCOUNT `an`. */
function handMade(an: number, tail: number[]): Buffer {
  const header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, an, 0, 0, 0, 0];
  const question = [1, 0x71, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]; // q.test A IN, at offset 12
  return Buffer.from([...header, ...question, ...tail]);
}
const query = encodeQuery(0x1234, "q.test", "A");
const A_IN_TTL5 = (rd: number[]) => [0, 1, 0, 1, 0, 0, 0, 5, 0, rd.length, ...rd];
const CNAME_IN_TTL5 = (rd: number[]) => [0, 5, 0, 1, 0, 0, 0, 5, 0, rd.length, ...rd];

test("compression pointers are followed: an owner pointing at the question, a target pointing into a name", () => {
  // Answer 1 (offset 24): q.test CNAME w.test, "w" then a pointer to "test" at offset 14.
  // Answer 2: owner pointer to answer 1's target (offset 36), A 127.0.0.7.
  const bytes = handMade(2, [0xc0, 12, ...CNAME_IN_TTL5([1, 0x77, 0xc0, 14]), 0xc0, 36, ...A_IN_TTL5([127, 0, 0, 7])]);
  expect(decodeResponse(bytes, query)!.answers).toEqual([
    { name: "q.test", type: "CNAME", class: "IN", ttl: 5, data: "w.test" },
    { name: "w.test", type: "A", class: "IN", ttl: 5, data: "127.0.0.7" },
  ]);
});

test("given the name asked, an owner that points at the question is that name, not decoded again", () => {
  const bytes = handMade(1, [0xc0, 12, ...A_IN_TTL5([1, 2, 3, 4])]);
  expect(decodeResponse(bytes, query, "Q.test")!.answers[0].name).toBe("Q.test");
  expect(decodeResponse(bytes, query)!.answers[0].name).toBe("q.test");
});

test("a pointer to itself, a forward pointer, a cut record or a wrong A length makes the whole response null", () => {
  expect(decodeResponse(handMade(1, [0xc0, 24, ...A_IN_TTL5([1, 2, 3, 4])]), query)).toBeNull();
  expect(decodeResponse(handMade(1, [0xc0, 40, ...A_IN_TTL5([1, 2, 3, 4])]), query)).toBeNull();
  expect(decodeResponse(handMade(1, [0xc0, 12, ...A_IN_TTL5([1, 2, 3, 4])]).subarray(0, 38), query)).toBeNull();
  expect(decodeResponse(handMade(1, [0xc0, 12, ...A_IN_TTL5([1, 2, 3])]), query)).toBeNull();
  expect(decodeResponse(handMade(2, [0xc0, 12, ...A_IN_TTL5([1, 2, 3, 4])]), query)).toBeNull(); // ANCOUNT says 2
  expect(decodeResponse(handMade(1, [0xc0, 12, ...A_IN_TTL5([1, 2, 3, 4])]), query)!.answers[0].data).toBe("1.2.3.4");
});

test("the question is matched with the query's bytes: letters in either case, nothing else different", () => {
  const ok = handMade(0, []);
  expect(decodeResponse(ok, query)).not.toBeNull();
  const upper = Buffer.from(ok);
  upper[13] = 0x51; // "Q.test"
  expect(decodeResponse(upper, query)).not.toBeNull();
  const other = Buffer.from(ok);
  other[13] = 0x72; // "r.test"
  expect(decodeResponse(other, query)).toBeNull();
  const aaaa = Buffer.from(ok);
  aaaa[21] = 28; // type AAAA
  expect(decodeResponse(aaaa, query)).toBeNull();
  const chaos = Buffer.from(ok);
  chaos[23] = 3; // class CH
  expect(decodeResponse(chaos, query)).toBeNull();
  const notResponse = Buffer.from(ok);
  notResponse[2] &= 0x7f;
  expect(decodeResponse(notResponse, query)).toBeNull();
  const otherId = Buffer.from(ok);
  otherId[1] ^= 1;
  expect(decodeResponse(otherId, query)).toBeNull();
});

test("IPv6 text is RFC 5952's: the longest run of zero groups (the first of equals), never a single group", () => {
  const text = (groups: number[]) => {
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
    return ipv6Text(b, 0);
  };
  expect(text([0, 0, 0, 0, 0, 0, 0, 1])).toBe("::1");
  expect(text([0, 0, 0, 0, 0, 0, 0, 0])).toBe("::");
  expect(text([1, 0, 0, 0, 0, 0, 0, 0])).toBe("1::");
  expect(text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])).toBe("2001:db8::1");
  expect(text([1, 0, 0, 2, 0, 0, 0, 3])).toBe("1:0:0:2::3");
  expect(text([1, 0, 0, 2, 0, 0, 3, 4])).toBe("1::2:0:0:3:4");
  expect(text([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])).toBe("2001:db8:0:1:1:1:1:1");
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (b, zeros) => {
      if (zeros) b.fill(0, 4, 10);
      const t = ipv6Text(Buffer.from(b), 0);
      expect(isIP(t)).toBe(6);
      expect(t).toBe(canonical6(t));
    }),
    { numRuns: 500 },
  );
});

test("encodeQuery: 1,500 queries made one after another keep their own bytes, and a non-ASCII name is written as UTF-8", () => {
  const made = Array.from({ length: 1500 }, (_, i) => encodeQuery(i, `q${i}.example.test`, i % 2 === 0 ? "A" : "AAAA"));
  made.forEach((q, i) => {
    const theirs = dnsPacket.encode({ type: "query", id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: `q${i}.example.test`, type: i % 2 === 0 ? "A" : "AAAA", class: "IN" }] });
    expect(q.toString("hex")).toBe(theirs.toString("hex"));
  });
  const utf8 = encodeQuery(7, "bücher.example", "A");
  expect(utf8.toString("hex")).toBe(dnsPacket.encode({ type: "query", id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: "bücher.example", type: "A", class: "IN" }] }).toString("hex"));
});

test("decodeResponse: A addresses read right when seen again and past the bound of the address-text table", () => {
  const answerFor = (id: number, address: string): string | null => {
    const bytes = dnsPacket.encode({ type: "response", id, flags: 0, questions: [{ name: "a.test", type: "A", class: "IN" }], answers: [{ type: "A", name: "a.test", class: "IN", ttl: 5, data: address }] });
    const r = decodeResponse(bytes, encodeQuery(id, "a.test", "A"));
    return r === null ? null : (r.answers[0].data as string);
  };
  const addresses = Array.from({ length: 1100 }, (_, i) => `${200 + (i % 50)}.${i >> 8}.${i & 0xff}.${255 - (i % 7)}`);
  addresses.forEach((a, i) => expect(answerFor(i, a)).toBe(a));
  addresses.slice(0, 20).forEach((a, i) => expect(answerFor(i, a)).toBe(a));
  expect(answerFor(1, "255.255.255.255")).toBe("255.255.255.255");
  expect(answerFor(2, "0.0.0.0")).toBe("0.0.0.0");
});
