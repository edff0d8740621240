/**
 * The HTTP client (Agent, HTTPConnectionPool, readBody, RedirectAgent, getPage) against
 * Debian's nginx-light (static files, gzip's chunked responses, redirects, keep-alive
 * reuse seen through nginx's own $connection counters), against fdreactor's own server,
 * and against a close-delimited raw server; plus its errors and timeouts.
 */
import * as net from "node:net";
import { gunzipSync } from "node:zlib";
import { Deferred, TimeoutError, type Failure } from "../../lib/defer";
import { ConnectionRefusedError, DNSLookupError } from "../../lib/error";
import {
  Agent,
  BodyTooLargeError,
  getPage,
  HTTPConnectionPool,
  InvalidURLError,
  NOT_DONE_YET,
  PageError,
  PotentialDataLoss,
  readBody,
  RedirectAgent,
  RedirectError,
  ResponseDone,
  SchemeNotSupported,
  type IBodyProducer,
  type Request,
  type Response,
} from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { rejection, serve, withReactor } from "./helpers";
import { startNginx, type Nginx } from "./nginx";

expectNoFdLeaks();

describeWithPeer("nginx-light")("against nginx", () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx();
  });
  afterAll(async () => {
    await nginx.stop();
  });
  const url = (p: string): string => `http://127.0.0.1:${nginx.port}${p}`;

  test("getPage fetches a static file's exact bytes", async () => {
    await withReactor(async (r) => {
      const body = await getPage(url("/static.txt"), { reactor: r });
      expect(body.equals(nginx.files["static.txt"])).toBe(true);
    });
  });

  test("Agent gives status, headers and Content-Length, then readBody the body", async () => {
    await withReactor(async (r) => {
      const agent = new Agent(r);
      const resp = await agent.request("GET", url("/static.txt"));
      expect([resp.version, resp.code, resp.phrase, resp.length]).toEqual(["HTTP/1.1", 200, "OK", nginx.files["static.txt"].length]);
      expect(resp.headers.get("content-type")).toBe("text/plain");
      expect(resp.headers.get("server")).toMatch(/^nginx/);
      expect((await readBody(resp)).toString()).toBe("static file from nginx\n");
    });
  });

  test("a gzip response is chunked on the wire and arrives whole", async () => {
    await withReactor(async (r) => {
      const resp = await new Agent(r).request("GET", url("/gz/big.txt"), { "Accept-Encoding": "gzip" });
      expect(resp.headers.get("transfer-encoding")).toBe("chunked");
      expect(resp.headers.get("content-encoding")).toBe("gzip");
      expect(resp.length).toBeNull();
      const body = await readBody(resp);
      expect(gunzipSync(body).equals(nginx.files["gz/big.txt"])).toBe(true);
    });
  });

  test("deliverBody streams the body to a protocol and ends with ResponseDone", async () => {
    await withReactor(async (r) => {
      const resp = await new Agent(r).request("GET", url("/gz/big.txt"));
      const seen = await new Promise<{ bytes: number; pieces: number; end: string }>((resolve) => {
        let bytes = 0;
        let pieces = 0;
        resp.deliverBody({
          makeConnection(): void {},
          dataReceived(d: Buffer): void {
            bytes += d.length;
            pieces++;
          },
          connectionLost(reason: Failure): void {
            resolve({ bytes, pieces, end: reason.getTypeName() });
          },
        });
      });
      expect(seen.bytes).toBe(nginx.files["gz/big.txt"].length);
      expect(seen.pieces).toBeGreaterThan(1);
      expect(seen.end).toBe(ResponseDone.name);
    });
  });

  test("a persistent pool sends N requests over one TCP connection (nginx's $connection and $connection_requests)", async () => {
    await withReactor(async (r) => {
      const pool = new HTTPConnectionPool(r, { maxPersistentPerHost: 1 });
      const agent = new Agent(r, { pool });
      const conns: string[] = [];
      const counts: string[] = [];
      for (let i = 0; i < 5; i++) {
        const resp = await agent.request("GET", url("/static.txt"));
        conns.push(resp.headers.get("x-conn")!);
        counts.push(resp.headers.get("x-conn-requests")!);
        await readBody(resp);
      }
      expect(new Set(conns).size).toBe(1);
      expect(counts).toEqual(["1", "2", "3", "4", "5"]);
      expect(pool.connectionsMade).toBe(1);
      expect(pool.idleCount()).toBe(1);
      await pool.closeCachedConnections();
      expect(pool.idleCount()).toBe(0);
    });
  });

  test("a non-persistent Agent uses a new connection per request and asks the server to close", async () => {
    await withReactor(async (r) => {
      const agent = new Agent(r);
      const a = await agent.request("GET", url("/static.txt"));
      await readBody(a);
      const b = await agent.request("GET", url("/static.txt"));
      await readBody(b);
      expect(a.headers.get("connection")).toBe("close");
      expect(a.headers.get("x-conn")).not.toBe(b.headers.get("x-conn"));
      expect(agent.pool.connectionsMade).toBe(2);
    });
  });

  test("301 (relative Location) and 302 (absolute) are followed to the file; the chain is kept", async () => {
    await withReactor(async (r) => {
      const ra = new RedirectAgent(new Agent(r));
      for (const [p, code] of [["/r301", 301], ["/r302", 302]] as const) {
        const resp = await ra.request("GET", url(p));
        expect(resp.code).toBe(200);
        expect(resp.request.url).toBe(url("/static.txt"));
        expect(resp.previousResponse?.code).toBe(code);
        expect((await readBody(resp)).toString()).toBe("static file from nginx\n");
      }
      expect((await getPage(url("/r301"), { reactor: r })).toString()).toBe("static file from nginx\n");
    });
  });

  test("303 turns a POST into a GET without body; 307 and 308 repeat the POST with its body", async () => {
    await withReactor(async (r) => {
      const post = (p: string): PromiseLike<Buffer> => getPage(url(p), { reactor: r, method: "POST", body: "hello" });
      expect((await post("/r303")).toString()).toBe("GET \n");
      expect((await post("/r307")).toString()).toBe("POST 5\n");
      expect((await post("/r308")).toString()).toBe("POST 5\n");
    });
  });

  test("a redirect loop fails with RedirectError after the limit; followRedirect false gives the 3xx itself", async () => {
    await withReactor(async (r) => {
      const e = await rejection(getPage(url("/loop"), { reactor: r, redirectLimit: 3 }));
      expect(e).toBeInstanceOf(RedirectError);
      expect(e.message).toBe(`Infinite redirection detected: more than 3 redirects from ${url("/loop")}`);
      const resp = await new Agent(r).request("GET", url("/r301"));
      expect([resp.code, resp.headers.get("location")]).toEqual([301, url("/static.txt")]);
      await readBody(resp);
    });
  });

  test("a 404 makes getPage fail with PageError carrying status, body and headers", async () => {
    await withReactor(async (r) => {
      const e = (await rejection(getPage(url("/missing"), { reactor: r }))) as PageError;
      expect(e).toBeInstanceOf(PageError);
      expect([e.status, e.phrase, e.url, e.message]).toEqual([404, "Not Found", url("/missing"), `404 Not Found from ${url("/missing")}`]);
      expect(e.body.toString()).toContain("404 Not Found");
      expect(e.headers.get("server")).toMatch(/^nginx/);
    });
  });
});

describe("against fdreactor's own server", () => {
  function site(): (req: Request) => string | typeof NOT_DONE_YET {
    return (req: Request) => {
      if (req.path === "/echo") return `${req.method} ${req.content.toString()} ${req.getHeader("x-custom") ?? "-"}`;
      if (req.path === "/fail") {
        req.setResponseCode(503);
        return "down for maintenance";
      }
      if (req.path === "/never") return NOT_DONE_YET;
      if (req.path === "/big") return "x".repeat(100000);
      return "<html><head><title>fdreactor</title></head></html>";
    };
  }

  test("getPage with method, headers and body; 'localhost' resolves", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, site());
      expect((await getPage(`http://localhost:${port}/`, { reactor: r })).toString()).toBe("<html><head><title>fdreactor</title></head></html>");
      expect((await getPage(`http://127.0.0.1:${port}/echo`, { reactor: r, method: "PUT", body: "payload", headers: { "X-Custom": "yes" } })).toString()).toBe("PUT payload yes");
      await listening.stopListening();
    });
  });

  test("a body producer of unknown length is sent chunked; one of known length with Content-Length", async () => {
    await withReactor(async (r) => {
      const seen: string[] = [];
      const { port, listening } = serve(r, (req: Request) => {
        seen.push(`${req.getHeader("transfer-encoding") ?? "-"} ${req.getHeader("content-length") ?? "-"}`);
        return `${req.method} ${req.content.toString()}`;
      });
      const producer = (length: number | null): IBodyProducer => ({
        length,
        startProducing(consumer): Deferred<void> {
          const d = new Deferred<void>();
          consumer.write("one,");
          r.callLater(0.01, () => {
            consumer.write(Buffer.from("two,"));
            consumer.write("three");
            d.callback(undefined);
          });
          return d;
        },
        pauseProducing(): void {},
        resumeProducing(): void {},
        stopProducing(): void {},
      });
      const agent = new Agent(r);
      expect((await readBody(await agent.request("POST", `http://127.0.0.1:${port}/`, null, producer(null)))).toString()).toBe("POST one,two,three");
      expect((await readBody(await agent.request("PUT", `http://127.0.0.1:${port}/`, null, producer(13)))).toString()).toBe("PUT one,two,three");
      expect(seen).toEqual(["chunked -", "- 13"]);
      await listening.stopListening();
    });
  });

  test("host names go through the reactor's resolver hook (connectTCP's), and the Host header keeps the name", async () => {
    await withReactor(async (r) => {
      const asked: string[] = [];
      const { port, listening } = serve(r, (req: Request) => `host=${req.getHeader("host")}`);
      const withResolver = r as unknown as { resolve?: (name: string) => Promise<string> };
      const previous = withResolver.resolve;
      withResolver.resolve = (name: string) => {
        asked.push(name);
        return Promise.resolve("127.0.0.1");
      };
      try {
        expect((await getPage(`http://www.example.test:${port}/`, { reactor: r })).toString()).toBe(`host=www.example.test:${port}`);
        expect(asked).toEqual(["www.example.test"]);
        withResolver.resolve = () => Promise.reject(new Error("no such name"));
        const e = await rejection(getPage(`http://nowhere.example.test:${port}/`, { reactor: r }));
        expect(e).toBeInstanceOf(DNSLookupError);
        expect(e.message).toBe(`DNS lookup failed: nowhere.example.test:${port}: no such name`);
      } finally {
        withResolver.resolve = previous;
      }
      await listening.stopListening();
    });
  });

  test("a 503 is a PageError with its status and body", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, site());
      const e = (await rejection(getPage(`http://127.0.0.1:${port}/fail`, { reactor: r }))) as PageError;
      expect([e.constructor, e.status, e.body.toString()]).toEqual([PageError, 503, "down for maintenance"]);
      await listening.stopListening();
    });
  });

  test("a server that never answers makes getPage fail with TimeoutError, and the server sees the connection go", async () => {
    await withReactor(async (r) => {
      const lost: string[] = [];
      const { port, listening } = serve(r, (req: Request) => {
        req.notifyFinish().addErrback(() => void lost.push("lost"));
        return NOT_DONE_YET;
      });
      const e = await rejection(getPage(`http://127.0.0.1:${port}/never`, { reactor: r, timeout: 0.2 }));
      expect(e).toBeInstanceOf(TimeoutError);
      for (let i = 0; i < 100 && lost.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(lost).toEqual(["lost"]);
      await listening.stopListening();
    });
  });

  test("a bad timeout fails getPage with RangeError (TypeError for a non-number) before any connection is opened", async () => {
    await withReactor(async (r) => {
      const accepted: net.Socket[] = [];
      const server = net.createServer((s) => void accepted.push(s));
      await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
      const port = (server.address() as net.AddressInfo).port;
      try {
        for (const timeout of [0, -1, Number.NaN]) {
          expect(await rejection(getPage(`http://127.0.0.1:${port}/`, { reactor: r, timeout }))).toBeInstanceOf(RangeError);
        }
        expect(await rejection(getPage(`http://127.0.0.1:${port}/`, { reactor: r, timeout: "1" as unknown as number }))).toBeInstanceOf(TypeError);
        await new Promise((res) => setTimeout(res, 200));
        expect(accepted.length).toBe(0);
      } finally {
        for (const s of accepted) s.destroy();
        await new Promise((res) => server.close(res));
      }
    });
  });

  test("a body larger than maxBodySize fails with BodyTooLargeError", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, site());
      const e = await rejection(getPage(`http://127.0.0.1:${port}/big`, { reactor: r, maxBodySize: 1000 }));
      expect(e).toBeInstanceOf(BodyTooLargeError);
      expect((e as BodyTooLargeError).limit).toBe(1000);
      await listening.stopListening();
    });
  });

  test("a cached connection closed by the server's idle timeout is replaced on the next request", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, site(), { idleTimeout: 0.1 });
      const pool = new HTTPConnectionPool(r);
      const agent = new Agent(r, { pool });
      await readBody(await agent.request("GET", `http://127.0.0.1:${port}/`));
      expect(pool.idleCount()).toBe(1);
      for (let i = 0; i < 100 && pool.idleCount() > 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(pool.idleCount()).toBe(0);
      const body = await readBody(await agent.request("GET", `http://127.0.0.1:${port}/`));
      expect(body.toString()).toContain("<title>fdreactor</title>");
      expect(pool.connectionsMade).toBe(2);
      expect(listening.acceptedCount).toBe(2);
      await pool.closeCachedConnections();
      await listening.stopListening();
    });
  });

  test("thirty concurrent getPage calls over a pool of two connections all get their page", async () => {
    await withReactor(async (r) => {
      const { port, listening } = serve(r, site());
      const pool = new HTTPConnectionPool(r);
      const bodies = await Promise.all(Array.from({ length: 30 }, () => getPage(`http://127.0.0.1:${port}/`, { reactor: r, pool })));
      expect(bodies.map((b) => b.toString()).every((s) => s.includes("<title>fdreactor</title>"))).toBe(true);
      expect(pool.idleCount()).toBe(2);
      await pool.closeCachedConnections();
      await listening.stopListening();
    });
  });
});

describe("close-delimited bodies and errors", () => {
  test("a body with no length is read until the server closes, ending with PotentialDataLoss", async () => {
    const server = net.createServer((s) => {
      s.once("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nevery byte until close"));
    });
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await withReactor(async (r) => {
        const resp: Response = await new Agent(r).request("GET", `http://127.0.0.1:${port}/`);
        expect(resp.length).toBeNull();
        const end = await new Promise<[string, string]>((resolve) => {
          let text = "";
          resp.deliverBody({
            makeConnection(): void {},
            dataReceived(d: Buffer): void {
              text += d.toString();
            },
            connectionLost(reason: Failure): void {
              resolve([text, reason.getTypeName()]);
            },
          });
        });
        expect(end).toEqual(["every byte until close", PotentialDataLoss.name]);
        expect((await getPage(`http://127.0.0.1:${port}/`, { reactor: r })).toString()).toBe("every byte until close");
      });
    } finally {
      await new Promise((res) => server.close(res));
    }
  });

  test("bad URLs fail with typed errors naming them; a closed port with ConnectionRefusedError", async () => {
    await withReactor(async (r) => {
      const bad = await rejection(getPage("http//nope", { reactor: r }));
      expect(bad).toBeInstanceOf(InvalidURLError);
      expect(bad.message).toBe('Invalid URL "http//nope": not an absolute URL');
      const ftp = await rejection(getPage("ftp://127.0.0.1/", { reactor: r }));
      expect(ftp).toBeInstanceOf(SchemeNotSupported);
      expect(ftp.message).toBe('Invalid URL "ftp://127.0.0.1/": scheme ftp is not supported (only http and https)');
      const s = net.createServer();
      await new Promise<void>((res) => s.listen(0, "127.0.0.1", () => res()));
      const port = (s.address() as net.AddressInfo).port;
      await new Promise((res) => s.close(res));
      expect(await rejection(getPage(`http://127.0.0.1:${port}/`, { reactor: r }))).toBeInstanceOf(ConnectionRefusedError);
      expect(await rejection(new Agent(r).request("GET BAD", `http://127.0.0.1:${port}/`))).toBeInstanceOf(TypeError);
    });
  });
});
