/**
 * static.File's open-file cache (`maxCachedFiles`) on real sockets: a hit opens nothing,
 * and every change to what a cached path names (replaced, renamed over, rewritten in place,
 * deleted, a directory swapped for a symlink out of the root) is seen at the next request;
 * the cache stays bounded and every fd it held is closed after `closeCachedFiles()`.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Reactor } from "../../lib/reactor";
import { File } from "../../lib/web";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { rawExchange, serve, withReactor } from "./helpers";

expectNoFdLeaks();

/** The module object itself (the `import * as` namespace cannot be spied on): static.ts reads openSync through it. */
const nodeFs: typeof fs = jest.requireActual("node:fs");

let top = "";
let root = "";
beforeEach(() => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-static-cache-"));
  root = path.join(top, "www");
  fs.mkdirSync(path.join(root, "d"), { recursive: true });
  fs.mkdirSync(path.join(root, "sub"));
  fs.mkdirSync(path.join(top, "outside"));
  fs.writeFileSync(path.join(top, "outside", "f.txt"), "TOP-SECRET\n");
  fs.writeFileSync(path.join(top, "secret.txt"), "TOP-SECRET\n");
  fs.writeFileSync(path.join(root, "a.txt"), "first version\n");
  fs.writeFileSync(path.join(root, "b.txt"), "bee\n");
  fs.writeFileSync(path.join(root, "c.txt"), "sea\n");
  fs.writeFileSync(path.join(root, "d", "f.txt"), "inside\n");
  fs.writeFileSync(path.join(root, "sub", "index.html"), "<p>index</p>\n");
});
afterEach(() => fs.rmSync(top, { recursive: true, force: true }));

/** GET `target` on a new connection: status and body. */
async function get(port: number, target: string): Promise<{ status: number; body: string }> {
  const { data } = await rawExchange(port, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { idleMs: 5000 });
  const end = data.indexOf("\r\n\r\n");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? "0"), body: data.slice(end + 4) };
}

/** A Site with a caching File; the test ends with its cache closed. */
async function withCachingFile(options: ConstructorParameters<typeof File>[1], body: (port: number, file: File, r: Reactor) => Promise<void>): Promise<void> {
  await withReactor(async (r) => {
    const file = new File(root, options);
    try {
      await body(serve(r, file).port, file, r);
    } finally {
      file.closeCachedFiles();
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

test("a cached file is served again without opening it: one open for ten requests, one fd held", async () => {
  const before = openFds();
  const opens = jest.spyOn(nodeFs, "openSync");
  try {
    await withCachingFile({ maxCachedFiles: 8 }, async (port, file) => {
      for (let i = 0; i < 10; i++) expect(await get(port, "/a.txt")).toEqual({ status: 200, body: "first version\n" });
      const forA = opens.mock.calls.filter((c) => String(c[0]).endsWith("a.txt"));
      expect(forA.length).toBe(1);
      expect(file.cachedFiles).toBe(1);
    });
  } finally {
    opens.mockRestore();
  }
  for (let i = 0; i < 50 && openFds() > before; i++) await sleep(20);
  expect(openFds()).toBe(before);
});

test("a directory's index file is cached under the directory's request", async () => {
  const opens = jest.spyOn(nodeFs, "openSync");
  try {
    await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
      for (let i = 0; i < 3; i++) expect((await get(port, "/sub/")).body).toBe("<p>index</p>\n");
      expect(opens.mock.calls.filter((c) => String(c[0]).endsWith("index.html")).length).toBe(1);
    });
  } finally {
    opens.mockRestore();
  }
});

test("a file replaced by rename while cached: the new file is served", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    expect((await get(port, "/a.txt")).body).toBe("first version\n");
    const tmp = path.join(root, "a.txt.new");
    fs.writeFileSync(tmp, "second version, longer\n");
    fs.renameSync(tmp, path.join(root, "a.txt"));
    expect((await get(port, "/a.txt")).body).toBe("second version, longer\n");
  });
});

test("a file rewritten in place with the same length while cached: the new bytes are served", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    expect((await get(port, "/a.txt")).body).toBe("first version\n");
    await sleep(20); // a later mtime even on a filesystem with coarse timestamps
    fs.writeFileSync(path.join(root, "a.txt"), "FIRST VERSION\n");
    expect((await get(port, "/a.txt")).body).toBe("FIRST VERSION\n");
  });
});

test("a file deleted while cached: 404, and the cache lets go of its fd", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port, file) => {
    const before = openFds();
    expect((await get(port, "/b.txt")).status).toBe(200);
    expect(file.cachedFiles).toBe(1);
    fs.unlinkSync(path.join(root, "b.txt"));
    expect((await get(port, "/b.txt")).status).toBe(404);
    expect(file.cachedFiles).toBe(0);
    for (let i = 0; i < 50 && openFds() > before; i++) await sleep(20);
    expect(openFds()).toBe(before);
  });
});

test("a file renamed away while cached: 404 at its old path, served at its new one", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    expect((await get(port, "/c.txt")).status).toBe(200);
    fs.renameSync(path.join(root, "c.txt"), path.join(root, "moved.txt"));
    expect((await get(port, "/c.txt")).status).toBe(404);
    expect((await get(port, "/moved.txt")).body).toBe("sea\n");
  });
});

test("a cached file moved out of the root: its old path is not served from the cached fd", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    expect((await get(port, "/a.txt")).status).toBe(200);
    fs.renameSync(path.join(root, "a.txt"), path.join(top, "a.txt"));
    fs.symlinkSync(path.join(top, "a.txt"), path.join(root, "a.txt"));
    const res = await get(port, "/a.txt");
    expect(res.status).toBe(404);
    expect(res.body).not.toContain("first version");
  });
});

test("symlink escapes are refused with the cache on: a cached file or directory swapped for a link out of the root", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    expect((await get(port, "/d/f.txt")).body).toBe("inside\n");
    expect((await get(port, "/b.txt")).body).toBe("bee\n");
    // The directory on the cached path becomes a symlink to a directory outside holding f.txt.
    fs.renameSync(path.join(root, "d"), path.join(top, "d-old"));
    fs.symlinkSync(path.join(top, "outside"), path.join(root, "d"));
    // The cached file itself becomes a symlink out.
    fs.unlinkSync(path.join(root, "b.txt"));
    fs.symlinkSync(path.join(top, "secret.txt"), path.join(root, "b.txt"));
    for (const target of ["/d/f.txt", "/b.txt", "/d/f.txt"]) {
      const res = await get(port, target);
      expect(res.status).toBe(404);
      expect(res.body).not.toContain("TOP-SECRET");
    }
  });
});

test("bounded: with maxCachedFiles 2, three files leave two cached, least recently used out", async () => {
  await withCachingFile({ maxCachedFiles: 2 }, async (port, file) => {
    const before = openFds();
    const opens = jest.spyOn(nodeFs, "openSync");
    try {
      for (const t of ["/a.txt", "/b.txt", "/a.txt", "/c.txt", "/a.txt", "/b.txt"]) expect((await get(port, t)).status).toBe(200);
      expect(file.cachedFiles).toBe(2);
      // a stays in (used before c came); b was the oldest when c came, so it is opened twice.
      const count = (n: string): number => opens.mock.calls.filter((c) => String(c[0]).endsWith(n)).length;
      expect([count("a.txt"), count("b.txt"), count("c.txt")]).toEqual([1, 2, 1]);
    } finally {
      opens.mockRestore();
    }
    for (let i = 0; i < 50 && openFds() > before + 2; i++) await sleep(20);
    expect(openFds()).toBe(before + 2);
    file.closeCachedFiles();
    expect(file.cachedFiles).toBe(0);
    expect(openFds()).toBe(before);
  });
});

test("a cached file unused for cachedFileInactiveMs is closed at the next request", async () => {
  await withCachingFile({ maxCachedFiles: 8, cachedFileInactiveMs: 50 }, async (port, file) => {
    expect((await get(port, "/a.txt")).status).toBe(200);
    expect(file.cachedFiles).toBe(1);
    await sleep(120);
    expect((await get(port, "/b.txt")).status).toBe(200);
    expect(file.cachedFiles).toBe(1); // b only: a expired
  });
});

test("an entry evicted while its file is still being sent: the send completes whole, then the fd closes", async () => {
  fs.writeFileSync(path.join(root, "16m.bin"), randomBytes(16 * 1024 * 1024));
  await withCachingFile({ maxCachedFiles: 1 }, async (port, file) => {
    const before = openFds();
    const s = net.connect(port, "127.0.0.1");
    await new Promise((res) => s.on("connect", res));
    s.pause();
    s.write("GET /16m.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    for (let i = 0; i < 200 && file.openFiles === 0; i++) await sleep(10);
    expect(file.openFiles).toBe(1);
    expect((await get(port, "/a.txt")).status).toBe(200); // evicts 16m.bin from the cache
    file.closeCachedFiles(); // and a.txt: only the send holds 16m.bin's fd now
    let got = 0;
    const closed = new Promise<void>((res) => s.on("close", () => res()));
    s.on("data", (d: Buffer) => (got += d.length));
    s.resume();
    await closed;
    expect(got).toBeGreaterThan(16 * 1024 * 1024);
    for (let i = 0; i < 100 && (file.openFiles > 0 || openFds() > before); i++) await sleep(20);
    expect(file.openFiles).toBe(0);
    expect(openFds()).toBe(before);
  });
});

test("cache options are checked", () => {
  expect(() => new File(root, { maxCachedFiles: -1 })).toThrow(/maxCachedFiles/);
  expect(() => new File(root, { maxCachedFiles: 1.5 })).toThrow(/maxCachedFiles/);
  expect(() => new File(root, { cachedFileInactiveMs: 0 })).toThrow(/cachedFileInactiveMs/);
  expect(() => new File(root, { cachedFileInactiveMs: Number.NaN })).toThrow(/cachedFileInactiveMs/);
});

test("a cached file's shared head follows each request: the same bytes while alike, re-rendered for a range, HTTP/1.0 and a close", async () => {
  await withCachingFile({ maxCachedFiles: 8 }, async (port) => {
    const get11 = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    const requests = [get11, get11, "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n", get11, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"];
    const { data, closed } = await rawExchange(port, [requests.join("")], { idleMs: 5000 });
    expect(closed).toBe(true);
    const st = fs.statSync(path.join(root, "a.txt"));
    const fields = `ETag: "${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"\r\nLast-Modified: ${new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString()}\r\nAccept-Ranges: bytes\r\n`;
    const whole = `${fields}Content-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n`;
    // Each response's head with its Date line taken out (the second may change between them), then its body.
    const responses = data.split(/(?=HTTP\/1\.1 )/).map((r) => r.replace(/\r\nDate: [^\r]+\r\n/, "\r\n"));
    expect(responses).toEqual([
      `HTTP/1.1 200 OK\r\n${whole}\r\nfirst version\n`,
      `HTTP/1.1 200 OK\r\n${whole}\r\nfirst version\n`,
      `HTTP/1.1 206 Partial Content\r\n${fields}Content-Range: bytes 0-4/14\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nfirst`,
      `HTTP/1.1 200 OK\r\n${whole}\r\nfirst version\n`,
      `HTTP/1.1 200 OK\r\n${whole}Connection: keep-alive\r\n\r\nfirst version\n`,
      `HTTP/1.1 200 OK\r\n${whole}Connection: close\r\n\r\nfirst version\n`,
    ]);
  });
});

test("Request.writeSharedHead wants a SharedHead", async () => {
  const { Request } = await import("../../lib/web");
  const channel = { transport: null, defaultContentType: "", now: 0, requestDone: (): void => undefined };
  const request = new Request(channel, "GET", "/", 1, [], true);
  request.setHeader("Content-Length", 0);
  expect(() => request.writeSharedHead({} as never)).toThrow(TypeError);
  expect(() => request.writeSharedHead({} as never)).toThrow(/shared/);
});
