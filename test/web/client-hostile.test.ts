/**
 * The HTTP client against servers that misbehave (docs/security.md, "HTTP under hostile
 * peers"): a redirect to another origin, bytes after a complete response, a server that
 * accepts and never answers, one that trickles, one that sends 100 Continue forever; and
 * every misuse of getPage coming back through its Deferred. Real sockets on 127.0.0.1: the
 * hostile servers are Node `net` servers writing exact bytes, the honest ones `Site`s.
 */
import * as net from "node:net";
import { TimeoutError, type Failure } from "../../lib/defer";
import { setLogObservers } from "../../lib/log";
import type { Reactor } from "../../lib/reactor";
import {
  Agent,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_RESPONSE_TIMEOUT,
  getPage,
  HTTPConnectionPool,
  InvalidURLError,
  readBody,
  RedirectAgent,
  ResponseFailed,
  ResponseTimeout,
  type Request,
} from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { rejection, serve, withReactor } from "./helpers";

expectNoFdLeaks();

/** A Node net server on 127.0.0.1 running `onConnection` per socket; tracks and closes its sockets. */
async function rawServer(onConnection: (s: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[]; closed: () => number; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on("error", () => undefined);
    s.on("close", () => closed++);
    onConnection(s);
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    closed: () => closed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((res) => server.close(res));
    },
  };
}

/** Records every log entry while `body` runs. */
async function logged<T>(body: () => Promise<T>): Promise<{ value: T; entries: string[] }> {
  const entries: string[] = [];
  const restore = setLogObservers([(level, message, e) => void entries.push(`${level}: ${message}${e ? ` (${String(e)})` : ""}`)]);
  try {
    return { value: await body(), entries };
  } finally {
    restore();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("redirects and credentials", () => {
  const CREDENTIALS = { Authorization: "Bearer s3cret", Cookie: "sid=42", "Proxy-Authorization": "Basic cHJveHk=", "X-Trace": "kept" };
  const seen = (req: Request): string => JSON.stringify(["authorization", "cookie", "proxy-authorization", "x-trace"].map((n) => req.getHeader(n) ?? null));

  test("a redirect to another port receives no Authorization, Cookie or Proxy-Authorization; a same-origin redirect keeps them", async () => {
    await withReactor(async (r: Reactor) => {
      const got: Record<string, string> = {};
      const b = serve(r, (req) => {
        got[`b${req.path}`] = seen(req);
        if (req.path === "/back") req.redirect(`http://127.0.0.1:${a.port}/final`);
        return "b";
      });
      const a = serve(r, (req) => {
        got[`a${req.path}`] = seen(req);
        if (req.path === "/same") req.redirect("/landing");
        else if (req.path === "/cross") req.redirect(`http://127.0.0.1:${b.port}/landing`);
        else if (req.path === "/roundtrip") req.redirect(`http://127.0.0.1:${b.port}/back`);
        else if (req.path === "/byname") req.redirect(`http://localhost:${a.port}/landing`);
        return "a";
      });
      try {
        const url = (p: string): string => `http://127.0.0.1:${a.port}${p}`;
        const all = '["Bearer s3cret","sid=42","Basic cHJveHk=","kept"]';
        const none = '[null,null,null,"kept"]';
        expect((await getPage(url("/same"), { reactor: r, headers: CREDENTIALS })).toString()).toBe("a");
        expect([got["a/same"], got["a/landing"]]).toEqual([all, all]);
        expect((await getPage(url("/cross"), { reactor: r, headers: CREDENTIALS })).toString()).toBe("b");
        expect([got["a/cross"], got["b/landing"]]).toEqual([all, none]);
        // Dropped for the rest of the chain, also when it comes back to the first origin.
        expect((await getPage(url("/roundtrip"), { reactor: r, headers: CREDENTIALS })).toString()).toBe("a");
        expect([got["a/roundtrip"], got["b/back"], got["a/final"]]).toEqual([all, none, none]);
        // Another host name for the same address is another origin.
        delete got["a/landing"];
        expect((await getPage(url("/byname"), { reactor: r, headers: CREDENTIALS })).toString()).toBe("a");
        expect([got["a/byname"], got["a/landing"]]).toEqual([all, none]);
        // The caller's headers object is untouched.
        expect(Object.keys(CREDENTIALS)).toHaveLength(4);
      } finally {
        await a.listening.stopListening();
        await b.listening.stopListening();
      }
    });
  });
});

describe("bytes after a complete response", () => {
  const EXTRA = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad";

  test.each([
    ["in the same read", false],
    ["in a later read", true],
  ])("%s: the response stands, the connection is closed and never reused, nothing is logged or thrown", async (_what, later) => {
    const srv = await rawServer((s) => {
      s.once("data", () => {
        if (!later) s.write(EXTRA);
        else {
          s.write(EXTRA.slice(0, EXTRA.indexOf("HTTP/1.1", 5)));
          setTimeout(() => s.writable && s.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad"), 100);
        }
      });
    });
    try {
      const { value, entries } = await logged(() =>
        withReactor(async (r: Reactor) => {
          const pool = new HTTPConnectionPool(r, { maxPersistentPerHost: 2 });
          const agent = new Agent(r, { pool });
          const url = `http://127.0.0.1:${srv.port}/`;
          const bodies: string[] = [];
          for (let i = 0; i < 2; i++) {
            const resp = await agent.request("GET", url);
            bodies.push((await readBody(resp)).toString());
            // Let the extra bytes arrive and be refused.
            for (let k = 0; k < 100 && srv.closed() <= i; k++) await sleep(10);
          }
          const made = pool.connectionsMade;
          const idle = pool.idleCount();
          await pool.closeCachedConnections();
          return { bodies, made, idle };
        }),
      );
      expect(value).toEqual({ bodies: ["hello", "hello"], made: 2, idle: 0 });
      expect(srv.sockets).toHaveLength(2);
      expect(srv.closed()).toBe(2); // each closed by the client
      expect(entries).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  test("getPage (one connection per call) gets the body and logs nothing", async () => {
    const srv = await rawServer((s) => s.once("data", () => s.write(EXTRA)));
    try {
      const { value, entries } = await logged(() => withReactor(async (r: Reactor) => (await getPage(`http://127.0.0.1:${srv.port}/`, { reactor: r })).toString()));
      expect(value).toBe("hello");
      expect(entries).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});

describe("timeouts and 1xx", () => {
  test("defaults: responseTimeout 300 s, idleTimeout 60 s (docs/web.md)", async () => {
    await withReactor(async (r: Reactor) => {
      const a = new Agent(r);
      expect([a.responseTimeout, a.idleTimeout, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_IDLE_TIMEOUT]).toEqual([300, 60, 300, 60]);
    });
  });

  test("a server that accepts and never answers: the request fails with ResponseTimeout('idle') after idleTimeout, and the connection is closed", async () => {
    const srv = await rawServer(() => undefined);
    try {
      await withReactor(async (r: Reactor) => {
        const agent = new Agent(r, { idleTimeout: 0.5 });
        const t0 = Date.now();
        const e = await rejection(agent.request("GET", `http://127.0.0.1:${srv.port}/`));
        const took = (Date.now() - t0) / 1000;
        expect(e).toBeInstanceOf(ResponseTimeout);
        expect(e).toBeInstanceOf(ResponseFailed);
        expect([(e as ResponseTimeout).which, (e as ResponseTimeout).seconds]).toEqual(["idle", 0.5]);
        expect(e.message).toBe(`GET http://127.0.0.1:${srv.port}/: the server sent nothing for 0.5 s (idleTimeout)`);
        expect(took).toBeGreaterThanOrEqual(0.45);
        expect(took).toBeLessThan(3);
        for (let k = 0; k < 100 && srv.closed() < 1; k++) await sleep(10);
        expect(srv.closed()).toBe(1);
      });
    } finally {
      await srv.close();
    }
  });

  test("a server that trickles a header byte every 50 ms: idleTimeout never fires, responseTimeout does", async () => {
    const srv = await rawServer((s) => {
      const head = "HTTP/1.1 200 OK\r\nX-Slow: " + "a".repeat(10000);
      let i = 0;
      const tick = setInterval(() => (s.writable && i < head.length ? s.write(head[i++]) : clearInterval(tick)), 50);
      s.on("close", () => clearInterval(tick));
    });
    try {
      await withReactor(async (r: Reactor) => {
        const t0 = Date.now();
        const e = await rejection(getPage(`http://127.0.0.1:${srv.port}/`, { reactor: r, idleTimeout: 0.4, responseTimeout: 1 }));
        const took = (Date.now() - t0) / 1000;
        expect(e).toBeInstanceOf(ResponseTimeout);
        expect((e as ResponseTimeout).which).toBe("response");
        expect(took).toBeGreaterThanOrEqual(0.95);
        expect(took).toBeLessThan(4);
      });
    } finally {
      await srv.close();
    }
  });

  test("the idle timeout also runs between body bytes, and not while the body consumer has paused", async () => {
    const srv = await rawServer((s) =>
      s.once("data", () => {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
      }),
    );
    try {
      await withReactor(async (r: Reactor) => {
        const agent = new Agent(r, { idleTimeout: 0.4 });
        const resp = await agent.request("GET", `http://127.0.0.1:${srv.port}/`);
        // Paused by its consumer for longer than idleTimeout: not an idle server.
        let ended: Failure | null = null;
        let flow: { pauseProducing(): void; resumeProducing(): void } | null = null;
        resp.deliverBody({
          makeConnection: (t) => {
            flow = t;
            t.pauseProducing();
          },
          dataReceived: () => undefined,
          connectionLost: (reason: Failure) => {
            ended = reason;
          },
        });
        await sleep(700);
        expect(ended).toBeNull();
        flow!.resumeProducing();
        const t0 = Date.now();
        for (let k = 0; k < 300 && ended === null; k++) await sleep(10);
        const took = (Date.now() - t0) / 1000;
        expect((ended as Failure | null)?.value).toBeInstanceOf(ResponseTimeout);
        expect(((ended as unknown as Failure).value as ResponseTimeout).which).toBe("idle");
        expect(took).toBeGreaterThanOrEqual(0.35);
        expect(took).toBeLessThan(3);
      });
    } finally {
      await srv.close();
    }
  });

  test("a long upload is not idle: the server says nothing while it reads a 20 MiB body slowly, and the request succeeds", async () => {
    const SIZE = 20 * 1024 * 1024;
    // The client sees its upload move as its own queue shrinks (when the kernel wakes it to
    // write again, after ~1.5 MB of send buffer freed) and as the socket's send queue does.
    // The slow part of the upload stays above the idle timeout: 12 MiB at <= 64 KiB per
    // 10 ms is >= 1.9 s.
    const IDLE = 1.5;
    const srv = await rawServer((s) => {
      let got = 0;
      s.on("data", (d: Buffer) => {
        got += d.length;
        // ~64 KiB per 10 ms while the client still holds body bytes: seconds for those; the
        // last 8 MiB (what the kernel's socket buffers can hide from the client) at once.
        if (got < SIZE - 8 * 1024 * 1024) {
          s.pause();
          setTimeout(() => s.resume(), 10);
        }
        if (got >= SIZE) s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      });
    });
    try {
      await withReactor(async (r: Reactor) => {
        const t0 = Date.now();
        const body = await getPage(`http://127.0.0.1:${srv.port}/up`, { reactor: r, method: "PUT", body: Buffer.alloc(SIZE, 7), idleTimeout: IDLE });
        expect(body.toString()).toBe("ok");
        expect((Date.now() - t0) / 1000).toBeGreaterThan(IDLE); // longer than idleTimeout, yet not idle
      });
    } finally {
      await srv.close();
    }
  });

  test("an upload whose last megabytes sit in the kernel is not idle while the server reads them slowly", async () => {
    // The whole body is soon taken by the kernel (the client's own queue stays empty), and
    // the server drains it at ~64 KiB per 40 ms: seconds with nothing new in the client's
    // queue, yet the server is reading. The idle check sees the socket's send queue shrink.
    // The idle timeout is 1 s, not less: the server runs in this process, and on a loaded
    // machine a stall of the whole process can put an idle check before the server's turn.
    const SIZE = 8 * 1024 * 1024;
    const IDLE = 1;
    const srv = await rawServer((s) => {
      let got = 0;
      s.on("data", (d: Buffer) => {
        got += d.length;
        if (got >= SIZE) {
          s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
          return;
        }
        s.pause();
        setTimeout(() => s.resume(), 40);
      });
    });
    try {
      await withReactor(async (r: Reactor) => {
        const t0 = Date.now();
        const body = await getPage(`http://127.0.0.1:${srv.port}/up`, { reactor: r, method: "PUT", body: Buffer.alloc(SIZE, 9), idleTimeout: IDLE });
        expect(body.toString()).toBe("ok");
        expect((Date.now() - t0) / 1000).toBeGreaterThan(3 * IDLE);
      });
    } finally {
      await srv.close();
    }
  });

  test("an upload to a server that never reads: once the socket buffers are full nothing moves, and the idle timeout fires", async () => {
    const srv = await rawServer(() => undefined);
    try {
      await withReactor(async (r: Reactor) => {
        const t0 = Date.now();
        const e = await rejection(getPage(`http://127.0.0.1:${srv.port}/up`, { reactor: r, method: "PUT", body: Buffer.alloc(32 * 1024 * 1024, 5), idleTimeout: 0.5 }));
        expect(e).toBeInstanceOf(ResponseTimeout);
        expect((e as ResponseTimeout).which).toBe("idle");
        expect((Date.now() - t0) / 1000).toBeLessThan(5);
      });
    } finally {
      await srv.close();
    }
  });

  test("a server streaming endless '100 Continue': the request fails after 16 of them, long before any timeout", async () => {
    const srv = await rawServer((s) => {
      const tick = setInterval(() => (s.writable ? s.write("HTTP/1.1 100 Continue\r\n\r\n") : clearInterval(tick)), 5);
      s.on("close", () => clearInterval(tick));
    });
    try {
      await withReactor(async (r: Reactor) => {
        const t0 = Date.now();
        const e = await rejection(getPage(`http://127.0.0.1:${srv.port}/`, { reactor: r }));
        expect(e).toBeInstanceOf(ResponseFailed);
        expect(e).not.toBeInstanceOf(ResponseTimeout);
        expect(e.message).toBe("malformed response: more than 16 interim (1xx) responses");
        expect((Date.now() - t0) / 1000).toBeLessThan(5);
        for (let k = 0; k < 100 && srv.closed() < 1; k++) await sleep(10);
        expect(srv.closed()).toBe(1);
      });
    } finally {
      await srv.close();
    }
  });
});

describe("getPage never throws: every misuse fails its Deferred", () => {
  const cases: Array<[string, (r: Reactor) => unknown, new (...a: never[]) => Error, RegExp]> = [
    ["a header value with CR/LF", (r) => getPage("http://127.0.0.1:1/", { reactor: r, headers: { "X-A": "a\r\nInjected: 1" } }), TypeError, /header value of X-A/],
    ["a header value with a bare LF", (r) => getPage("http://127.0.0.1:1/", { reactor: r, headers: { "X-A": "a\nb" } }), TypeError, /header value of X-A/],
    ["a header name that is no token", (r) => getPage("http://127.0.0.1:1/", { reactor: r, headers: { "Bad Name": "x" } }), TypeError, /header name must be a token/],
    ["a relative URL", (r) => getPage("/nohost", { reactor: r }), InvalidURLError, /Invalid URL "\/nohost"/],
    ["a URL that is not a string", (r) => getPage(42 as unknown as string, { reactor: r }), TypeError, /url must be a string/],
    ["a method that is no token", (r) => getPage("http://127.0.0.1:1/", { reactor: r, method: "GE T" }), TypeError, /method must be an HTTP method token/],
    ["a misspelt option", (r) => getPage("http://127.0.0.1:1/", { reactor: r, timout: 5 } as never), TypeError, /unknown option "timout"/],
    ["options that are not an object", (r) => getPage("http://127.0.0.1:1/", null as never), TypeError, /options must be an object/],
    ["a negative timeout", (r) => getPage("http://127.0.0.1:1/", { reactor: r, timeout: -1 }), RangeError, /timeout must be a number of seconds > 0/],
    ["a non-numeric idleTimeout", (r) => getPage("http://127.0.0.1:1/", { reactor: r, idleTimeout: "5" as never }), TypeError, /idleTimeout must be a number of seconds >= 0, received string/],
    ["a negative responseTimeout", (r) => getPage("http://127.0.0.1:1/", { reactor: r, responseTimeout: -3 }), RangeError, /responseTimeout must be/],
    ["a negative maxBodySize", (r) => getPage("http://127.0.0.1:1/", { reactor: r, maxBodySize: -1 }), RangeError, /maxBodySize must be a positive integer/],
    ["a fractional redirectLimit", (r) => getPage("http://127.0.0.1:1/", { reactor: r, redirectLimit: 1.5 }), RangeError, /redirectLimit must be an integer/],
    ["followRedirect that is not a boolean", (r) => getPage("http://127.0.0.1:1/", { reactor: r, followRedirect: "yes" as never }), TypeError, /followRedirect must be a boolean/],
    ["a reactor that is not one", (r) => getPage("http://127.0.0.1:1/", { reactor: {} as never }), TypeError, /reactor must be a reactor/],
    ["a body of the wrong type", (r) => getPage("http://127.0.0.1:1/", { reactor: r, method: "POST", body: 12 as never }), TypeError, /bodyProducer must be/],
  ];

  test.each(cases)("%s", async (_what, call, type, message) => {
    await withReactor(async (r: Reactor) => {
      let d: unknown;
      expect(() => {
        d = call(r);
      }).not.toThrow();
      const e = await rejection(d as PromiseLike<unknown>);
      expect(e).toBeInstanceOf(type);
      expect(e.message).toMatch(message);
    });
  });

  test("RedirectAgent.request fails its Deferred for a bad header too", async () => {
    await withReactor(async (r: Reactor) => {
      const ra = new RedirectAgent(new Agent(r));
      let d: unknown;
      expect(() => {
        d = ra.request("GET", "http://127.0.0.1:1/", { "X-A": "a\r\nb" });
      }).not.toThrow();
      expect(await rejection(d as PromiseLike<unknown>)).toBeInstanceOf(TypeError);
    });
  });

  test("getPage's own timeout still fails with TimeoutError (the whole fetch, redirects included)", async () => {
    const srv = await rawServer(() => undefined);
    try {
      await withReactor(async (r: Reactor) => {
        const e = await rejection(getPage(`http://127.0.0.1:${srv.port}/`, { reactor: r, timeout: 0.3 }));
        expect(e).toBeInstanceOf(TimeoutError);
      });
    } finally {
      await srv.close();
    }
  });
});
