/**
 * static.File on real sockets: exact bytes of 4 KiB, 64 KiB and 1 MiB files (sendfile),
 * HEAD, conditional requests, single ranges, index files and refused listings, every path
 * traversal attempt sent raw (no URL-normalising client), a file truncated while it is sent,
 * a connection lost mid-body, and open file handles: none left behind.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Reactor } from "../../lib/reactor";
import { File, type IResource, type Request } from "../../lib/web";
import { parseRange } from "../../lib/web/static";
import { expectNoFdLeaks, openFds } from "../support/fds";
import { rawExchange, serve, withReactor } from "./helpers";

expectNoFdLeaks();

let top = "";
let root = "";
const files: Record<string, Buffer> = {};
beforeAll(() => {
  top = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-static-"));
  root = path.join(top, "www");
  fs.mkdirSync(path.join(root, "sub"), { recursive: true });
  fs.mkdirSync(path.join(root, "noindex"));
  fs.mkdirSync(path.join(top, "outside"));
  fs.writeFileSync(path.join(top, "secret.txt"), "TOP-SECRET\n");
  fs.writeFileSync(path.join(top, "outside", "secret.txt"), "TOP-SECRET\n");
  files["4k.bin"] = randomBytes(4096);
  files["64k.bin"] = randomBytes(64 * 1024);
  files["1m.bin"] = randomBytes(1024 * 1024);
  files["page.html"] = Buffer.from("<h1>hi</h1>\n");
  files["notes.txt"] = Buffer.from("plain text\n");
  for (const [n, b] of Object.entries(files)) fs.writeFileSync(path.join(root, n), b);
  fs.writeFileSync(path.join(root, "16m.bin"), Buffer.alloc(16 * 1024 * 1024, 7));
  fs.writeFileSync(path.join(root, "sub", "index.html"), "<p>index</p>\n");
  fs.symlinkSync(path.join(top, "secret.txt"), path.join(root, "link-out"));
  fs.symlinkSync(path.join(top, "outside"), path.join(root, "dirlink-out"));
  fs.symlinkSync("notes.txt", path.join(root, "link-in"));
});
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits raw bytes into responses by Content-Length (HEAD: `heads` says which carry no body). */
function parse(raw: Buffer, noBody: boolean[] = []): Reply[] {
  const out: Reply[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const lines = raw.subarray(at, end).toString("latin1").split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const skip = noBody[out.length] === true || status === 304;
    const len = skip ? 0 : Number(headers["content-length"] ?? 0);
    out.push({ status, headers, body: raw.subarray(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

/** One request line + headers sent raw on a new connection (Connection: close); the reply. */
async function get(port: number, target: string, headers: Record<string, string> = {}, method = "GET"): Promise<Reply> {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  const { data } = await rawExchange(port, [`${method} ${target} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`], { idleMs: 5000 });
  const r = parse(Buffer.from(data, "latin1"), [method === "HEAD"]);
  expect(r.length).toBe(1);
  return r[0];
}

/** A Site serving `root` with a File; the File too (for its openFiles count). */
function site(r: Reactor, options = {}): { port: number; file: File } {
  const file = new File(root, options);
  return { port: serve(r, file).port, file };
}

describe("bodies", () => {
  test.each(["4k.bin", "64k.bin", "1m.bin"])("GET /%s: 200, exact length and checksum", async (name) => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      const res = await get(port, `/${name}`);
      expect(res.status).toBe(200);
      expect(Number(res.headers["content-length"])).toBe(files[name].length);
      expect(res.body.length).toBe(files[name].length);
      expect(sha(res.body)).toBe(sha(files[name]));
      expect(res.headers["content-type"]).toBe("application/octet-stream");
      expect(res.headers["accept-ranges"]).toBe("bytes");
      expect(file.openFiles).toBe(0);
    });
  });

  test("content types come from the extension (mime-types)", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      expect((await get(port, "/page.html")).headers["content-type"]).toBe("text/html; charset=utf-8");
      expect((await get(port, "/notes.txt")).headers["content-type"]).toBe("text/plain; charset=utf-8");
    });
  });

  test("keep-alive: three pipelined GETs (1 MiB file, 4 KiB file, in-memory 404) arrive whole and in order on one connection", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const req = (t: string): string => `GET ${t} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const total = files["1m.bin"].length + files["4k.bin"].length;
      const { data } = await rawExchange(port, [req("/1m.bin") + req("/4k.bin") + req("/missing") + "GET /notes.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], { idleMs: 5000 });
      const rs = parse(Buffer.from(data, "latin1"));
      expect(rs.map((x) => x.status)).toEqual([200, 200, 404, 200]);
      expect(sha(rs[0].body)).toBe(sha(files["1m.bin"]));
      expect(rs[1].body.equals(files["4k.bin"])).toBe(true);
      expect(rs[3].body.toString()).toBe("plain text\n");
      expect(rs[0].body.length + rs[1].body.length).toBe(total);
    });
  });

  test("HEAD: the GET's headers (Content-Length the file's size), no body, and the file is closed", async () => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      const { data } = await rawExchange(port, ["HEAD /64k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], { idleMs: 5000 });
      const head = data.split("\r\n\r\n");
      expect(head[1]).toBe("");
      expect(head[0]).toMatch(/^HTTP\/1\.1 200 /);
      expect(head[0]).toContain(`Content-Length: ${64 * 1024}`);
      expect(head[0]).toMatch(/ETag: "/);
      expect(file.openFiles).toBe(0);
    });
  });

  test("a directory with its slash serves index.html; without it, 301 to the slash; without an index, 403 (no listing)", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const idx = await get(port, "/sub/");
      expect(idx.status).toBe(200);
      expect(idx.body.toString()).toBe("<p>index</p>\n");
      // The index file's own name gives the type, not the directory's.
      expect(idx.headers["content-type"]).toBe("text/html; charset=utf-8");
      const redirect = await get(port, "/sub?x=1");
      expect(redirect.status).toBe(301);
      expect(redirect.headers.location).toBe("/sub/?x=1");
      const listing = await get(port, "/noindex/");
      expect(listing.status).toBe(403);
      expect(listing.body.toString()).not.toContain("index");
      expect((await get(port, "/")).status).toBe(403);
      expect((await get(port, "/missing.txt")).status).toBe(404);
    });
  });

  test("POST is 405 with Allow: GET, HEAD", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const res = await get(port, "/notes.txt", { "Content-Length": "0" }, "POST");
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
    });
  });
});

describe("the header fields a Request holds", () => {
  test("after a File's 200 each request has its own list, in the order sent; one a wrapper set or took first keeps it; changing one changes no other", async () => {
    await withReactor(async (r) => {
      const file = new File(root, { maxCachedFiles: 4 }); // one open file for every request: one list made for it
      const held: Request[] = [];
      let taken: string[] | null = null;
      const wrap: IResource = {
        isLeaf: true,
        getChildWithDefault: () => wrap,
        render(req: Request) {
          held.push(req);
          if (req.uri.endsWith("?set")) req.setHeader("X-Before", "1");
          if (req.uri.endsWith("?take")) taken = req.responseHeaders;
          return file.render(req);
        },
      };
      const { port } = serve(r, wrap);
      const req = (q: string): string => `GET /notes.txt${q} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const exchange = async (qs: string[]): Promise<Reply[]> => {
        const { data } = await rawExchange(port, qs.map(req), { gapMs: 20, until: (d) => d.split("plain text\n").length === qs.length + 1 });
        return parse(Buffer.from(data, "latin1"));
      };
      const rs = await exchange(["", "", "?set", "?take"]);
      expect(rs.map((x) => [x.status, x.body.toString()])).toEqual(new Array(4).fill([200, "plain text\n"]));
      const { etag, "last-modified": lm } = rs[0].headers;
      const fields = ["ETag", etag, "Last-Modified", lm, "Accept-Ranges", "bytes", "Content-Type", "text/plain; charset=utf-8", "Content-Length", "11"];
      const names = (x: Reply): string[] => Object.keys(x.headers);
      expect(names(rs[0])).toEqual(["date", "etag", "last-modified", "accept-ranges", "content-type", "content-length"]);
      expect(names(rs[1])).toEqual(names(rs[0]));
      expect(names(rs[2])).toEqual(["date", "x-before", ...names(rs[0]).slice(1)]);
      expect(names(rs[3])).toEqual(names(rs[0]));
      expect(held.map((q) => q.responseHeaders)).toEqual([fields, fields, ["X-Before", "1", ...fields], fields]);
      expect(taken).toBe(held[3].responseHeaders);
      expect(new Set(held.map((q) => q.responseHeaders)).size).toBe(4);
      // A change to one request's list reaches no other request, earlier or later.
      held[0].responseHeaders.push("X-Late", "1");
      held[0].responseHeaders[1] = '"changed"';
      expect(held[1].responseHeaders).toEqual(fields);
      const again = await exchange([""]);
      expect(names(again[0])).toEqual(names(rs[0]));
      expect(again[0].headers.etag).toBe(etag);
      expect(held[4].responseHeaders).toEqual(fields);
      expect(file.openFiles).toBe(0);
      file.closeCachedFiles();
    });
  });
});

describe("conditional requests", () => {
  test("If-None-Match with the ETag (alone, in a list, weak, or *) is 304 with no body; another tag is 200", async () => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      const first = await get(port, "/4k.bin");
      const etag = first.headers.etag;
      expect(etag).toMatch(/^"[0-9a-f]+-1000"$/);
      for (const v of [etag, `"x", ${etag}`, `W/${etag}`, "*"]) {
        const res = await get(port, "/4k.bin", { "If-None-Match": v });
        expect(res.status).toBe(304);
        expect(res.body.length).toBe(0);
        expect(res.headers.etag).toBe(etag);
      }
      expect((await get(port, "/4k.bin", { "If-None-Match": '"other"' })).status).toBe(200);
      expect(file.openFiles).toBe(0);
    });
  });

  test("If-Modified-Since at or after Last-Modified is 304; before it, 200; If-None-Match wins over it", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const lm = (await get(port, "/notes.txt")).headers["last-modified"];
      expect(Date.parse(lm)).toBeGreaterThan(0);
      expect((await get(port, "/notes.txt", { "If-Modified-Since": lm })).status).toBe(304);
      expect((await get(port, "/notes.txt", { "If-Modified-Since": new Date(Date.parse(lm) - 60000).toUTCString() })).status).toBe(200);
      expect((await get(port, "/notes.txt", { "If-Modified-Since": lm, "If-None-Match": '"other"' })).status).toBe(200);
      expect((await get(port, "/notes.txt", { "If-Modified-Since": "not a date" })).status).toBe(200);
    });
  });
});

describe("ranges", () => {
  const big = (): Buffer => files["64k.bin"];
  test.each([
    ["bytes=0-99", 0, 99],
    ["bytes=1000-", 1000, 65535],
    ["bytes=-100", 65436, 65535],
    ["bytes=65000-99999", 65000, 65535],
  ])("Range: %s is 206 with the exact bytes and Content-Range", async (h, first, last) => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const res = await get(port, "/64k.bin", { Range: h });
      expect(res.status).toBe(206);
      expect(res.headers["content-range"]).toBe(`bytes ${first}-${last}/65536`);
      expect(Number(res.headers["content-length"])).toBe(last - first + 1);
      expect(res.body.equals(big().subarray(first, last + 1))).toBe(true);
    });
  });

  test("a range past the end is 416 with Content-Range: bytes */size; several ranges or a malformed one get the whole file", async () => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      for (const h of ["bytes=65536-", "bytes=70000-70010", "bytes=-0"]) {
        const res = await get(port, "/64k.bin", { Range: h });
        expect(res.status).toBe(416);
        expect(res.headers["content-range"]).toBe("bytes */65536");
      }
      for (const h of ["bytes=0-1,5-6", "bytes=9-2", "items=0-1", "bytes=abc"]) {
        const res = await get(port, "/64k.bin", { Range: h });
        expect(res.status).toBe(200);
        expect(res.body.equals(big())).toBe(true);
      }
      expect(file.openFiles).toBe(0);
    });
  });

  test("If-Range with the current ETag applies the Range; with an old one, the whole file", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const etag = (await get(port, "/64k.bin", {}, "HEAD")).headers.etag;
      expect((await get(port, "/64k.bin", { Range: "bytes=0-9", "If-Range": etag })).status).toBe(206);
      expect((await get(port, "/64k.bin", { Range: "bytes=0-9", "If-Range": '"old"' })).status).toBe(200);
    });
  });

  test("parseRange", () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange("bytes=2-4", 10)).toEqual([2, 4]);
    expect(parseRange("bytes=-3", 10)).toEqual([7, 9]);
    expect(parseRange("bytes=-30", 10)).toEqual([0, 9]);
    expect(parseRange("bytes=10-", 10)).toEqual([-1, -1]);
    expect(parseRange("bytes=0-", 0)).toEqual([-1, -1]);
  });
});

describe("path safety: nothing outside the root is ever served", () => {
  const attempts = [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/sub\\..\\..\\secret.txt",
    "/%5c..%5c..%5csecret.txt",
    "/notes.txt%00.html",
    "/%00",
    "/..%00/secret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "//secret.txt",
    "/./notes.txt",
    "/link-out",
    "/dirlink-out/secret.txt",
    "/dirlink-out/",
    "/%",
  ];
  test.each(attempts)("GET %s is refused (4xx) and carries no byte from outside", async (target) => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      const { data } = await rawExchange(port, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { idleMs: 5000 });
      expect(data).not.toContain("TOP-SECRET");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? "0");
      // 400 from the parser for a target it will not take, else the File's 403/404.
      expect([400, 403, 404]).toContain(status);
      expect(file.openFiles).toBe(0);
    });
  });

  test("a symlink that stays inside the root is served", async () => {
    await withReactor(async (r) => {
      const { port } = site(r);
      const res = await get(port, "/link-in");
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe("plain text\n");
    });
  });

  test("a File mounted below the root of the tree checks the segments below its own", async () => {
    const { Resource } = await import("../../lib/web");
    await withReactor(async (r) => {
      const top2 = new Resource();
      top2.putChild("files", new File(root));
      const { port } = serve(r, top2);
      expect((await get(port, "/files/notes.txt")).body.toString()).toBe("plain text\n");
      const bad = await get(port, "/files/..%2fsecret.txt");
      expect(bad.status).toBe(404);
      expect(bad.body.toString()).not.toContain("TOP-SECRET");
    });
  });
});

describe("handles and failures", () => {
  test("maxOpenFiles bounds the files being sent: above it 503, and slots come back as bodies finish", async () => {
    await withReactor(async (r) => {
      const { port, file } = site(r, { maxOpenFiles: 1 });
      // A client that does not read keeps a 16 MiB range (and its file) queued: more than
      // the loopback's socket buffers take.
      const hold = net.connect(port, "127.0.0.1");
      hold.on("error", () => undefined);
      await new Promise((res) => hold.on("connect", res));
      hold.pause();
      hold.write("GET /16m.bin HTTP/1.1\r\nHost: x\r\n\r\n");
      for (let i = 0; i < 200 && file.openFiles === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(file.openFiles).toBe(1);
      const refused = await get(port, "/notes.txt");
      expect(refused.status).toBe(503);
      hold.destroy();
      for (let i = 0; i < 200 && file.openFiles > 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(file.openFiles).toBe(0);
      expect((await get(port, "/notes.txt")).status).toBe(200);
    });
  });

  test("a client that reads part of a 1 MiB body and disconnects: the file is closed, the server goes on", async () => {
    await withReactor(async (r) => {
      const { port, file } = site(r);
      const got = await new Promise<number>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => s.write("GET /1m.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
        let n = 0;
        s.on("data", (d) => {
          n += d.length;
          if (n > 100000) {
            s.destroy();
            resolve(n);
          }
        });
      });
      expect(got).toBeLessThan(1024 * 1024);
      for (let i = 0; i < 300 && file.openFiles > 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(file.openFiles).toBe(0);
      expect(sha((await get(port, "/1m.bin")).body)).toBe(sha(files["1m.bin"]));
    });
  });

  test("a file truncated while it is being sent ends that connection (short body, closed), no crash, no loop", async () => {
    const victim = path.join(root, "shrinks.bin");
    const data = randomBytes(8 * 1024 * 1024);
    fs.writeFileSync(victim, data);
    try {
      await withReactor(async (r) => {
        const { port, file } = site(r);
        const s = net.connect(port, "127.0.0.1");
        await new Promise((res) => s.on("connect", res));
        s.pause();
        s.write("GET /shrinks.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        for (let i = 0; i < 200 && file.openFiles === 0; i++) await new Promise((res) => setTimeout(res, 10));
        expect(file.openFiles).toBe(1);
        fs.truncateSync(victim, 1000);
        const chunks: Buffer[] = [];
        const closed = new Promise<void>((res) => s.on("close", () => res()));
        s.on("data", (d) => chunks.push(d));
        s.on("error", () => undefined);
        s.resume();
        await closed;
        const all = Buffer.concat(chunks);
        const body = all.subarray(all.indexOf("\r\n\r\n") + 4);
        expect(all.toString("latin1")).toMatch(/^HTTP\/1\.1 200 /);
        expect(body.length).toBeLessThan(data.length);
        expect(file.openFiles).toBe(0);
        expect((await get(port, "/notes.txt")).status).toBe(200);
      });
    } finally {
      fs.rmSync(victim, { force: true });
    }
  });

  test("after all of it, this process holds as many fds as before a server ran", async () => {
    const before = openFds();
    await withReactor(async (r) => {
      const { port } = site(r);
      for (const t of ["/4k.bin", "/missing", "/sub/", "/../x", "/link-out"]) await get(port, t);
      await get(port, "/4k.bin", {}, "HEAD");
      await get(port, "/64k.bin", { Range: "bytes=99999-" });
    });
    for (let i = 0; i < 50 && openFds() > before; i++) await new Promise((res) => setTimeout(res, 20));
    expect(openFds()).toBe(before);
  });

  test("wrong arguments name what is wrong", () => {
    expect(() => new File("")).toThrow(TypeError);
    expect(() => new File(path.join(root, "notes.txt"))).toThrow(/not a directory/);
    expect(() => new File(root, { maxOpenFiles: 0 })).toThrow(/maxOpenFiles/);
    expect(() => new File(root, { indexNames: ["../x"] })).toThrow(/indexNames/);
  });
});
