/**
 * Real peers the interop suites talk to (Debian packages): whether each one is usable here,
 * and `describeWithPeer`, which runs a block when its peer is present and otherwise skips
 * it under a title that names the peer and its install command (test/support/skip-reporter.js
 * prints one line per skipped suite and a summary at the end of the run). With
 * FDREACTOR_REQUIRE_PEERS=1 (CI) a missing peer fails the suite instead.
 */
import { spawnSync } from "node:child_process";

/** A peer: how to tell it works (run it), and the command that installs it. */
interface Peer {
  command: string;
  args: string[];
  /** Whether the run's output says the peer works (some print their version and exit 1). */
  works: (status: number | null, output: string) => boolean;
  install: string;
}

const exitsZero = (status: number | null): boolean => status === 0;

/** Every peer a suite may need, by its Debian package name. */
const PEERS = {
  // An empty directory over Twisted's would still import as a namespace package: ask for a module.
  "python3-twisted": { command: "/usr/bin/python3", args: ["-c", "import twisted.internet.protocol"], works: exitsZero, install: "apt-get install -y python3-twisted" },
  python3: { command: "/usr/bin/python3", args: ["-c", "import http.client"], works: exitsZero, install: "apt-get install -y python3" },
  "nginx-light": { command: "nginx", args: ["-v"], works: exitsZero, install: "apt-get install -y nginx-light" },
  "dnsmasq-base": { command: "dnsmasq", args: ["--version"], works: exitsZero, install: "apt-get install -y dnsmasq-base" },
  wrk: { command: "wrk", args: ["--version"], works: (_s, out) => /^wrk /.test(out), install: "apt-get install -y wrk" },
  curl: { command: "curl", args: ["--version"], works: exitsZero, install: "apt-get install -y curl" },
  // The TLS suites make their certificates with it and talk to s_server / s_client.
  openssl: { command: "openssl", args: ["version"], works: exitsZero, install: "apt-get install -y openssl" },
  // Counts the syscalls a child makes (which write call reaches a pipe or a socket).
  strace: { command: "strace", args: ["-V"], works: exitsZero, install: "apt-get install -y strace" },
  // `ss`: a connection's TCP state (unsent bytes, receive buffer) for bench/static --windows.
  iproute2: { command: "ss", args: ["-V"], works: exitsZero, install: "apt-get install -y iproute2" },
} satisfies Record<string, Peer>;

/** A peer's Debian package name. */
export type PeerName = keyof typeof PEERS;

const PATH_WITH_SBIN = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;

/**
 * The environment to start a peer with: this process's, minus the sanitizer runtime that
 * `npm run test:asan` preloads into jest (a peer is not ours to sanitize, and under it
 * python3 or openssl start slowly or exit with LeakSanitizer's status).
 */
export function peerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.LD_PRELOAD;
  return env;
}
const known = new Map<PeerName, boolean>();

/** Whether `name` is installed and runs (checked once per test file). */
export function hasPeer(name: PeerName): boolean {
  let ok = known.get(name);
  if (ok === undefined) {
    const p: Peer = PEERS[name];
    const r = spawnSync(p.command, p.args, { encoding: "utf8", timeout: 10000, env: peerEnv({ PATH: PATH_WITH_SBIN }) });
    ok = r.error === undefined && p.works(r.status, `${r.stdout}${r.stderr}`);
    known.set(name, ok);
  }
  return ok;
}

/** The marker a skipped block's title ends with; skip-reporter.js reads it back. */
export function skipMarker(name: PeerName): string {
  return `[needs ${name}: ${PEERS[name].install}]`;
}

/** Whether a missing peer must fail the run (CI sets FDREACTOR_REQUIRE_PEERS=1). */
export const peersRequired = process.env.FDREACTOR_REQUIRE_PEERS === "1";

/**
 * `describe` when `name` is usable; when it is not, a `describe.skip` (also for `.each`)
 * whose titles end with skipMarker(name), or, under FDREACTOR_REQUIRE_PEERS=1, an Error.
 */
export function describeWithPeer(name: PeerName): jest.Describe {
  if (hasPeer(name)) return describe;
  if (peersRequired) throw new Error(`${name} is missing and FDREACTOR_REQUIRE_PEERS=1: ${PEERS[name].install}`);
  const marked = (title: string | number | jest.FunctionLike): string => `${String(title)} ${skipMarker(name)}`;
  const skip = ((title: string, fn: jest.EmptyFunction) => describe.skip(marked(title), fn)) as unknown as jest.Describe;
  const each = (...table: unknown[]) => (title: string, fn: (...args: unknown[]) => void, timeout?: number) =>
    (describe.skip.each as (...t: unknown[]) => (n: string, f: (...a: unknown[]) => void, t?: number) => void)(...table)(marked(title), fn, timeout);
  return Object.assign(skip, { each, skip, only: describe.only }) as unknown as jest.Describe;
}

/**
 * `test` when `runs`; otherwise a `test.skip` whose title ends with `[skipped: why]`, for a
 * case this machine cannot exercise (skip-reporter.js lists it with that reason).
 */
export function testIf(runs: boolean, why: string): jest.It {
  if (runs) return test;
  return ((title: string, fn?: jest.ProvidesCallback, timeout?: number) => test.skip(`${title} [skipped: ${why}]`, fn, timeout)) as unknown as jest.It;
}
