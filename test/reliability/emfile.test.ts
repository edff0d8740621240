/**
 * EMFILE while accepting, in a child process whose soft RLIMIT_NOFILE is lowered to a few
 * fds above what it holds (the test process keeps its own limit). 60 peers connect to the
 * child's echo server: it accepts what its fds allow, backs off on EMFILE instead of
 * spinning, logs it, keeps echoing on the connections it has, and accepts every waiting
 * peer once the first ones leave. Every peer gets its own bytes back.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { expectNoFdLeaks } from "../support/fds";
import { compileLib } from "../reactor/fixtures/compile";
import { RawPeer } from "./support";

expectNoFdLeaks();

const CHILD = path.join(__dirname, "fixtures", "emfile-child.js");
const PEERS = 60;
let compiled = "";
beforeAll(() => {
  compiled = compileLib();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `step` every 5 ms until true, at most `max` times. */
async function until(step: () => boolean, max: number, what: string): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (step()) return;
    await sleep(5);
  }
  throw new Error(`${what}: not reached after ${max} polls`);
}

interface Figures {
  accepted: number;
  lost: number;
  maxLive: number;
  limit: number;
  logs: string[];
}

describe.each(["integrated", "exclusive"])("EMFILE on accept, child process (%s mode)", (mode) => {
  test(`${PEERS} peers against a server with ~12 spare fds: accepted as fds free up, every echo exact`, async () => {
    const child = spawn(process.execPath, [CHILD, compiled, mode, String(PEERS)], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const lines = readline.createInterface({ input: child.stdout });
    const queue: string[] = [];
    lines.on("line", (l) => queue.push(l));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const peers: RawPeer[] = [];
    try {
      await until(() => queue.length > 0, 2000, "the child's port");
      const { port } = JSON.parse(queue.shift()!) as { port: number; limit: number };
      const msg = (i: number): Buffer => Buffer.from(`peer ${i} says hello\n`);
      for (let i = 0; i < PEERS; i++) peers.push(new RawPeer(port));
      const sent = new Array<boolean>(PEERS).fill(false);
      const echoed = (): number => peers.filter((p, i) => p.received >= msg(i).length).length;
      const pump = (): void => {
        peers.forEach((p, i) => {
          if (p.fd < 0 || !p.connected()) return;
          if (!sent[i]) sent[i] = p.writeSome(msg(i)) === msg(i).length;
          p.readAvailable();
          if (p.error !== null) throw new Error(`peer ${i}: ${p.error}`);
        });
      };
      // Phase 1: the child runs out of fds; the echoes stop at what it could accept.
      let last = -1;
      let still = 0;
      await until(
        () => {
          pump();
          const n = echoed();
          still = n === last && n > 0 ? still + 1 : 0;
          last = n;
          return still >= 100;
        },
        4000,
        "the first echoes",
      );
      const firstWave = echoed();
      expect(firstWave).toBeGreaterThan(0);
      expect(firstWave).toBeLessThan(PEERS);
      // Phase 2: each peer leaves once echoed, so the child gets fds back wave after wave
      // and accepts the peers still waiting in its backlog.
      const leave = (): void =>
        peers.forEach((p, i) => {
          if (p.fd >= 0 && p.received >= msg(i).length) p.close();
        });
      await until(
        () => {
          leave();
          pump();
          leave();
          return peers.every((p) => p.fd < 0);
        },
        8000,
        "the echoes after fds returned",
      );
      peers.forEach((p, i) => expect(p.bytes().toString()).toBe(msg(i).toString()));
      const code = await exited;
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      await until(() => queue.length > 0, 200, "the child's figures");
      const f = JSON.parse(queue.shift()!) as Figures;
      expect(f.accepted).toBe(PEERS);
      expect(f.lost).toBe(PEERS);
      // It never held more connections than its spare fds allow.
      expect(f.maxLive).toBeLessThanOrEqual(12);
      const emfileLogs = f.logs.filter((l) => /EMFILE/.test(l));
      expect(emfileLogs.length).toBeGreaterThanOrEqual(1);
      expect(f.logs.filter((l) => l.startsWith("error:"))).toEqual([]);
    } finally {
      for (const p of peers) p.close();
      child.kill("SIGKILL");
      lines.close();
    }
  });
});
