/**
 * A connect to a blackholed address times out with TCPTimedOutError, and the failed
 * attempts leave no fd behind. An honest blackhole on one machine: the test makes a network
 * namespace of its own in which 127.66.0.0/16 is routed into a veth pair whose far end
 * drops every frame (wrong destination MAC), so SYNs vanish and nothing, not even an RST,
 * comes back; the connecting reactor runs in a child process inside that namespace.
 * (A listener with a full backlog, test/net/failures.test.ts, is the weaker stand-in:
 * the kernel drops the SYNs only while the queue is full.)
 *
 * Needs root (CAP_NET_ADMIN) and iproute2's `ip`; where the namespace cannot be made the
 * test is skipped with the reason printed, never silently passed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import { expectNoFdLeaks } from "../support/fds";
import { compileLib } from "../reactor/fixtures/compile";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "blackhole-child.js");
const NS = `fdr-bh-${process.pid}`;

/** Makes the blackhole namespace; returns null, or why it could not. */
function makeNamespace(): string | null {
  const ip = (...args: string[]): void => {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  try {
    ip("netns", "add", NS);
    ip("-n", NS, "link", "set", "lo", "up");
    ip("-n", NS, "link", "add", "bh0", "type", "veth", "peer", "name", "bh1");
    ip("-n", NS, "link", "set", "bh0", "up");
    ip("-n", NS, "link", "set", "bh1", "up");
    // 127/8 may leave lo only with route_localnet; the namespace keeps 127.0.0.1 local.
    execFileSync("ip", ["netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.bh0.route_localnet=1"], { stdio: ["ignore", "ignore", "pipe"] });
    ip("-n", NS, "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local");
    ip("-n", NS, "route", "add", "127.66.0.0/16", "dev", "bh0");
    ip("-n", NS, "neigh", "add", "127.66.0.1", "lladdr", "02:00:00:00:00:01", "dev", "bh0", "nud", "permanent");
    return null;
  } catch (e) {
    removeNamespace();
    const err = e as { stderr?: Buffer; message: string };
    return (err.stderr?.toString() || err.message).trim();
  }
}

function removeNamespace(): void {
  spawnSync("ip", ["netns", "del", NS], { stdio: "ignore" });
}

const whyNot = makeNamespace();
if (whyNot !== null) console.warn(`blackhole tests skipped: cannot make network namespace ${NS}: ${whyNot}`);
const nsTest = whyNot === null ? test : test.skip;

let compiled = "";
beforeAll(() => {
  compiled = compileLib();
});
afterAll(() => {
  removeNamespace();
  expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(NS);
});

interface Outcome {
  failures: string[];
  control: string | null;
  fdsBefore: number;
  fdsAfter: number;
  elapsed: number[];
}

describe.each(["integrated", "exclusive"])("blackholed connect (%s mode)", (mode) => {
  nsTest("5 connects to a blackholed address all fail with TCPTimedOutError and leave no fd; loopback still connects", () => {
    const r = spawnSync("ip", ["netns", "exec", NS, process.execPath, CHILD, compiled, mode], { encoding: "utf8", timeout: 30000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    const out = JSON.parse(r.stdout.trim()) as Outcome;
    expect(out.failures).toEqual(new Array(5).fill("TCPTimedOutError"));
    expect(out.control).toBe("connected");
    expect(out.fdsAfter).toBeLessThanOrEqual(out.fdsBefore);
  });
});
