/**
 * The addon's socket syscalls on real fds: socketpairs, pipes and loopback TCP/UDP/Unix
 * sockets on 127.0.0.1 (and ::1 where this host has it).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AGAIN, native, SockAddr } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { thrownBy } from "../support/thrown";
import { hasIPv6Loopback } from "../support/loopback";

expectNoFdLeaks();

const opened: number[] = [];
/** Remembers fds so that afterEach closes whatever a failed test left open. */
function track<T extends number | number[]>(fds: T): T {
  if (Array.isArray(fds)) opened.push(...fds);
  else opened.push(fds);
  return fds;
}
function closeAll(...fds: number[]): void {
  for (const fd of fds) {
    const i = opened.indexOf(fd);
    if (i >= 0) opened.splice(i, 1);
    native.close(fd);
  }
}
afterEach(() => {
  for (const fd of new Set(opened.splice(0))) {
    try {
      native.close(fd);
    } catch {
      /* closed by the test already */
    }
  }
});

/** Polls `probe` (bounded: 500 turns of 2 ms) until it returns something other than undefined. */
async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Reads from `fd` until AGAIN or EOF (bounded), returning the bytes and whether EOF was seen. */
function drain(fd: number, limit = 1 << 24): { bytes: Buffer; eof: boolean } {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  let total = 0;
  for (let i = 0; i < 100000 && total < limit; i++) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n === AGAIN) return { bytes: Buffer.concat(chunks), eof: false };
    if (n === 0) return { bytes: Buffer.concat(chunks), eof: true };
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return { bytes: Buffer.concat(chunks), eof: false };
}

/** Waits for `n` bytes on a TCP socket (loopback delivery may lag the write a little). */
async function readExactly(fd: number, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const buf = Buffer.alloc(n);
  await until(() => {
    const r = native.read(fd, buf, 0, n - got);
    if (r > 0) {
      chunks.push(Buffer.from(buf.subarray(0, r)));
      got += r;
    }
    if (r === 0) throw new Error("unexpected EOF");
    return got === n ? true : undefined;
  }, `${n} bytes`);
  return Buffer.concat(chunks);
}

/** A listening TCP socket on 127.0.0.1 with its port. */
function tcpListener(): { fd: number; port: number } {
  const fd = track(native.socket("IPv4", "tcp"));
  native.setsockopt(fd, "SO_REUSEADDR", true);
  native.bind(fd, "127.0.0.1", 0);
  native.listen(fd, 128);
  const addr = native.getsockname(fd);
  if (addr.family !== "IPv4") throw new Error("not IPv4");
  return { fd, port: addr.port };
}

/** A connected loopback TCP pair: [client, server]. */
async function tcpPair(): Promise<[number, number, number]> {
  const l = tcpListener();
  const c = track(native.socket("IPv4", "tcp"));
  native.connect(c, "127.0.0.1", l.port);
  const [acc] = await until(() => {
    const a = native.accept(l.fd, 1);
    return a.length ? a : undefined;
  }, "accept");
  track(acc.fd);
  return [c, acc.fd, l.fd];
}

function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe("socket creation", () => {
  test("TCP, UDP and Unix sockets are non-blocking and close-on-exec", () => {
    for (const [domain, type] of [
      ["IPv4", "tcp"],
      ["IPv4", "udp"],
      ["unix", "tcp"],
      ["unix", "udp"],
    ] as const) {
      const fd = native.socket(domain, type);
      expect(Number.isInteger(fd) && fd >= 0).toBe(true);
      const flags = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
      const octal = /flags:\s+([0-7]+)/.exec(flags)![1];
      const f = parseInt(octal, 8);
      expect(f & 0o4000).toBe(0o4000); // O_NONBLOCK
      expect(f & 0o2000000).toBe(0o2000000); // O_CLOEXEC
      native.close(fd);
    }
  });

  test("unix+tcp is a stream socket and unix+udp a datagram socket", () => {
    const s = native.socket("unix", "tcp");
    const d = native.socket("unix", "udp");
    // listen() works on stream sockets only.
    native.bindUnix(s, `\0fdreactor-kind-${process.pid}`);
    native.listen(s, 1);
    native.bindUnix(d, `\0fdreactor-kind-d-${process.pid}`);
    expect(() => native.listen(d, 1)).toThrow(expect.objectContaining({ code: "EOPNOTSUPP", syscall: "listen" }));
    native.close(s);
    native.close(d);
  });
});

describe("TCP connect", () => {
  test("connect goes in progress, the listener accepts it, and SO_ERROR is 0", async () => {
    const l = tcpListener();
    const c = track(native.socket("IPv4", "tcp"));
    const connected = native.connect(c, "127.0.0.1", l.port);
    expect(typeof connected).toBe("boolean");
    const accepted = await until(() => {
      const a = native.accept(l.fd, 10);
      return a.length ? a : undefined;
    }, "accept");
    expect(accepted).toHaveLength(1);
    track(accepted[0].fd);
    expect(native.socketError(c)).toBe(0);
    const local = native.getsockname(c);
    expect(accepted[0].address).toEqual(local);
    expect(native.getpeername(c)).toEqual({ family: "IPv4", address: "127.0.0.1", port: l.port });
    expect(native.getpeername(accepted[0].fd)).toEqual(local);
    closeAll(c, accepted[0].fd, l.fd);
  });

  test("connect to a port just closed is refused (thrown or through SO_ERROR)", async () => {
    const l = tcpListener();
    closeAll(l.fd);
    const c = track(native.socket("IPv4", "tcp"));
    let code: string | undefined;
    try {
      if (native.connect(c, "127.0.0.1", l.port)) throw new Error("connected to a closed port");
      const err = await until(() => native.socketError(c) || undefined, "SO_ERROR");
      code = Object.entries(native.errno).find(([, v]) => v === err)?.[0];
    } catch (e) {
      const err = e as { code?: string; syscall?: string };
      if (err.syscall !== "connect") throw e;
      code = err.code;
    }
    expect(code).toBe("ECONNREFUSED");
    closeAll(c);
  });

  test("a host that is not an address literal is a TypeError naming host", () => {
    const c = track(native.socket("IPv4", "tcp"));
    const e = thrownBy(() => native.connect(c, "localhost", 80));
    expect(e.name).toBe("TypeError");
    expect(e.message).toMatch(/"host"/);
    closeAll(c);
  });

  test("an IPv4 literal on an IPv6 socket connects through its v4-mapped form", async () => {
    if (!hasIPv6Loopback()) return;
    const l = tcpListener();
    const c = track(native.socket("IPv6", "tcp"));
    native.connect(c, "127.0.0.1", l.port);
    const [a] = await until(() => {
      const r = native.accept(l.fd, 1);
      return r.length ? r : undefined;
    }, "accept");
    track(a.fd);
    expect(native.getpeername(c)).toEqual({ family: "IPv6", address: "::ffff:127.0.0.1", port: l.port });
    closeAll(c, a.fd, l.fd);
  });
});

describe("reading and writing", () => {
  test("bytes written to a socketpair come out exact and in order", () => {
    const [a, b] = track(native.socketpair("stream"));
    const data = pattern(1000);
    expect(native.write(a, data, 100, 400)).toBe(400);
    const buf = Buffer.alloc(1000, 0xee);
    expect(native.read(b, buf, 10, 1000 - 10)).toBe(400);
    expect(buf.subarray(10, 410)).toEqual(data.subarray(100, 500));
    expect(buf[9]).toBe(0xee);
    expect(buf[410]).toBe(0xee);
    closeAll(a, b);
  });

  test("TCP round trip over loopback is exact in both directions", async () => {
    const [c, s, l] = await tcpPair();
    const up = pattern(5000, 1);
    const down = pattern(3000, 2);
    expect(native.write(c, up, 0, up.length)).toBe(up.length);
    expect(await readExactly(s, up.length)).toEqual(up);
    expect(native.write(s, down, 0, down.length)).toBe(down.length);
    expect(await readExactly(c, down.length)).toEqual(down);
    closeAll(c, s, l);
  });

  test("read on an empty socket returns AGAIN", () => {
    const [a, b] = track(native.socketpair("stream"));
    expect(native.read(b, Buffer.alloc(16), 0, 16)).toBe(AGAIN);
    closeAll(a, b);
  });

  test("read after the peer closed returns the pending bytes and then 0 (EOF)", () => {
    const [a, b] = track(native.socketpair("stream"));
    native.write(a, Buffer.from("bye"), 0, 3);
    closeAll(a);
    const buf = Buffer.alloc(16);
    expect(native.read(b, buf, 0, 16)).toBe(3);
    expect(buf.toString("latin1", 0, 3)).toBe("bye");
    expect(native.read(b, buf, 0, 16)).toBe(0);
    closeAll(b);
  });

  test("shutdown(1) gives the peer EOF while the other direction still works", () => {
    const [a, b] = track(native.socketpair("stream"));
    native.shutdown(a, 1);
    const buf = Buffer.alloc(4);
    expect(native.read(b, buf, 0, 4)).toBe(0);
    expect(native.write(b, Buffer.from("ok"), 0, 2)).toBe(2);
    expect(native.read(a, buf, 0, 4)).toBe(2);
    closeAll(a, b);
  });

  test("a write to a full socket is partial, then AGAIN, and every byte arrives in order", () => {
    const [a, b] = track(native.socketpair("stream"));
    native.setsockopt(a, "SO_SNDBUF", 4096);
    native.setsockopt(b, "SO_RCVBUF", 4096);
    const data = pattern(1 << 20, 7);
    let written = 0;
    const counts: number[] = [];
    for (let i = 0; i < 10000; i++) {
      const n = native.write(a, data, written, data.length - written);
      if (n === AGAIN) break;
      counts.push(n);
      written += n;
    }
    expect(counts.length).toBeGreaterThan(0);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[0]).toBeLessThan(data.length); // partial: the kernel took only what fits
    expect(written).toBeLessThan(data.length);
    expect(native.write(a, data, written, data.length - written)).toBe(AGAIN);
    const got = drain(b);
    expect(got.eof).toBe(false);
    expect(got.bytes.length).toBe(written);
    expect(got.bytes.equals(data.subarray(0, written))).toBe(true);
    closeAll(a, b);
  });

  test("writev gathers buffers in order and readv scatters them in order", () => {
    const [a, b] = track(native.socketpair("stream"));
    const parts = [Buffer.from("alpha-"), new Uint8Array(0), Buffer.from("beta-"), Buffer.from("gamma")];
    expect(native.writev(a, parts)).toBe(16);
    const x = Buffer.alloc(4);
    const y = Buffer.alloc(5);
    const z = Buffer.alloc(20);
    expect(native.readv(b, [x, y, z])).toBe(16);
    expect(x.toString()).toBe("alph");
    expect(y.toString()).toBe("a-bet");
    expect(z.toString("latin1", 0, 7)).toBe("a-gamma");
    expect(native.readv(b, [x])).toBe(AGAIN);
    closeAll(a, b);
  });

  test("writev with more than IOV_MAX buffers writes the first IOV_MAX and reports the count", () => {
    const [a, b] = track(native.socketpair("stream"));
    native.setsockopt(a, "SO_SNDBUF", 1 << 20);
    const bufs: Buffer[] = [];
    for (let i = 0; i < 1500; i++) bufs.push(Buffer.from([i & 0xff]));
    expect(native.writev(a, bufs)).toBe(1024);
    const got = drain(b);
    expect(got.bytes.length).toBe(1024);
    for (let i = 0; i < 1024; i++) expect(got.bytes[i]).toBe(i & 0xff);
    closeAll(a, b);
  });

  test("write and writev work on a pipe (no socket underneath) and read gets the bytes", () => {
    const [r, w] = track(native.pipe());
    expect(native.write(w, Buffer.from("pipe:"), 0, 5)).toBe(5);
    expect(native.writev(w, [Buffer.from("one,"), Buffer.from("two")])).toBe(7);
    const buf = Buffer.alloc(32);
    expect(native.read(r, buf, 0, 32)).toBe(12);
    expect(buf.toString("latin1", 0, 12)).toBe("pipe:one,two");
    closeAll(w);
    expect(native.read(r, buf, 0, 32)).toBe(0);
    closeAll(r);
  });

  test("writing to a socket whose peer is gone throws EPIPE and does not raise SIGPIPE", () => {
    const [a, b] = track(native.socketpair("stream"));
    closeAll(b);
    expect(() => native.write(a, Buffer.from("x"), 0, 1)).toThrow(
      expect.objectContaining({ code: "EPIPE", syscall: "write", errno: native.errno.EPIPE }),
    );
    expect(() => native.writev(a, [Buffer.from("x")])).toThrow(expect.objectContaining({ code: "EPIPE" }));
    closeAll(a);
  });

  test("a closed fd gives an Error with code EBADF, errno and syscall", () => {
    const [r, w] = native.pipe();
    native.close(r);
    native.close(w);
    const e = thrownBy(() => native.read(r, Buffer.alloc(1), 0, 1));
    expect(e.name).toBe("Error");
    expect(e).toMatchObject({ code: "EBADF", errno: native.errno.EBADF, syscall: "read" });
    expect(e.message).toMatch(/^read EBADF/);
    expect(() => native.close(r)).toThrow(expect.objectContaining({ code: "EBADF", syscall: "close" }));
  });
});

describe("UDP", () => {
  test("sendto and recvfrom carry bytes and the sender's address", async () => {
    const a = track(native.socket("IPv4", "udp"));
    const b = track(native.socket("IPv4", "udp"));
    native.bind(a, "127.0.0.1", 0);
    native.bind(b, "127.0.0.1", 0);
    const pa = native.getsockname(a) as { port: number };
    const pb = native.getsockname(b) as { port: number };
    expect(native.recvfrom(b, Buffer.alloc(8), 0, 8)).toBeNull();
    const msg = Buffer.from("datagram-one");
    expect(native.sendto(a, msg, 0, msg.length, "127.0.0.1", pb.port)).toBe(msg.length);
    expect(native.sendto(a, msg, 0, 8, "127.0.0.1", pb.port)).toBe(8);
    const buf = Buffer.alloc(64);
    const d1 = await until(() => native.recvfrom(b, buf, 4, 60) ?? undefined, "datagram");
    expect(d1).toEqual({ bytes: msg.length, address: { family: "IPv4", address: "127.0.0.1", port: pa.port } });
    expect(buf.toString("latin1", 4, 4 + msg.length)).toBe("datagram-one");
    const d2 = await until(() => native.recvfrom(b, buf, 0, 64) ?? undefined, "datagram");
    expect(d2.bytes).toBe(8);
    expect(buf.toString("latin1", 0, 8)).toBe("datagram");
    closeAll(a, b);
  });

  test("sendto with a null host sends to the connected peer", async () => {
    const a = track(native.socket("IPv4", "udp"));
    const b = track(native.socket("IPv4", "udp"));
    native.bind(b, "127.0.0.1", 0);
    const pb = native.getsockname(b) as { port: number };
    expect(native.connect(a, "127.0.0.1", pb.port)).toBe(true);
    expect(native.sendto(a, Buffer.from("hi"), 0, 2, null, 0)).toBe(2);
    const buf = Buffer.alloc(8);
    const d = await until(() => native.recvfrom(b, buf, 0, 8) ?? undefined, "datagram");
    expect(d.bytes).toBe(2);
    expect(d.address).toEqual(native.getsockname(a));
    closeAll(a, b);
  });

  test("UDP over ::1 reports IPv6 addresses", async () => {
    if (!hasIPv6Loopback()) return;
    const a = track(native.socket("IPv6", "udp"));
    native.bind(a, "::1", 0);
    const pa = native.getsockname(a) as { port: number };
    expect(native.getsockname(a)).toEqual({ family: "IPv6", address: "::1", port: pa.port });
    expect(native.sendto(a, Buffer.from("six"), 0, 3, "::1", pa.port)).toBe(3);
    const buf = Buffer.alloc(8);
    const d = await until(() => native.recvfrom(a, buf, 0, 8) ?? undefined, "datagram");
    expect(d).toEqual({ bytes: 3, address: { family: "IPv6", address: "::1", port: pa.port } });
    closeAll(a);
  });

  test("joining a multicast group on the loopback interface and leaving it", () => {
    const u = track(native.socket("IPv4", "udp"));
    native.setMembership(u, "239.255.77.1", "127.0.0.1", true);
    native.setMembership(u, "239.255.77.1", "127.0.0.1", false);
    expect(() => native.setMembership(u, "239.255.77.1", "127.0.0.1", false)).toThrow(
      expect.objectContaining({ code: "EADDRNOTAVAIL", syscall: "setsockopt" }),
    );
    closeAll(u);
  });
});

describe("IPv6 multicast membership", () => {
  test("joining and leaving a link-local group on the loopback interface by name", () => {
    if (!hasIPv6Loopback() || !os.networkInterfaces().lo) return;
    const u = track(native.socket("IPv6", "udp"));
    native.setMembership(u, "ff02::1:77", "lo", true);
    native.setMembership(u, "ff02::1:77", "lo", false);
    expect(() => native.setMembership(u, "ff02::1:77", "lo", false)).toThrow(expect.objectContaining({ syscall: "setsockopt" }));
    closeAll(u);
  });
});

describe("Unix sockets", () => {
  test("a path socket: bind, listen, connect, accept, names and bytes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdr-"));
    const p = path.join(dir, "s.sock");
    try {
      const l = track(native.socket("unix", "tcp"));
      native.bindUnix(l, p);
      native.listen(l, 8);
      expect(fs.statSync(p).isSocket()).toBe(true);
      const c = track(native.socket("unix", "tcp"));
      expect(native.connectUnix(c, p)).toBe(true);
      const acc = native.accept(l, 8);
      expect(acc).toEqual([{ fd: expect.any(Number), address: { family: "unix", path: "" } }]);
      track(acc[0].fd);
      expect(native.getsockname(l)).toEqual({ family: "unix", path: p });
      expect(native.getpeername(c)).toEqual({ family: "unix", path: p });
      expect(native.getsockname(c)).toEqual({ family: "unix", path: "" });
      expect(native.write(c, Buffer.from("unix!"), 0, 5)).toBe(5);
      const buf = Buffer.alloc(8);
      expect(native.read(acc[0].fd, buf, 0, 8)).toBe(5);
      expect(buf.toString("latin1", 0, 5)).toBe("unix!");
      closeAll(c, acc[0].fd, l);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an abstract socket (leading NUL) round-trips its name and leaves no file", () => {
    const name = `\0fdreactor-abstract-${process.pid}-${Date.now()}`;
    const l = track(native.socket("unix", "tcp"));
    native.bindUnix(l, name);
    native.listen(l, 8);
    expect(native.getsockname(l)).toEqual({ family: "unix", path: name });
    const c = track(native.socket("unix", "tcp"));
    expect(native.connectUnix(c, name)).toBe(true);
    expect(native.getpeername(c)).toEqual({ family: "unix", path: name });
    const acc = native.accept(l, 8);
    expect(acc).toHaveLength(1);
    track(acc[0].fd);
    closeAll(c, acc[0].fd, l);
  });

  test("a Unix path longer than sun_path is a RangeError naming path", () => {
    const s = track(native.socket("unix", "tcp"));
    const long = "/tmp/" + "x".repeat(200);
    for (const bad of [long, "", "/tmp/a\0b"]) {
      for (const call of [() => native.bindUnix(s, bad), () => native.connectUnix(s, bad)]) {
        const e = thrownBy(call);
        expect(e.name).toBe("RangeError");
        expect(e.message).toMatch(/"path"/);
      }
    }
    // 107 bytes plus the terminating NUL is exactly sun_path: still allowed.
    expect(thrownBy(() => native.connectUnix(s, "/tmp/" + "y".repeat(102))).code).toBe("ENOENT");
    closeAll(s);
  });

  test("connecting to a Unix path nobody listens on throws ENOENT", () => {
    const c = track(native.socket("unix", "tcp"));
    expect(() => native.connectUnix(c, `/tmp/fdreactor-none-${process.pid}-${Date.now()}`)).toThrow(
      expect.objectContaining({ code: "ENOENT", syscall: "connect" }),
    );
    closeAll(c);
  });

  test("datagram socketpair: recvfrom reports the unnamed peer", () => {
    const [a, b] = track(native.socketpair("dgram"));
    expect(native.write(a, Buffer.from("d1"), 0, 2)).toBe(2);
    expect(native.write(a, Buffer.from("d22"), 0, 3)).toBe(3);
    const buf = Buffer.alloc(8);
    expect(native.recvfrom(b, buf, 0, 8)).toEqual({ bytes: 2, address: { family: "unix", path: "" } });
    expect(native.read(b, buf, 0, 8)).toBe(3); // datagram boundaries kept
    expect(buf.toString("latin1", 0, 3)).toBe("d22");
    closeAll(a, b);
  });
});

describe("accept", () => {
  async function pendingClients(port: number, n: number): Promise<number[]> {
    const clients: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = track(native.socket("IPv4", "tcp"));
      native.connect(c, "127.0.0.1", port);
      clients.push(c);
    }
    // Connected once SO_ERROR is clear and the peer name is known.
    for (const c of clients) {
      await until(() => {
        try {
          native.getpeername(c);
          return true;
        } catch {
          return undefined;
        }
      }, "client connected");
    }
    // The server's half completes when the final ACK is processed: give loopback a moment.
    await new Promise((r) => setTimeout(r, 50));
    return clients;
  }

  test("N pending connections come back from one call, with their peer addresses", async () => {
    const l = tcpListener();
    const clients = await pendingClients(l.port, 7);
    const acc = native.accept(l.fd, 100);
    track(acc.map((a) => a.fd));
    expect(acc).toHaveLength(7);
    const locals = clients.map((c) => native.getsockname(c) as SockAddr).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    const addrs = acc.map((a) => a.address).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    expect(addrs).toEqual(locals);
    expect(native.accept(l.fd, 100)).toEqual([]);
    closeAll(...clients, ...acc.map((a) => a.fd), l.fd);
  });

  test("accept stops at max and the rest wait for the next call", async () => {
    const l = tcpListener();
    const clients = await pendingClients(l.port, 5);
    const first = native.accept(l.fd, 2);
    track(first.map((a) => a.fd));
    expect(first).toHaveLength(2);
    const rest = native.accept(l.fd, 10);
    track(rest.map((a) => a.fd));
    expect(rest).toHaveLength(3);
    expect(native.accept(l.fd, 10)).toEqual([]);
    closeAll(...clients, ...first.map((a) => a.fd), ...rest.map((a) => a.fd), l.fd);
  });

  test("accepted sockets are non-blocking and close-on-exec", async () => {
    const [c, s, l] = await tcpPair();
    const f = parseInt(/flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${s}`, "utf8"))![1], 8);
    expect(f & 0o4000).toBe(0o4000);
    expect(f & 0o2000000).toBe(0o2000000);
    expect(native.read(s, Buffer.alloc(4), 0, 4)).toBe(AGAIN);
    closeAll(c, s, l);
  });

  test("accept on a socket that is not listening throws EINVAL", () => {
    const s = track(native.socket("IPv4", "tcp"));
    expect(() => native.accept(s, 1)).toThrow(expect.objectContaining({ code: "EINVAL", syscall: "accept" }));
    closeAll(s);
  });
});

describe("socket options", () => {
  test("boolean options read back what was set", () => {
    const t = track(native.socket("IPv4", "tcp"));
    for (const opt of ["SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "TCP_NODELAY"] as const) {
      native.setsockopt(t, opt, true);
      expect(native.getsockopt(t, opt)).toBe(1);
      native.setsockopt(t, opt, false);
      expect(native.getsockopt(t, opt)).toBe(0);
      native.setsockopt(t, opt, 1);
      expect(native.getsockopt(t, opt)).toBe(1);
    }
    const u = track(native.socket("IPv4", "udp"));
    native.setsockopt(u, "SO_BROADCAST", true);
    expect(native.getsockopt(u, "SO_BROADCAST")).toBe(1);
    native.setsockopt(u, "IP_MULTICAST_LOOP", false);
    expect(native.getsockopt(u, "IP_MULTICAST_LOOP")).toBe(0);
    native.setsockopt(u, "IP_MULTICAST_TTL", 7);
    expect(native.getsockopt(u, "IP_MULTICAST_TTL")).toBe(7);
    closeAll(t, u);
  });

  test("unsentBytes: the send queue's bytes the peer has not acknowledged, 0 once it has read them; a bad fd throws", async () => {
    const [c, s, l] = await tcpPair();
    expect(native.unsentBytes(c)).toBe(0);
    // Fill both sides' buffers: what does not fit in the peer's receive window stays unacknowledged.
    const chunk = pattern(256 * 1024);
    let sent = 0;
    for (let k = 0; k < 400; k++) {
      const n = native.write(c, chunk, 0, chunk.length);
      if (n === AGAIN) break;
      sent += n;
    }
    const unacked = native.unsentBytes(c);
    expect(unacked).toBeGreaterThan(0);
    expect(unacked).toBeLessThanOrEqual(sent);
    let read = 0;
    await until(() => {
      const got = drain(s, 1 << 22).bytes.length;
      read += got;
      return read === sent && native.unsentBytes(c) === 0 ? true : undefined;
    }, "the peer reading everything");
    expect(read).toBe(sent);
    expect(thrownBy(() => native.unsentBytes(-1))).toMatchObject({ name: "RangeError", message: expect.stringMatching(/fd/) });
    closeAll(c, s, l);
  });

  test("SO_LINGER: off by default, reads back the seconds set, false turns it off; true and negatives are refused", () => {
    const t = track(native.socket("IPv4", "tcp"));
    expect(native.getsockopt(t, "SO_LINGER")).toBe(-1);
    native.setsockopt(t, "SO_LINGER", 5);
    expect(native.getsockopt(t, "SO_LINGER")).toBe(5);
    native.setsockopt(t, "SO_LINGER", 0);
    expect(native.getsockopt(t, "SO_LINGER")).toBe(0);
    native.setsockopt(t, "SO_LINGER", false);
    expect(native.getsockopt(t, "SO_LINGER")).toBe(-1);
    expect(thrownBy(() => native.setsockopt(t, "SO_LINGER", true))).toMatchObject({ name: "TypeError", message: expect.stringMatching(/value/) });
    expect(thrownBy(() => native.setsockopt(t, "SO_LINGER", -1))).toMatchObject({ name: "RangeError", message: expect.stringMatching(/value/) });
    closeAll(t);
  });

  test("SO_LINGER 0: closing sends RST (the peer reads ECONNRESET); without it the peer reads EOF", async () => {
    const [c1, s1, l1] = await tcpPair();
    native.setsockopt(c1, "SO_LINGER", 0);
    closeAll(c1);
    const err = await until(() => {
      try {
        const n = native.read(s1, Buffer.alloc(8), 0, 8);
        if (n === 0) return "EOF";
        return n === AGAIN ? undefined : `read ${n}`;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    }, "the reset");
    expect(err).toBe("ECONNRESET");
    const [c2, s2, l2] = await tcpPair();
    closeAll(c2);
    expect(await until(() => {
      const n = native.read(s2, Buffer.alloc(8), 0, 8);
      return n === AGAIN ? undefined : n;
    }, "EOF")).toBe(0);
    closeAll(s1, l1, s2, l2);
  });

  test("buffer sizes read back at least what was asked (Linux doubles them)", () => {
    const t = track(native.socket("IPv4", "tcp"));
    native.setsockopt(t, "SO_RCVBUF", 32768);
    native.setsockopt(t, "SO_SNDBUF", 65536);
    expect(native.getsockopt(t, "SO_RCVBUF")).toBeGreaterThanOrEqual(32768);
    expect(native.getsockopt(t, "SO_SNDBUF")).toBeGreaterThanOrEqual(65536);
    closeAll(t);
  });

  test("IPv6 options: V6ONLY and the multicast twins", () => {
    if (!hasIPv6Loopback()) return;
    const s = track(native.socket("IPv6", "udp"));
    native.setsockopt(s, "IPV6_V6ONLY", true);
    expect(native.getsockopt(s, "IPV6_V6ONLY")).toBe(1);
    native.setsockopt(s, "IP_MULTICAST_TTL", 3);
    expect(native.getsockopt(s, "IP_MULTICAST_TTL")).toBe(3);
    closeAll(s);
  });

  test("SO_REUSEPORT lets two listeners share one port; without it the second bind fails", () => {
    const a = track(native.socket("IPv4", "tcp"));
    native.setsockopt(a, "SO_REUSEPORT", true);
    native.bind(a, "127.0.0.1", 0);
    native.listen(a, 8);
    const port = (native.getsockname(a) as { port: number }).port;
    const b = track(native.socket("IPv4", "tcp"));
    native.setsockopt(b, "SO_REUSEPORT", true);
    native.bind(b, "127.0.0.1", port);
    native.listen(b, 8);
    expect(native.getsockname(b)).toEqual({ family: "IPv4", address: "127.0.0.1", port });
    const c = track(native.socket("IPv4", "tcp"));
    expect(() => native.bind(c, "127.0.0.1", port)).toThrow(expect.objectContaining({ code: "EADDRINUSE", syscall: "bind" }));
    closeAll(a, b, c);
  });

  test("an option on the wrong kind of socket is the kernel's error (TCP_NODELAY on UDP)", () => {
    const u = track(native.socket("IPv4", "udp"));
    expect(() => native.setsockopt(u, "TCP_NODELAY", true)).toThrow(expect.objectContaining({ syscall: "setsockopt" }));
    closeAll(u);
  });
});

describe("pipes and socketpairs", () => {
  test("pipe() gives a non-blocking read end and write end", () => {
    const [r, w] = track(native.pipe());
    expect(native.read(r, Buffer.alloc(1), 0, 1)).toBe(AGAIN);
    expect(native.write(w, Buffer.from([42]), 0, 1)).toBe(1);
    const b = Buffer.alloc(1);
    expect(native.read(r, b, 0, 1)).toBe(1);
    expect(b[0]).toBe(42);
    closeAll(r, w);
  });

  test("socketpair ends are connected both ways", () => {
    const [a, b] = track(native.socketpair("stream"));
    native.write(a, Buffer.from("ab"), 0, 2);
    native.write(b, Buffer.from("ba"), 0, 2);
    const buf = Buffer.alloc(2);
    native.read(b, buf, 0, 2);
    expect(buf.toString()).toBe("ab");
    native.read(a, buf, 0, 2);
    expect(buf.toString()).toBe("ba");
    closeAll(a, b);
  });
});
