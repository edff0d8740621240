/**
 * The native TLS engine (TlsContext, TlsSession, tlsReadBatch/tlsWriteBatch) against real
 * OpenSSL peers: `openssl s_server` for the client side, `openssl s_client` for the server
 * side, on 127.0.0.1 with certificates made at test time. Also: the addon runs Node's own
 * OpenSSL (headers and library agree, no libssl linked).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { native, TLS_ERROR, TLS_HANDSHAKE_DONE, TLS_PEER_CLOSED, type TlsContext } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer, hasPeer, peerEnv, testIf } from "../support/peers";
import {
  acceptOne,
  connectTcp,
  listenTcp,
  makeCertificates,
  Pump,
  spawnOpenssl,
  startServer,
  type Certificates,
  type Peer,
} from "../support/tls";

expectNoFdLeaks();

describe("the OpenSSL inside the addon", () => {
  test("is Node's: the headers it was compiled against and the library it runs are Node's version", () => {
    const lib = native.tlsLibrary();
    expect(lib.runtime).toBe(lib.headers);
    expect(lib.runtime.startsWith(`OpenSSL ${process.versions.openssl} `)).toBe(true);
  });

  const deps = path.resolve(__dirname, "../../build/Release/.deps/Release/obj.target/fdreactor/native/tls_session.o.d");
  testIf(fs.existsSync(deps), "no node-gyp build in build/Release (a prebuild is loaded)")("the node-gyp build compiled against the OpenSSL headers in Node's include directory", () => {
    const text = fs.readFileSync(deps, "utf8");
    expect(text).toMatch(/include\/node\/openssl\/ssl\.h/);
    expect(text).not.toMatch(/\/usr\/(local\/)?include\/openssl\//);
  });

  test("no build of the addon links a libssl or libcrypto of its own", () => {
    const root = path.resolve(__dirname, "../..");
    const builds = [process.env.FDREACTOR_ADDON ?? path.join(root, "build/Release/fdreactor.node"), path.join(root, "build-cmake/Release/fdreactor.node")];
    const present = builds.filter((f) => fs.existsSync(f));
    expect(present.length).toBeGreaterThan(0);
    for (const f of present) {
      const needed = execFileSync("readelf", ["-d", f], { encoding: "utf8" });
      expect(needed).toMatch(/NEEDED/);
      expect(needed).not.toMatch(/libssl|libcrypto/);
    }
  });
});

describe("kernel TLS", () => {
  test("the probe says whether the kernel has the tls ULP (this machine: ENOENT, so the userspace engine runs)", () => {
    const answer = native.kernelTls();
    expect(answer).toMatch(/^(available|E[A-Z]+)$/);
    const ulps = "/proc/sys/net/ipv4/tcp_available_ulp"; // read after the probe, which may load the module
    if (fs.existsSync(ulps)) expect(answer === "available").toBe(fs.readFileSync(ulps, "utf8").split(/\s+/).includes("tls"));
  });
});

describeWithPeer("openssl")("the TLS engine with openssl's certificates and peers", () => {
  let certs: Certificates;
  const peers: Peer[] = [];
  const fds: number[] = [];
  let sessionsBefore = 0;

  beforeAll(() => {
    certs = makeCertificates();
    sessionsBefore = native.tlsSessionCount();
  });
  afterAll(() => {
    certs.remove();
    expect(native.tlsSessionCount()).toBe(sessionsBefore); // no SSL object outlives its test
  });
  afterEach(() => {
    for (const p of peers.splice(0)) p.kill();
    for (const fd of fds.splice(0)) native.close(fd);
  });

  const done = (p: Pump) => (): boolean => (p.status & TLS_HANDSHAKE_DONE) !== 0;

  /** A client session on a new connection to `port`, its handshake started. */
  async function client(ctx: TlsContext, port: number, options?: { serverName?: string; sessionKey?: string }): Promise<Pump> {
    const fd = await connectTcp(port);
    fds.push(fd);
    const session = new native.TlsSession(ctx, fd, options);
    const p = new Pump(session, fd);
    expect(session.handshake()).toBeGreaterThanOrEqual(0);
    return p;
  }

  async function server(s: { peer: Peer; port: number } | Promise<{ peer: Peer; port: number }>): Promise<number> {
    const { peer, port } = await s;
    peers.push(peer);
    return port;
  }

  describe("TlsContext options", () => {
    test("a server context without a certificate is refused, naming the option", () => {
      expect(() => new native.TlsContext({ server: true })).toThrow(/"certificate" option/);
    });

    test("a key that does not match the certificate is refused", () => {
      expect(() => new native.TlsContext({ server: true, privateKey: certs.other.key, certificate: certs.leaf.cert })).toThrow(
        /"privateKey" option does not match the certificate/,
      );
    });

    test("text that is not PEM, a bad version, a bad ALPN name and a bad cipher list each name their option", () => {
      expect(() => new native.TlsContext({ server: true, privateKey: "junk", certificate: certs.leaf.cert })).toThrow(/"privateKey"/);
      expect(() => new native.TlsContext({ trustRoot: ["not a certificate"] })).toThrow(/"trustRoot" option holds no PEM certificate/);
      expect(() => new native.TlsContext({ minimumVersion: "TLSv1.0" as "TLSv1.2" })).toThrow(/"minimumVersion"/);
      expect(() => new native.TlsContext({ acceptableProtocols: [""] })).toThrow(/"acceptableProtocols"/);
      expect(() => new native.TlsContext({ cipherList: "NO-SUCH-CIPHER" })).toThrow(/"cipherList"/);
      expect(() => new native.TlsContext({ server: true, verify: false, requireCertificate: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert })).toThrow(
        /"requireCertificate"/,
      );
    });

    test("a session needs a context and an fd; a server session takes no serverName", () => {
      const ctx = new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert });
      expect(() => new native.TlsSession({} as TlsContext, 0)).toThrow(/"context" argument must be a TlsContext/);
      expect(() => new native.TlsSession(ctx, -1)).toThrow(/"fd"/);
      expect(() => new native.TlsSession(ctx, 0, { serverName: "x" })).toThrow(/"serverName"/);
    });
  });

  describe("client sessions against openssl s_server", () => {
    test("handshake, then exact bytes both ways (s_server -rev reverses each line)", async () => {
      const port = await server(startServer(certs, ["-rev"]));
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
      const p = await client(ctx, port, { serverName: "localhost" });
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.protocol()).toBe("TLSv1.3");
      expect(p.session.peerCertificate()).toMatchObject({ subject: "CN=localhost", issuer: "CN=fdreactor test CA", subjectAltNames: ["DNS:localhost", "IP Address:127.0.0.1"] });
      await p.write(Buffer.from("hello over tls\nsecond line\n"));
      expect(await p.until(() => p.text() === "slt revo olleh\nenil dnoces\n")).toBe(true);
      p.session.close();
    });

    test("SNI: the server answers with the certificate registered for the name the client sent", async () => {
      const port = await server(startServer(certs, ["-rev", "-servername", "other.example", "-cert2", certs.other.certFile, "-key2", certs.other.keyFile]));
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
      const p = await client(ctx, port, { serverName: "other.example" });
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.serverName()).toBe("other.example");
      expect(p.session.peerCertificate()?.subject).toBe("CN=other.example");
      p.session.close();
    });

    test("TLS 1.3 resumption: a second session with the same session key resumes (the ticket arrives after the handshake)", async () => {
      const port = await server(startServer(certs, ["-rev"]));
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
      const first = await client(ctx, port, { serverName: "localhost", sessionKey: "localhost:443" });
      expect(await first.until(done(first))).toBe(true);
      await first.write(Buffer.from("ab\n"));
      expect(await first.until(() => first.text() === "ba\n")).toBe(true); // tickets were read on the way
      expect(first.session.sessionReused()).toBe(false);
      first.session.shutdown();
      first.session.close();
      const second = await client(ctx, port, { serverName: "localhost", sessionKey: "localhost:443" });
      expect(await second.until(done(second))).toBe(true);
      expect(second.session.sessionReused()).toBe(true);
      second.session.close();
      native.close(fds.splice(fds.indexOf(second.fd), 1)[0]); // s_server serves one connection at a time
      const other = await client(ctx, port, { serverName: "localhost", sessionKey: "another key" });
      expect(await other.until(done(other))).toBe(true);
      expect(other.session.sessionReused()).toBe(false);
      other.session.close();
    });

    test("an IP address is checked against the certificate's IP entries", async () => {
      const port = await server(startServer(certs, ["-rev"]));
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
      const p = await client(ctx, port, { serverName: "127.0.0.1" });
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.serverName()).toBeNull(); // no SNI for an address (RFC 6066)
      p.session.close();
    });

    test.each([
      ["an expired certificate", "expired", "localhost", "CERT_HAS_EXPIRED", "expired"],
      ["a self-signed certificate", "selfSigned", "localhost", "DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed"],
      ["a certificate for another name", "leaf", "wrong.example", "HOSTNAME_MISMATCH", "hostname-mismatch"],
      ["a certificate for another address", "other", "127.0.0.1", "IP_ADDRESS_MISMATCH", "hostname-mismatch"],
    ] as const)("%s fails the handshake with a typed error, and the server gets an alert", async (_what, id, name, code, reason) => {
      const port = await server(startServer(certs, ["-rev"], certs[id]));
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
      const p = await client(ctx, port, { serverName: name });
      await p.until(() => false, 3000).catch(() => false);
      expect(p.failure).toBe(TLS_ERROR);
      expect(p.session.error()).toMatchObject({ code, reason });
      expect(p.session.protocol()).toBeNull();
      await peers[0].waitFor(/alert/i);
      p.session.close();
    });

    test.each([
      ["trustRoot: \"system\"", { trustRoot: "system" as const }],
      ["a client context with no options (verification and the system store are the default)", {}],
    ])("%s: the system trust store rejects the test CA's certificate as untrusted", async (_what, options) => {
      const port = await server(startServer(certs, ["-rev"]));
      const ctx = new native.TlsContext(options);
      const p = await client(ctx, port, { serverName: "localhost" });
      await p.until(() => p.failure !== 0, 3000);
      expect(p.session.error()).toMatchObject({ code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", reason: "untrusted" });
      p.session.close();
    });

    test("with verify: false the same certificate is accepted (and still reported)", async () => {
      const port = await server(startServer(certs, ["-rev"], certs.selfSigned));
      const ctx = new native.TlsContext({ verify: false });
      const p = await client(ctx, port, { serverName: "wrong.example" });
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.peerCertificate()?.issuer).toBe("CN=localhost");
      p.session.close();
    });
  });

  /** Our server session on the next accepted connection of `listenFd`. */
  async function accepted(ctx: TlsContext, listenFd: number): Promise<Pump> {
    const fd = await acceptOne(listenFd);
    fds.push(fd);
    return new Pump(new native.TlsSession(ctx, fd), fd);
  }

  describe("server sessions against openssl s_client", () => {
    let listener: { fd: number; port: number };
    beforeEach(() => {
      listener = listenTcp();
    });
    afterEach(() => native.close(listener.fd));

    const serverCtx = (extra: object = {}): TlsContext =>
      new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert, ...extra });

    function sClient(args: string[]): Peer {
      const peer = spawnOpenssl(["s_client", "-connect", `127.0.0.1:${listener.port}`, "-CAfile", certs.ca.certFile, ...args], certs.dir);
      peers.push(peer);
      return peer;
    }

    test("ALPN and SNI as the client sent them; exact bytes both ways; close_notify ends the peer cleanly", async () => {
      const ctx = serverCtx({ acceptableProtocols: ["h2", "http/1.1"] });
      const other = serverCtx({ privateKey: certs.other.key, certificate: certs.other.cert });
      ctx.addServerName("other.example", other);
      const peer = sClient(["-servername", "other.example", "-alpn", "http/1.1,h2", "-verify_return_error"]);
      const p = await accepted(ctx, listener.fd);
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.serverName()).toBe("other.example");
      expect(p.session.alpnProtocol()).toBe("h2"); // the server's preference wins
      await peer.waitFor(/ALPN protocol: h2/);
      await peer.waitFor(/subject=CN = other\.example/);
      peer.proc.stdin!.write("from the client\n");
      expect(await p.until(() => p.text() === "from the client\n")).toBe(true);
      await p.write(Buffer.from("from the server\n"));
      await peer.waitFor(/from the server\n/);
      expect(p.session.shutdown() & 2).toBe(0); // sent at once
      expect(await peer.exited()).toBe(0);
      expect(peer.output()).toMatch(/closed|DONE/);
      p.session.close();
    });

    test("the peer's close_notify shows as TLS_PEER_CLOSED", async () => {
      const peer = sClient(["-brief"]); // not -quiet: that ignores EOF on stdin
      const p = await accepted(serverCtx(), listener.fd);
      expect(await p.until(done(p))).toBe(true);
      peer.proc.stdin!.end("last words\n"); // EOF on stdin: s_client sends close_notify and exits
      expect(await p.until(() => (p.status & TLS_PEER_CLOSED) !== 0)).toBe(true);
      expect(p.text()).toBe("last words\n");
      p.session.close();
    });

    test("resumption observed by s_client: -sess_in reports the session Reused", async () => {
      const ctx = serverCtx();
      const sess = path.join(certs.dir, "session.pem");
      const first = sClient(["-sess_out", sess]);
      const a = await accepted(ctx, listener.fd);
      expect(await a.until(done(a))).toBe(true);
      await a.write(Buffer.from("hi\n")); // s_client reads the tickets with it
      await first.waitFor(/hi\n/);
      first.proc.stdin!.end();
      await first.exited();
      a.session.close();
      const second = sClient(["-sess_in", sess]);
      const b = await accepted(ctx, listener.fd);
      expect(await b.until(done(b))).toBe(true);
      expect(b.session.sessionReused()).toBe(true);
      await second.waitFor(/Reused, TLSv1\.3/);
      b.session.close();
    });

    test("requireCertificate: no client certificate is a typed error, and the client is told why", async () => {
      const ctx = serverCtx({ verify: true, requireCertificate: true, trustRoot: [certs.ca.cert] });
      const peer = sClient(["-quiet"]);
      const p = await accepted(ctx, listener.fd);
      peer.proc.stdin!.write("x\n"); // TLS 1.3: the client learns on its first read after the handshake
      await p.until(() => p.failure !== 0);
      expect(p.failure).toBe(TLS_ERROR);
      expect(p.session.error()?.code).toBe("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE");
      await peer.waitFor(/certificate required/);
      p.session.close();
    });

    test("requireCertificate: a client certificate from a trusted CA is accepted and reported", async () => {
      const ctx = serverCtx({ verify: true, requireCertificate: true, trustRoot: [certs.ca.cert] });
      sClient(["-quiet", "-cert", certs.client.certFile, "-key", certs.client.keyFile]);
      const p = await accepted(ctx, listener.fd);
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.peerCertificate()?.subject).toBe("CN=test client");
      p.session.close();
    });

    test("a TLS 1.2 renegotiation attempt is refused (no_renegotiation) and ends that connection with a typed error", async () => {
      const peer = sClient(["-tls1_2"]);
      const p = await accepted(serverCtx(), listener.fd);
      expect(await p.until(done(p))).toBe(true);
      expect(p.session.protocol()).toBe("TLSv1.2");
      peer.proc.stdin!.write("R\n"); // s_client: renegotiate
      await p.until(() => p.failure !== 0);
      expect(p.failure).toBe(TLS_ERROR);
      expect(p.session.error()?.code).toMatch(/^ERR_SSL_/);
      await peer.waitFor(/no renegotiation/);
      p.session.close();
    });

    testIf(hasPeer("curl"), "needs curl: apt-get install -y curl")("curl fetches over our server session: it verifies the chain and name, and negotiates our ALPN choice", async () => {
      const ctx = serverCtx({ acceptableProtocols: ["http/1.1"] });
      const curl = spawn("curl", ["-sS", "-v", "--cacert", certs.ca.certFile, "--resolve", `localhost:${listener.port}:127.0.0.1`, `https://localhost:${listener.port}/hello`], { env: peerEnv() });
      let out = "";
      let err = "";
      curl.stdout.on("data", (b: Buffer) => (out += b.toString()));
      curl.stderr.on("data", (b: Buffer) => (err += b.toString()));
      const exited = new Promise<number | null>((r) => curl.on("close", r));
      try {
        const p = await accepted(ctx, listener.fd);
        expect(await p.until(() => p.text().includes("\r\n\r\n"))).toBe(true);
        expect(p.text()).toMatch(/^GET \/hello HTTP\/1\.1\r\nHost: localhost:\d+\r\n/);
        expect(p.session.serverName()).toBe("localhost");
        await p.write(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, curl\n"));
        p.session.shutdown();
        expect(await exited).toBe(0);
        expect(out).toBe("hello, curl\n");
        expect(err).toMatch(/ALPN: server accepted http\/1\.1|ALPN, server accepted to use http\/1\.1/);
        expect(err).toMatch(/SSL certificate verify ok/);
        p.session.close();
      } finally {
        curl.kill("SIGKILL");
      }
    });

    test("plain HTTP sent to the TLS port is a typed error for that connection; the next handshake succeeds", async () => {
      const ctx = serverCtx();
      const raw = await connectTcp(listener.port);
      fds.push(raw);
      const bad = await accepted(ctx, listener.fd);
      native.write(raw, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, 27);
      await bad.until(() => bad.failure !== 0);
      expect(bad.session.error()?.code).toBe("ERR_SSL_HTTP_REQUEST");
      bad.session.close();
      sClient(["-quiet"]);
      const good = await accepted(ctx, listener.fd);
      expect(await good.until(done(good))).toBe(true);
      good.session.close();
    });
  });
});
