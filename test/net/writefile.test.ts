/**
 * File ranges in a transport's write queue (FileDescriptor.writeFile): they leave in order
 * with the bytes written around them, through sendfile or, where the kernel cannot send
 * files to the fd (kernelSendsFiles false: a TLS transport), as chunks read into the byte
 * queue; the file is closed exactly once on every path.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { native } from "../../lib/native";
import { listenTCP, type FileDescriptor, type IFileSource } from "../../lib/net";
import { Factory, Protocol } from "../../lib/protocols";
import type { Reactor } from "../../lib/reactor";
import { expectNoFdLeaks } from "../support/fds";
import { withReactor } from "../web/helpers";

expectNoFdLeaks();

let dir = "";
let big: Buffer;
let bigPath = "";
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-writefile-"));
  big = randomBytes(3 * 1024 * 1024 + 17);
  bigPath = path.join(dir, "big");
  fs.writeFileSync(bigPath, big);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The file at `p` as an IFileSource that counts its closes. */
function source(p: string): IFileSource & { closes: number } {
  const fd = fs.openSync(p, "r");
  const s = {
    fd,
    closes: 0,
    close(): void {
      if (s.closes++ === 0) fs.closeSync(fd);
    },
  };
  return s;
}

/** A server whose connections run `script(transport)` once made; resolves with everything a client read until the close. */
async function exchange(r: Reactor, script: (t: FileDescriptor) => void): Promise<Buffer> {
  const f = Factory.forProtocol(
    class extends Protocol {
      override connectionMade(): void {
        script(this.transport as unknown as FileDescriptor);
      }
    },
  );
  const port = listenTCP(r, 0, f, { interface: "127.0.0.1" });
  const h = port.getHost() as { port: number };
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(h.port, "127.0.0.1");
      s.on("data", (d) => chunks.push(d));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", (e: NodeJS.ErrnoException) => void (e.code === "ECONNRESET" ? undefined : reject(e))); // an abort resets
    });
  } finally {
    await port.stopListening();
  }
}

describe.each([
  ["sendfile", true],
  ["chunks read into the queue", false],
])("file ranges (%s)", (_name, direct) => {
  test("bytes, two ranges of a 3 MiB file and bytes between them arrive in order, and each file is closed once", async () => {
    const a = source(bigPath);
    const b = source(bigPath);
    const got = await withReactor((r) =>
      exchange(r, (t) => {
        if (!direct) (t as unknown as { kernelSendsFiles: boolean }).kernelSendsFiles = false;
        t.write("head|");
        t.writeFile(a, 0, big.length);
        t.write("|mid|");
        t.writeFile(b, 1000, 5000);
        t.write("|tail");
        // Through the queue: all of it waits for the flush. With sendfile the first range is
        // tried at once (sendEagerly): only what the socket buffer did not take stays counted.
        if (direct) expect(t.bufferedBytes()).toBeLessThan(5 + big.length + 5 + 5000 + 5);
        else expect(t.bufferedBytes()).toBe(5 + big.length + 5 + 5000 + 5);
        t.loseConnection();
      }),
    );
    const want = Buffer.concat([Buffer.from("head|"), big, Buffer.from("|mid|"), big.subarray(1000, 6000), Buffer.from("|tail")]);
    expect(got.length).toBe(want.length);
    expect(got.equals(want)).toBe(true);
    expect([a.closes, b.closes]).toEqual([1, 1]);
  });

  test("a range past the file's end loses the connection after the bytes the file had; the file is closed once", async () => {
    const a = source(bigPath);
    const got = await withReactor((r) =>
      exchange(r, (t) => {
        if (!direct) (t as unknown as { kernelSendsFiles: boolean }).kernelSendsFiles = false;
        t.write("x");
        t.writeFile(a, big.length - 10, 100);
        t.write("never");
        t.loseConnection();
      }),
    );
    expect(got.equals(Buffer.concat([Buffer.from("x"), big.subarray(big.length - 10)]))).toBe(true);
    expect(a.closes).toBe(1);
  });
});

test("a connection aborted with ranges queued closes their files; writeFile on a closed transport closes the file at once", async () => {
  const a = source(bigPath);
  const b = source(bigPath);
  let late: IFileSource & { closes: number } = source(bigPath);
  await withReactor((r) =>
    exchange(r, (t) => {
      t.writeFile(a, 0, big.length);
      t.writeFile(b, 0, big.length);
      t.abortConnection();
      t.writeFile(late, 0, 10);
    }),
  );
  expect([a.closes, b.closes, late.closes]).toEqual([1, 1, 1]);
  late = source(bigPath);
  await withReactor((r) =>
    exchange(r, (t) => {
      expect(() => t.writeFile(late, -1, 10)).toThrow(RangeError);
      expect(() => t.writeFile(late, 0, 1.5)).toThrow(RangeError);
      expect(() => t.writeFile({ fd: -1, close() {} }, 0, 1)).toThrow(TypeError);
      t.loseConnection();
    }),
  );
  late.close();
});

test("a range the socket buffer takes at once is sent inside writeFile: nothing stays buffered and a streaming producer is not paused", async () => {
  const small = path.join(dir, "small");
  fs.writeFileSync(small, big.subarray(0, 4096));
  const f = source(small);
  const seen: number[] = [];
  const pauses: string[] = [];
  const got = await withReactor((r) =>
    exchange(r, (t) => {
      t.writeHighWaterMark = 1024;
      t.registerProducer({ pauseProducing: () => pauses.push("pause"), resumeProducing: () => pauses.push("resume"), stopProducing: () => undefined }, true);
      t.write("head|");
      t.writeFile(f, 0, 4096);
      seen.push(t.bufferedBytes());
      t.unregisterProducer();
      t.loseConnection();
    }),
  );
  expect(seen).toEqual([0]);
  expect(pauses).toEqual([]);
  expect(f.closes).toBe(1);
  expect(got.equals(Buffer.concat([Buffer.from("head|"), big.subarray(0, 4096)]))).toBe(true);
});

test("a head the socket takes only part of, with a range behind it: the range waits, and head, range and tail arrive exact and in order", async () => {
  const f = source(bigPath);
  const seen: number[] = [];
  const head = big.subarray(0, 1024 * 1024); // far more than the small send buffer below takes at once
  const got = await withReactor((r) =>
    exchange(r, (t) => {
      native.setsockopt(t.fileno(), "SO_SNDBUF", 4096);
      t.write(head);
      t.writeFile(f, 17, 100_000);
      seen.push(t.bufferedBytes());
      t.write("|tail");
      t.loseConnection();
    }),
  );
  // Part of the head stayed queued, so the range was not tried: all of it still counts.
  expect(seen[0]).toBeGreaterThan(100_000);
  expect(seen[0]).toBeLessThan(head.length + 100_000);
  expect(f.closes).toBe(1);
  expect(got.equals(Buffer.concat([head, big.subarray(17, 100_017), Buffer.from("|tail")]))).toBe(true);
});

test("many ranges in turn on one connection while another's range waits on a full socket: each stream arrives exact and in order, each file closed once", async () => {
  // The queue entries of finished ranges are reused by the next ones (a pool shared by
  // every transport): the waiting connection's entries must stay its own meanwhile.
  const small = path.join(dir, "small-many");
  fs.writeFileSync(small, big.subarray(0, 64 * 1024));
  const waiting = source(bigPath);
  const many = Array.from({ length: 40 }, () => source(small));
  const got = await withReactor(async (r) => {
    let made = 0;
    const f = Factory.forProtocol(
      class extends Protocol {
        override connectionMade(): void {
          const t = this.transport as unknown as FileDescriptor;
          if (made++ === 0) {
            native.setsockopt(t.fileno(), "SO_SNDBUF", 4096);
            t.write("a|");
            t.write(big.subarray(0, 300_000)); // more than the socket takes: the range below waits
            t.write("|b|");
            t.writeFile(waiting, 5, 200_000);
            t.write("|end");
          } else {
            many.forEach((m, i) => {
              t.write(`${i}:`);
              t.writeFile(m, i * 100, 1000 + i);
            });
          }
          t.loseConnection();
        }
      },
    );
    const port = listenTCP(r, 0, f, { interface: "127.0.0.1" });
    const h = port.getHost() as { port: number };
    const read = (pause: boolean): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = net.connect(h.port, "127.0.0.1");
        // The first client starts reading only after the second is done: its range waits.
        if (pause) s.pause();
        s.on("data", (d) => chunks.push(d));
        s.on("close", () => resolve(Buffer.concat(chunks)));
        s.on("error", reject);
        if (pause) setTimeout(() => s.resume(), 300);
      });
    const first = read(true);
    await new Promise((res) => setTimeout(res, 50));
    const second = await read(false);
    const out = [await first, second];
    await port.stopListening();
    return out;
  });
  const wantFirst = Buffer.concat([Buffer.from("a|"), big.subarray(0, 300_000), Buffer.from("|b|"), big.subarray(5, 200_005), Buffer.from("|end")]);
  const wantSecond = Buffer.concat(many.flatMap((_m, i) => [Buffer.from(`${i}:`), big.subarray(i * 100, i * 100 + 1000 + i)]));
  expect(got[0].length).toBe(wantFirst.length);
  expect(got[0].equals(wantFirst)).toBe(true);
  expect(got[1].length).toBe(wantSecond.length);
  expect(got[1].equals(wantSecond)).toBe(true);
  expect([waiting.closes, ...many.map((m) => m.closes)]).toEqual(new Array(41).fill(1));
});

test("writevSendfile names its bad arguments", () => {
  const fd = fs.openSync(bigPath, "r");
  try {
    expect(() => native.writevSendfile(fd, [], fd, 0, 1, new Int32Array(1))).toThrow(/out/);
    expect(() => native.writevSendfile(fd, [], fd, -1, 1, new Int32Array(2))).toThrow(/offset/);
    expect(() => native.writevSendfile(fd, "x" as unknown as Uint8Array[], fd, 0, 1, new Int32Array(2))).toThrow(/bufs/);
  } finally {
    fs.closeSync(fd);
  }
});

test("writevSendfile: a head sent ahead of a range that moves nothing leaves at once, not when the kernel's cork times out", async () => {
  // On Linux the head goes with MSG_MORE, so that it shares a segment with the file's first
  // bytes. A range at the file's end moves nothing: the head must then still leave at once.
  // Held back, it would wait for the kernel's 200 ms cork limit (measured: 204 ms), on every
  // try; the best of three tries tells that apart from a slow machine.
  const fileFd = fs.openSync(bigPath, "r");
  const out = new Int32Array(2);
  const waits: number[] = [];
  try {
    await withReactor(async (r) => {
      let sentAt = 0n;
      let transport: FileDescriptor | null = null;
      const f = Factory.forProtocol(
        class extends Protocol {
          override connectionMade(): void {
            transport = this.transport as unknown as FileDescriptor;
            sentAt = process.hrtime.bigint();
            native.writevSendfile(transport.fileno(), [Buffer.from("HEAD-BYTES")], fileFd, big.length, 100, out);
          }
        },
      );
      const port = listenTCP(r, 0, f, { interface: "127.0.0.1" });
      try {
        for (let attempt = 0; attempt < 3 && !(waits.length > 0 && Math.min(...waits) < 150); attempt++) {
          const got = await new Promise<string>((resolve, reject) => {
            const s = net.connect((port.getHost() as { port: number }).port, "127.0.0.1");
            s.on("data", (d) => {
              waits.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
              s.destroy();
              resolve(d.toString("latin1"));
            });
            s.on("error", reject);
          });
          expect(got).toBe("HEAD-BYTES");
          expect(Array.from(out)).toEqual([10, 0]);
          (transport as FileDescriptor | null)?.loseConnection();
        }
      } finally {
        await port.stopListening();
      }
    });
  } finally {
    fs.closeSync(fileFd);
  }
  expect(Math.min(...waits)).toBeLessThan(150);
});
