/**
 * bench/tls's load generators for real on 127.0.0.1 against a Node `https` server in this
 * process: the C client's full handshakes (none resumed) and held connections, wrk held to
 * the one suite by its OpenSSL config, and the answer check refusing a stranger's certificate.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import type { TLSSocket } from "node:tls";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer, hasPeer, testIf } from "../support/peers";
import { makeCertificates, type Certificates } from "../support/tls";

/* eslint-disable @typescript-eslint/no-require-imports */
const { benchCertificate, SUITE } = require("../../bench/tls/certs");
const { runClient } = require("../../bench/tls/handshakes");
const { hold } = require("../../bench/tls/idle");
const { verifyHttps } = require("../../bench/tls/servers");
const { runWrk } = require("../../bench/lib/wrk");
/* eslint-enable @typescript-eslint/no-require-imports */

expectNoFdLeaks();

interface Seen {
  sessions: number;
  resumed: number;
  ciphers: Set<string>;
  protocols: Set<string>;
}

/** A hello-world https server on the bench certificate (or `identity`), counting what its TLS sessions negotiated. */
async function helloServer(identity?: { key: string; cert: string }): Promise<{ server: https.Server; port: number; seen: Seen }> {
  const files = benchCertificate();
  const id = identity ?? { key: fs.readFileSync(files.key, "utf8"), cert: fs.readFileSync(files.cert, "utf8") };
  const seen: Seen = { sessions: 0, resumed: 0, ciphers: new Set(), protocols: new Set() };
  const server = https.createServer({ ...id }, (req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 13 });
    res.end("Hello, World!");
  });
  server.on("secureConnection", (s: TLSSocket) => {
    seen.sessions++;
    if (s.isSessionReused()) seen.resumed++;
    seen.ciphers.add(s.getCipher().standardName);
    seen.protocols.add(String(s.getProtocol()));
  });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port, seen };
}

/** The C client compiles against the system's OpenSSL headers. */
const withHeaders = testIf(fs.existsSync("/usr/include/openssl/ssl.h"), "needs libssl-dev: apt-get install -y libssl-dev");

async function close(server: https.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describeWithPeer("openssl")("bench/tls load generators", () => {
  let pki: Certificates;
  beforeAll(() => {
    pki = makeCertificates();
  });
  afterAll(() => pki.remove());

  withHeaders("the C client makes full TLS 1.3 handshakes with the bench suite, one GET each, none resumed", async () => {
    const { server, port, seen } = await helloServer();
    try {
      const r = await runClient({ port, conns: 4, seconds: 1, cpu: null });
      expect(r.errors).toBe(0);
      expect(r.handshakes).toBeGreaterThan(0);
      expect([r.version, r.cipher]).toEqual(["TLSv1.3", SUITE]);
      expect(seen.sessions).toBeGreaterThanOrEqual(r.handshakes);
      expect(seen.resumed).toBe(0);
      expect([...seen.ciphers]).toEqual([SUITE]);
    } finally {
      await close(server);
    }
  });

  withHeaders("the C client holds every connection open until released", async () => {
    const { server, port } = await helloServer();
    try {
      const h = await hold(port, 60, null);
      expect([h.held, h.errors]).toEqual([60, 0]);
      const open = await new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))));
      expect(open).toBe(60);
      await h.release();
      for (let i = 0; i < 100 && (await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))) > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))).toBe(0);
    } finally {
      await close(server);
    }
  });

  testIf(hasPeer("wrk"), "needs wrk: apt-get install -y wrk")("wrk over https offers only the bench suite (its OpenSSL config), and gets answers", async () => {
    const { server, port, seen } = await helloServer();
    try {
      const r = await runWrk({ port, conns: 4, seconds: 1, cpu: null, scheme: "https", env: { OPENSSL_CONF: benchCertificate().conf } });
      expect(r.requests).toBeGreaterThan(0);
      expect(r.errors.total).toBe(0);
      expect([...seen.ciphers]).toEqual([SUITE]);
      expect([...seen.protocols]).toEqual(["TLSv1.3"]);
    } finally {
      await close(server);
    }
  });

  test("the answer check refuses a server that does not present the bench certificate", async () => {
    const { server, port } = await helloServer(pki.leaf);
    try {
      await expect(verifyHttps(port)).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i);
    } finally {
      await close(server);
    }
  });
});
