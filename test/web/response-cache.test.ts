/**
 * The response cache of Request (a response rendered once, its encoded bytes written again
 * by later requests that would render the same bytes in the same second): every kind of
 * head comes out byte for byte as it is rendered, twice in a row and interleaved with
 * others on one keep-alive connection, so a stale or wrongly shared entry shows as a wrong
 * byte; the Date line follows the clock across a second; and an identical response really
 * is the same bytes object (the fast path is taken), a differing one never.
 */
import { NOT_DONE_YET, Request, Resource } from "../../lib/web";
import type { IRequestChannel } from "../../lib/web/request";
import { expectNoFdLeaks } from "../support/fds";
import { MemoryTransport, rawExchange, serve, withReactor } from "./helpers";

expectNoFdLeaks();

const DATE_RE = /Date: ((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)\r\n/g;

/** The bytes with each Date header's value replaced by "X" (after checking its form). */
function noDate(s: string): string {
  return s.replace(DATE_RE, "Date: X\r\n");
}

/**
 * A leaf shaped by its query: code (and msg, a reason phrase), h=Name:Value header fields
 * in order, body; stream=1 sends the body with write() then finish(), bytes=1 returns it as
 * a Buffer (latin1), raw=Name:Value pushes a field into responseHeaders directly.
 */
class Shaped extends Resource {
  override isLeaf = true;
  override render(req: Request): string | Buffer | typeof NOT_DONE_YET {
    const a = req.args;
    if (a.code) req.setResponseCode(Number(a.code[0]), a.msg?.[0]);
    for (const h of a.h ?? []) {
      const i = h.indexOf(":");
      req.setHeader(h.slice(0, i), h.slice(i + 1));
    }
    for (const h of a.raw ?? []) {
      const i = h.indexOf(":");
      req.responseHeaders.push(h.slice(0, i), h.slice(i + 1));
    }
    const body = a.body?.[0] ?? "";
    if (a.stream) {
      req.write(body);
      req.finish();
      return NOT_DONE_YET;
    }
    return a.bytes ? Buffer.from(body, "latin1") : body;
  }
}

const CRLF = "\r\n";
/** "HTTP/1.1 <status>\r\nDate: X\r\n<lines, each ended by CRLF>\r\n<body>". */
function resp(status: string, lines: string[], body = ""): string {
  return `HTTP/1.1 ${status}${CRLF}Date: X${CRLF}${lines.map((l) => l + CRLF).join("")}${CRLF}${body}`;
}

/** [request, the exact response (Date as X)] on an HTTP/1.1 keep-alive connection of a site with the default Content-Type. */
const CASES: Array<[string, string]> = [
  ["GET /?body=hi", resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=X-A:1&h=X-B:2&body=hi", resp("200 OK", ["X-A: 1", "X-B: 2", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=X-A:1&h=X-B:3&body=hi", resp("200 OK", ["X-A: 1", "X-B: 3", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=X-B:2&h=X-A:1&body=hi", resp("200 OK", ["X-B: 2", "X-A: 1", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=X-A:1&body=ho", resp("200 OK", ["X-A: 1", "Content-Type: text/html", "Content-Length: 2"], "ho")],
  ["GET /?h=X-A:1&body=hi&bytes=1", resp("200 OK", ["X-A: 1", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["HEAD /?h=X-A:1&body=hi", resp("200 OK", ["X-A: 1", "Content-Type: text/html", "Content-Length: 2"])],
  ["HEAD /?h=X-A:1&body=hi&bytes=1", resp("200 OK", ["X-A: 1", "Content-Type: text/html", "Content-Length: 2"])],
  ["GET /", resp("200 OK", ["Content-Type: text/html", "Content-Length: 0"])],
  ["GET /?code=204", resp("204 No Content", [])],
  ["GET /?code=204&body=ignored", resp("204 No Content", [])],
  ["GET /?code=304&h=ETag:x", resp("304 Not Modified", ["ETag: x"])],
  ["GET /?code=404&body=hi", resp("404 Not Found", ["Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?code=200&msg=Fine&body=hi", resp("200 Fine", ["Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?code=200&msg=Grand&body=hi", resp("200 Grand", ["Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=Content-Length:2&body=hi", resp("200 OK", ["Content-Length: 2", "Content-Type: text/html"], "hi")],
  ["GET /?h=Content-Type:text/plain&body=hi", resp("200 OK", ["Content-Type: text/plain", "Content-Length: 2"], "hi")],
  ["GET /?raw=X-Raw:1&body=hi", resp("200 OK", ["X-Raw: 1", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  // Fields pushed into responseHeaders directly are not noted (Content-Length is then added too, as before).
  ["GET /?raw=Content-Length:2&body=hi", resp("200 OK", ["Content-Length: 2", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=Content-Length:2&body=hi", resp("200 OK", ["Content-Length: 2", "Content-Type: text/html"], "hi")],
  ["GET /?raw=Content-Type:text/html&body=hi", resp("200 OK", ["Content-Type: text/html", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?h=Content-Type:text/html&body=hi", resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["GET /?stream=1&body=ab", resp("200 OK", ["Content-Type: text/html", "Transfer-Encoding: chunked"], "2\r\nab\r\n0\r\n\r\n")],
  ["GET /?stream=1&body=ab&h=Content-Length:2", resp("200 OK", ["Content-Length: 2", "Content-Type: text/html"], "ab")],
  // A header value of 0xE9 (é): UTF-8 after a string body, latin1 before a byte body (as before the cache).
  ["GET /?h=X-E:%C3%A9&body=hi", resp("200 OK", ["X-E: \xc3\xa9", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  ["HEAD /?h=X-E:%C3%A9&body=hi", resp("200 OK", ["X-E: \xc3\xa9", "Content-Type: text/html", "Content-Length: 2"])],
  ["GET /?h=X-E:%C3%A9&body=hi&bytes=1", resp("200 OK", ["X-E: \xe9", "Content-Type: text/html", "Content-Length: 2"], "hi")],
  // A body of two UTF-8 bytes for one character.
  ["GET /?body=%C3%A9", resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "\xc3\xa9")],
];

/** Sends `requests` (each completed with Host and a blank line, unless it already has them) pipelined on one connection; resolves with what came back. */
async function exchange(port: number, requests: string[], expectedLength: number, extra = ""): Promise<{ data: string; closed: boolean }> {
  const wire = requests.map((q) => (q.includes(CRLF) ? q : `${q} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`)).join("");
  return rawExchange(port, [wire], { until: (d) => noDate(d).length >= expectedLength });
}

describe("the response cache", () => {
  test("every kind of head is byte for byte what rendering gives, twice in a row and interleaved, on one keep-alive connection", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, new Shaped());
      // Each case twice in a row, then the whole list again in reverse: every entry is met
      // again after others (four entries of cache, more cases than that).
      const order = [...CASES.flatMap((c) => [c, c]), ...CASES.slice().reverse()];
      const want = order.map(([, w]) => w).join("");
      const got = await exchange(port, order.map(([q]) => q), want.length);
      expect(got.closed).toBe(false);
      expect(noDate(got.data)).toBe(want);
      await listening.stopListening();
    });
  });

  test("a header value changed after a first response on the same keep-alive connection goes out as changed", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, new Shaped());
      const values = ["one", "two", "one", "one", "onf", "two"];
      const want = values.map((v) => resp("200 OK", [`X-V: ${v}`, "Content-Type: text/html", "Content-Length: 2"], "hi")).join("");
      const got = await exchange(port, values.map((v) => `GET /?h=X-V:${v}&body=hi`), want.length);
      expect(noDate(got.data)).toBe(want);
      await listening.stopListening();
    });
  });

  test("Connection: close, HTTP/1.0 keep-alive and HTTP/1.0 streaming get their own heads, not a keep-alive one", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, new Shaped());
      const ka = resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "hi");
      // A keep-alive 1.1 response first, so that a wrong hit would give its bytes.
      const closing = await exchange(port, ["GET /?body=hi", "GET /?body=hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], 2 * ka.length);
      expect(noDate(closing.data)).toBe(ka + resp("200 OK", ["Content-Type: text/html", "Content-Length: 2", "Connection: close"], "hi"));
      const h10 = "GET /?body=hi HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
      const wantOld =
        ka +
        resp("200 OK", ["Content-Type: text/html", "Content-Length: 2", "Connection: keep-alive"], "hi").repeat(2) +
        resp("200 OK", ["Content-Type: text/html", "Connection: close"], "ab");
      const old = await exchange(port, ["GET /?body=hi", h10, h10, "GET /?stream=1&body=ab HTTP/1.0\r\n\r\n"], wantOld.length);
      expect(noDate(old.data)).toBe(wantOld);
      await listening.stopListening();
    });
  });

  test("two sites with different default Content-Types in one process do not share a head", async () => {
    await withReactor(async (r) => {
      const a = serve(r, new Shaped());
      const b = serve(r, new Shaped(), { defaultContentType: "" });
      const wantA = resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "hi");
      const wantB = resp("200 OK", ["Content-Length: 2"], "hi");
      for (let i = 0; i < 2; i++) {
        expect(noDate((await exchange(a.port, ["GET /?body=hi"], wantA.length)).data)).toBe(wantA);
        expect(noDate((await exchange(b.port, ["GET /?body=hi"], wantB.length)).data)).toBe(wantB);
      }
      await a.listening.stopListening();
      await b.listening.stopListening();
    });
  });

  test("the Date line follows the clock across a second boundary on one keep-alive connection", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, new Shaped());
      const one = resp("200 OK", ["Content-Type: text/html", "Content-Length: 2"], "hi");
      const q = "GET /?body=hi HTTP/1.1\r\nHost: x\r\n\r\n";
      const start = Date.now();
      const got = await rawExchange(port, [q, q], { gapMs: 1100, until: (d) => noDate(d).length >= 2 * one.length });
      const after = Date.now();
      expect(noDate(got.data)).toBe(one + one);
      const dates = [...got.data.matchAll(DATE_RE)].map((m) => Date.parse(m[1]));
      expect(dates).toHaveLength(2);
      // The second request left at least 1.1 s after the first: a later second, read off the clock.
      expect(dates[1]).toBeGreaterThan(dates[0]);
      expect(dates[1]).toBeGreaterThanOrEqual(Math.floor((start + 1100) / 1000) * 1000);
      expect(dates[1]).toBeLessThanOrEqual(after);
      await listening.stopListening();
    });
  });

  test("an identical response writes the very same bytes object; a differing status, field, body, connection or second never does", () => {
    const t = new (class extends MemoryTransport {
      objects: Array<Uint8Array | string> = [];
      override write(data: Uint8Array | string): void {
        this.objects.push(data);
        super.write(data);
      }
    })();
    const channel: IRequestChannel = { transport: t, defaultContentType: "text/html", now: 1_700_000_000_500, requestDone: () => undefined };
    const answer = (setup: (q: Request) => void, body = "hi", keepAlive = true, method = "GET"): Uint8Array | string => {
      const q = new Request(channel, method, "/", 1, [], keepAlive);
      setup(q);
      q.finish(body);
      return t.objects[t.objects.length - 1];
    };
    const plain = (q: Request): void => q.setHeader("Content-Type", "text/plain");
    const first = answer(plain);
    expect(first).toBeInstanceOf(Uint8Array);
    expect(answer(plain)).toBe(first);
    expect(answer((q) => q.setHeader("Content-Type", "text/plaiN"))).not.toBe(first);
    expect(answer(plain, "ho")).not.toBe(first);
    expect(answer(plain, "hi", false)).not.toBe(first);
    expect(answer(plain, "hi", true, "HEAD")).not.toBe(first);
    expect(answer((q) => (plain(q), q.setResponseCode(404)))).not.toBe(first);
    expect(answer(plain)).toBe(answer(plain)); // still one entry per distinct response
    (channel as { now: number }).now += 1000;
    const later = answer(plain);
    expect(later).not.toBe(first);
    expect(Buffer.from(later as Uint8Array).toString("latin1")).toBe(
      `HTTP/1.1 200 OK\r\nDate: ${new Date(1_700_000_001_000).toUTCString()}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi`,
    );
    // The first bytes were never changed by the entries made after them.
    expect(Buffer.from(first as Uint8Array).toString("latin1")).toBe(
      `HTTP/1.1 200 OK\r\nDate: ${new Date(1_700_000_000_000).toUTCString()}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi`,
    );
  });
});

describe("setHeader with the name it checked last", () => {
  const channel: IRequestChannel = { transport: null, defaultContentType: "", now: 0, requestDone: () => undefined };
  const fresh = (): Request => new Request(channel, "GET", "/", 1, [], true);

  test("a bad value, a value of no string type and a bad name still throw, whatever name came before", () => {
    const q = fresh();
    q.setHeader("X-A", "1");
    expect(() => q.setHeader("X-A", "bad\r\nX-Evil: 1")).toThrow(/header value of X-A must be a string without CR, LF/);
    expect(() => q.setHeader("X-A", undefined as unknown as string)).toThrow(TypeError);
    expect(() => q.setHeader("X-A", { toString: () => "1" } as unknown as string)).toThrow(TypeError);
    expect(() => q.setHeader("Bad Name", "1")).toThrow(/header name must be a token/);
    expect(() => q.setHeader("", "1")).toThrow(/header name must be a token/);
    expect(() => q.setHeader(null as unknown as string, "1")).toThrow(/header name must be a token/);
    expect(() => q.setHeader("X-A", "\x7f")).toThrow(TypeError);
    expect(() => q.setHeader("X-A", "\u0100")).toThrow(TypeError);
    expect(q.responseHeaders).toEqual(["X-A", "1"]);
  });

  test("the same name in another casing replaces every earlier value; a name of another length or another name does not", () => {
    const q = fresh();
    q.setHeader("X-A", "1");
    q.addHeader("x-a", "2");
    q.setHeader("X-Ab", "3");
    q.setHeader("X-B", "4");
    q.setHeader("x-A", "5");
    expect(q.responseHeaders).toEqual(["X-Ab", "3", "X-B", "4", "x-A", "5"]);
    q.setHeader("X-A", 6);
    expect(q.responseHeaders).toEqual(["X-Ab", "3", "X-B", "4", "X-A", "6"]);
  });
});
