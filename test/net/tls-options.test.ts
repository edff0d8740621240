/**
 * CertificateOptions and optionsForClientTLS: wrong arguments throw typed errors naming
 * them; the contexts they build really serve, verify, pick SNI identities and ALPN (a
 * handshake between them, pumped by hand over a real TCP socket).
 */
import { CertificateOptions, optionsForClientTLS, checkContextFactory, type ITLSContextFactory } from "../../lib/net/tls-options";
import { native, TLS_HANDSHAKE_DONE } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { makeCertificates, Pump, listenTcp, connectTcp, acceptOne, type Certificates } from "../support/tls";

function thrown(f: () => unknown): { name: string; code: string; message: string } {
  try {
    f();
  } catch (e) {
    const err = e as Error & { code: string };
    return { name: err.constructor.name, code: err.code, message: err.message };
  }
  throw new Error("did not throw");
}

/** A handshake between `server`'s server context and `client` connecting to host:port; both pumps afterwards. */
async function handshake(server: ITLSContextFactory, client: ITLSContextFactory, host = "localhost") {
  const l = listenTcp();
  const cfd = await connectTcp(l.port);
  const sfd = await acceptOne(l.fd);
  native.close(l.fd);
  const c = client.clientConnection(host, l.port);
  const cs = new native.TlsSession(c.context, cfd, { serverName: c.serverName ?? undefined, sessionKey: c.sessionKey });
  const ss = new native.TlsSession(server.serverContext(), sfd);
  const cp = new Pump(cs, cfd);
  const sp = new Pump(ss, sfd);
  cs.handshake();
  const done = (p: Pump): boolean => (p.status & TLS_HANDSHAKE_DONE) !== 0;
  for (let i = 0; i < 200 && !(done(cp) && done(sp)) && cp.failure === 0 && sp.failure === 0; i++) {
    sp.step();
    cp.step();
    await new Promise((r) => setTimeout(r, 2));
  }
  const close = (): void => {
    cs.close();
    ss.close();
    native.close(cfd);
    native.close(sfd);
  };
  return { cp, sp, cs, ss, close };
}

describeWithPeer("openssl")("TLS options", () => {
  let certs: Certificates;
  expectNoFdLeaks();
  beforeAll(() => {
    certs = makeCertificates();
  });
  afterAll(() => certs.remove());

  test("wrong arguments throw typed errors that name the argument", () => {
    expect(thrown(() => new CertificateOptions({ privateKey: 5 as never, certificate: "x" }))).toMatchObject({ name: "TypeError", code: "ERR_INVALID_ARG_TYPE", message: expect.stringContaining('"privateKey"') });
    expect(thrown(() => new CertificateOptions({ privateKey: certs.leaf.key }))).toMatchObject({ code: "ERR_INVALID_ARG_VALUE", message: expect.stringContaining('"certificate"') });
    expect(thrown(() => new CertificateOptions({ privateKey: certs.other.key, certificate: certs.leaf.cert }))).toMatchObject({ name: "TypeError", message: expect.stringContaining('"privateKey" option does not match') });
    expect(thrown(() => new CertificateOptions({ minimumVersion: "TLSv1.1" as never }))).toMatchObject({ message: expect.stringContaining('"minimumVersion"') });
    expect(thrown(() => new CertificateOptions({ verify: "yes" as never }))).toMatchObject({ message: expect.stringContaining('"verify"') });
    expect(thrown(() => new CertificateOptions({ requireCertificate: true }))).toMatchObject({ message: expect.stringContaining('"requireCertificate"') });
    expect(thrown(() => new CertificateOptions({ acceptableProtocols: [] }))).toMatchObject({ message: expect.stringContaining('"acceptableProtocols"') });
    expect(thrown(() => new CertificateOptions({ cipherList: "NOT-A-CIPHER" }).clientConnection("h", 1))).toMatchObject({ message: expect.stringContaining('"cipherList"') });
    expect(thrown(() => new CertificateOptions({ trustRoot: 7 as never }))).toMatchObject({ message: expect.stringContaining('"trustRoot"') });
    expect(thrown(() => new CertificateOptions({ privatekey: "x" } as never))).toMatchObject({ message: expect.stringContaining('"privatekey"') });
    expect(thrown(() => new CertificateOptions({ serverNames: { "a.example": {} as never } }))).toMatchObject({ message: expect.stringContaining('serverNames["a.example"]') });
    expect(thrown(() => new CertificateOptions().serverContext())).toMatchObject({ code: "ERR_INVALID_ARG_VALUE", message: expect.stringContaining("privateKey and certificate") });
    expect(thrown(() => optionsForClientTLS(""))).toMatchObject({ message: expect.stringContaining('"hostname"') });
    expect(thrown(() => optionsForClientTLS("a.example", { clientCertificate: { privateKey: certs.client.key } as never }))).toMatchObject({ message: expect.stringContaining('"clientCertificate.certificate"') });
    expect(thrown(() => optionsForClientTLS("a.example").serverContext())).toMatchObject({ message: expect.stringContaining("client connections only") });
    expect(thrown(() => checkContextFactory({}))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE", message: expect.stringContaining('"contextFactory"') });
  });

  test("one context per options object: connections share it and a session key per host and port", () => {
    const client = optionsForClientTLS("example.com.", { trustRoot: certs.ca.cert });
    const a = client.clientConnection("192.0.2.1", 443);
    const b = client.clientConnection("192.0.2.2", 443);
    expect(a.context).toBe(b.context);
    expect(a).toMatchObject({ serverName: "example.com", sessionKey: "example.com:443" });
    const opts = new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert });
    expect(opts.serverContext()).toBe(opts.serverContext());
    expect(opts.serverContext().server).toBe(true);
    expect(opts.clientConnection("h", 8443)).toMatchObject({ serverName: "h", sessionKey: "h:8443" });
  });

  test("optionsForClientTLS verifies the chain and the host name; SNI picks the identity; ALPN follows the server", async () => {
    const other = new CertificateOptions({ privateKey: certs.other.key, certificate: certs.other.cert });
    const server = new CertificateOptions({
      privateKey: certs.leaf.key, certificate: certs.leaf.cert, acceptableProtocols: ["h2", "http/1.1"], serverNames: { "other.example": other },
    });
    const ok = await handshake(server, optionsForClientTLS("other.example", { trustRoot: certs.ca.cert, acceptableProtocols: ["http/1.1", "h2"] }));
    expect(ok.cp.failure).toBe(0);
    expect(ok.cs.peerCertificate()?.subject).toContain("other.example");
    expect(ok.ss.serverName()).toBe("other.example");
    expect(ok.cs.alpnProtocol()).toBe("h2");
    ok.close();

    const wrongName = await handshake(server, optionsForClientTLS("wrong.example", { trustRoot: [certs.ca.cert] }));
    expect(wrongName.cp.error()).toMatchObject({ code: "HOSTNAME_MISMATCH", reason: "hostname-mismatch" });
    wrongName.close();

    const untrusted = await handshake(server, optionsForClientTLS("localhost"));
    expect(untrusted.cp.error()).toMatchObject({ reason: "untrusted" });
    untrusted.close();

    // CertificateOptions as a client checks no name (Twisted's): the same server is accepted with verify off.
    const plain = await handshake(server, new CertificateOptions(), "wrong.example");
    expect(plain.cp.failure).toBe(0);
    expect(plain.cs.protocol()).toBe("TLSv1.3");
    plain.close();
  });

  test("a server that requires a client certificate gets it from optionsForClientTLS's clientCertificate", async () => {
    const server = new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert, verify: true, trustRoot: certs.ca.cert });
    const withCert = await handshake(server, optionsForClientTLS("localhost", {
      trustRoot: certs.ca.cert, clientCertificate: { privateKey: certs.client.key, certificate: certs.client.cert },
    }));
    for (let i = 0; i < 50 && withCert.ss.peerCertificate() === null; i++) {
      withCert.sp.step();
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(withCert.ss.peerCertificate()?.subject).toContain("test client");
    withCert.close();
    const without = await handshake(server, optionsForClientTLS("localhost", { trustRoot: certs.ca.cert }));
    for (let i = 0; i < 50 && without.sp.failure === 0; i++) {
      without.sp.step();
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(without.sp.error()?.code).toMatch(/CERTIFICATE/);
    without.close();
  });
});
