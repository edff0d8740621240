/**
 * Answers that must not be trusted: a wrong id, a different question, another source
 * port, a query instead of a response, undecodable bytes. Each is sent before the real
 * answer; the lookup must end with the real answer, as if the forgery never came.
 * Plus properties: no byte string makes the response check or the resolver throw.
 */
import * as dgram from "node:dgram";
import * as dnsPacket from "dns-packet";
import fc from "fast-check";
import { DNSLookupError } from "../../lib/error";
import { Resolver, acceptResponse, encodeQuery } from "../../lib/names";
import { expectNoFdLeaks } from "../support/fds";
import { FakeDNSServer, a, encodeReply, type SeenQuery } from "./fake-server";
import { tempDir, withReactor } from "./helpers";

expectNoFdLeaks();

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const noHosts = tmp.file("hosts", "");
const noConf = tmp.file("resolv.conf", "");

const REAL = "127.0.0.60";
const FORGED = "6.6.6.6";

let server: FakeDNSServer;
let other: dgram.Socket;
beforeEach(async () => {
  server = await FakeDNSServer.start(() => null);
  other = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => other.bind(0, "127.0.0.1", () => resolve()));
});
afterEach(async () => {
  await server.close();
  await new Promise<void>((resolve) => other.close(() => resolve()));
});

/**
 * Makes the server send `forgeries(q)` first (from its own socket, or from `other` when
 * `fromOther`), then the real answer a moment later.
 */
function forgeThenAnswer(forgeries: (q: SeenQuery) => Buffer[], fromOther = false): void {
  server.respond = (q, s) => {
    const rinfo = lastRinfo!;
    for (const bytes of forgeries(q)) {
      if (fromOther) other.send(bytes, rinfo.port, rinfo.address);
      else s.sendRaw(bytes, rinfo);
    }
    setTimeout(() => s.sendRaw(encodeReply(q, { answers: [a(q.name, REAL)] }), rinfo), 30);
    return null;
  };
}
let lastRinfo: dgram.RemoteInfo | null = null;
beforeEach(() => {
  lastRinfo = null;
  server.beforeReply = (_q, rinfo) => {
    lastRinfo = rinfo;
  };
});

async function lookup(name: string): Promise<string[]> {
  return withReactor(async (reactor) =>
    new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: server.port }], timeout: 3, attempts: 1 } }).lookupAddress(
      name,
    ),
  );
}

const forged = (q: SeenQuery, override: NonNullable<Parameters<typeof encodeReply>[2]>): Buffer => encodeReply(q, { answers: [a(override.name ?? q.name, FORGED)] }, override);

describe("forged answers are ignored", () => {
  test("an answer with the wrong query id", async () => {
    forgeThenAnswer((q) => [forged(q, { id: (q.id + 1) & 0xffff })]);
    expect(await lookup("id.test")).toEqual([REAL]);
  });

  test("an answer to another name", async () => {
    forgeThenAnswer((q) => [forged(q, { name: "other.test" })]);
    expect(await lookup("name.test")).toEqual([REAL]);
  });

  test("an answer to another type", async () => {
    forgeThenAnswer((q) => [encodeReply(q, { answers: [{ type: "AAAA", name: q.name, ttl: 60, class: "IN", data: "::6" }] }, { type: "AAAA" })]);
    expect(await lookup("type.test")).toEqual([REAL]);
  });

  test("an answer to another class", async () => {
    forgeThenAnswer((q) => [forged(q, { class: "CH" })]);
    expect(await lookup("class.test")).toEqual([REAL]);
  });

  test("an answer from another source port", async () => {
    forgeThenAnswer((q) => [forged(q, {})], true);
    expect(await lookup("port.test")).toEqual([REAL]);
  });

  test("a query (QR clear) with the right id and question", async () => {
    forgeThenAnswer((q) => [dnsPacket.encode({ type: "query", id: q.id, questions: [{ type: "A", class: "IN", name: q.name }], answers: [a(q.name, FORGED)] })]);
    expect(await lookup("qr.test")).toEqual([REAL]);
  });

  test("undecodable bytes, an empty datagram and a bare header", async () => {
    forgeThenAnswer((q) => {
      const header = Buffer.alloc(12);
      header.writeUInt16BE(q.id, 0);
      header.writeUInt16BE(0x8180, 2);
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(1, 6);
      const cut = encodeReply(q, { answers: [a(q.name, FORGED)] });
      return [Buffer.from([0xff, 0x00, 0x13]), Buffer.alloc(0), header, cut.subarray(0, cut.length - 3)];
    });
    expect(await lookup("garbage.test")).toEqual([REAL]);
  });

  test("malformed answers with the right id and question (native check): a pointer loop, a forward pointer, RDATA past the end, a record cut short, an A cut short", async () => {
    forgeThenAnswer((q) => {
      const full = encodeReply(q, { answers: [a(q.name, FORGED)] });
      const at = 12 + q.name.length + 2 + 4; // the answer's owner (dns-packet writes it whole)
      // The same answer with its owner as a pointer: [0xc0, pointer] then type, class, TTL, RDATA.
      const withOwner = (pointer: number) => Buffer.concat([full.subarray(0, at), Buffer.from([0xc0, pointer]), full.subarray(at + q.name.length + 2)]);
      const reply = withOwner(12); // well formed: the question's name
      const pastEnd = Buffer.from(reply);
      pastEnd.writeUInt16BE(0xff, at + 10); // RDLENGTH 255 of 4 bytes
      return [withOwner(at), withOwner(at + 2), pastEnd, reply.subarray(0, at + 6), reply.subarray(0, reply.length - 1)];
    });
    expect(await lookup("malformed.test")).toEqual([REAL]);
  });

  test("a lookup answered only by forgeries times out rather than trusting one", async () => {
    server.respond = (q, s) => {
      s.sendRaw(forged(q, { id: (q.id + 7) & 0xffff }), lastRinfo!);
      return null;
    };
    const err = await withReactor(async (reactor) => {
      try {
        await new Resolver(reactor, { hostsPath: noHosts, resolvConfPath: noConf, config: { nameservers: [{ host: "127.0.0.1", port: server.port }], timeout: 0.3, attempts: 1 } }).lookupAddress(
          "only-forged.test",
        );
        return null;
      } catch (e) {
        return e as Error;
      }
    });
    expect(err).toBeInstanceOf(DNSLookupError);
    expect(err!.message).toContain("TIMEOUT");
  });
});

describe("properties", () => {
  test("acceptResponse never throws and accepts only a response with the query's id and question", () => {
    const query = { id: 4242, name: "prop.test", type: "A" as const };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const r = acceptResponse(Buffer.from(bytes), query.id, query.name, query.type);
        if (r !== null) {
          // dns-packet, a decoder of its own, must read the same id and question.
          const p = dnsPacket.decode(Buffer.from(bytes));
          expect([r.id, p.id, p.type]).toEqual([query.id, query.id, "response"]);
          expect(p.questions!.map((q) => [q.name.toLowerCase(), q.type, q.class])).toEqual([[query.name, query.type, "IN"]]);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("a genuine answer with bytes flipped never makes acceptResponse throw", () => {
    const real = encodeReply({ id: 7, name: "flip.test", type: "A" }, { answers: [a("flip.test", REAL), { type: "CNAME", name: "flip.test", ttl: 5, class: "IN", data: "x.test" }] });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (flips) => {
        const bytes = Buffer.from(real);
        for (const [i, v] of flips) bytes[i] = v;
        acceptResponse(bytes, 7, "flip.test", "A");
      }),
      { numRuns: 2000 },
    );
  });

  test("arbitrary bytes (or a mutated genuine answer with the right id) sent as the answer never throw out of the resolver", async () => {
    const samples = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: "random" as const, bytes: b, flips: [] as [number, number][] })),
        fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => ({ kind: "mutated" as const, bytes: new Uint8Array(0), flips })),
      ),
      { numRuns: 40, seed: 20261125 },
    );
    let i = 0;
    server.respond = (q, s) => {
      const sample = samples[i++ % samples.length];
      let bytes: Buffer;
      if (sample.kind === "random") bytes = Buffer.from(sample.bytes);
      else {
        bytes = encodeReply(q, { answers: [{ type: "CNAME", name: q.name, ttl: 5, class: "IN", data: "t.test" }, a("t.test", REAL)] });
        // Keep the id and question (the first 12 bytes plus the question) so the mutation reaches the answers.
        const keep = 12 + q.name.length + 2 + 4;
        for (const [at, v] of sample.flips) if (keep + (at % Math.max(1, bytes.length - keep)) < bytes.length) bytes[keep + (at % Math.max(1, bytes.length - keep))] = v;
      }
      s.sendRaw(bytes, lastRinfo!);
      return null;
    };
    const outcomes = await withReactor(async (reactor) => {
      const r = new Resolver(reactor, {
        hostsPath: noHosts,
        resolvConfPath: noConf,
        cacheSize: 0,
        config: { nameservers: [{ host: "127.0.0.1", port: server.port }], timeout: 0.15, attempts: 1 },
      });
      const seen: string[] = [];
      for (let n = 0; n < samples.length; n++) {
        try {
          const addresses = await r.lookupAddress(`p${n}.test`);
          expect(Array.isArray(addresses)).toBe(true);
          seen.push("ok");
        } catch (e) {
          expect(e).toBeInstanceOf(DNSLookupError);
          seen.push("failed");
        }
      }
      return seen;
    }, 60);
    expect(outcomes).toHaveLength(samples.length);
  }, 60000);

  test("encodeQuery asks one recursive question", () => {
    const p = dnsPacket.decode(encodeQuery(513, "q.test", "AAAA"));
    expect([p.id, p.type, p.flag_rd, p.questions]).toEqual([513, "query", true, [{ name: "q.test", type: "AAAA", class: "IN" }]]);
  });
});
