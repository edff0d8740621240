/**
 * Hostile and broken peers against listenSSL/connectSSL on real sockets: each ends only its
 * own connection, with a typed error (after the alert TLS defines), while a healthy
 * connection opened first goes on working; no fd and no TLS session outlives the run.
 */
import { TLSError } from "../../lib/error";
import { CertificateOptions, optionsForClientTLS, listenSSL, connectSSL, connectTCP, type Connection, type TLSPort } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { makeCertificates, spawnOpenssl, listenTcp, connectTcp, acceptOne, type Certificates } from "../support/tls";
import { portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

/** A ClientHello as a real client sends it (from the engine, over a throwaway TCP pair). */
async function clientHello(certs: Certificates): Promise<Buffer> {
  const l = listenTcp();
  const c = await connectTcp(l.port);
  const s = await acceptOne(l.fd);
  const session = new native.TlsSession(optionsForClientTLS("localhost", { trustRoot: certs.ca.cert }).clientConnection("localhost", 1).context, c, { serverName: "localhost" });
  session.handshake();
  const buf = Buffer.alloc(4096);
  let n = -1;
  for (let i = 0; i < 200 && n <= 0; i++) {
    n = native.read(s, buf, 0, buf.length);
    if (n <= 0) await new Promise((r) => setTimeout(r, 5));
  }
  session.close();
  for (const fd of [c, s, l.fd]) native.close(fd);
  return Buffer.from(buf.subarray(0, n));
}

describeWithPeer("openssl")("TLS transport under hostile peers", () => {
  let certs: Certificates;
  let hello: Buffer;
  expectNoFdLeaks();
  beforeAll(async () => {
    certs = makeCertificates();
    hello = await clientHello(certs);
  });
  afterAll(() => certs.remove());

  test("every bad peer ends its own connection with a typed error; a healthy connection carries on", async () => {
    const sessionsBefore = native.tlsSessionCount();
    const identity = (id: { key: string; cert: string }, extra = {}) => new CertificateOptions({ privateKey: id.key, certificate: id.cert, ...extra });
    const out = await runReactor<{ server: Record<string, string>; anonymous: string[]; client: Record<string, unknown>; healthy: string; sClient: string }>("integrated", (reactor, finish) => {
      const server: Record<string, string> = {};
      const anonymous: string[] = [];
      const client: Record<string, unknown> = {};
      let pending = 0;
      const ports: TLSPort[] = [];
      let healthyDone: (() => void) | null = null;
      const settle = (): void => {
        if (--pending > 0) return;
        // Every bad peer is done: the healthy connection still echoes.
        healthyDone?.();
      };
      /** A port whose connections record their end under the name their first bytes (or port) give. */
      const port = (name: string, options: CertificateOptions, timeout = 10): TLSPort => {
        const sf = new ServerFactory();
        sf.buildProtocol = () => {
          const p = new Recorder();
          let label = name;
          p.onData = (d) => {
            const text = d.toString();
            if (text.startsWith("name:")) label = text.slice(5);
            else p.transport!.write(d);
          };
          p.onLost = (reason) => {
            const e = reason.value as { code?: string; constructor: { name: string } };
            const what = `${e.constructor.name}:${e.code ?? ""}`;
            if (label === name && name === "open") anonymous.push(what);
            else if (label !== "healthy") server[label] = what;
          };
          return p;
        };
        const lp = listenSSL(reactor, 0, sf, options, { interface: "127.0.0.1", handshakeTimeout: timeout });
        ports.push(lp);
        return lp;
      };
      // 2 s: long enough for a good handshake on a slow (sanitizer, loaded) run, short for the stall.
      const open = port("open", identity(certs.leaf), 2);
      const strict = port("no-client-cert", identity(certs.leaf, { verify: true, trustRoot: certs.ca.cert }));
      const expired = port("expired", identity(certs.expired));
      const selfSigned = port("self-signed", identity(certs.selfSigned));
      const at = (p: TLSPort): number => portOf(p.getHost());

      /** A raw TCP peer that writes `bytes` (a function of its transport, for the truncated record) on connect. */
      const raw = (name: string, target: TLSPort, bytes: Buffer | null): void => {
        pending++;
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          p.onMade = () => {
            if (bytes !== null) p.transport!.write(bytes);
          };
          return p;
        });
        cf.onLost = () => {
          client[name] = "closed by the server";
          settle();
        };
        connectTCP(reactor, "127.0.0.1", at(target), cf);
      };
      /** A TLS client of ours; `then` runs once its handshake is done. */
      const tlsClient = (name: string, target: TLSPort, options = optionsForClientTLS("localhost", { trustRoot: certs.ca.cert }), then?: (t: Connection) => void): void => {
        pending++;
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder() as Recorder & { handshakeCompleted(): void };
          p.onMade = () => p.transport!.write(`name:${name}`);
          p.handshakeCompleted = () => then?.(p.transport as unknown as Connection);
          return p;
        });
        cf.onLost = (reason) => {
          const e = reason.value as Error;
          client[name] = e instanceof TLSError ? { code: e.code, reason: e.reason } : e.constructor.name;
          settle();
        };
        connectSSL(reactor, "127.0.0.1", at(target), cf, options);
      };

      // The healthy connection first; its echo is checked once every bad peer is done.
      const hf = new RecordingClientFactory(() => {
        const p = new Recorder() as Recorder & { handshakeCompleted(): void };
        p.handshakeCompleted = startBadPeers;
        p.onMade = () => {
          p.transport!.write("name:healthy");
          healthyDone = () => p.transport!.write("still here");
        };
        p.onData = () => {
          if (p.bytes().toString() === "still here") {
            for (const lp of ports) lp.stopListening();
            finish({ server, anonymous, client, healthy: p.bytes().toString(), sClient: renegotiator.output() });
          }
        };
        return p;
      });
      pending++; // released once the healthy handshake has started the bad peers
      pending++; // released by the renegotiating s_client below
      // Named by its own port, not by a first write: s_client reads stdin in whatever chunks are
      // there, and "R" is a command only at the start of a chunk, so a name written just before
      // it could swallow it (the connection then never ends). If the handshake never shows, the
      // peer is killed and the assertions below say what is missing instead of a hang.
      const reneg = port("renegotiation", identity(certs.leaf));
      const renegotiator = spawnOpenssl(["s_client", "-connect", `127.0.0.1:${at(reneg)}`, "-tls1_2", "-CAfile", certs.ca.certFile], certs.dir);
      void renegotiator.waitFor(/Verify return code/, 15000).then(() => renegotiator.proc.stdin!.write("R\n"), () => renegotiator.kill());
      void renegotiator.exited().then(settle);

      hf.onLost = (reason) => finish({ server, anonymous, client, healthy: `lost: ${String(reason.value)}`, sClient: renegotiator.output() });
      connectSSL(reactor, "127.0.0.1", at(open), hf, optionsForClientTLS("localhost", { trustRoot: certs.ca.cert }));

      // The bad peers start once the healthy connection is up, so they cannot hold up its handshake.
      function startBadPeers(): void {
        raw("http", open, Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        raw("garbage after ClientHello", open, Buffer.concat([hello, Buffer.alloc(64, 0x5a)]));
        raw("stall", open, null);
        tlsClient("truncated record", open, undefined, (t) => {
          // A record header promising 256 bytes, 3 of them, then the end of the stream.
          native.write(t.fileno(), Buffer.from([23, 3, 3, 1, 0, 1, 2, 3]), 0, 8);
          native.shutdown(t.fileno(), 1);
        });
        tlsClient("wrong name", open, optionsForClientTLS("other.example", { trustRoot: certs.ca.cert }));
        tlsClient("expired", expired);
        tlsClient("self-signed", selfSigned);
        tlsClient("no-client-cert", strict);
        settle(); // the hold taken for the healthy handshake
      }
    }, 30);
    expect(out.healthy).toBe("still here");
    expect(out.client).toMatchObject({
      "wrong name": { code: "HOSTNAME_MISMATCH", reason: "hostname-mismatch" },
      expired: { code: "CERT_HAS_EXPIRED", reason: "expired" },
      "self-signed": { code: "DEPTH_ZERO_SELF_SIGNED_CERT", reason: "self-signed" },
      "no-client-cert": { code: expect.stringMatching(/CERTIFICATE_REQUIRED/) },
      http: "closed by the server",
      "garbage after ClientHello": "closed by the server",
      stall: "closed by the server",
    });
    // The open port's peers that failed before their first bytes could name them: plain HTTP,
    // garbage after the ClientHello, a stall, a truncated record, a client refusing our name.
    expect(out.anonymous).toHaveLength(5);
    expect(out.anonymous).toEqual(expect.arrayContaining([
      "TLSError:ERR_SSL_HTTP_REQUEST",
      "TLSHandshakeTimeout:ERR_TLS_HANDSHAKE_TIMEOUT",
      "TLSError:ERR_TLS_TRUNCATED_RECORD",
      expect.stringMatching(/^TLSError:ERR_SSL_.*(BAD_CERTIFICATE|CERTIFICATE_UNKNOWN)$/),
    ]));
    expect(out.anonymous.every((w) => /^TLS(Error|HandshakeTimeout):ERR_(SSL|TLS)_/.test(w))).toBe(true);
    expect(out.server).toEqual({
      expired: expect.stringMatching(/^TLSError:ERR_SSL_/),
      "self-signed": expect.stringMatching(/^TLSError:ERR_SSL_/),
      "no-client-cert": "TLSError:ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
      renegotiation: expect.stringMatching(/^TLSError:ERR_SSL_/),
    });
    expect(out.sClient).toMatch(/no renegotiation/);
    expect(native.tlsSessionCount()).toBe(sessionsBefore);
  });
});
