/**
 * The C reference server and the C echo client, for real on 127.0.0.1: every echoed byte
 * verified over 100 connections, a corrupting server caught, the http mode's exact
 * answers (also for requests split across reads), and the harness's answer checks.
 */
import * as net from "node:net";
import { expectNoFdLeaks } from "../support/fds";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startServer } = require("../../bench/lib/server");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findServer } = require("../../bench/peers/registry");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runEchoClient } = require("../../bench/lib/echo_client");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { verifyEcho, verifyHttp } = require("../../bench/lib/verify");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const children = require("../../bench/lib/children");

expectNoFdLeaks();

const RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/** Writes `parts` one by one (each a separate write, a tick apart), collects until `expectedBytes` arrive. */
async function exchangeInParts(port: number, parts: string[], expectedBytes: number): Promise<string> {
  const sock = net.connect({ port, host: "127.0.0.1" });
  sock.setNoDelay(true);
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<string>((resolve, reject) => {
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= expectedBytes) resolve(Buffer.concat(chunks).toString("latin1"));
    });
    sock.once("error", reject);
    sock.once("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
  await new Promise((r) => sock.once("connect", r));
  for (const p of parts) {
    sock.write(Buffer.from(p, "latin1"));
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    return await done;
  } finally {
    sock.destroy();
  }
}

test("the C echo client verifies every byte over 100 connections against the C reference", async () => {
  const srv = await startServer(findServer("c-reference"), "echo", { cpu: null });
  let marks = 0;
  try {
    const r = await runEchoClient({ port: srv.port, conns: 100, size: 64, warmup: 0.2, duration: 1, cpu: null, onMeasureStart: () => marks++, onMeasureEnd: () => marks++ });
    expect(marks).toBe(2);
    expect(r.connections).toBe(100);
    expect(r.connected).toBe(100);
    expect(r.open_at_end).toBe(100);
    expect(r.errors).toEqual({ total: 0, mismatch: 0, closed: 0, reset: 0, connect: 0, extra: 0 });
    expect(r.messages).toBeGreaterThan(0);
    expect(r.bytes_verified).toBe(r.messages * 64);
    expect(r.latency_us.p50).toBeLessThanOrEqual(r.latency_us.p99);
    expect(r.latency_us.p99).toBeLessThanOrEqual(r.latency_us.p999);
  } finally {
    await srv.stop();
  }
});

test("the C echo client counts a server that changes a byte as a mismatch, not as a message", async () => {
  // Echoes, but flips the last byte of the 3rd chunk on each connection.
  const server = net.createServer((s) => {
    let seen = 0;
    s.on("data", (d: Buffer) => {
      const out = Buffer.from(d);
      if (++seen === 3) out[out.length - 1] ^= 0xff;
      s.write(out);
    });
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await runEchoClient({ port, conns: 10, size: 64, warmup: 0, duration: 1, cpu: null });
    expect(r.errors.mismatch).toBe(10); // each connection is closed at its first wrong byte
    expect(r.errors.total).toBe(10);
    expect(r.open_at_end).toBe(0);
    expect(r.messages).toBeLessThanOrEqual(20); // at most the 2 good ones per connection
    expect(r.bytes_verified).toBe(r.messages * 64);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("the C reference answers each request once, also when its end is split across reads", async () => {
  const srv = await startServer(findServer("c-reference"), "http", { cpu: null });
  try {
    const req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // Three requests: whole, split inside "\r\n\r\n", and split between "\r\n" and "\r\n".
    const parts = [req + "GET / HTTP/1.1\r\nHost: x\r", "\n\r\nGET / HTTP/1.1\r\n", "\r\n"];
    const got = await exchangeInParts(srv.port, parts, RESPONSE.length * 3);
    expect(got).toBe(RESPONSE.repeat(3));
  } finally {
    await srv.stop();
  }
});

test("the C reference echoes exact bytes and answers the harness's checks", async () => {
  const echo = await startServer(findServer("c-reference"), "echo", { cpu: null });
  const http = await startServer(findServer("c-reference"), "http", { cpu: null });
  try {
    const bytes = "\u0000\u00ff binary \r\n\r\n and text";
    expect(await exchangeInParts(echo.port, [bytes], Buffer.byteLength(bytes, "latin1"))).toBe(bytes);
    await expect(verifyEcho(echo.port)).resolves.toBe(true);
    await expect(verifyHttp(http.port)).resolves.toEqual({
      status: 200,
      headers: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13",
      body: "Hello, World!",
      responseBytes: RESPONSE.length,
    });
  } finally {
    await echo.stop();
    await http.stop();
  }
  expect(children.liveCount()).toBe(0);
});

test("a server that never prints READY is stopped and reported with its stderr", async () => {
  const spec = { name: "mute", modes: ["echo"], cmd: "/bin/sh", args: ["-c", "echo busy elsewhere >&2; exec sleep 60"], ready: "stdout" };
  await expect(startServer(spec, "echo", { cpu: null, readyTimeoutMs: 1000 })).rejects.toThrow(/^mute printed no READY line within 1000 ms\n--- its stderr ---\nbusy elsewhere\n$/);
});

test("a server that exits before READY is reported with everything it wrote to stderr", async () => {
  const spec = { name: "crash", modes: ["echo"], cmd: "/bin/sh", args: ["-c", "echo cannot bind >&2; exit 3"], ready: "stdout" };
  await expect(startServer(spec, "echo", { cpu: null })).rejects.toThrow(/^crash exited before it was ready \(code 3, signal null\)\n--- its stderr ---\ncannot bind\n$/);
  expect(children.liveCount()).toBe(0);
});

test("two C reference processes share one port with --reuseport", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureBuilt } = require("../../bench/lib/build");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { freePort } = require("../../bench/lib/server");
  const bin = ensureBuilt("c_reference");
  const port = await freePort();
  const started = [0, 1].map(() => children.spawnTracked("c_reference", bin, ["echo", String(port), "--reuseport"], { cpu: null }));
  try {
    const lines = await Promise.all(
      started.map(
        (c: { stdout: NodeJS.ReadableStream }) =>
          new Promise<string>((resolve) => {
            let buf = "";
            c.stdout.setEncoding("utf8");
            c.stdout.on("data", (d: string) => {
              buf += d;
              if (buf.includes("\n")) resolve(buf.trim());
            });
            c.stdout.on("end", () => resolve(buf.trim()));
          }),
      ),
    );
    expect(lines).toEqual([`READY ${port}`, `READY ${port}`]);
    await expect(verifyEcho(port)).resolves.toBe(true);
  } finally {
    for (const c of started) await children.stopTracked(c);
  }
});

test("the http check refuses a server whose body differs by one byte", async () => {
  const server = net.createServer((s) => {
    // The harness sends two pipelined requests: both answered, with the wrong last byte.
    s.once("data", () => s.write("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World?".repeat(2)));
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    await expect(verifyHttp((server.address() as net.AddressInfo).port)).rejects.toThrow(/^http answered .*Hello, World\?/s);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
