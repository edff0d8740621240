/**
 * bench/lib/sockets.js reads one port's TCP state from the real `ss`: a server that writes
 * 8 MiB to a client that does not read must show as one server socket holding unsent bytes
 * and one client socket with its receive buffer; connections of other ports are not counted.
 */
import * as net from "node:net";
import { describeWithPeer } from "../support/peers";
import { expectNoFdLeaks } from "../support/fds";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sockets = require("../../bench/lib/sockets");

expectNoFdLeaks();

/** A listening server on 127.0.0.1 whose connections each get `bytes` written to them. */
function writingServer(bytes: number): Promise<{ server: net.Server; port: number; accepted: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    accepted.push(s);
    s.on("error", () => undefined);
    s.write(Buffer.alloc(bytes));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as net.AddressInfo).port, accepted })));
}

/** Connects to `port` and reads nothing. */
function idleClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1", () => resolve(c));
    c.pause();
    c.on("error", reject);
  });
}

describeWithPeer("iproute2")("TCP state of one port's connections (ss)", () => {
  test("a server socket whose client does not read holds unsent bytes; the client's receive buffer is read; another port's connections are left out", async () => {
    const a = await writingServer(8 << 20);
    const b = await writingServer(1 << 10);
    const clients = [await idleClient(a.port), await idleClient(a.port), await idleClient(b.port)];
    try {
      // Until the kernel has queued what the window does not let out.
      let got = { server: [] as { notsent: number; sndWnd: number }[], client: [] as { rb: number }[] };
      for (let i = 0; i < 50; i++) {
        got = await sockets.sampleSockets(a.port);
        if (got.server.length === 2 && got.server.every((s) => s.notsent > 0)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(got.server).toHaveLength(2);
      expect(got.client).toHaveLength(2);
      for (const s of got.server) expect(s.notsent).toBeGreaterThan(0);
      for (const c of got.client) expect(c.rb).toBeGreaterThan(0);
      const sum = sockets.summariseSockets(got);
      expect(sum).toMatchObject({ serverUnsent: 2, connections: 2 });
      expect(sum.serverUnsentMedian).toBeGreaterThan(0);
      expect(got.client.map((c) => c.rb)).toContain(sum.clientRbMedian);
      // The 1 KiB server's connection has nothing queued and is another port's.
      const other = await sockets.sampleSockets(b.port);
      expect(other.server).toHaveLength(1);
      expect(other.server[0].notsent).toBe(0);
    } finally {
      for (const c of clients) c.destroy();
      for (const s of [...a.accepted, ...b.accepted]) s.destroy();
      await Promise.all([a, b].map((x) => new Promise((r) => x.server.close(r))));
    }
  });

  test("a port out of range is refused by name", () => {
    expect(() => sockets.parseSs("", 0)).toThrow(/port/);
    expect(() => sockets.parseSs("", 70000)).toThrow(/port/);
  });
});
