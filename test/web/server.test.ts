/**
 * The HTTP server (Site, Resource, Request) on 127.0.0.1 against clients no one here
 * wrote: curl, Python's http.client, and raw bytes from Node's net module. Every answer
 * is compared byte for byte (the Date header's value aside, which is checked for form).
 */
import { spawn } from "node:child_process";
import { deferLater } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import type { Reactor } from "../../lib/reactor";
import { NOT_DONE_YET, Resource, type Request } from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { PYTHON, rawExchange, run, serve, withReactor } from "./helpers";

expectNoFdLeaks();

const DATE_RE = /Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n/g;

/** The bytes with each Date header's value replaced by "X" (after checking its form). */
function noDate(s: string): string {
  return s.replace(DATE_RE, "Date: X\r\n");
}

/** A small site: / hello, /echo echoes the body, /chunks streams, /slow/N answers after N ms, /boom throws. */
function testSite(r: Reactor): Resource {
  const root = new Resource();
  class Hello extends Resource {
    override isLeaf = true;
    render_GET(req: Request): string {
      req.setHeader("Content-Type", "text/plain");
      return "Hello, World!";
    }
  }
  class Echo extends Resource {
    override isLeaf = true;
    render_POST(req: Request): Buffer {
      req.setHeader("Content-Type", "application/octet-stream");
      req.setHeader("X-Got-Length", req.content.length);
      return req.content;
    }
  }
  class Chunks extends Resource {
    override isLeaf = true;
    render_GET(req: Request): typeof NOT_DONE_YET {
      req.setHeader("Content-Type", "text/plain");
      req.write("first,");
      deferLater(r, 0.01, () => {
        req.write("second,");
        req.finish("third");
      });
      return NOT_DONE_YET;
    }
  }
  class Slow extends Resource {
    override isLeaf = true;
    render_GET(req: Request): typeof NOT_DONE_YET {
      const ms = Number(req.postpath[0]);
      deferLater(r, ms / 1000, () => {
        req.setHeader("Content-Type", "text/plain");
        req.finish(`slow ${ms}`);
      });
      return NOT_DONE_YET;
    }
  }
  class Boom extends Resource {
    override isLeaf = true;
    render_GET(): string {
      throw new Error("boom");
    }
  }
  class Args extends Resource {
    override isLeaf = true;
    render_GET(req: Request): string {
      req.setHeader("Content-Type", "text/plain");
      return JSON.stringify({ path: req.path, prepath: req.prepath, postpath: req.postpath, args: req.args, ua: req.getHeader("user-agent") ?? null });
    }
  }
  root.putChild("", new Hello());
  root.putChild("echo", new Echo());
  root.putChild("chunks", new Chunks());
  root.putChild("slow", new Slow());
  root.putChild("boom", new Boom());
  root.putChild("args", new Args());
  return root;
}

const HELLO = "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

describeWithPeer("curl")("against curl", () => {
  test("GET / gives the exact response bytes", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const c = await run("curl", ["-sS", "-i", `http://127.0.0.1:${port}/`]);
      expect(c.stderr).toBe("");
      expect(noDate(c.stdout)).toBe(HELLO);
      await listening.stopListening();
    });
  });

  test("three URLs in one curl run share one keep-alive connection", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const u = `http://127.0.0.1:${port}/`;
      const c = await run("curl", ["-sS", u, u, `http://127.0.0.1:${port}/args/a%20b?x=1&x=2&y=`]);
      expect(c.stdout).toBe(`Hello, World!Hello, World!${JSON.stringify({ path: "/args/a%20b", prepath: ["args"], postpath: ["a b"], args: { x: ["1", "2"], y: [""] }, ua: `curl/${(await run("curl", ["--version"])).stdout.split(" ")[1]}` })}`);
      expect(listening.acceptedCount).toBe(1);
      await listening.stopListening();
    });
  });

  test("a chunked upload is decoded and echoed with its length", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const body = "x".repeat(70000) + "end";
      const c = await run("curl", ["-sS", "-i", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type:", "--data-binary", "@-", `http://127.0.0.1:${port}/echo`], body);
      expect(noDate(c.stdout)).toBe(`HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: application/octet-stream\r\nX-Got-Length: 70003\r\nContent-Length: 70003\r\n\r\n${body}`);
      await listening.stopListening();
    });
  });

  test("Expect: 100-continue gets an interim 100 before the body is sent", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const c = await run("curl", ["-sS", "-i", "-H", "Expect: 100-continue", "-H", "Content-Type:", "--data-binary", "0123456789", `http://127.0.0.1:${port}/echo`]);
      expect(noDate(c.stdout)).toBe(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: application/octet-stream\r\nX-Got-Length: 10\r\nContent-Length: 10\r\n\r\n0123456789",
      );
      await listening.stopListening();
    });
  });

  test("a response streamed with write() is chunked on the wire and decoded by curl", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const raw = await run("curl", ["-sS", "-i", "--raw", `http://127.0.0.1:${port}/chunks`]);
      expect(noDate(raw.stdout)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst,\r\n7\r\nsecond,\r\n5\r\nthird\r\n0\r\n\r\n");
      const decoded = await run("curl", ["-sS", `http://127.0.0.1:${port}/chunks`]);
      expect(decoded.stdout).toBe("first,second,third");
      await listening.stopListening();
    });
  });

  test("a pull producer registered on the request streams a 1 MiB body through the transport's flow control", async () => {
    await withReactor(async (r) => {
      const piece = Buffer.alloc(64 * 1024, 0x61);
      const { port, listening } = serve(r, (req: Request) => {
        let left = 16;
        req.setHeader("Content-Length", 16 * piece.length);
        req.registerProducer(
          {
            resumeProducing(): void {
              if (left === 0) return;
              left--;
              req.write(piece);
              if (left === 0) {
                req.unregisterProducer();
                req.finish();
              }
            },
            stopProducing(): void {},
          },
          false,
        );
        return NOT_DONE_YET;
      });
      const c = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", `http://127.0.0.1:${port}/`]);
      expect(c.stdout).toBe(`200 ${16 * 64 * 1024}`);
      await listening.stopListening();
    });
  });

  test("HEAD on a streamed (chunked) resource gives its head and no body, and the connection stays usable", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const got = await rawExchange(port, ["HEAD /chunks HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"], { until: (s) => s.endsWith("Hello, World!") });
      expect(noDate(got.data)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + HELLO);
      await listening.stopListening();
    });
  });

  test("HEAD gives the GET headers and no body; an unknown method a 405 naming the allowed ones; a missing child a 404", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const head = await run("curl", ["-sS", "-i", "-I", `http://127.0.0.1:${port}/`]);
      expect(noDate(head.stdout)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n");
      const del = await run("curl", ["-sS", "-i", "-X", "DELETE", `http://127.0.0.1:${port}/`]);
      expect(noDate(del.stdout)).toBe(
        "HTTP/1.1 405 Method Not Allowed\r\nDate: X\r\nAllow: GET, HEAD\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 48\r\n\r\nMethod Not Allowed: DELETE (allowed: GET, HEAD)\n",
      );
      const missing = await run("curl", ["-sS", "-i", `http://127.0.0.1:${port}/nothing/here`]);
      expect(noDate(missing.stdout)).toBe("HTTP/1.1 404 Not Found\r\nDate: X\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 33\r\n\r\n404 Not Found: No such resource.\n");
      await listening.stopListening();
    });
  });
});

describeWithPeer("python3")("against Python's http.client", () => {
  const script = `
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
out = []
for path in ["/", "/chunks", "/"]:
    c.request("GET", path)
    r = c.getresponse()
    out.append("%d %s %s %r" % (r.status, r.reason, r.getheader("Transfer-Encoding"), r.read().decode()))
c.request("POST", "/echo", body=b"abc" * 1000, headers={"Content-Type": "x/y"})
r = c.getresponse()
out.append("%d %s %d" % (r.status, r.getheader("X-Got-Length"), len(r.read())))
c.request("GET", "/boom")
r = c.getresponse()
out.append("%d %s %r" % (r.status, r.getheader("Connection"), r.read().decode()))
print("\\n".join(out))
`;

  test("one keep-alive connection carries GETs, a chunked response and a POST; a throwing resource gets a 500 and a close", async () => {
    const restore = setLogObservers([]);
    try {
      await withReactor(async (r) => {
        const { port, listening } = serve(r, testSite(r));
        const p = await run(PYTHON, ["-c", script, String(port)]);
        expect(p.stderr).toBe("");
        expect(p.stdout).toBe(
          ["200 OK None 'Hello, World!'", "200 OK chunked 'first,second,third'", "200 OK None 'Hello, World!'", "200 3000 3000", "500 close '500 Internal Server Error\\n'", ""].join("\n"),
        );
        expect(listening.acceptedCount).toBe(1);
        await listening.stopListening();
      });
    } finally {
      restore();
    }
  });
});

describe("raw connections", () => {
  test("three pipelined requests in one write are answered in order, even when the first is the slowest", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const got = await rawExchange(port, [req("/slow/60") + req("/slow/1") + req("/")], { until: (s) => s.endsWith("Hello, World!") });
      expect(noDate(got.data)).toBe(
        "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nslow 60" +
          "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nslow 1" +
          HELLO,
      );
      await listening.stopListening();
    });
  });

  test("requests a handler keeps stay as they arrived after later requests on the same connection (the parser's arrays are not shared)", async () => {
    await withReactor(async (r) => {
      const held: Request[] = [];
      const { port, listening } = serve(r, (req: Request) => {
        held.push(req);
        return `[${req.getHeader("Host")}|${req.getHeader("x-v")}]`;
      });
      const req = (p: string, v: string, extra = ""): string => `GET ${p} HTTP/1.1\r\nHost: same\r\nX-V: ${v}\r\n${extra}\r\n`;
      // One request per read (a gap between the writes), then two pipelined in one read.
      const got = await rawExchange(port, [req("/1", "one"), req("/2", "two", "X-Extra: e\r\n"), req("/3", "one") + req("/4", "oNe")], {
        gapMs: 50,
        until: (d) => d.endsWith("[same|oNe]"),
      });
      expect(got.data.match(/\[[^\]]*\]/g)).toEqual(["[same|one]", "[same|two]", "[same|one]", "[same|oNe]"]);
      expect(held.map((q) => [q.path, q.rawHeaders])).toEqual([
        ["/1", ["host", "same", "x-v", "one"]],
        ["/2", ["host", "same", "x-v", "two", "x-extra", "e"]],
        ["/3", ["host", "same", "x-v", "one"]],
        ["/4", ["host", "same", "x-v", "oNe"]],
      ]);
      expect(new Set(held.map((q) => q.rawHeaders)).size).toBe(4);
      expect(held.map((q) => q.getHeader("X-V"))).toEqual(["one", "two", "one", "oNe"]);
      expect(held.every((q) => q.finished)).toBe(true);
      await listening.stopListening();
    });
  });

  test("what one request sets (body, reason phrase, traversal) is its own: the next requests see the defaults", async () => {
    await withReactor(async (r) => {
      const held: Request[] = [];
      const root = new Resource();
      class Leaf extends Resource {
        override isLeaf = true;
        override render(req: Request): string {
          held.push(req);
          if (req.method === "POST") req.setResponseCode(200, "Fine");
          return `${req.method} ${req.content.length}`;
        }
      }
      root.putChild("a", new Leaf());
      const { port, listening } = serve(r, root);
      const post = "POST /a/x/y HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
      const get = "GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
      const got = await rawExchange(port, [post, get], { gapMs: 30, until: (d) => d.endsWith("GET 0") });
      expect(got.data).toMatch(/^HTTP\/1\.1 200 Fine\r\n[^]*POST 3HTTP\/1\.1 200 OK\r\n[^]*GET 0$/);
      const [a, b] = held;
      expect([a.content.toString(), a.codeMessage, a.clientproto, a.prepath, a.postpath]).toEqual(["abc", "Fine", "HTTP/1.1", ["a"], ["x", "y"]]);
      expect([b.content.length, b.codeMessage, b.clientproto, b.prepath, b.postpath, b.lost]).toEqual([0, "", "HTTP/1.0", ["a"], [], false]);
      expect(Object.keys(b)).not.toContain("content");
      await listening.stopListening();
    });
  });

  test("HTTP/1.0 is closed after the response unless it asks for keep-alive", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const plain = await rawExchange(port, ["GET / HTTP/1.0\r\n\r\n"]);
      expect(plain.closed).toBe(true);
      expect(noDate(plain.data)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!");
      const ka = await rawExchange(port, ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"]);
      expect(ka.closed).toBe(true);
      expect(noDate(ka.data)).toBe(
        "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!" +
          "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!",
      );
      await listening.stopListening();
    });
  });

  test("a request with Connection: close is answered, then the connection closes and later bytes are ignored", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r));
      const got = await rawExchange(port, ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"]);
      expect(got.closed).toBe(true);
      expect(noDate(got.data)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!");
      await listening.stopListening();
    });
  });

  const errorCases: Array<[string, string[], number, string]> = [
    ["a bad request line", ["GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"], 400, "malformed HTTP version"],
    ["a bad chunk size", ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], 400, "invalid chunk size"],
    ["a header flood", [`GET / HTTP/1.1\r\nHost: x\r\n${"X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(200)}\r\n`], 431, "header section larger than 4096 bytes"],
    ["a header flood in small pieces", Array(100).fill("X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n").map((s, i) => (i === 0 ? `GET / HTTP/1.1\r\nHost: x\r\n${s}` : s)), 431, "header section larger than 4096 bytes"],
    ["an overlong Content-Length body", ["POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"], 413, "request body of 100000 bytes exceeds 65536"],
    ["an overlong chunked body", ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + `8000\r\n${"a".repeat(0x8000)}\r\n`.repeat(3)], 413, "body exceeds 65536 bytes"],
    ["TE and Content-Length together", ["POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"], 400, "both Transfer-Encoding and Content-Length"],
    ["an unsupported version", ["GET / HTTP/2.0\r\n\r\n"], 505, "HTTP version 2.0 not supported"],
    ["an HTTP/1.1 request without Host", ["GET / HTTP/1.1\r\n\r\n"], 400, "no Host header field in an HTTP/1.1 request"],
    ["a request with two Host fields", ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"], 400, "more than one Host header field"],
    ["a Content-Length of 10^15 (a length, only too large: 413 as docs/web.md says)", ["POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000\r\n\r\n"], 413, "Content-Length 1000000000000000 is too large"],
  ];

  test.each(errorCases)("%s gets its status and closes that connection only; a keep-alive neighbour keeps working", async (_what, chunks, status, message) => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r), { maxHeaderSize: 4096, maxBodySize: 65536 });
      // A neighbour connection, kept alive across the bad one.
      const script = `
import http.client, sys, socket
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/"); a = c.getresponse().read()
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
c.request("GET", "/"); b = c.getresponse().read()
print(a.decode(), b.decode())
`;
      const py = spawn(PYTHON, ["-c", script, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
      try {
        let out = "";
        const exited = new Promise<number>((res) => py.on("exit", (code) => res(code ?? -1)));
        const ready = new Promise<void>((res, rej) => {
          py.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes("ready")) res();
          });
          void exited.then((code) => rej(new Error(`python exited early (${code})`)));
        });
        await ready;
        const got = await rawExchange(port, chunks, { gapMs: chunks.length > 1 ? 1 : 0 });
        const phrase = { 400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported" }[status]!;
        const body = `${status} ${phrase}: ${message}\n`;
        expect(got.data).toBe(`HTTP/1.1 ${status} ${phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        expect(got.closed).toBe(true);
        py.stdin.end("go\n");
        expect(await exited).toBe(0);
        expect(out).toBe("ready\nHello, World! Hello, World!\n");
      } finally {
        if (py.exitCode === null && py.pid !== undefined) process.kill(py.pid, "SIGKILL");
      }
      expect(listening.acceptedCount).toBe(2);
      await listening.stopListening();
    });
  });

  test("a request head still incomplete after headerTimeout gets a 408 and a close (slowloris)", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r), { headerTimeout: 0.2, idleTimeout: 30 });
      const got = await rawExchange(port, ["GET / HTTP/1.1\r\n", "Host: x\r\n", "X-Slow: 1\r\n"], { gapMs: 50, idleMs: 5000 });
      expect(got.closed).toBe(true);
      expect(got.data).toBe("HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 61\r\nConnection: close\r\n\r\n408 Request Timeout: the request head did not arrive in time\n");
      await listening.stopListening();
    });
  });

  test("a connection idle for idleTimeout after its last response is closed without a word", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r), { idleTimeout: 0.2 });
      const got = await rawExchange(port, ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], { idleMs: 5000 });
      expect(got.closed).toBe(true);
      expect(noDate(got.data)).toBe(HELLO);
      await listening.stopListening();
    });
  });

  test("a request body that stops coming is cut by the idle timeout", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r), { idleTimeout: 0.2 });
      const got = await rawExchange(port, ["POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"], { idleMs: 5000 });
      expect(got).toEqual({ data: "", closed: true });
      await listening.stopListening();
    });
  });

  test("a slow response is not cut by the idle timeout", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, testSite(r), { idleTimeout: 0.1 });
      const got = await rawExchange(port, ["GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\n"], { idleMs: 5000 });
      expect(noDate(got.data)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nslow 300");
      expect(got.closed).toBe(true);
      await listening.stopListening();
    });
  });

  test("a handler function works as the whole site, and a client leaving mid-response fails notifyFinish", async () => {
    await withReactor(async (r) => {
      const outcomes: string[] = [];
      const { port, listening } = serve(r, (req: Request) => {
        if (req.path === "/hang") {
          req.notifyFinish().addCallbacks(
            () => void outcomes.push("finished"),
            (f) => void outcomes.push(`lost:${(f.value as Error).constructor.name}`),
          );
          return NOT_DONE_YET;
        }
        return `you asked for ${req.path}`;
      });
      const got = await rawExchange(port, ["GET /x HTTP/1.1\r\nHost: x\r\n\r\n"], { until: (s) => s.endsWith("/x") });
      expect(noDate(got.data)).toBe("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/html\r\nContent-Length: 16\r\n\r\nyou asked for /x");
      await rawExchange(port, ["GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"], { idleMs: 100 });
      for (let i = 0; i < 100 && outcomes.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(outcomes).toEqual(["lost:ConnectionDone"]);
      await listening.stopListening();
    });
  });
});
