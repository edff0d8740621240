/**
 * Session resumption as the peer sees it, over the reactor API, TLS 1.3 and 1.2: `openssl
 * s_client -sess_out` then `-sess_in` against listenSSL prints "Reused" for the second
 * connection (TLS 1.2 by ticket and by session id); connectSSL's second connection to
 * `openssl s_server -www` is reported "Reused" on the page s_server writes about it.
 */
import * as path from "node:path";
import { ConnectionDone } from "../../lib/error";
import { optionsForClientTLS, listenSSL, connectSSL, type Connection, type TLSVersion } from "../../lib/net";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { spawnOpenssl, startServer, suitePki } from "../support/tls";
import { portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

const transportOf = (p: Recorder): Connection => p.transport as unknown as Connection;

describeWithPeer("openssl")("TLS session resumption observed by the peer", () => {
  const pki = suitePki();
  expectNoFdLeaks();

  /** The line s_client and s_server -www print about a connection: "New, TLSv1.3, Cipher is ...". */
  const line = (how: "New" | "Reused", version: TLSVersion): RegExp => new RegExp(`^${how}, ${version.replace(".", "\\.")}, Cipher is `, "m");

  const serverCases: Array<[string, string[], TLSVersion]> = [
    ["TLS 1.3 (ticket)", ["-tls1_3"], "TLSv1.3"],
    ["TLS 1.2 (ticket)", ["-tls1_2"], "TLSv1.2"],
    ["TLS 1.2 (session id, no ticket)", ["-tls1_2", "-no_ticket"], "TLSv1.2"],
  ];

  test.each(serverCases)("listenSSL, %s: s_client -sess_out then -sess_in prints Reused for the second connection", async (_name, flags, version) => {
    const sess = path.join(pki.certs.dir, `session-${flags.join("")}.pem`);
    const out = await runReactor<{ outputs: string[]; serverReused: boolean[] }>("integrated", (reactor, finish, fail) => {
      const serverReused: boolean[] = [];
      const outputs: string[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        p.onData = () => {
          if (!p.bytes().includes("\n")) return;
          serverReused.push(transportOf(p).sessionReused());
          // s_client reads the TLS 1.3 tickets together with this answer, so they reach -sess_out.
          p.transport!.write(`answer ${serverReused.length}\n`);
        };
        return p;
      };
      const port = listenSSL(reactor, 0, sf, pki.server, { interface: "127.0.0.1" });
      const client = (round: number): void => {
        const peer = spawnOpenssl(["s_client", "-connect", `127.0.0.1:${portOf(port.getHost())}`, "-CAfile", pki.certs.ca.certFile,
          "-verify_return_error", ...flags, round === 0 ? "-sess_out" : "-sess_in", sess], pki.certs.dir);
        peer.proc.stdin!.write(`round ${round}\n`);
        peer.waitFor(new RegExp(`answer ${round + 1}\\n`), 15000).then(
          () => {
            peer.proc.stdin!.end(); // EOF on stdin: s_client closes and exits
            return peer.exited();
          },
          (e: unknown) => {
            peer.kill();
            throw e;
          },
        ).then(() => {
          outputs.push(peer.output());
          if (round === 0) client(1);
          else {
            port.stopListening();
            finish({ outputs, serverReused });
          }
        }, fail);
      };
      client(0);
    }, 40);
    expect(out.outputs[0]).toMatch(line("New", version));
    expect(out.outputs[0]).not.toMatch(/^Reused, /m);
    expect(out.outputs[1]).toMatch(line("Reused", version));
    expect(out.serverReused).toEqual([false, true]);
  });

  const clientCases: Array<[TLSVersion, string[]]> = [
    ["TLSv1.3", ["-tls1_3"]],
    ["TLSv1.2", ["-tls1_2"]],
    ["TLSv1.2", ["-tls1_2", "-no_ticket"]],
  ];

  test.each(clientCases)("connectSSL (%s, s_server %j): s_server -www reports the second connection Reused", async (version, flags) => {
    const { peer, port } = await startServer(pki.certs, ["-www", ...flags]);
    try {
      const client = optionsForClientTLS("localhost", { trustRoot: pki.certs.ca.cert, maximumVersion: version });
      const pages = await runReactor<Array<{ page: string; reused: boolean; reason: unknown }>>("integrated", (reactor, finish) => {
        const pages: Array<{ page: string; reused: boolean; reason: unknown }> = [];
        const once = (): void => {
          let reused = false;
          const cf = new RecordingClientFactory(() => {
            const p = new Recorder();
            p.onMade = () => p.transport!.write("GET / HTTP/1.0\r\n\r\n");
            p.onData = () => (reused = transportOf(p).sessionReused());
            return p;
          });
          cf.onLost = (reason) => {
            pages.push({ page: (cf.built[0] as Recorder).bytes().toString("latin1"), reused, reason: reason.value });
            if (pages.length < 2) once();
            else finish(pages);
          };
          connectSSL(reactor, "127.0.0.1", port, cf, client);
        };
        once();
      }, 40);
      expect(pages.map((p) => p.reason instanceof ConnectionDone)).toEqual([true, true]);
      expect(pages[0].page).toMatch(/^HTTP\/1\.0 200 ok/);
      expect(pages[0].page).toMatch(line("New", version));
      expect(pages[1].page).toMatch(line("Reused", version));
      expect(pages.map((p) => p.reused)).toEqual([false, true]);
    } finally {
      peer.kill();
      await peer.exited();
    }
  });
});
