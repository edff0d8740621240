/**
 * STARTTLS (`transport.startTLS`): a plain connection switches to TLS in the middle; what was
 * written before goes out in plaintext first, what is written after is encrypted. Between
 * two fdreactor ends, and with `openssl s_client -starttls smtp` as the client.
 */
import { optionsForClientTLS, listenTCP, connectTCP, type Connection } from "../../lib/net";
import { LineReceiver, ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { spawnOpenssl, suitePki } from "../support/tls";
import { portOf, Recorder, RecordingClientFactory, runReactor } from "./helpers";

const tlsOf = (p: { transport: unknown }): Connection => p.transport as Connection;

describeWithPeer("openssl")("STARTTLS", () => {
  const pki = suitePki();
  expectNoFdLeaks();

  test("fdreactor on both ends: the reply written before startTLS arrives in plaintext, what follows is encrypted both ways", async () => {
    const out = await runReactor<{ client: string[]; server: string[]; version: string | null; subject: string | undefined; secure: (boolean | null)[] }>("integrated", (reactor, finish) => {
      const serverSaw: string[] = [];
      const sf = new ServerFactory();
      sf.buildProtocol = () => {
        const p = new Recorder();
        let tls = false;
        p.onData = (d) => {
          serverSaw.push(`${tls ? "tls" : "plain"}:${d.toString()}`);
          if (!tls && d.toString() === "STARTTLS\r\n") {
            p.transport!.write("GO\r\n");
            tlsOf(p).startTLS(pki.server);
            tls = true;
            p.transport!.write("welcome"); // encrypted: after the switch
          } else if (tls && d.toString() === "secret") {
            p.transport!.write("got secret");
          }
        };
        return p;
      };
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const clientSaw: string[] = [];
      const cf = new RecordingClientFactory(() => {
        const p = new Recorder();
        let tls = false;
        let secureBefore: boolean | null = null;
        p.onMade = () => p.transport!.write("STARTTLS\r\n");
        p.onData = (d) => {
          clientSaw.push(`${tls ? "tls" : "plain"}:${d.toString()}`);
          if (!tls && d.toString() === "GO\r\n") {
            secureBefore = tlsOf(p).isSecure();
            tlsOf(p).startTLS(optionsForClientTLS("localhost", { trustRoot: pki.certs.ca.cert }));
            tls = true;
            p.transport!.write("secret");
          } else if (p.bytes().toString().endsWith("got secret")) {
            const t = tlsOf(p);
            const result = { client: clientSaw, server: serverSaw, version: t.tlsVersion(), subject: t.getPeerCertificate()?.subject, secure: [secureBefore, t.isSecure()] };
            p.transport!.loseConnection();
            cf.onLost = () => {
              port.stopListening();
              finish(result);
            };
          }
        };
        return p;
      });
      connectTCP(reactor, "127.0.0.1", portOf(port.getHost()), cf);
    });
    expect(out.server).toEqual(["plain:STARTTLS\r\n", "tls:secret"]);
    expect(out.client[0]).toBe("plain:GO\r\n");
    expect(out.client.slice(1).every((c) => c.startsWith("tls:"))).toBe(true);
    expect(out.client.slice(1).map((c) => c.slice(4)).join("")).toBe("welcomegot secret");
    expect(out.version).toBe("TLSv1.3");
    expect(out.secure).toEqual([false, true]);
    expect(out.subject).toContain("CN=localhost");
  });

  test("openssl s_client -starttls smtp upgrades our SMTP-like server and reads a line sent over TLS", async () => {
    class Smtp extends LineReceiver {
      override connectionMade(): void {
        this.sendLine(Buffer.from("220 fdreactor ESMTP"));
      }
      override lineReceived(line: Buffer): void {
        const cmd = line.toString().toUpperCase();
        if (cmd.startsWith("EHLO")) {
          this.sendLine(Buffer.from("250-fdreactor"));
          this.sendLine(Buffer.from("250 STARTTLS"));
        } else if (cmd === "STARTTLS") {
          this.sendLine(Buffer.from("220 2.0.0 Ready to start TLS"));
          tlsOf(this).startTLS(pki.server);
          this.sendLine(Buffer.from("250 hello over tls"));
        }
      }
    }
    const out = await runReactor<{ output: string; code: number | null }>("integrated", (reactor, finish) => {
      const sf = new ServerFactory();
      sf.buildProtocol = () => new Smtp();
      const port = listenTCP(reactor, 0, sf, { interface: "127.0.0.1" });
      const peer = spawnOpenssl(["s_client", "-connect", `127.0.0.1:${portOf(port.getHost())}`, "-starttls", "smtp", "-CAfile", pki.certs.ca.certFile,
        "-verify_hostname", "localhost", "-verify_return_error"], pki.certs.dir);
      void peer.waitFor(/hello over tls/, 15000).then(() => peer.proc.stdin!.end(), () => peer.kill());
      void peer.exited().then((code) => {
        port.stopListening();
        finish({ output: peer.output(), code });
      });
    });
    expect(out.code).toBe(0);
    expect(out.output).toMatch(/Verify return code: 0 \(ok\)/);
    expect(out.output).toContain("250 hello over tls");
  });
});
