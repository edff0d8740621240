/**
 * What the io_uring backend does that the other four do not, beyond the shared behaviour
 * suite: it reports the bits a poll request completed with, its armed request holds the
 * fd's file open, integrated mode needs flush() for its re-arms, and a ring the kernel
 * refuses throws the errno with the reason. docs/platforms.md's io_uring column cites these.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { AGAIN, EDGE, ERROR, EVENT_STRIDE, READABLE, WRITABLE, native, type Poller } from "../../lib/native";
import { describeOnKernel } from "../support/backends";
import { expectNoFdLeaks } from "../support/fds";
import { drain, eventsOf, Fds, send, waitFor } from "./sockets";

expectNoFdLeaks();

const ROOT = path.resolve(__dirname, "../..");

describeOnKernel("io_uring")("the io_uring backend", () => {
  const fds = new Fds();
  let events: Uint32Array;
  let poller: Poller;
  const now = () => eventsOf(events, poller.wait(0));

  beforeEach(() => {
    events = new Uint32Array(16 * EVENT_STRIDE);
    poller = new native.Poller("io_uring", events);
  });
  afterEach(() => {
    poller.close();
    fds.closeAll();
  });

  test("reports the bits its request completed with; a change after that comes at the next wait", () => {
    const [r, w] = native.pipe();
    fds.track(r);
    fds.track(w);
    poller.add(w, 2, 1, WRITABLE); // writable at once: the request completes inside add()
    fds.close(r);
    expect(now()).toEqual([[2, 1, WRITABLE]]);
    expect(now()).toEqual([[2, 1, WRITABLE | ERROR]]); // the level re-arm sees the broken pipe
  });

  test("an fd closed without remove() stays open for its peer until remove() cancels the request", () => {
    const [client, server] = fds.tcpPair();
    poller.add(server, 1, 1, READABLE | EDGE); // multishot: stays armed, holding the file
    expect(now()).toEqual([]);
    fds.close(server);
    const buf = Buffer.alloc(16);
    expect(native.read(client, buf, 0, 16)).toBe(AGAIN); // no FIN: the socket is still open
    poller.remove(server); // by number: the request is named by its user_data, not the fd
    let got = AGAIN;
    for (let i = 0; i < 100 && got === AGAIN; i++) {
      got = native.read(client, buf, 0, 16);
      if (got === AGAIN) spawnSync("sleep", ["0.01"]);
    }
    expect(got).toBe(0); // EOF: cancelling the request released the last reference
  });

  test("in integrated mode flush() hands the level re-arms to the kernel, so the ring's fd turns readable again", () => {
    const watcherEvents = new Uint32Array(EVENT_STRIDE);
    const watcher = new native.Poller("poll", watcherEvents);
    try {
      const ring = poller.enterIntegratedMode();
      watcher.add(ring, 0, 0, READABLE);
      const [client, server] = fds.tcpPair();
      poller.add(server, 6, 1, READABLE);
      send(client, "unread");
      expect(waitFor(watcher, watcherEvents)).toEqual([[0, 0, READABLE]]);
      expect(now()).toEqual([[6, 1, READABLE]]);
      // The request ended with that completion; its re-arm waits for a wait() or a flush().
      expect(watcher.wait(20)).toBe(0);
      poller.flush();
      expect(waitFor(watcher, watcherEvents)).toEqual([[0, 0, READABLE]]); // still unread
      expect(now()).toEqual([[6, 1, READABLE]]);
      expect(drain(server)).toBe("unread");
      poller.flush();
      expect(watcher.wait(20)).toBe(0); // drained: the new request stays pending
      expect(now()).toEqual([]);
    } finally {
      watcher.close();
    }
  });

  test("a ring the kernel refuses throws the errno and why, from the Poller and from the Reactor", () => {
    // No fd left for the ring (RLIMIT_NOFILE 64, every one taken by a socket) makes io_uring_setup fail with
    // EMFILE; EPERM (sysctl, seccomp) and ENOSYS take the same path with their own reason.
    const script = `
      const { native, Reactor } = require(${JSON.stringify(path.join(ROOT, "dist/lib/index.js"))});
      const held = [];
      try { for (;;) held.push(native.socket("IPv4", "udp")); } catch (e) { if (e.code !== "EMFILE") throw e; }
      const out = [];
      for (const make of [() => new native.Poller("io_uring", new Uint32Array(3)), () => new Reactor({ backend: "io_uring" })]) {
        try { make(); out.push("made"); } catch (e) { out.push({ code: e.code, syscall: e.syscall, message: e.message }); }
      }
      console.log(JSON.stringify(out));`;
    const r = spawnSync("sh", ["-c", `ulimit -n 64 && exec "$0" -e "$1"`, process.execPath, script], { encoding: "utf8", timeout: 20000 });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as Array<{ code: string; syscall: string; message: string }>;
    expect(out).toEqual([
      expect.objectContaining({ code: "EMFILE", syscall: "io_uring_setup", message: expect.stringContaining("no file descriptor is free for the ring") }),
      expect.objectContaining({ code: "EMFILE", syscall: "io_uring_setup", message: expect.stringContaining("no file descriptor is free for the ring") }),
    ]);
  });
});
