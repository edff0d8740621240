/**
 * listenSSL and connectSSL against real TLS peers over the reactor API: curl and
 * `openssl s_client` fetching from our server (chain, name, ALPN and SNI as they see
 * them), Node's `tls` as server and client (SNI and ALPN observed by Node, exact bytes
 * after our half-close), Twisted's listenSSL and connectSSL (pyOpenSSL) both ways.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { ConnectionDone } from "../../lib/error";
import { CertificateOptions, optionsForClientTLS, listenSSL, connectSSL, type Connection } from "../../lib/net";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer, hasPeer, peerEnv, testIf } from "../support/peers";
import { makeCertificates, spawnOpenssl, type Certificates } from "../support/tls";
import { runTwistedPeer, startTwistedServer, type PeerExit } from "../support/twisted";
import { HalfRecorder, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

describeWithPeer("openssl")("TLS transport with real peers", () => {
  let certs: Certificates;
  let server: CertificateOptions;
  expectNoFdLeaks();
  beforeAll(() => {
    certs = makeCertificates();
    const other = new CertificateOptions({ privateKey: certs.other.key, certificate: certs.other.cert });
    server = new CertificateOptions({
      privateKey: certs.leaf.key, certificate: certs.leaf.cert, acceptableProtocols: ["h2", "http/1.1"], serverNames: { "other.example": other },
    });
  });
  afterAll(() => certs.remove());

  /** A listenSSL port answering each request with one HTTP response and a close. */
  function httpsPort(reactor: Parameters<typeof listenSSL>[0], seen: string[]) {
    const sf = new ServerFactory();
    sf.buildProtocol = () => {
      const p = new Recorder();
      p.onData = () => {
        if (!p.bytes().includes("\r\n\r\n")) return;
        seen.push(p.bytes().toString().split("\r\n")[0]);
        p.transport!.write("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, peer\n");
        p.transport!.loseConnection();
      };
      return p;
    };
    return listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
  }

  testIf(hasPeer("curl"), "needs curl: apt-get install -y curl")("curl fetches from listenSSL: it verifies chain and name and gets our ALPN choice", async () => {
    const out = await runReactor<{ body: string; err: string; code: number | null; seen: string[] }>("integrated", (reactor, finish) => {
      const seen: string[] = [];
      const port = httpsPort(reactor, seen);
      const n = portOf(port.getHost());
      const curl = spawn("curl", ["-sS", "-v", "--http1.1", "--cacert", certs.ca.certFile, "--resolve", `localhost:${n}:127.0.0.1`, `https://localhost:${n}/hello`], { env: peerEnv() });
      let body = "";
      let err = "";
      curl.stdout.on("data", (b: Buffer) => (body += b.toString()));
      curl.stderr.on("data", (b: Buffer) => (err += b.toString()));
      curl.on("close", (code) => {
        port.stopListening();
        finish({ body, err, code, seen });
      });
    });
    expect(out.code).toBe(0);
    expect(out.body).toBe("hello, peer\n");
    expect(out.seen).toEqual(["GET /hello HTTP/1.1"]);
    expect(out.err).toMatch(/ALPN[:,] server accepted (to use )?http\/1\.1/);
    expect(out.err).toMatch(/SSL certificate verify ok/);
  });

  test("openssl s_client asks for other.example (SNI) and h2 (ALPN): it gets that certificate and protocol, and our close_notify", async () => {
    const out = await runReactor<{ output: string; code: number | null; seen: string[] }>("integrated", (reactor, finish) => {
      const seen: string[] = [];
      const port = httpsPort(reactor, seen);
      const peer = spawnOpenssl(["s_client", "-connect", `127.0.0.1:${portOf(port.getHost())}`, "-CAfile", certs.ca.certFile,
        "-servername", "other.example", "-verify_hostname", "other.example", "-verify_return_error", "-alpn", "h2", "-ign_eof"], certs.dir);
      peer.proc.stdin!.write("GET /sni HTTP/1.1\r\nHost: other.example\r\n\r\n");
      void peer.exited().then((code) => {
        port.stopListening();
        finish({ output: peer.output(), code, seen });
      });
    });
    expect(out.code).toBe(0);
    expect(out.seen).toEqual(["GET /sni HTTP/1.1"]);
    expect(out.output).toMatch(/subject=.*CN\s*=\s*other\.example/);
    expect(out.output).toMatch(/ALPN protocol: h2/);
    expect(out.output).toMatch(/Verify return code: 0 \(ok\)/);
    expect(out.output).toContain("hello, peer");
    expect(out.output).toMatch(/closed|DONE/);
  });

  test("Node's tls server sees our SNI and ALPN; after our half-close its reply arrives byte for byte", async () => {
    const reply = Buffer.alloc(300 * 1024);
    for (let i = 0; i < reply.length; i++) reply[i] = (i * 13) & 0xff;
    const seenByNode: { servername?: string | false | null; alpn?: string | false | null; request?: string } = {};
    const node = tls.createServer({ key: certs.other.key, cert: certs.other.cert, ALPNProtocols: ["h2", "http/1.1"], allowHalfOpen: true }, (socket) => {
      seenByNode.servername = (socket as tls.TLSSocket & { servername?: string }).servername;
      seenByNode.alpn = socket.alpnProtocol;
      const chunks: Buffer[] = [];
      socket.on("data", (d: Buffer) => chunks.push(d));
      socket.on("end", () => {
        seenByNode.request = Buffer.concat(chunks).toString();
        socket.end(reply);
      });
    });
    await new Promise<void>((r) => node.listen(0, "127.0.0.1", () => r()));
    const nodePort = (node.address() as AddressInfo).port;
    try {
      const out = await runReactor<HalfRecorder>("integrated", (reactor, finish) => {
        const cf = new RecordingClientFactory(() => {
          const p = new HalfRecorder();
          p.onMade = () => {
            p.transport!.write("request bytes");
            (p.transport as unknown as Connection).loseWriteConnection();
          };
          return p;
        });
        cf.onLost = () => finish(cf.built[0] as HalfRecorder);
        connectSSL(reactor, "127.0.0.1", nodePort, cf, optionsForClientTLS("other.example", { trustRoot: certs.ca.cert, acceptableProtocols: ["http/1.1"] }));
      });
      expect(seenByNode).toEqual({ servername: "other.example", alpn: "http/1.1", request: "request bytes" });
      expect(out.bytes().equals(reply)).toBe(true);
      expect(out.events.filter((e) => !e.startsWith("data:"))).toEqual(["made", "writeLost", "readLost", "lost:ConnectionDone"]);
    } finally {
      await new Promise((r) => node.close(r));
    }
  });

  test("Node's tls client verifies our server, sends, half-closes; our answer after its half-close reaches it", async () => {
    const out = await runReactor<{ got: string; authorized: boolean; alpn: string | false | null; server: HalfRecorder }>("integrated", (reactor, finish) => {
      const sf = new ServerFactory();
      let srv: HalfRecorder | null = null;
      sf.buildProtocol = () => {
        const p = new HalfRecorder();
        srv = p;
        p.onReadLost = () => {
          p.transport!.write(`you sent ${p.bytes().length} bytes`);
          p.transport!.loseConnection();
        };
        return p;
      };
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const sock = tls.connect({ host: "127.0.0.1", port: portOf(port.getHost()), ca: certs.ca.cert, servername: "localhost", ALPNProtocols: ["http/1.1"], allowHalfOpen: true } as tls.ConnectionOptions);
      let got = "";
      sock.on("secureConnect", () => sock.end("x".repeat(70000)));
      sock.on("data", (d: Buffer) => (got += d.toString()));
      sock.on("close", () => {
        port.stopListening();
        const wait = (): void => {
          if (srv?.reason) finish({ got, authorized: sock.authorized, alpn: sock.alpnProtocol, server: srv });
          else reactor.callLater(0.01, wait);
        };
        wait();
      });
    });
    expect(out.authorized).toBe(true);
    expect(out.alpn).toBe("http/1.1");
    expect(out.got).toBe("you sent 70000 bytes");
    expect(out.server.reason?.value).toBeInstanceOf(ConnectionDone);
  });

  describeWithPeer("python3-twisted")("with Twisted's TLS (pyOpenSSL)", () => {
    const script = path.join(__dirname, "..", "native", "fixtures", "twisted_tls.py");

    test("connectSSL to Twisted's listenSSL: ALPN seen by Twisted, the exact bytes back, then its close_notify", async () => {
      const payload = Buffer.from("bytes for twisted ".repeat(500));
      const { port, exit: peer } = await startTwistedServer(script, ["server", certs.leaf.certFile, certs.leaf.keyFile, String(payload.length)]);
      const out = await runReactor<Recorder>("integrated", (reactor, finish) => {
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          p.onMade = () => p.transport!.write(payload);
          return p;
        });
        cf.onLost = () => finish(cf.built[0] as Recorder);
        connectSSL(reactor, "127.0.0.1", port, cf, optionsForClientTLS("localhost", { trustRoot: certs.ca.cert, acceptableProtocols: ["http/1.1"] }));
      }, 30);
      const exit: PeerExit = await peer;
      expect(exit.lines).toEqual([`READY ${port}`, `SERVER alpn=http/1.1 got=${payload.length}`]);
      expect(out.bytes().equals(Buffer.from(payload).reverse())).toBe(true);
      expect(out.reason?.value).toBeInstanceOf(ConnectionDone);
    });

    test("Twisted's connectSSL with optionsForClientTLS verifies listenSSL's chain and name and takes our ALPN choice", async () => {
      let exit: PeerExit | null = null;
      const out = await runReactor<{ got: string; alpn: string | null }>("integrated", (reactor, finish) => {
        const sf = new ServerFactory();
        sf.buildProtocol = () => {
          const p = new Recorder();
          p.onData = () => {
            if (p.bytes().toString() !== "hello from twisted") return;
            const alpn = (p.transport as unknown as Connection).negotiatedProtocol;
            p.transport!.write("hello from fdreactor");
            p.transport!.loseConnection();
            p.onLost = () => {
              port.stopListening();
              void peer.then((e) => {
                exit = e;
                finish({ got: p.bytes().toString(), alpn });
              });
            };
          };
          return p;
        };
        const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
        const peer = runTwistedPeer(script, ["client", certs.ca.certFile, String(portOf(port.getHost())), "localhost"]);
      }, 30);
      expect(out).toEqual({ got: "hello from twisted", alpn: "http/1.1" });
      expect(exit).toMatchObject({ code: 0, lines: ["CLIENT alpn=http/1.1 got=hello from fdreactor"] });
    });
  });
});
