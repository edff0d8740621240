/**
 * static.File bodies are file ranges, not buffers: 64 clients that each ask for a 1 MiB
 * file eight times over one connection and stop reading after the first 64 KiB cost the
 * server almost no memory (RSS from /proc/PID/status of a child process), and once they
 * go, every file and socket the server opened for them is closed.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compileLib } from "../reactor/fixtures/compile";
import { RawPeer } from "../reliability/support";
import { rssKb, startChildServer, waitFor } from "../support/child-server";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let compiled = "";
let root = "";
beforeAll(() => {
  compiled = compileLib();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-static-mem-"));
  fs.writeFileSync(path.join(root, "1m.bin"), randomBytes(1024 * 1024));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test("64 clients stop reading 64 KiB into 8 pipelined 1 MiB bodies: server RSS grows < 16 MiB (512 MiB asked), and every file and socket is closed after", async () => {
  const server = startChildServer(path.join(__dirname, "fixtures", "static-server.js"), [compiled, root]);
  const child = server.child;
  const peers: RawPeer[] = [];
  try {
    const { port } = await server.next();
    // Warm up (JIT, pools): a few whole bodies read to the end.
    for (let i = 0; i < 5; i++) {
      const p = new RawPeer(port);
      expect(await waitFor(() => p.connected(), 2000)).toBe(true);
      p.writeSome(Buffer.from("GET /1m.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      expect(await waitFor(() => (p.readAvailable(), p.eof), 5000)).toBe(true);
      expect(p.received).toBeGreaterThan(1024 * 1024);
      p.close();
    }
    const idle = await server.stats();
    await sleep(200);
    const base = rssKb(child.pid!);
    // Eight: more than the kernel's socket buffers take (a send buffer grows to 4 MiB here),
    // so every connection still holds a range of its own once the client stops reading.
    const req = Buffer.from("GET /1m.bin HTTP/1.1\r\nHost: x\r\n\r\n".repeat(8), "latin1");
    for (let i = 0; i < 64; i++) {
      const p = new RawPeer(port);
      peers.push(p);
      expect(await waitFor(() => p.connected(), 2000)).toBe(true);
      expect(p.writeSome(req)).toBe(req.length);
    }
    let peak = base;
    // Each reads its first 64 KiB, then nothing more.
    for (const p of peers) await waitFor(() => (p.readAvailable(64 * 1024 - p.received), p.received >= 64 * 1024), 3000);
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      peak = Math.max(peak, rssKb(child.pid!));
      await sleep(20);
    }
    const held = await server.stats();
    expect(held.openFiles).toBeGreaterThanOrEqual(64); // their ranges are still queued, files open
    expect((peak - base) / 1024).toBeLessThan(16);
    for (const p of peers) p.close();
    peers.length = 0;
    let after: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      after = await server.stats();
      if (after.openFiles === 0 && after.fds <= idle.fds) break;
      await sleep(50);
    }
    expect(after.openFiles).toBe(0);
    expect(after.fds).toBe(idle.fds);
  } finally {
    for (const p of peers) p.close();
    expect(await server.stop()).toBe("");
  }
}, 40000);
