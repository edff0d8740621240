/**
 * The HTTP/1.1 parser: RFC 9112 edge cases as unit tests, and fast-check properties
 * (any split of the input gives the same messages as one read; arbitrary or corrupted
 * bytes give a 4xx/5xx error or a wait for more, never an exception, with bounded memory).
 */
import fc from "fast-check";
import { HTTPParseError } from "../../lib/web/errors";
import { HTTPParser, REQUEST, RESPONSE, type IHTTPParserHandler, type ParserLimits } from "../../lib/web/parser";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

/** What a parser reported, as plain values. */
type Event =
  | { kind: "head"; method: string; target: string; minor: number; status: number; reason: string; headers: string[]; keepAlive: boolean }
  | { kind: "body"; data: string }
  | { kind: "complete"; trailers: string[] | null }
  | { kind: "error"; status: number; message: string };

/** Records events, merging adjacent body pieces (how bytes are split is not an event). */
class Recorder implements IHTTPParserHandler {
  events: Event[] = [];
  headComplete(p: HTTPParser): void {
    this.events.push({ kind: "head", method: p.method, target: p.target, minor: p.versionMinor, status: p.status, reason: p.reason, headers: p.headers.slice(), keepAlive: p.keepAlive });
  }
  bodyData(data: Buffer): void {
    if (data.length === 0) return;
    const last = this.events[this.events.length - 1];
    if (last !== undefined && last.kind === "body") last.data += data.toString("latin1");
    else this.events.push({ kind: "body", data: data.toString("latin1") });
  }
  messageComplete(p: HTTPParser): void {
    this.events.push({ kind: "complete", trailers: p.trailers === null ? null : p.trailers.slice() });
  }
  parseError(e: HTTPParseError): void {
    expect(e).toBeInstanceOf(HTTPParseError);
    this.events.push({ kind: "error", status: e.status, message: e.message });
  }
}

function parse(input: string | Buffer, kind = REQUEST, limits: ParserLimits = {}, splits: number[] = []): { events: Event[]; parser: HTTPParser } {
  const rec = new Recorder();
  const parser = new HTTPParser(kind, rec, limits);
  const buf = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  let at = 0;
  for (const s of [...splits].sort((a, b) => a - b)) {
    if (s <= at || s >= buf.length) continue;
    parser.feed(Buffer.from(buf.subarray(at, s)));
    at = s;
  }
  if (at < buf.length) parser.feed(Buffer.from(buf.subarray(at)));
  return { events: rec.events, parser };
}

function errorOf(input: string, kind = REQUEST, limits = {}): number | null {
  const e = parse(input, kind, limits).events.find((x) => x.kind === "error");
  return e && e.kind === "error" ? e.status : null;
}

describe("request heads", () => {
  test("a simple GET gives method, target, version, lowercased fields and keep-alive", () => {
    const { events } = parse("GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \t\r\n\r\n");
    expect(events).toEqual([
      { kind: "head", method: "GET", target: "/a/b?x=1", minor: 1, status: 0, reason: "", headers: ["host", "example.com", "x-thing", "spaced value"], keepAlive: true },
      { kind: "complete", trailers: null },
    ]);
  });

  test("up to two empty lines before a request line are ignored (RFC 9112 §2.2)", () => {
    const { events } = parse("\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    expect(events.map((e) => e.kind)).toEqual(["head", "complete"]);
  });

  test("obs-fold (a field line starting with whitespace) is a 400", () => {
    expect(errorOf("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n")).toBe(400);
  });

  test("whitespace between a field name and the colon is a 400", () => {
    expect(errorOf("GET / HTTP/1.1\r\nHost : x\r\n\r\n")).toBe(400);
  });

  test("bare LF line ends and bare CR inside the head are a 400", () => {
    expect(errorOf("GET / HTTP/1.1\nHost: x\n\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nHost: x\r\n\n")).toBe(400);
  });

  test("a bare LF is refused even while the head is incomplete (no wait for a terminator that never comes)", () => {
    const { events } = parse("GET / HTTP/1.1\r\nHost: x\nX-More: y", REQUEST, {}, [5]);
    expect(events).toEqual([expect.objectContaining({ kind: "error", status: 400 })]);
  });

  test("malformed request lines are a 400", () => {
    for (const bad of ["GET  / HTTP/1.1", "GET / HTTP/1.1 extra", " GET / HTTP/1.1", "GET /\x7f HTTP/1.1", "G(T / HTTP/1.1", "GET / HTTP/1.", "GET / http/1.1", "GET / HTTP/1.1x", "GET /"]) {
      expect([bad, errorOf(`${bad}\r\nHost: x\r\n\r\n`)]).toEqual([bad, 400]);
    }
  });

  test("HTTP versions other than 1.x are a 505; HTTP/1.2 reads as 1.1", () => {
    expect(errorOf("GET / HTTP/2.0\r\n\r\n")).toBe(505);
    expect(errorOf("GET / HTTP/0.9\r\n\r\n")).toBe(505);
    const { events } = parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
    expect(events[0]).toMatchObject({ kind: "head", minor: 1 });
  });

  test("HTTP/1.0 closes unless keep-alive is asked for; HTTP/1.1 keeps alive unless close", () => {
    const ka = (s: string): boolean => (parse(s).events[0] as { keepAlive: boolean }).keepAlive;
    expect(ka("GET / HTTP/1.0\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).toBe(true);
    expect(ka("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).toBe(true);
    expect(ka("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toBe(false);
    expect(ka("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, Close\r\n\r\n")).toBe(false);
  });

  test("a head larger than maxHeaderSize is a 431, whether in one read or many", () => {
    const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`;
    expect(errorOf(big, REQUEST, { maxHeaderSize: 1024 })).toBe(431);
    const { events, parser } = parse(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(5000)}`, REQUEST, { maxHeaderSize: 1024 }, [10, 100, 700, 1500]);
    expect(events).toEqual([expect.objectContaining({ kind: "error", status: 431 })]);
    expect(parser.partialHead).toBe(0);
  });

  test("pipelined requests in one read come out in order", () => {
    const { events } = parse("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(events.map((e) => (e.kind === "head" ? e.target : e.kind === "body" ? `body:${e.data}` : e.kind))).toEqual([
      "/1", "complete", "/2", "body:abc", "complete", "/3", "complete",
    ]);
  });

  test("each message's headers are its own array, sized to its fields and never changed by the messages after it", () => {
    // A handler that keeps the parser's arrays themselves, as the server's Request does.
    const kept: string[][] = [];
    const p = new HTTPParser(REQUEST, {
      headComplete: (q) => void kept.push(q.headers),
      bodyData: () => undefined,
      messageComplete: () => undefined,
      parseError: (e) => {
        throw e;
      },
    });
    const msgs = [
      "GET /1 HTTP/1.1\r\nHost: same\r\nX-V: one\r\n\r\n",
      "GET /2 HTTP/1.1\r\nHost: same\r\nX-V: two\r\nX-Extra: e\r\n\r\n",
      "GET /3 HTTP/1.1\r\nHost: same\r\nX-V: ONE\r\n\r\n",
      "GET /4 HTTP/1.1\r\nHost: sbme\r\nX-V: one\r\n\r\n",
    ];
    p.feed(Buffer.from(msgs[0], "latin1"));
    p.feed(Buffer.from(msgs[1] + msgs[2], "latin1")); // two in one read
    // The last one split inside the repeated value: parsed again from its parts.
    p.feed(Buffer.from(msgs[3].slice(0, 22), "latin1"));
    p.feed(Buffer.from(msgs[3].slice(22), "latin1"));
    expect(kept).toEqual([
      ["host", "same", "x-v", "one"],
      ["host", "same", "x-v", "two", "x-extra", "e"],
      ["host", "same", "x-v", "ONE"],
      ["host", "sbme", "x-v", "one"],
    ]);
    expect(new Set(kept).size).toBe(4);
    expect(kept.map((h) => h.length)).toEqual([4, 6, 4, 4]);
  });
});

describe("request framing", () => {
  test("Transfer-Encoding together with Content-Length is a 400", () => {
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")).toBe(400);
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")).toBe(400);
  });

  test("differing Content-Length values are a 400; repeated equal ones are accepted", () => {
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")).toBe(400);
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!")).toBe(400);
    const same = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello").events;
    expect(same.slice(1)).toEqual([{ kind: "body", data: "hello" }, { kind: "complete", trailers: null }]);
    expect(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello").events[1]).toEqual({ kind: "body", data: "hello" });
  });

  test("a Content-Length that is not digits is a 400; one of more than 15 significant digits is a 413 (as docs/web.md says)", () => {
    const cl = (v: string): string => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${v}\r\n\r\n`;
    for (const v of ["+5", "-1", "5a", "0x10", "", "1 2", "1e15"]) expect([v, errorOf(cl(v))]).toEqual([v, 400]);
    for (const v of ["1000000000000000", "1234567890123456", "99999999999999999999999"]) expect([v, errorOf(cl(v))]).toEqual([v, 413]);
    // Leading zeros do not make a length large: 19 digits that say 5.
    const { events } = parse(cl("0000000000000000005") + "hello");
    expect(events.map((e) => e.kind)).toEqual(["head", "body", "complete"]);
  });

  test("Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, else 400 (RFC 9112 §3.2)", () => {
    expect(errorOf("GET / HTTP/1.1\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.1\r\nhost: a\r\nX: y\r\nHOST: b\r\n\r\n")).toBe(400);
    expect(errorOf("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")).toBe(400);
    expect(parse("GET / HTTP/1.0\r\n\r\n").events[0]).toMatchObject({ kind: "head", minor: 0 });
    expect(parse("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n").events[0]).toMatchObject({ kind: "head", minor: 1 });
    // Responses carry no Host.
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", RESPONSE).events[0]).toMatchObject({ kind: "head" });
  });

  test("a Content-Length above maxBodySize is a 413 before any body byte arrives", () => {
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", REQUEST, { maxBodySize: 100 })).toBe(413);
  });

  test("Transfer-Encoding must end in chunked (400); other codings are a 501; in HTTP/1.0 a 400", () => {
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")).toBe(400);
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")).toBe(400);
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")).toBe(501);
    expect(errorOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")).toBe(400);
  });

  test("chunked bodies are decoded; extensions skipped; trailers parsed", () => {
    const { events } = parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n5;ext=1;x=\"q\"\r\nhello\r\n6 ; y\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Sum: 42\r\nX-Other: a b\r\n\r\n");
    expect(events.slice(1)).toEqual([
      { kind: "body", data: "hello world0123456789" },
      { kind: "complete", trailers: ["x-sum", "42", "x-other", "a b"] },
    ]);
  });

  test("bad chunk sizes, overflowing sizes and missing CRLFs are a 400", () => {
    const te = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect(errorOf(`${te}xyz\r\n`)).toBe(400);
    expect(errorOf(`${te}\r\n`)).toBe(400);
    expect(errorOf(`${te}-5\r\nhello\r\n`)).toBe(400);
    expect(errorOf(`${te}ffffffffffffffff\r\n`)).toBe(400);
    expect(errorOf(`${te}5\r\nhelloX\r\n`)).toBe(400);
    expect(errorOf(`${te}5\nhello\r\n`)).toBe(400);
    expect(errorOf(`${te}5 5\r\nhello\r\n`)).toBe(400);
    expect(errorOf(`${te}5;${"e".repeat(5000)}\r\nhello\r\n`)).toBe(400);
    expect(errorOf(`${te}0\r\nBad Trailer\r\n\r\n`)).toBe(400);
  });

  test("a chunked body growing past maxBodySize is a 413", () => {
    expect(errorOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + "a".repeat(64) + "\r\n40\r\n", REQUEST, { maxBodySize: 100 })).toBe(413);
  });

  test("a trailer section larger than maxHeaderSize is a 431", () => {
    expect(errorOf(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${"t".repeat(3000)}\r\n\r\n`, REQUEST, { maxHeaderSize: 1024 })).toBe(431);
  });

  test("nothing is parsed after an error", () => {
    const { events } = parse("GET / HTTP/9.9\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(events).toEqual([expect.objectContaining({ kind: "error", status: 505 })]);
  });
});

describe("responses", () => {
  test("status line, reason, Content-Length body", () => {
    const { events } = parse("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", RESPONSE);
    expect(events).toEqual([
      { kind: "head", method: "", target: "", minor: 1, status: 404, reason: "Not Found", headers: ["content-length", "4"], keepAlive: true },
      { kind: "body", data: "nope" },
      { kind: "complete", trailers: null },
    ]);
  });

  test("interim 100 Continue responses are skipped", () => {
    const { events } = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", RESPONSE);
    expect(events.map((e) => e.kind)).toEqual(["head", "body", "complete"]);
    expect(events[0]).toMatchObject({ status: 200 });
  });

  test("at most maxInterimResponses 1xx responses before the final one (502 beyond), counted per response", () => {
    const cont = "HTTP/1.1 100 Continue\r\n\r\n";
    const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    // 16 (the default) then a final response, twice on one connection: both parse.
    const fine = parse((cont.repeat(16) + ok).repeat(2), RESPONSE).events;
    expect(fine.map((e) => e.kind)).toEqual(["head", "body", "complete", "head", "body", "complete"]);
    // The 17th is refused, whether in one read or split byte by byte.
    const flood = cont.repeat(17) + ok;
    expect(errorOf(flood, RESPONSE)).toBe(502);
    const split = parse(flood, RESPONSE, {}, Array.from({ length: flood.length - 1 }, (_, i) => i + 1)).events;
    expect(split).toEqual([expect.objectContaining({ kind: "error", status: 502, message: "more than 16 interim (1xx) responses" })]);
    expect(errorOf(cont.repeat(3) + ok, RESPONSE, { maxInterimResponses: 2 })).toBe(502);
  });

  test("a response to HEAD, a 204 and a 304 have no body whatever their Content-Length", () => {
    const rec = new Recorder();
    const p = new HTTPParser(RESPONSE, rec);
    p.noBody = true;
    p.feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"));
    p.noBody = false;
    p.feed(Buffer.from("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"));
    expect(rec.events.map((e) => (e.kind === "head" ? e.status : e.kind))).toEqual([200, "complete", 204, "complete", 304, "complete"]);
  });

  test("a body without length is read until the connection closes, and the connection is not reused", () => {
    const { events, parser } = parse("HTTP/1.0 200 OK\r\n\r\nall of it", RESPONSE);
    expect(events.map((e) => e.kind)).toEqual(["head", "body"]);
    expect(parser.readingUntilClose).toBe(true);
    expect(parser.finish()).toBeNull();
    expect(events.map((e) => e.kind)).toEqual(["head", "body", "complete"]);
    expect((events[0] as { keepAlive: boolean }).keepAlive).toBe(false);
  });

  test("EOF in the middle of a Content-Length body is an error", () => {
    const { parser } = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", RESPONSE);
    expect(parser.finish()).toBeInstanceOf(HTTPParseError);
  });

  test("a chunked response with a trailer", () => {
    const { events } = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", RESPONSE);
    expect(events.slice(1)).toEqual([{ kind: "body", data: "abc" }, { kind: "complete", trailers: ["x-t", "1"] }]);
  });
});

// ------------------------------------------------------------------ properties

const tokenArb = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
const valueArb = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const reserved = new Set(["content-length", "transfer-encoding", "connection", "expect", "host"]);
const fieldArb = fc.tuple(tokenArb, valueArb).filter(([n]) => !reserved.has(n.toLowerCase()));
const bodyArb = fc.uint8Array({ maxLength: 300 });

/** A request and the events it must produce. */
interface Case {
  bytes: Buffer;
  expected: Event[];
}

const requestArb: fc.Arbitrary<Case> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "X-CUSTOM"),
    target: fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
    minor: fc.constantFrom(0, 1),
    fields: fc.array(fieldArb, { maxLength: 6 }),
    body: bodyArb,
    chunked: fc.boolean(),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }),
    ext: fc.boolean(),
    trailers: fc.array(fieldArb, { maxLength: 2 }),
  })
  .map((r) => {
    const chunked = r.chunked && r.minor === 1;
    let head = `${r.method} ${r.target} HTTP/1.${r.minor}\r\nHost: h\r\n`;
    const headers: string[] = ["host", "h"];
    for (const [n, v] of r.fields) {
      head += `${n}: ${v}\r\n`;
      headers.push(n.toLowerCase(), v);
    }
    const body = Buffer.from(r.body);
    const parts: Buffer[] = [];
    let trailers: string[] | null = null;
    if (chunked) {
      head += "Transfer-Encoding: chunked\r\n\r\n";
      headers.push("transfer-encoding", "chunked");
      let at = 0;
      let k = 0;
      while (at < body.length) {
        const n = Math.min(r.chunkSizes[k++ % Math.max(1, r.chunkSizes.length)] ?? 17, body.length - at);
        parts.push(Buffer.from(`${n.toString(16)}${r.ext ? ";e=v" : ""}\r\n`), body.subarray(at, at + n), Buffer.from("\r\n"));
        at += n;
      }
      let t = "0\r\n";
      if (r.trailers.length > 0) {
        trailers = [];
        for (const [n, v] of r.trailers) {
          t += `${n}: ${v}\r\n`;
          trailers.push(n.toLowerCase(), v);
        }
      }
      parts.push(Buffer.from(`${t}\r\n`));
    } else {
      head += `Content-Length: ${body.length}\r\n\r\n`;
      headers.push("content-length", String(body.length));
      parts.push(body);
    }
    const expected: Event[] = [{ kind: "head", method: r.method, target: r.target, minor: r.minor, status: 0, reason: "", headers, keepAlive: r.minor === 1 }];
    if (body.length > 0) expected.push({ kind: "body", data: body.toString("latin1") });
    expected.push({ kind: "complete", trailers });
    return { bytes: Buffer.concat([Buffer.from(head, "latin1"), ...parts]), expected };
  });

const splitsArb = fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 12 });
const ERROR_STATUSES = new Set([400, 413, 431, 501, 505]);

describe("properties", () => {
  test("any valid request parses to exactly its parts, whatever the splits", () => {
    fc.assert(
      fc.property(requestArb, splitsArb, (c, splits) => {
        expect(parse(c.bytes, REQUEST, {}, splits).events).toEqual(c.expected);
      }),
      { numRuns: 400 },
    );
  });

  test("pipelined valid requests give the same events split anyhow as in one read", () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 4 }), splitsArb, (cases, splits) => {
        const all = Buffer.concat(cases.map((c) => c.bytes));
        const whole = parse(all).events;
        expect(whole).toEqual(cases.flatMap((c) => c.expected));
        expect(parse(all, REQUEST, {}, splits).events).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  test("every single-byte split of a chunked request with extensions and trailers gives the same result", () => {
    const bytes = Buffer.from("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", "latin1");
    const whole = parse(bytes).events;
    const every = [...Array(bytes.length).keys()].slice(1);
    expect(parse(bytes, REQUEST, {}, every).events).toEqual(whole);
  });

  test("arbitrary bytes never throw: they parse, wait, or fail with a 4xx/5xx, holding at most maxHeaderSize", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), splitsArb, fc.constantFrom(REQUEST, RESPONSE), (bytes, splits, kind) => {
        const { events, parser } = parse(Buffer.from(bytes), kind, { maxHeaderSize: 1024, maxBodySize: 4096 }, splits);
        for (const e of events) if (e.kind === "error") expect(ERROR_STATUSES.has(e.status) || (kind === RESPONSE && e.status === 502)).toBe(true);
        expect(events.filter((e) => e.kind === "error").length).toBeLessThanOrEqual(1);
        expect(parser.partialHead).toBeLessThanOrEqual(1024);
      }),
      { numRuns: 1000 },
    );
  });

  test("a valid request with one byte corrupted never throws and fails with a 4xx/5xx at most", () => {
    fc.assert(
      fc.property(requestArb, fc.nat(), fc.integer({ min: 0, max: 255 }), splitsArb, (c, where, byte, splits) => {
        const b = Buffer.from(c.bytes);
        b[where % b.length] = byte;
        const { events } = parse(b, REQUEST, { maxHeaderSize: 1024, maxBodySize: 4096 }, splits);
        for (const e of events) if (e.kind === "error") expect(ERROR_STATUSES.has(e.status)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  test("request-like garbage (valid start, random field bytes) never throws", () => {
    const fieldish = fc.array(fc.constantFrom("a", ":", " ", "\t", "\r", "\n", "\r\n", "x-y", "0", "\x00", "\x7f", "\xff", ";", ","), { maxLength: 80 }).map((a) => a.join(""));
    fc.assert(
      fc.property(fieldish, splitsArb, (junk, splits) => {
        const { events } = parse(`GET / HTTP/1.1\r\nHost: x\r\n${junk}\r\n\r\n`, REQUEST, {}, splits);
        for (const e of events) if (e.kind === "error") expect(ERROR_STATUSES.has(e.status)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
