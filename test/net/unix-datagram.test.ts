/**
 * Unix datagram sockets (Twisted's IReactorUNIXDatagram): listenUNIXDatagram and
 * connectUNIXDatagram on paths and Linux abstract names, in both run modes: datagram
 * boundaries and order kept through the batched reads and gathered replies, truncation
 * reported, an unbound sender, stale and live socket files, mode, file cleanup, refusals
 * and misuse.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CannotListenError, ConnectError } from "../../lib/error";
import { connectUNIXDatagram, listenUNIXDatagram, type UNIXDatagramPort } from "../../lib/net";
import type { Address } from "../../lib/net/interfaces";
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { MODES, runReactor } from "./helpers";
import { DatagramRecorder } from "./udp-support";

expectNoFdLeaks();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-udgram-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
let counter = 0;
const freshPath = (): string => path.join(dir, `d${counter++}.sock`);
const abstractName = (): string => `\0fdreactor-udgram-${process.pid}-${counter++}`;

/** A recorder that answers every datagram with "re:" + it, to its sender. */
class Answerer extends DatagramRecorder {
  override datagramReceived(data: Buffer, addr: Address): void {
    super.datagramReceived(data, addr);
    (this.transport as unknown as UNIXDatagramPort).write(Buffer.concat([Buffer.from("re:"), data]), addr as { type: "UNIX"; name: string });
  }
}

/** A recorder of cut datagrams. */
class Truncations extends DatagramRecorder {
  cut: string[] = [];
  onCut: (() => void) | null = null;
  override datagramTruncated(data: Buffer, addr: Address, size: number): void {
    this.cut.push(`${data.toString()}/${size}@${(addr as { name: string }).name}`);
    this.onCut?.();
  }
}

describe.each(MODES)("Unix datagram sockets (%s mode)", (mode) => {
  test.each([
    ["a path", freshPath, freshPath],
    ["an abstract name", abstractName, abstractName],
  ])("on %s: datagrams keep their boundaries and order both ways; files are removed at the end", async (_what, serverName, clientName) => {
    const server = serverName();
    const client = clientName();
    const sent = ["a", "bb", "", "ccc", "x".repeat(5000)];
    const out = await runReactor<{ server: string[]; client: string[]; host: Address; peer: Address | null }>(mode, (reactor, finish) => {
      const answerer = new Answerer();
      const port = listenUNIXDatagram(reactor, server, answerer);
      const recorder = new DatagramRecorder();
      const conn = connectUNIXDatagram(reactor, server, recorder, { bindAddress: client });
      recorder.onDatagram = () => {
        if (recorder.datagrams.length < sent.length) return;
        const result = {
          server: answerer.datagrams.map((d) => `${d.data.toString()}@${(d.addr as { name: string }).name}`),
          client: recorder.datagrams.map((d) => `${d.data.toString()}@${(d.addr as { name: string }).name}`),
          host: conn.getHost(),
          peer: conn.getPeer(),
        };
        port.stopListening();
        conn.stopListening();
        finish(result);
      };
      conn.writeBatch(sent);
    });
    expect(out.server).toEqual(sent.map((s) => `${s}@${client}`));
    expect(out.client).toEqual(sent.map((s) => `re:${s}@${server}`));
    expect(out.host).toEqual({ type: "UNIX", name: client });
    expect(out.peer).toEqual({ type: "UNIX", name: server });
    if (!server.startsWith("\0")) expect(fs.existsSync(server)).toBe(false);
    if (!client.startsWith("\0")) expect(fs.existsSync(client)).toBe(false);
  });

  test("a datagram longer than maxPacketSize goes to datagramTruncated with its full size; an unbound sender has no name", async () => {
    const server = freshPath();
    const out = await runReactor<{ cut: string[]; events: string[] }>(mode, (reactor, finish) => {
      const t = new Truncations();
      const port = listenUNIXDatagram(reactor, server, t, { maxPacketSize: 4 });
      const conn = connectUNIXDatagram(reactor, server, new DatagramRecorder());
      t.onDatagram = () => {
        port.stopListening();
        conn.stopListening();
        finish({ cut: t.cut, events: [...t.events] });
      };
      conn.write("0123456789");
      conn.write("ok");
    });
    expect(out.cut).toEqual(["0123/10@"]);
    expect(out.events).toEqual(["start", "dgram:ok@", "stop"]);
  });

  test("a full receive queue drops datagrams as Twisted does (write returns 0); those accepted arrive whole and in order", async () => {
    const server = freshPath();
    const n = 200;
    const out = await runReactor<{ accepted: number[]; got: string[] }>(mode, (reactor, finish) => {
      const rec = new DatagramRecorder();
      const port = listenUNIXDatagram(reactor, server, rec);
      const conn = connectUNIXDatagram(reactor, server, new DatagramRecorder());
      const accepted: number[] = [];
      for (let i = 0; i < n; i++) if (conn.write(`d${i}`) > 0) accepted.push(i);
      rec.onDatagram = () => {
        if (rec.datagrams.length < accepted.length) return;
        port.stopListening();
        conn.stopListening();
        finish({ accepted, got: rec.datagrams.map((d) => d.data.toString()) });
      };
    });
    // The kernel's queue (net.unix.max_dgram_qlen) took the first ones and refused the rest.
    expect(out.accepted.length).toBeGreaterThan(0);
    expect(out.accepted.length).toBeLessThan(n);
    expect(out.accepted).toEqual(Array.from({ length: out.accepted.length }, (_, i) => i));
    expect(out.got).toEqual(out.accepted.map((i) => `d${i}`));
  });

  test("socket files: a stale one is replaced, a live one refused (EADDRINUSE), mode applied", async () => {
    const stale = freshPath();
    const fd = native.socket("unix", "udp");
    native.bindUnix(fd, stale);
    native.close(fd); // the file stays, nobody bound
    await runReactor<void>(mode, (reactor, finish) => {
      const port = listenUNIXDatagram(reactor, stale, new DatagramRecorder(), { mode: 0o600 });
      expect(fs.statSync(stale).mode & 0o777).toBe(0o600);
      let err: unknown = null;
      try {
        listenUNIXDatagram(reactor, stale, new DatagramRecorder());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CannotListenError);
      expect(String((err as Error).message)).toMatch(/EADDRINUSE/);
      port.stopListening();
      finish();
    });
    expect(fs.existsSync(stale)).toBe(false);
  });

  test("connecting where nobody is bound throws ConnectError; misuse throws typed errors naming the argument", async () => {
    await runReactor<void>(mode, (reactor, finish) => {
      expect(() => connectUNIXDatagram(reactor, path.join(dir, "nobody.sock"), new DatagramRecorder())).toThrow(ConnectError);
      expect(() => connectUNIXDatagram(reactor, path.join(dir, "nobody.sock"), new DatagramRecorder())).toThrow(/ENOENT/);
      expect(() => listenUNIXDatagram(reactor, "", new DatagramRecorder())).toThrow(/path must be a non-empty/);
      expect(() => listenUNIXDatagram(reactor, freshPath(), new DatagramRecorder(), { maxPacketSize: 0 })).toThrow(RangeError);
      expect(() => listenUNIXDatagram(reactor, freshPath(), new DatagramRecorder(), { mode: 0o17777 })).toThrow(/mode must be/);
      expect(() => connectUNIXDatagram(reactor, freshPath(), new DatagramRecorder(), { bindAddress: "" })).toThrow(/bindAddress must be/);
      const port = listenUNIXDatagram(reactor, freshPath(), new DatagramRecorder());
      expect(() => port.write("x")).toThrow(/addr is required/);
      expect(() => port.write("x", { host: "127.0.0.1", port: 9 } as never)).toThrow(/addr must be a Unix socket path/);
      expect(() => port.write("x", "/" + "p".repeat(200))).toThrow(/addr is longer/);
      expect(() => port.connect()).toThrow(/connectUNIXDatagram/);
      expect(() => port.write("x", path.join(dir, "nobody.sock"))).toThrow(expect.objectContaining({ code: "ENOENT", syscall: "sendmsg" }));
      port.stopListening();
      finish();
    });
  });
});
