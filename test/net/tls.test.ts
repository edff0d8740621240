/**
 * The reactor's TLS transport with fdreactor on both ends: listenSSL and connectSSL over
 * real sockets, in both run modes — bytes both ways (written before the handshake too),
 * ALPN, SNI, the peer certificate, close_notify, half-close, producers and water marks with
 * megabytes, many connections at once (the TLS lanes), resumption across connectSSL calls,
 * and every failure ending only its own connection with a typed error.
 */
import { TLSError, TLSHandshakeTimeout, ConnectionDone } from "../../lib/error";
import { CertificateOptions, optionsForClientTLS, listenSSL, connectSSL, connectTCP, type Connection, type ITLSContextFactory, type TLSPort } from "../../lib/net";
import type { IPushProducer } from "../../lib/net/interfaces";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { expectNoTlsSessionLeaks, makeCertificates, type Certificates } from "../support/tls";
import { HalfRecorder, MODES, portOf, Recorder, RecordingClientFactory, runReactor, type TestReactor } from "./helpers";

/** A Recorder that also records the TLS handshake. */
class TLSRecorder extends Recorder {
  onHandshake: (() => void) | null = null;
  handshakeCompleted(): void {
    this.events.push("handshake");
    this.onHandshake?.();
  }
}

/** A HalfRecorder that also records the TLS handshake. */
class TLSHalfRecorder extends HalfRecorder {
  handshakeCompleted(): void {
    this.events.push("handshake");
  }
}

/** Both ends' protocols once both have lost their connection. */
function whenBothLost<T extends Recorder>(cf: RecordingClientFactory, sf: { built: T[] }, port: TLSPort, finish: (v: { c: T; s: T }) => void): void {
  cf.onLost = () => {
    const s = sf.built[0];
    const done = (): void => {
      port.stopListening();
      finish({ c: cf.built[0] as T, s });
    };
    if (s.reason) done();
    else s.onLost = done;
  };
}

function serverFactory<T extends Recorder>(make: () => T): ServerFactory & { built: T[] } {
  const f = new ServerFactory() as ServerFactory & { built: T[] };
  f.built = [];
  f.buildProtocol = () => {
    const p = make();
    f.built.push(p);
    return p;
  };
  return f;
}

const transportOf = (p: Recorder): Connection => p.transport as unknown as Connection;

describeWithPeer("openssl")("TLS transport", () => {
  let certs: Certificates;
  let server: CertificateOptions;
  let client: ITLSContextFactory;
  expectNoFdLeaks();
  beforeAll(() => {
    certs = makeCertificates();
    server = new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert, acceptableProtocols: ["h2", "http/1.1"] });
    client = optionsForClientTLS("localhost", { trustRoot: certs.ca.cert, acceptableProtocols: ["http/1.1"] });
  });
  afterAll(() => certs.remove());
  expectNoTlsSessionLeaks();

  describe.each(MODES)("%s mode", (mode) => {
    test("an echo over listenSSL/connectSSL: bytes written before the handshake, ALPN, certificate, close_notify ends both cleanly", async () => {
      const out = await runReactor<{ c: TLSRecorder; s: TLSRecorder; info: Record<string, unknown> }>(mode, (reactor, finish) => {
        const sf = serverFactory(() => {
          const p = new TLSRecorder();
          p.onData = (d) => p.transport!.write(Buffer.concat([Buffer.from("echo:"), d]));
          return p;
        });
        const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
        const info: Record<string, unknown> = {};
        const cf = new RecordingClientFactory(() => {
          const p = new TLSRecorder();
          p.onMade = () => p.transport!.write("hello");
          p.onHandshake = () => {
            const t = transportOf(p);
            info.alpn = t.negotiatedProtocol;
            info.subject = t.getPeerCertificate()?.subject;
            info.version = t.tlsVersion();
          };
          p.onData = () => {
            if (p.bytes().toString() === "echo:hello") p.transport!.loseConnection();
          };
          return p;
        });
        cf.onLost = () => {
          const s = sf.built[0];
          const done = (): void => {
            port.stopListening();
            finish({ c: cf.built[0] as TLSRecorder, s, info });
          };
          if (s.reason) done();
          else s.onLost = done;
        };
        connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
      });
      expect(out.c.events).toEqual(["made", "handshake", "data:echo:hello", "lost:ConnectionDone"]);
      expect(out.s.events).toEqual(["made", "handshake", "data:hello", "lost:ConnectionDone"]);
      expect(out.info).toEqual({ alpn: "http/1.1", subject: expect.stringContaining("CN=localhost"), version: "TLSv1.3" });
    });

    test("4 MiB through a push producer: water marks pause it, the bytes arrive exact and in order", async () => {
      const total = 4 * 1024 * 1024;
      const pattern = Buffer.alloc(total);
      for (let i = 0; i < total; i++) pattern[i] = (i * 7 + (i >> 11)) & 0xff;
      const out = await runReactor<{ c: TLSRecorder; s: TLSRecorder; pauses: number }>(mode, (reactor, finish) => {
        let pauses = 0;
        const sf = serverFactory(() => {
          const p = new TLSRecorder();
          let got = 0;
          p.onData = (d) => {
            got += d.length;
            if (got === total) p.transport!.loseConnection();
          };
          return p;
        });
        const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
        const cf = new RecordingClientFactory(() => {
          const p = new TLSRecorder();
          p.onMade = () => {
            const t = p.transport!;
            let sent = 0;
            let paused = false;
            const producer: IPushProducer = {
              pauseProducing: () => {
                paused = true;
                pauses++;
              },
              resumeProducing: () => {
                paused = false;
                while (!paused && sent < total) {
                  const n = Math.min(32 * 1024, total - sent);
                  t.write(pattern.subarray(sent, sent + n));
                  sent += n;
                }
                if (sent === total) t.unregisterProducer();
              },
              stopProducing: () => undefined,
            };
            t.registerProducer(producer, true);
            producer.resumeProducing();
          };
          return p;
        });
        whenBothLost(cf, sf, port, (v) => finish({ ...v, pauses }));
        connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
      });
      expect(out.s.bytes().equals(pattern)).toBe(true);
      expect(out.pauses).toBeGreaterThan(0);
      expect(out.s.reason?.value).toBeInstanceOf(ConnectionDone);
      expect(out.c.reason?.value).toBeInstanceOf(ConnectionDone);
    });
  });

  test("a reader paused after every chunk and resumed later still gets every byte (plaintext left inside the engine is read on resume)", async () => {
    const total = 1024 * 1024;
    const payload = Buffer.alloc(total, 0x61);
    const got = await runReactor<number>("integrated", (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new TLSRecorder();
        let n = 0;
        p.onData = (d) => {
          n += d.length;
          if (n === total) {
            port.stopListening();
            finish(n);
            return;
          }
          p.transport!.pauseProducing();
          reactor.callLater(0.002, () => p.transport!.resumeProducing());
        };
        return p;
      });
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new TLSRecorder();
        p.onMade = () => p.transport!.write(payload);
        return p;
      });
      connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
    });
    expect(got).toBe(total);
  });

  test("24 connections at once, each its own bytes back; a failing one among them ends alone", async () => {
    const n = 24;
    const out = await runReactor<{ answers: string[]; bad: unknown }>("integrated", (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new TLSRecorder();
        p.onData = (d) => p.transport!.write(Buffer.concat([Buffer.from("re:"), d]));
        return p;
      });
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const answers: string[] = new Array<string>(n).fill("");
      let left = n + 1;
      let bad: unknown = null;
      const check = (): void => {
        if (--left === 0) {
          port.stopListening();
          finish({ answers, bad });
        }
      };
      for (let i = 0; i < n; i++) {
        const cf = new RecordingClientFactory(() => {
          const p = new TLSRecorder();
          p.onMade = () => p.transport!.write(`client ${i}`);
          p.onData = () => {
            answers[i] = p.bytes().toString();
            if (answers[i] === `re:client ${i}`) p.transport!.loseConnection();
          };
          return p;
        });
        cf.onLost = check;
        connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
      }
      const wrong = new RecordingClientFactory(() => new TLSRecorder());
      wrong.onLost = (reason) => {
        bad = reason.value;
        check();
      };
      connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), wrong, optionsForClientTLS("wrong.example", { trustRoot: certs.ca.cert }));
    });
    expect(out.answers).toEqual(Array.from({ length: n }, (_, i) => `re:client ${i}`));
    expect(out.bad).toBeInstanceOf(TLSError);
    expect(out.bad).toMatchObject({ code: "HOSTNAME_MISMATCH", reason: "hostname-mismatch" });
  });

  test("a second connectSSL with the same options resumes the first one's TLS 1.3 session", async () => {
    const resuming = optionsForClientTLS("localhost", { trustRoot: certs.ca.cert });
    const reused = await runReactor<boolean[]>("integrated", (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new TLSRecorder();
        p.onData = () => p.transport!.write("pong");
        return p;
      });
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const results: boolean[] = [];
      const once = (): void => {
        const cf = new RecordingClientFactory(() => {
          const p = new TLSRecorder();
          p.onMade = () => p.transport!.write("ping");
          // The TLS 1.3 ticket comes after the handshake: by the first reply it has been read.
          p.onData = () => {
            results.push(transportOf(p).sessionReused());
            p.transport!.loseConnection();
          };
          return p;
        });
        cf.onLost = () => {
          if (results.length < 2) once();
          else {
            port.stopListening();
            finish(results);
          }
        };
        connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, resuming);
      };
      once();
    });
    expect(reused).toEqual([false, true]);
  });

  test("half-close: loseWriteConnection sends close_notify, the peer reads it as readConnectionLost and its last bytes still arrive", async () => {
    const out = await runReactor<{ c: TLSHalfRecorder; s: TLSHalfRecorder }>("integrated", (reactor, finish) => {
      const sf = serverFactory(() => {
        const p = new TLSHalfRecorder();
        p.onReadLost = () => {
          p.transport!.write(`got ${p.bytes().length} bytes`);
          p.transport!.loseConnection();
        };
        return p;
      });
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const cf = new RecordingClientFactory(() => {
        const p = new TLSHalfRecorder();
        p.onMade = () => {
          p.transport!.write("request");
          transportOf(p).loseWriteConnection();
        };
        return p;
      });
      whenBothLost(cf, sf, port, finish);
      connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client);
    });
    expect(out.c.events).toEqual(["made", "handshake", "writeLost", "data:got 7 bytes", "readLost", "lost:ConnectionDone"]);
    expect(out.s.events).toEqual(["made", "handshake", "data:request", "readLost", "lost:ConnectionDone"]);
  });

  test("a peer that stalls in the handshake loses its connection with TLSHandshakeTimeout; a plain TCP peer that sends HTTP gets ERR_SSL_HTTP_REQUEST", async () => {
    const out = await runReactor<{ stalled: unknown; http: unknown; after: string }>("integrated", (reactor, finish) => {
      const sf = serverFactory(() => new TLSRecorder());
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1", handshakeTimeout: 0.3 });
      const got: { stalled: unknown; http: unknown; after: string } = { stalled: null, http: null, after: "" };
      const stall = new RecordingClientFactory(() => new Recorder());
      const http = new RecordingClientFactory(() => {
        const p = new Recorder();
        p.onMade = () => p.transport!.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        return p;
      });
      let lost = 0;
      const both = (): void => {
        if (++lost < 2) return;
        got.stalled = sf.built[0].reason?.value;
        got.http = sf.built[1].reason?.value;
        // The port still serves.
        const ok = new RecordingClientFactory(() => {
          const p = new TLSRecorder();
          p.onHandshake = () => {
            got.after = String(transportOf(p).tlsVersion());
            p.transport!.loseConnection();
          };
          return p;
        });
        ok.onLost = () => {
          port.stopListening();
          finish(got);
        };
        connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), ok, client);
      };
      stall.onLost = both;
      http.onLost = both;
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), stall);
      reactor.callLater(0.05, () => connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), http));
    });
    expect(out.stalled).toBeInstanceOf(TLSHandshakeTimeout);
    expect(out.stalled).toMatchObject({ code: "ERR_TLS_HANDSHAKE_TIMEOUT" });
    expect(out.http).toMatchObject({ code: "ERR_SSL_HTTP_REQUEST" });
    expect(out.after).toBe("TLSv1.3");
  });

  test("listenSSL and connectSSL check their arguments", () => {
    const reactor = {} as unknown as TestReactor;
    expect(() => listenSSL(reactor, 0, new ServerFactory(), {} as never)).toThrow(/"contextFactory"/);
    expect(() => listenSSL(reactor, 0, new ServerFactory(), optionsForClientTLS("x"))).toThrow(/client connections only/);
    expect(() => listenSSL(reactor, 0, new ServerFactory(), server, { handshakeTimeout: -1 })).toThrow(/handshakeTimeout/);
    expect(() => connectSSL(reactor, "h", 1, new RecordingClientFactory(), null as never)).toThrow(/"contextFactory"/);
  });
});
