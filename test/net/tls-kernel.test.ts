/**
 * Kernel TLS through the reactor (docs/tls.md, "Kernel TLS"): listenSSL with
 * `CertificateOptions({ kernelTls: true })`, connectSSL against it, in both run modes. On a
 * kernel without the tls ULP (this machine: ENOENT) every connection stays in the userspace
 * engine with no visible difference, the transport says which path it took and why, and
 * the refusal is remembered per process (one TCP_ULP call at most). On a kernel with it,
 * the same test checks that the server transport is in the kernel and the echo still works.
 */
import { CertificateOptions, optionsForClientTLS, listenSSL, connectSSL, type Connection, type ITLSContextFactory } from "../../lib/net";
import { native } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { expectNoTlsSessionLeaks, makeCertificates, type Certificates } from "../support/tls";
import { MODES, portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

const transportOf = (p: Recorder): Connection => p.transport as unknown as Connection;

/** What one side saw of its transport's path. */
interface Path {
  kernel: boolean;
  fallback: string | null;
  secure: boolean;
}

const pathOf = (t: Connection): Path => ({ kernel: t.kernelTls, fallback: t.kernelTlsFallback, secure: t.isSecure() });

describeWithPeer("openssl")("kernel TLS through listenSSL / connectSSL", () => {
  let certs: Certificates;
  let client: ITLSContextFactory;
  expectNoFdLeaks();
  beforeAll(() => {
    certs = makeCertificates();
    client = optionsForClientTLS("localhost", { trustRoot: certs.ca.cert });
  });
  afterAll(() => certs.remove());
  expectNoTlsSessionLeaks();

  /** `count` echo connections to a listenSSL on `server`: what each end saw, in connection order. */
  async function echoes(mode: (typeof MODES)[number], server: CertificateOptions, count: number): Promise<{ c: Recorder; s: Recorder; cPath: Path; sPath: Path }[]> {
    return runReactor(mode, (reactor, finish) => {
      const servers: { p: Recorder; path: Path | null }[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const entry = { p: new Recorder(), path: null as Path | null };
        entry.p.onData = (d) => {
          entry.path ??= pathOf(transportOf(entry.p));
          entry.p.transport!.write(Buffer.concat([Buffer.from("echo:"), d]));
        };
        servers.push(entry);
        return entry.p;
      };
      const port = listenSSL(reactor, 0, sf, server, { interface: "127.0.0.1" });
      const results: { c: Recorder; s: Recorder; cPath: Path; sPath: Path }[] = [];
      let lost = 0;
      for (let i = 0; i < count; i++) {
        const cf = new RecordingClientFactory(() => {
          const p = new Recorder();
          let path: Path | null = null;
          p.onMade = () => p.transport!.write(`hello ${i}`);
          p.onData = () => {
            path ??= pathOf(transportOf(p));
            if (p.bytes().toString() === `echo:hello ${i}`) p.transport!.loseConnection();
          };
          p.onLost = () => {
            const s = servers[i];
            const done = (): void => {
              results[i] = { c: p, s: s.p, cPath: path!, sPath: s.path! };
              if (++lost === count) {
                port.stopListening();
                finish(results);
              }
            };
            if (s.p.reason) done();
            else s.p.onLost = done;
          };
          return p;
        });
        // One at a time, so that connection i is server protocol i.
        reactor.callLater(i * 0.05, () => connectSSL(reactor, "127.0.0.1", portOf(port.getHost()), cf, client));
      }
    });
  }

  describe.each(MODES)("%s mode", (mode) => {
    test("kernelTls on: the echo works, the server says which path it took and why, the client was never asked", async () => {
      const probe = native.kernelTls();
      const server = new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert, kernelTls: true });
      expect(server.kernelTls).toBe(true);
      const before = native.kernelTlsStats();
      const out = await echoes(mode, server, 3);
      const after = native.kernelTlsStats();
      for (const [i, { c, s, cPath, sPath }] of out.entries()) {
        expect(c.events).toEqual(["made", `data:echo:hello ${i}`, "lost:ConnectionDone"]);
        expect(s.events).toEqual(["made", `data:hello ${i}`, "lost:ConnectionDone"]);
        expect(cPath).toEqual({ kernel: false, fallback: null, secure: true });
        if (probe === "available") {
          expect(sPath).toEqual({ kernel: true, fallback: null, secure: true });
        } else {
          expect(sPath).toEqual({ kernel: false, fallback: probe, secure: true }); // "ENOENT" here
        }
      }
      if (probe === "available") {
        expect(after.handedOff).toBe(before.handedOff + 3);
      } else {
        expect(after.unavailable).toBe(probe);
        expect(after.fallbacks).toBe(before.fallbacks + 3);
        expect(after.handedOff).toBe(before.handedOff);
        // Asked once per process at most, never again once refused.
        expect(after.ulpCalls - before.ulpCalls).toBe(before.unavailable === null ? 1 : 0);
      }
    });

    test("kernelTls off (the default): nothing asked, nothing counted", async () => {
      const server = new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert });
      expect(server.kernelTls).toBe(false);
      const before = native.kernelTlsStats();
      const [{ c, sPath }] = await echoes(mode, server, 1);
      expect(c.events).toEqual(["made", "data:echo:hello 0", "lost:ConnectionDone"]);
      expect(sPath).toEqual({ kernel: false, fallback: null, secure: true });
      expect(native.kernelTlsStats()).toEqual(before);
    });
  });

  test("a kernelTls option that is not a boolean names itself", () => {
    expect(() => new CertificateOptions({ privateKey: certs.leaf.key, certificate: certs.leaf.cert, kernelTls: "yes" as never })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE", message: expect.stringContaining('"kernelTls"') }),
    );
  });
});
