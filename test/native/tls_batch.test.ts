/**
 * The native TLS engine batched (many sessions per tlsReadBatch / tlsWriteBatch call),
 * under back-pressure, against a relay that damages the stream (truncated record, garbage
 * after the ClientHello, end of stream without close_notify), and against Node's own `tls`
 * in both directions (ALPN, SNI and resumption observed by Node; exact bytes after a
 * half-close).
 */
import { createHash } from "node:crypto";
import * as tls from "node:tls";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import type { AddressInfo } from "node:net";
import { native, TLS_BUFFERED, TLS_EOF, TLS_ERROR, TLS_HANDSHAKE_DONE, TLS_PEER_CLOSED, TLS_WANT_WRITE, type TlsContext } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { runTwistedPeer, startTwistedServer } from "../support/twisted";
import * as path from "node:path";
import { acceptOne, connectTcp, listenTcp, makeCertificates, Pump, type Certificates } from "../support/tls";

expectNoFdLeaks();

describeWithPeer("openssl")("the TLS engine batched, damaged and against Node's tls (certificates from openssl)", () => {
  let certs: Certificates;
  let serverCtx: TlsContext;
  let clientCtx: TlsContext;
  const fds: number[] = [];

  let sessionsBefore = 0;

  beforeAll(() => {
    sessionsBefore = native.tlsSessionCount();
    certs = makeCertificates();
    serverCtx = new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert, acceptableProtocols: ["http/1.1"] });
    clientCtx = new native.TlsContext({ trustRoot: [certs.ca.cert] });
  });
  afterAll(() => {
    certs.remove();
    expect(native.tlsSessionCount()).toBe(sessionsBefore); // no SSL object outlives its test
  });
  afterEach(() => {
    for (const fd of fds.splice(0)) native.close(fd);
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const handshaken = (...ps: Pump[]) => (): boolean => ps.every((p) => (p.status & TLS_HANDSHAKE_DONE) !== 0);

  function pair(): [number, number] {
    const [a, b] = native.socketpair("stream");
    fds.push(a, b);
    return [a, b];
  }

  /** A client and a server session on the two ends of a socketpair, handshake started. */
  function sessions(): { client: Pump; server: Pump } {
    const [a, b] = pair();
    const client = new Pump(new native.TlsSession(clientCtx, a, { serverName: "localhost" }), a);
    const server = new Pump(new native.TlsSession(serverCtx, b), b);
    client.session.handshake();
    return { client, server };
  }

  async function both(client: Pump, server: Pump, until: () => boolean, ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end && client.failure === 0 && server.failure === 0) {
      client.step();
      server.step();
      if (until()) return true;
      await sleep(1);
    }
    return until();
  }

  describe("batched TLS calls", () => {
    test("one tlsReadBatch advances 16 handshakes; one tlsWriteBatch encrypts for 8 clients; one tlsReadBatch decrypts all 8 into one slab", async () => {
      const n = 8;
      const pairs = Array.from({ length: n }, () => sessions());
      const all = pairs.flatMap((p) => [p.client.session, p.server.session]);
      const ids = Int32Array.from(all.map((s) => s.id));
      const slab = Buffer.alloc(1 << 20);
      const out = new Int32Array(4 * ids.length);
      let calls = 0;
      for (; calls < 20; calls++) {
        expect(native.tlsReadBatch(ids, ids.length, slab, 0, 16384, out)).toBe(ids.length);
        for (let i = 0; i < ids.length; i++) {
          expect(out[4 * i]).toBe(ids[i]);
          expect(out[4 * i + 2]).toBe(0); // no plaintext during the handshake, no error
          if (out[4 * i + 3] & TLS_WANT_WRITE) all[i].flush();
        }
        if (all.every((_, i) => out[4 * i + 3] & TLS_HANDSHAKE_DONE)) break;
      }
      expect(calls).toBeLessThan(5); // a TLS 1.3 handshake is one round trip each way

      const clientIds = Int32Array.from(pairs.map((p) => p.client.session.id));
      const messages = pairs.map((_, i) => Buffer.from(`message ${i} `.repeat(i + 1)));
      const taken = new Int32Array(2 * n);
      native.tlsWriteBatch(clientIds, n, new Int32Array(n).fill(1), messages, taken);
      for (let i = 0; i < n; i++) {
        expect(taken[2 * i]).toBe(messages[i].length);
        expect(taken[2 * i + 1] & TLS_WANT_WRITE).toBe(0);
      }
      const serverIds = Int32Array.from(pairs.map((p) => p.server.session.id));
      expect(native.tlsReadBatch(serverIds, n, slab, 100, 16384, out)).toBe(n);
      let offset = 100;
      for (let i = 0; i < n; i++) {
        expect(out.subarray(4 * i, 4 * i + 3)).toEqual(Int32Array.of(serverIds[i], offset, messages[i].length));
        expect(slab.subarray(offset, offset + messages[i].length).toString()).toBe(messages[i].toString());
        offset += messages[i].length;
      }
      for (const s of all) s.close();
    });

    test("a closed session's id reads as -EBADF and its TLS calls throw", () => {
      const { client, server } = sessions();
      const id = server.session.id;
      server.session.close();
      server.session.close(); // idempotent
      expect(server.session.id).toBe(-1);
      const out = new Int32Array(4);
      native.tlsReadBatch(Int32Array.of(id), 1, Buffer.alloc(16384), 0, 16384, out);
      expect(out[2]).toBe(-native.errno.EBADF);
      expect(() => server.session.flush()).toThrow(/closed/);
      client.session.close();
    });

    test("a session nobody closed frees its OpenSSL objects when it is collected", async () => {
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc") as () => void;
      const before = native.tlsSessionCount();
      (() => {
        for (let i = 0; i < 10; i++) new native.TlsSession(clientCtx, 0, { serverName: "localhost" });
      })();
      expect(native.tlsSessionCount()).toBe(before + 10);
      for (let i = 0; i < 20 && native.tlsSessionCount() > before; i++) {
        gc();
        await sleep(10);
      }
      expect(native.tlsSessionCount()).toBe(before);
    });

    test("back-pressure: the engine takes no more plaintext while the kernel is full; every byte arrives in order", async () => {
      const { client, server } = sessions();
      expect(await both(client, server, handshaken(client, server))).toBe(true);
      const data = Buffer.alloc(8 << 20);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i * 2654435761 >>> 0, i);
      const out = new Int32Array(2);
      native.tlsWriteBatch(Int32Array.of(client.session.id), 1, Int32Array.of(1), [data], out);
      expect(out[0]).toBeGreaterThan(0);
      expect(out[0]).toBeLessThan(data.length); // a socketpair holds far less than 8 MiB
      expect(out[1] & TLS_WANT_WRITE).toBe(TLS_WANT_WRITE);
      let sent = out[0];
      let received = 0;
      const end = Date.now() + 20000;
      while (received < data.length && Date.now() < end) {
        if (sent < data.length) {
          native.tlsWriteBatch(Int32Array.of(client.session.id), 1, Int32Array.of(1), [data.subarray(sent)], out);
          expect(out[0]).toBeGreaterThanOrEqual(0);
          sent += out[0];
        } else {
          client.session.flush();
        }
        server.step();
        received = server.received.reduce((s, b) => s + b.length, 0);
      }
      expect(server.failure).toBe(0);
      const got = Buffer.concat(server.received);
      expect(got.length).toBe(data.length);
      expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
      client.session.close();
      server.session.close();
    });

    test("more plaintext than maxPerFd comes out over several calls, TLS_BUFFERED saying so", async () => {
      const { client, server } = sessions();
      expect(await both(client, server, handshaken(client, server))).toBe(true);
      await client.write(Buffer.alloc(40000, 7));
      await sleep(10);
      const out = new Int32Array(4);
      const slab = Buffer.alloc(1 << 16);
      const sizes: number[] = [];
      for (let i = 0; i < 10; i++) {
        native.tlsReadBatch(Int32Array.of(server.session.id), 1, slab, 0, 16384, out);
        sizes.push(out[2]);
        if ((out[3] & TLS_BUFFERED) === 0) break;
      }
      expect(sizes).toEqual([16384, 16384, 40000 - 32768]);
      client.session.close();
      server.session.close();
    });
  });

  /** Client ⇄ relay ⇄ server over two socketpairs; the test moves (or damages) the raw bytes. */
  function relayed(): { client: Pump; server: Pump; toServer: number; toClient: number; fromClient: number; fromServer: number } {
    const [c, fromClient] = pair();
    const [toServer, s] = pair();
    const client = new Pump(new native.TlsSession(clientCtx, c, { serverName: "localhost" }), c);
    const server = new Pump(new native.TlsSession(serverCtx, s), s);
    client.session.handshake();
    return { client, server, toServer, toClient: fromClient, fromClient, fromServer: toServer };
  }

  function rawRead(fd: number): Buffer {
    const buf = Buffer.alloc(1 << 16);
    const n = native.read(fd, buf, 0, buf.length);
    return n > 0 ? buf.subarray(0, n) : Buffer.alloc(0);
  }

  function rawWrite(fd: number, b: Buffer): void {
    expect(native.write(fd, b, 0, b.length)).toBe(b.length);
  }

  async function relayHandshake(r: ReturnType<typeof relayed>): Promise<void> {
    for (let i = 0; i < 50 && !handshaken(r.client, r.server)(); i++) {
      const up = rawRead(r.fromClient);
      if (up.length) rawWrite(r.toServer, up);
      r.server.step();
      const down = rawRead(r.fromServer);
      if (down.length) rawWrite(r.toClient, down);
      r.client.step();
      await sleep(1);
    }
    expect(handshaken(r.client, r.server)()).toBe(true);
    const late = rawRead(r.fromServer); // the server's session tickets
    if (late.length) rawWrite(r.toClient, late);
  }

  describe("a damaged stream ends that one session with a typed error", () => {
    test("a record cut short by the end of the stream: ERR_TLS_TRUNCATED_RECORD", async () => {
      const r = relayed();
      await relayHandshake(r);
      await r.client.write(Buffer.from("this record will be cut in half"));
      const record = rawRead(r.fromClient);
      expect(record[0]).toBe(0x17); // application data
      rawWrite(r.toServer, record.subarray(0, record.length >> 1));
      native.shutdown(r.toServer, 1);
      await r.server.until(() => r.server.failure !== 0, 3000); // the half record, then the end of the stream
      expect(r.server.failure).toBe(TLS_ERROR);
      expect(r.server.session.error()?.code).toBe("ERR_TLS_TRUNCATED_RECORD");
      expect(r.server.text()).toBe("");
      r.client.session.close();
      r.server.session.close();
    });

    test("the end of the stream between records without close_notify: the data, then TLS_EOF without TLS_PEER_CLOSED", async () => {
      const r = relayed();
      await relayHandshake(r);
      await r.client.write(Buffer.from("complete"));
      rawWrite(r.toServer, rawRead(r.fromClient));
      native.shutdown(r.toServer, 1);
      r.server.step();
      r.server.step();
      expect(r.server.error()).toBeNull();
      expect(r.server.failure).toBe(0);
      expect(r.server.text()).toBe("complete");
      expect(r.server.status & (TLS_EOF | TLS_PEER_CLOSED)).toBe(TLS_EOF);
      r.client.session.close();
      r.server.session.close();
    });

    test("close_notify, then the end of the stream: TLS_PEER_CLOSED and TLS_EOF", async () => {
      const r = relayed();
      await relayHandshake(r);
      await r.client.write(Buffer.from("bye"));
      r.client.session.shutdown();
      rawWrite(r.toServer, rawRead(r.fromClient));
      native.shutdown(r.toServer, 1);
      r.server.step();
      r.server.step();
      expect(r.server.failure).toBe(0);
      expect(r.server.text()).toBe("bye");
      expect(r.server.status & (TLS_EOF | TLS_PEER_CLOSED)).toBe(TLS_EOF | TLS_PEER_CLOSED);
      r.client.session.close();
      r.server.session.close();
    });

    test("garbage after the ClientHello: the server fails with ERR_SSL_*, and its alert fails the client", async () => {
      const r = relayed();
      const hello = rawRead(r.fromClient);
      expect(hello[0]).toBe(0x16); // handshake record
      rawWrite(r.toServer, Buffer.concat([hello, Buffer.alloc(64, 0xee)]));
      r.server.step();
      expect(r.server.failure).toBe(TLS_ERROR);
      expect(r.server.session.error()?.code).toMatch(/^ERR_SSL_/);
      rawWrite(r.toClient, rawRead(r.fromServer)); // ServerHello ... alert
      r.client.step();
      expect(r.client.failure).toBe(TLS_ERROR);
      expect(r.client.session.error()?.code).toMatch(/^ERR_SSL_.*ALERT/);
      r.client.session.close();
      r.server.session.close();
    });
  });

  describe("interop with Node's tls (the same OpenSSL, another engine)", () => {
    test("our client: Node sees our SNI and ALPN and our resumption; exact bytes come back after our half-close", async () => {
      const seen: Array<{ servername: unknown; alpn: unknown; reused: boolean }> = [];
      const node = tls.createServer({ key: certs.leaf.key, cert: certs.leaf.cert, ALPNProtocols: ["h2", "http/1.1"], allowHalfOpen: true }, (socket) => {
        seen.push({ servername: socket.servername, alpn: socket.alpnProtocol, reused: socket.isSessionReused() });
        const chunks: Buffer[] = [];
        socket.on("data", (d: Buffer) => chunks.push(d));
        socket.on("end", () => socket.end(Buffer.from(Buffer.concat(chunks).reverse())));
      });
      await new Promise<void>((r) => node.listen(0, "127.0.0.1", r));
      const port = (node.address() as AddressInfo).port;
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert], acceptableProtocols: ["http/1.1"] });
      try {
        for (const round of [0, 1]) {
          const fd = await connectTcp(port);
          fds.push(fd);
          const p = new Pump(new native.TlsSession(ctx, fd, { serverName: "localhost", sessionKey: `localhost:${port}` }), fd);
          p.session.handshake();
          expect(await p.until(handshaken(p))).toBe(true);
          expect(p.session.alpnProtocol()).toBe("http/1.1");
          const payload = Buffer.from(`round ${round}: ${"0123456789".repeat(3000)}`);
          await p.write(payload);
          p.session.shutdown(); // close_notify, then the TCP half-close
          native.shutdown(fd, 1);
          expect(await p.until(() => (p.status & TLS_PEER_CLOSED) !== 0)).toBe(true);
          expect(Buffer.concat(p.received).equals(Buffer.from(payload).reverse())).toBe(true);
          p.session.close();
        }
        expect(seen).toEqual([
          { servername: "localhost", alpn: "http/1.1", reused: false },
          { servername: "localhost", alpn: "http/1.1", reused: true },
        ]);
      } finally {
        await new Promise((r) => node.close(r));
      }
    });

    test("our server: Node's client verifies our chain and name, gets our ALPN choice, and resumes", async () => {
      const listener = listenTcp();
      fds.push(listener.fd);
      let session: Buffer | undefined;
      for (const round of [0, 1]) {
        const sock = tls.connect({ host: "127.0.0.1", port: listener.port, ca: certs.ca.cert, servername: "localhost", ALPNProtocols: ["http/1.1"], session });
        sock.on("session", (s: Buffer) => (session = s));
        sock.on("error", () => undefined);
        const fd = await acceptOne(listener.fd);
        fds.push(fd);
        const p = new Pump(new native.TlsSession(serverCtx, fd), fd);
        const secure = new Promise<void>((r) => sock.once("secureConnect", () => r()));
        expect(await p.until(handshaken(p))).toBe(true);
        const got = new Promise<string>((r) => sock.once("data", (d: Buffer) => r(d.toString())));
        await p.until(() => false, 50); // let Node finish and the tickets go out
        await secure;
        expect(sock.authorized).toBe(true);
        expect(sock.alpnProtocol).toBe("http/1.1");
        expect(sock.isSessionReused()).toBe(round === 1);
        expect(p.session.sessionReused()).toBe(round === 1);
        expect(p.session.serverName()).toBe("localhost");
        await p.write(Buffer.from(`hello node ${round}`));
        expect(await got).toBe(`hello node ${round}`);
        sock.write("and back");
        expect(await p.until(() => p.text() === "and back")).toBe(true);
        p.session.shutdown();
        await new Promise<void>((r) => sock.end(r));
        p.session.close();
      }
    });
  });
  describeWithPeer("python3-twisted")("interop with Twisted's TLS (pyOpenSSL)", () => {
    const script = path.join(__dirname, "fixtures", "twisted_tls.py");

    test("our client against Twisted's listenSSL: ALPN seen by Twisted, the exact bytes back, then Twisted's close_notify", async () => {
      const payload = Buffer.from("bytes for twisted ".repeat(500));
      const { port, exit: peer } = await startTwistedServer(script, ["server", certs.leaf.certFile, certs.leaf.keyFile, String(payload.length)]);
      const ctx = new native.TlsContext({ trustRoot: [certs.ca.cert], acceptableProtocols: ["http/1.1"] });
      const fd = await connectTcp(port);
      fds.push(fd);
      const p = new Pump(new native.TlsSession(ctx, fd, { serverName: "localhost" }), fd);
      p.session.handshake();
      expect(await p.until(handshaken(p))).toBe(true);
      await p.write(payload);
      expect(await p.until(() => (p.status & TLS_PEER_CLOSED) !== 0, 20000)).toBe(true);
      expect(p.failure).toBe(0);
      expect(Buffer.concat(p.received).equals(Buffer.from(payload).reverse())).toBe(true);
      p.session.shutdown();
      const exit = await peer;
      expect(exit.lines).toEqual([`READY ${port}`, `SERVER alpn=http/1.1 got=${payload.length}`]);
      p.session.close();
    });

    test("Twisted's connectSSL with optionsForClientTLS verifies our server's chain and name, and takes our ALPN choice", async () => {
      const listener = listenTcp();
      fds.push(listener.fd);
      const peer = runTwistedPeer(script, ["client", certs.ca.certFile, String(listener.port), "localhost"]);
      const fd = await acceptOne(listener.fd, 20000); // python3 and Twisted take seconds to start on a loaded machine
      fds.push(fd);
      const p = new Pump(new native.TlsSession(serverCtx, fd), fd);
      expect(await p.until(() => p.text() === "hello from twisted")).toBe(true);
      expect(p.session.serverName()).toBe("localhost");
      expect(p.session.alpnProtocol()).toBe("http/1.1");
      await p.write(Buffer.from("hello from fdreactor"));
      p.session.shutdown();
      native.shutdown(fd, 1);
      const exit = await peer;
      expect(exit.lines).toEqual(["CLIENT alpn=http/1.1 got=hello from fdreactor"]);
      expect(exit.code).toBe(0);
      p.session.close();
    });
  });
});
