/**
 * Kernel TLS (docs/tls.md, "Kernel TLS"). This machine's kernel has no `tls` module, so
 * what the kernel would do is done here by the test instead: the keys, ivs and record
 * numbers the handoff would give setsockopt(SOL_TLS) are taken from the session
 * (kernelKeys), and the test decrypts the peer's next record and encrypts our next one with
 * them on the real socket, as the kernel would; Node's `tls` on the other end must accept
 * it. The key derivation is checked against RFC 8448, and the real handoff against this
 * kernel: it falls back (ENOENT), once per process, and the session carries on in userspace.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import * as tls from "node:tls";
import { native, TLS_BUFFERED, TLS_HANDSHAKE_DONE, type KernelTlsKeys, type TlsContext } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { acceptOne, listenTcp, makeCertificates, Pump, type Certificates } from "../support/tls";

expectNoFdLeaks();

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("TLS 1.3 record keys (HKDF-Expand-Label) against RFC 8448's simple 1-RTT handshake", () => {
  test("the server and client application traffic secrets give the RFC's write keys and ivs", () => {
    const server = native.tls13TrafficKeys("TLS_AES_128_GCM_SHA256", hex("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43"));
    expect(server.key.toString("hex")).toBe("9f02283b6c9c07efc26bb9f2ac92e356");
    expect(server.iv.toString("hex")).toBe("cf782b88dd83549aadf1e984");
    const client = native.tls13TrafficKeys("TLS_AES_128_GCM_SHA256", hex("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5"));
    expect(client.key.toString("hex")).toBe("17422dda596ed5d9acd890e3c63f5051");
    expect(client.iv.toString("hex")).toBe("5b78923dee08579033e523d9");
  });

  test("the other suites give their key lengths; wrong arguments name themselves", () => {
    const secret256 = Buffer.alloc(48, 7);
    expect(native.tls13TrafficKeys("TLS_AES_256_GCM_SHA384", secret256).key.length).toBe(32);
    expect(native.tls13TrafficKeys("TLS_CHACHA20_POLY1305_SHA256", Buffer.alloc(32, 7)).key.length).toBe(32);
    expect(() => native.tls13TrafficKeys("TLS_AES_128_CCM_SHA256" as never, Buffer.alloc(32))).toThrow(/suite/);
    expect(() => native.tls13TrafficKeys("TLS_AES_128_GCM_SHA256", "secret" as never)).toThrow(/secret/);
  });
});

/** What the kernel does to one record under TLS 1.3 (RFC 8446 section 5.2): nonce = iv XOR seq, AAD = the header. */
const AEAD: Record<number, string> = { 0x1301: "aes-128-gcm", 0x1302: "aes-256-gcm", 0x1303: "chacha20-poly1305" };

function nonce(iv: Buffer, seq: number): Buffer {
  const n = Buffer.from(iv);
  const s = Buffer.alloc(8);
  s.writeBigUInt64BE(BigInt(seq));
  for (let i = 0; i < 8; i++) n[4 + i] ^= s[i];
  return n;
}

function openRecord(k: KernelTlsKeys, record: Buffer): { type: number; data: Buffer } {
  const header = record.subarray(0, 5);
  const body = record.subarray(5, 5 + header.readUInt16BE(3));
  const d = createDecipheriv(AEAD[k.suite] as "aes-128-gcm", k.rxKey, nonce(k.rxIv, k.rxSeq), { authTagLength: 16 });
  d.setAAD(header);
  d.setAuthTag(body.subarray(body.length - 16));
  let inner = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
  let end = inner.length;
  while (end > 0 && inner[end - 1] === 0) end--; // padding
  inner = inner.subarray(0, end);
  return { type: inner[inner.length - 1], data: inner.subarray(0, inner.length - 1) };
}

function sealRecord(k: KernelTlsKeys, data: Buffer): Buffer {
  const inner = Buffer.concat([data, Buffer.of(23)]);
  const header = Buffer.of(23, 3, 3, 0, 0);
  header.writeUInt16BE(inner.length + 16, 3);
  const c = createCipheriv(AEAD[k.suite] as "aes-128-gcm", k.txKey, nonce(k.txIv, k.txSeq), { authTagLength: 16 });
  c.setAAD(header);
  const body = Buffer.concat([c.update(inner), c.final(), c.getAuthTag()]);
  return Buffer.concat([header, body]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describeWithPeer("openssl")("kernel TLS handoff of a server session, against Node's tls as the client", () => {
  let certs: Certificates;
  let kernelCtx: TlsContext;
  const fds: number[] = [];
  const sockets: tls.TLSSocket[] = [];
  let listener: { fd: number; port: number };
  let sessionsBefore = 0;

  beforeAll(() => {
    sessionsBefore = native.tlsSessionCount();
    certs = makeCertificates();
    kernelCtx = new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert, kernelTls: true });
    listener = listenTcp();
  });
  afterAll(() => {
    native.close(listener.fd);
    certs.remove();
    expect(native.tlsSessionCount()).toBe(sessionsBefore);
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const fd of fds.splice(0)) native.close(fd);
  });

  /** Node's client connected to a server session on `ctx`, handshake done both ways and the tickets delivered. */
  async function connected(ctx: TlsContext, nodeOptions: tls.ConnectionOptions = {}): Promise<{ sock: tls.TLSSocket; p: Pump; fd: number }> {
    const sock = tls.connect({ host: "127.0.0.1", port: listener.port, ca: certs.ca.cert, servername: "localhost", ...nodeOptions });
    sockets.push(sock);
    sock.on("error", () => undefined);
    const fd = await acceptOne(listener.fd);
    fds.push(fd);
    const p = new Pump(new native.TlsSession(ctx, fd), fd);
    const secure = new Promise<void>((r) => sock.once("secureConnect", () => r()));
    expect(await p.until(() => (p.status & TLS_HANDSHAKE_DONE) !== 0)).toBe(true);
    await secure;
    await p.until(() => false, 30); // the tickets leave
    return { sock, p, fd };
  }

  /** The next whole record on `fd`, read raw (as the kernel's receive path would see it). */
  async function rawRecord(fd: number): Promise<Buffer> {
    const buf = Buffer.alloc(1 << 16);
    let have = 0;
    for (let i = 0; i < 500; i++) {
      const n = native.read(fd, buf, have, buf.length - have);
      if (n > 0) have += n;
      if (have >= 5 && have >= 5 + buf.readUInt16BE(3)) return buf.subarray(0, have);
      await sleep(2);
    }
    throw new Error(`no whole record arrived (${have} bytes)`);
  }

  /** Does the kernel's part with `k` on `fd`: Node's next record decrypts with the rx key, iv and number; ours, sealed with the tx ones, is what Node reads. */
  async function asTheKernel(k: KernelTlsKeys, sock: tls.TLSSocket, fd: number): Promise<void> {
    sock.write("three");
    const opened = openRecord(k, await rawRecord(fd));
    expect(opened.type).toBe(23);
    expect(opened.data.toString()).toBe("three");
    const four = new Promise<string>((r) => sock.once("data", (d: Buffer) => r(d.toString())));
    const sealed = sealRecord(k, Buffer.from("four"));
    expect(native.write(fd, sealed, 0, sealed.length)).toBe(sealed.length);
    expect(await four).toBe("four");
  }

  test.each([
    ["TLS_AES_128_GCM_SHA256", 0x1301],
    ["TLS_AES_256_GCM_SHA384", 0x1302],
    ["TLS_CHACHA20_POLY1305_SHA256", 0x1303],
  ])("%s: after bytes both ways in userspace, the keys and record numbers work on the wire both ways", async (suite, id) => {
    const { sock, p, fd } = await connected(kernelCtx, { ciphers: suite });
    // Traffic in the engine first, so the record numbers are not just the handshake's.
    sock.write("one");
    expect(await p.until(() => p.text() === "one")).toBe(true);
    const two = new Promise<string>((r) => sock.once("data", (d: Buffer) => r(d.toString())));
    await p.write(Buffer.from("two"));
    expect(await two).toBe("two");

    const k = p.session.kernelKeys();
    if (typeof k === "string") throw new Error(`no keys: ${k}`);
    expect(k.suite).toBe(id);
    expect(k.rxSeq).toBe(1); // Node's "one"
    expect(k.txSeq).toBeGreaterThanOrEqual(2); // the session tickets, then "two"

    await asTheKernel(k, sock, fd);
    p.session.close();
  });

  test("SNI: the secrets come from the context the client's name picked (its key log is watched too)", async () => {
    const ctx = new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert, kernelTls: true });
    ctx.addServerName("other.example", new native.TlsContext({ server: true, privateKey: certs.other.key, certificate: certs.other.cert }));
    const { sock, p, fd } = await connected(ctx, { servername: "other.example" });
    expect(p.session.serverName()).toBe("other.example");
    const k = p.session.kernelKeys();
    if (typeof k === "string") throw new Error(`no keys: ${k}`);
    expect(k.rxSeq).toBe(0);
    await asTheKernel(k, sock, fd);
    p.session.close();
  });

  test("plaintext left inside the engine, a TLS 1.2 session, a context without kernelTls and a client: no handoff, each says why", async () => {
    const { sock, p } = await connected(kernelCtx);
    sock.write("0123456789");
    const slab = Buffer.alloc(64);
    const out = new Int32Array(4);
    for (let i = 0; i < 500 && out[2] <= 0; i++) {
      native.tlsReadBatch(Int32Array.of(p.session.id), 1, slab, 0, 4, out); // 4 bytes of 10: the rest stays buffered
      if (out[2] <= 0) await sleep(2);
    }
    expect(out[2]).toBe(4);
    expect(out[3] & TLS_BUFFERED).toBe(TLS_BUFFERED);
    expect(p.session.kernelKeys()).toBe("buffered");
    p.session.close();

    const tls12 = await connected(kernelCtx, { maxVersion: "TLSv1.2" });
    expect(tls12.p.session.kernelKeys()).toBe("version");
    tls12.p.session.close();

    const plainCtx = new native.TlsContext({ server: true, privateKey: certs.leaf.key, certificate: certs.leaf.cert });
    const off = await connected(plainCtx);
    expect(off.p.session.kernelKeys()).toBe("off");
    expect(off.p.session.kernelHandOff()).toBe("off");
    off.p.session.close();

    const [a, b] = native.socketpair("stream");
    fds.push(a, b);
    const client = new native.TlsSession(new native.TlsContext({ verify: false, kernelTls: true }), a);
    expect(client.kernelKeys()).toBe("client");
    client.close();
  });

  test("the handoff on this kernel: where it has no tls ULP, one TCP_ULP call per process, then every session stays in the engine and works", async () => {
    const probe = native.kernelTls();
    if (probe === "available") {
      // A kernel with the module: the handoff is taken (not the case on the machine this was written on).
      const { p } = await connected(kernelCtx);
      expect(p.session.kernelHandOff()).toBe("kernel");
      p.session.close();
      return;
    }
    const before = native.kernelTlsStats();
    for (const round of [0, 1, 2]) {
      const { sock, p } = await connected(kernelCtx);
      expect(p.session.kernelHandOff()).toBe(probe); // "ENOENT" here
      const stats = native.kernelTlsStats();
      expect(stats.unavailable).toBe(probe);
      // The first refusal is remembered: no further TCP_ULP syscall, whatever the round.
      expect(stats.ulpCalls).toBe(before.unavailable === null ? before.ulpCalls + 1 : before.ulpCalls);
      expect(stats.fallbacks).toBe(before.fallbacks + round + 1);
      expect(stats.handedOff).toBe(before.handedOff);
      // Still the userspace engine: bytes both ways.
      sock.write(`ping ${round}`);
      expect(await p.until(() => p.text() === `ping ${round}`)).toBe(true);
      const pong = new Promise<string>((r) => sock.once("data", (d: Buffer) => r(d.toString())));
      await p.write(Buffer.from(`pong ${round}`));
      expect(await pong).toBe(`pong ${round}`);
      expect(p.session.kernelKeys()).toBe("no-secrets"); // wiped after the attempt
      p.session.close();
    }
  });
});
