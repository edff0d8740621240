/**
 * HTTPS in the web layer, on real sockets: getPage and the Agent against fdreactor's own
 * Site over listenSSL, Node's `https` and nginx with ssl, all with a test CA; each refused
 * certificate as a TLSError naming its reason; the pool keeping http and https apart;
 * redirects between the schemes dropping credentials; no fd left behind.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { TLSError } from "../../lib/error";
import { CertificateOptions, listenSSL, type IReactorFDSet } from "../../lib/net";
import { Agent, BrowserLikePolicyForHTTPS, Data, File, HTTPConnectionPool, Site, getPage, parseURL, readBody, type Request } from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { makeCertificates, type Certificates, type Identity } from "../support/tls";
import { startNginx } from "./nginx";
import { rejection, serve, withReactor } from "./helpers";

expectNoFdLeaks();

/** A Site over listenSSL on 127.0.0.1 with `id`'s certificate; resolves its port. */
function serveTLS(r: IReactorFDSet, resource: ConstructorParameters<typeof Site>[0], id: Identity): { port: number; stop: () => PromiseLike<unknown> } {
  const site = new Site(resource, { reactor: r });
  const listening = listenSSL(r, 0, site, new CertificateOptions({ privateKey: id.key, certificate: id.cert }), { interface: "127.0.0.1" });
  const h = listening.getHost();
  if (h.type === "UNIX") throw new Error("unexpected");
  return { port: h.port, stop: () => listening.stopListening() };
}

/** Node's https server with `id`, answering every request with its method, path and Authorization header. */
async function nodeHttps(id: Identity): Promise<{ port: number; close: () => Promise<void> }> {
  const server = https.createServer({ key: id.key, cert: id.cert }, (req, res) => {
    const body = `${req.method} ${req.url} auth=${req.headers.authorization ?? "-"}`;
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    },
  };
}

test("https URLs parse with port 443 by default and keep the Host header without it", () => {
  expect(parseURL("https://Example.com/a?b=1")).toEqual({ href: "https://example.com/a?b=1", scheme: "https", host: "example.com", port: 443, path: "/a?b=1", hostHeader: "example.com" });
  expect(parseURL("https://example.com:443/").port).toBe(443);
  expect(parseURL("https://[::1]:8443/").hostHeader).toBe("[::1]:8443");
  expect(parseURL("http://example.com/").port).toBe(80);
});

test("TLS options of the Agent and getPage are checked, naming the argument", async () => {
  await withReactor(async (r) => {
    expect(() => new Agent(r, { tlsPolicy: {} as never })).toThrow(/tlsPolicy/);
    expect(() => new BrowserLikePolicyForHTTPS({ trustRoot: 42 as never })).toThrow(/trustRoot/);
    const both = await rejection(getPage("https://127.0.0.1/", { reactor: r, trustRoot: "system", tlsPolicy: new BrowserLikePolicyForHTTPS() }));
    expect(both.message).toMatch(/trustRoot and tlsPolicy/);
  });
});

describeWithPeer("openssl")("https in the web layer", () => {
  let pki: Certificates;
  beforeAll(() => {
    pki = makeCertificates();
  });
  afterAll(() => pki.remove());

  test("getPage fetches a page from fdreactor's own Site over listenSSL, verified against the test CA", async () => {
    await withReactor(async (r) => {
      const site = serveTLS(r, new Data("<title>over TLS</title>", "text/html"), pki.leaf);
      try {
        const body = await getPage(`https://localhost:${site.port}/`, { reactor: r, trustRoot: pki.ca.cert });
        expect(body.toString()).toBe("<title>over TLS</title>");
        const byAddress = await getPage(`https://127.0.0.1:${site.port}/`, { reactor: r, trustRoot: pki.ca.cert });
        expect(byAddress.toString()).toBe("<title>over TLS</title>");
      } finally {
        await site.stop();
      }
    });
  });

  test("File serves a 1 MiB file over TLS byte for byte (file ranges go through the record layer, not sendfile)", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-https-file-"));
    const data = crypto.randomBytes(1 << 20);
    fs.writeFileSync(path.join(root, "big.bin"), data);
    try {
      await withReactor(async (r) => {
        const site = serveTLS(r, new File(root), pki.leaf);
        try {
          const body = await getPage(`https://localhost:${site.port}/big.bin`, { reactor: r, trustRoot: pki.ca.cert });
          expect(body.length).toBe(data.length);
          expect(crypto.createHash("sha256").update(body).digest("hex")).toBe(crypto.createHash("sha256").update(data).digest("hex"));
        } finally {
          await site.stop();
        }
      });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("a Site over TLS sees its requests as secure", async () => {
    await withReactor(async (r) => {
      const seen: boolean[] = [];
      const site = serveTLS(r, (req: Request) => {
        seen.push(req.isSecure());
        return "ok";
      }, pki.leaf);
      const plain = serve(r, (req: Request) => {
        seen.push(req.isSecure());
        return "ok";
      });
      try {
        await getPage(`https://localhost:${site.port}/`, { reactor: r, trustRoot: pki.ca.cert });
        await getPage(`http://127.0.0.1:${plain.port}/`, { reactor: r });
        expect(seen).toEqual([true, false]);
      } finally {
        await site.stop();
        await plain.listening.stopListening();
      }
    });
  });

  test("getPage fetches from Node's https server; a persistent pool reuses the one TLS connection", async () => {
    const node = await nodeHttps(pki.leaf);
    try {
      await withReactor(async (r) => {
        const pool = new HTTPConnectionPool(r);
        const agent = new Agent(r, { pool, tlsPolicy: new BrowserLikePolicyForHTTPS({ trustRoot: pki.ca.cert }) });
        for (let i = 0; i < 3; i++) {
          const resp = await agent.request("GET", `https://localhost:${node.port}/n${i}`, { Authorization: "Bearer t" });
          expect(resp.code).toBe(200);
          expect((await readBody(resp)).toString()).toBe(`GET /n${i} auth=Bearer t`);
        }
        expect(pool.connectionsMade).toBe(1);
        expect(pool.idleCount(`https://localhost:${node.port}`)).toBe(1);
        await pool.closeCachedConnections();
      });
    } finally {
      await node.close();
    }
  });

  test("the pool keys connections by scheme: an http:// request to the TLS port gets no cached TLS connection", async () => {
    const node = await nodeHttps(pki.leaf);
    try {
      await withReactor(async (r) => {
        const pool = new HTTPConnectionPool(r);
        const agent = new Agent(r, { pool, tlsPolicy: new BrowserLikePolicyForHTTPS({ trustRoot: pki.ca.cert }) });
        const resp = await agent.request("GET", `https://127.0.0.1:${node.port}/a`);
        expect((await readBody(resp)).toString()).toBe("GET /a auth=-");
        expect(pool.idleCount(`https://127.0.0.1:${node.port}`)).toBe(1);
        // Plain HTTP to a TLS server: a new TCP connection, which Node answers with 400 and closes.
        const plain = await rejection(getPage(`http://127.0.0.1:${node.port}/b`, { reactor: r, pool }).then((b) => b));
        expect(pool.connectionsMade).toBe(2);
        expect(plain.constructor.name).toMatch(/PageError|ResponseFailed|ResponseNeverReceived/);
        expect(pool.idleCount(`https://127.0.0.1:${node.port}`)).toBe(1);
        await pool.closeCachedConnections();
      });
    } finally {
      await node.close();
    }
  });

  test.each([
    ["hostname-mismatch", (c: Certificates) => c.other, "localhost"],
    ["expired", (c: Certificates) => c.expired, "localhost"],
    ["self-signed", (c: Certificates) => c.selfSigned, "localhost"],
  ] as const)("a %s certificate fails getPage with a TLSError naming it; nothing is fetched", async (reason, pick, host) => {
    await withReactor(async (r) => {
      const requests: string[] = [];
      const site = serveTLS(r, (req: Request) => {
        requests.push(req.uri);
        return "secret";
      }, pick(pki));
      try {
        const e = await rejection(getPage(`https://${host}:${site.port}/`, { reactor: r, trustRoot: pki.ca.cert }));
        expect(e).toBeInstanceOf(TLSError);
        expect((e as TLSError).reason).toBe(reason);
        expect(requests).toEqual([]);
      } finally {
        await site.stop();
      }
    });
  });

  test("by default the system's store is the trust root: the test CA's certificate is untrusted", async () => {
    await withReactor(async (r) => {
      const site = serveTLS(r, new Data("x", "text/plain"), pki.leaf);
      try {
        const e = await rejection(getPage(`https://localhost:${site.port}/`, { reactor: r }));
        expect(e).toBeInstanceOf(TLSError);
        expect((e as TLSError).reason).toBe("untrusted");
      } finally {
        await site.stop();
      }
    });
  });

  test("redirects between http and https follow, and drop Authorization once the origin changes", async () => {
    const node = await nodeHttps(pki.leaf);
    try {
      await withReactor(async (r) => {
        const authSeen: string[] = [];
        const plain = serve(r, (req: Request) => {
          authSeen.push(`http ${req.uri} ${req.getHeader("authorization") ?? "-"}`);
          if (req.uri === "/to-https") {
            req.redirect(`https://localhost:${node.port}/landed`);
            return "";
          }
          return "plain";
        });
        try {
          const body = await getPage(`http://127.0.0.1:${plain.port}/to-https`, { reactor: r, trustRoot: pki.ca.cert, headers: { Authorization: "Basic c2VjcmV0" } });
          expect(body.toString()).toBe("GET /landed auth=-");
          expect(authSeen).toEqual([`http /to-https Basic c2VjcmV0`]);
        } finally {
          await plain.listening.stopListening();
        }
      });
    } finally {
      await node.close();
    }
  });

  test("an https page redirecting to http loses the credentials (a downgrade is another origin)", async () => {
    await withReactor(async (r) => {
      const seen: string[] = [];
      const plain = serve(r, (req: Request) => {
        seen.push(`http ${req.uri} ${req.getHeader("authorization") ?? "-"}`);
        return "plain";
      });
      const secure = serveTLS(r, (req: Request) => {
        seen.push(`https ${req.uri} ${req.getHeader("authorization") ?? "-"}`);
        if (req.uri === "/same") {
          req.redirect("/down");
          return "";
        }
        req.redirect(`http://127.0.0.1:${plain.port}/plain`);
        return "";
      }, pki.leaf);
      try {
        const body = await getPage(`https://localhost:${secure.port}/same`, { reactor: r, trustRoot: pki.ca.cert, headers: { Authorization: "Basic c2VjcmV0" } });
        expect(body.toString()).toBe("plain");
        expect(seen).toEqual(["https /same Basic c2VjcmV0", "https /down Basic c2VjcmV0", "http /plain -"]);
      } finally {
        await secure.stop();
        await plain.listening.stopListening();
      }
    });
  });

  describeWithPeer("nginx-light")("against nginx with ssl", () => {
    test("getPage fetches a static file and follows nginx's https redirect", async () => {
      const nginx = await startNginx({ keyFile: pki.leaf.keyFile, certFile: pki.leaf.certFile });
      try {
        await withReactor(async (r) => {
          const body = await getPage(`https://localhost:${nginx.port}/static.txt`, { reactor: r, trustRoot: pki.ca.cert });
          expect(body.equals(nginx.files["static.txt"])).toBe(true);
          const big = await getPage(`https://localhost:${nginx.port}/gz/big.txt`, { reactor: r, trustRoot: pki.ca.cert, headers: { "Accept-Encoding": "identity" } });
          expect(big.equals(nginx.files["gz/big.txt"])).toBe(true);
          const redirected = await getPage(`https://127.0.0.1:${nginx.port}/r302`, { reactor: r, trustRoot: pki.ca.cert });
          expect(redirected.equals(nginx.files["static.txt"])).toBe(true);
        });
      } finally {
        await nginx.stop();
      }
    });
  });
});
