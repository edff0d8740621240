/**
 * UDP against Twisted's own (Debian python3-twisted under /usr/bin/python3,
 * fixtures/twisted_udp.py): an fdreactor port talks to a Twisted echo server, and a
 * connected Twisted client talks to an fdreactor echo server; bytes and addresses checked.
 */
import * as path from "node:path";
import type { Address } from "../../lib/net/interfaces";
import { listenUDP, type UDPPort } from "../../lib/net/udp";
import { expectNoFdLeaks } from "../support/fds";
import { describeWithPeer } from "../support/peers";
import { runTwistedPeer, type PeerExit } from "../support/twisted";
import { DatagramRecorder, runUDP } from "./udp-support";

expectNoFdLeaks();

const PEER = path.join(__dirname, "fixtures", "twisted_udp.py");
const DATAGRAMS = [Buffer.from("a"), Buffer.from("bb"), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))];

function portOf(a: Address): number {
  if (a.type === "UNIX") throw new Error("not an IP address");
  return a.port;
}

/** Runs this suite's Twisted peer (PEER) with `args`; see runTwistedPeer. */
function runPeer(args: string[], onLine?: (line: string) => void): Promise<PeerExit> {
  return runTwistedPeer(PEER, args, onLine);
}

describeWithPeer("python3-twisted")("UDP against Twisted", () => {
  test("a Twisted echo server returns an fdreactor port's datagrams from its own address", async () => {
    let peer: Promise<PeerExit> | null = null;
    const out = await runUDP<{ got: { data: Buffer; addr: Address }[]; twistedPort: number; myPort: number }>((reactor, finish, fail) => {
      const p = new DatagramRecorder();
      const port: UDPPort = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      let twistedPort = 0;
      peer = runPeer(["server"], (line) => {
        const m = /^PORT (\d+)$/.exec(line);
        if (!m) return;
        twistedPort = Number(m[1]);
        for (const d of DATAGRAMS) port.write(d, { host: "127.0.0.1", port: twistedPort });
      });
      p.onDatagram = () => {
        if (p.datagrams.length < DATAGRAMS.length) return;
        port.write("bye", { host: "127.0.0.1", port: twistedPort });
        const r = { got: p.datagrams.slice(), twistedPort, myPort: portOf(port.getHost()) };
        void (peer as Promise<unknown>).then(() => {
          port.stopListening();
          finish(r);
        }, fail);
      };
    }, {}, 25);
    const result = await (peer as unknown as Promise<PeerExit>);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(out.got.map((g) => g.data)).toEqual(DATAGRAMS);
    for (const g of out.got) expect(g.addr).toEqual({ type: "UDP", host: "127.0.0.1", port: out.twistedPort, family: "IPv4" });
    expect(result.lines).toEqual([`PORT ${out.twistedPort}`, `FROM ${out.myPort} 1`, `FROM ${out.myPort} 2`, `FROM ${out.myPort} 1000`, `FROM ${out.myPort} 3`]);
  });

  test("a connected Twisted client gets its datagrams echoed by an fdreactor port", async () => {
    let result: { code: number | null; lines: string[]; stderr: string } | null = null;
    await runUDP<void>((reactor, finish, fail) => {
      const p = new DatagramRecorder();
      const port = listenUDP(reactor, 0, p, { interface: "127.0.0.1" });
      p.onDatagram = (data, addr) => {
        if (data.toString() !== "bye") port.write(data, addr);
      };
      runPeer(["client", String(portOf(port.getHost()))]).then((r) => {
        result = r;
        port.stopListening();
        finish();
      }, fail);
    }, {}, 25);
    const r = result as unknown as { code: number | null; lines: string[]; stderr: string };
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(["ECHO 1 ok", "ECHO 2 ok", "ECHO 1000 ok"]);
  });
});
