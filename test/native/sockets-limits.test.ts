/**
 * RLIMIT_NOFILE: reading and setting it, and how accept behaves when the process runs out
 * of fds (EMFILE thrown only when a call accepted nothing).
 */
import { spawnSync } from "node:child_process";
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";
import { addonPath } from "../support/addon-path";

expectNoFdLeaks();

describe("RLIMIT_NOFILE", () => {
  test("getNofileLimit returns soft and hard with soft <= hard", () => {
    const { soft, hard } = native.getNofileLimit();
    expect(soft).toBeGreaterThan(0);
    expect(soft).toBeLessThanOrEqual(hard);
  });

  test("lowering the soft limit and raising it back to where it was", () => {
    const before = native.getNofileLimit();
    try {
      const lowered = native.setNofileLimit(before.soft - 10);
      expect(lowered).toEqual({ soft: before.soft - 10, hard: before.hard });
      expect(native.getNofileLimit()).toEqual(lowered);
    } finally {
      expect(native.setNofileLimit(before.soft)).toEqual(before);
    }
  });

  test("raising the soft limit past the hard limit throws and says why", () => {
    const before = native.getNofileLimit();
    if (!Number.isFinite(before.hard)) return; // no hard limit here: nothing to exceed
    let err: { name?: string; code?: string; syscall?: string; message?: string } = {};
    try {
      native.setNofileLimit(before.hard + 1);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.name).toBe("Error");
    expect(["EINVAL", "EPERM"]).toContain(err.code);
    expect(err.syscall).toBe("setrlimit");
    expect(err.message).toContain(`the hard limit is ${before.hard}`);
    expect(native.getNofileLimit()).toEqual(before);
  });
});

describe("accept at the fd limit", () => {
  // Runs in a child process: it lowers its own soft limit so that no fd is left, which
  // would break jest itself if done here.
  const script = `
    const n = require(process.env.ADDON);
    const fs = require("fs");
    const out = {};
    const l = n.socket("IPv4", "tcp");
    n.bind(l, "127.0.0.1", 0);
    n.listen(l, 16);
    const port = n.getsockname(l).port;
    const clients = [];
    for (let i = 0; i < 3; i++) { const c = n.socket("IPv4", "tcp"); n.connect(c, "127.0.0.1", port); clients.push(c); }
    const t0 = Date.now(); while (Date.now() - t0 < 100) {} // let loopback finish the handshakes
    // Occupy every fd number below the limit: each new fd takes the lowest free number.
    const used = fs.readdirSync("/proc/self/fd").map(Number);
    const limit = Math.max(...used) + 2;
    const fillers = [];
    for (let i = 0; i < 20000; i++) {
      const fd = fs.openSync("/dev/null", "r");
      if (fd >= limit - 1) { fs.closeSync(fd); break; }
      fillers.push(fd);
    }
    n.setNofileLimit(limit - 1);
    try { n.accept(l, 10); out.first = "accepted"; } catch (e) { out.first = e.code + "/" + e.syscall; }
    fs.closeSync(fillers.pop()); // room for exactly one
    const second = n.accept(l, 10);
    out.second = second.length;
    try { n.accept(l, 10); out.third = "accepted"; } catch (e) { out.third = e.code; }
    for (const f of fillers) fs.closeSync(f);
    for (const a of second) n.close(a.fd);
    n.setNofileLimit(n.getNofileLimit().hard);
    out.rest = n.accept(l, 10).length;
    process.stdout.write(JSON.stringify(out));
  `;

  test("EMFILE is thrown when nothing was accepted, and held back when something was", () => {
    const r = spawnSync(process.execPath, ["-e", script], {
      env: { ...process.env, ADDON: addonPath() },
      encoding: "utf8",
      timeout: 20000,
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ first: "EMFILE/accept", second: 1, third: "EMFILE", rest: 2 });
  });
});
