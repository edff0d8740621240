/**
 * A server fixture run in a child process, so that a test can read its memory from
 * /proc/PID/status while it attacks it: the child prints one JSON object per line on
 * stdout (its port first, then an answer to each "stats" line the test writes to stdin)
 * and must print nothing on stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as readline from "node:readline";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves true as soon as `cond()` holds, polling every 10 ms; false after `ms`. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (let t = 0; t < ms; t += 10) {
    if (cond()) return true;
    await sleep(10);
  }
  return cond();
}

/** VmRSS of `pid` in KiB. */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? NaN : Number(m[1]);
}

/** A running fixture: its process, its next stdout line as JSON, and a stop that checks stderr. */
export interface ChildServer {
  readonly child: ChildProcess;
  /** The next JSON line the child prints (waits up to 5 s; throws when none comes). */
  next(): Promise<Record<string, number>>;
  /** Asks the child for its stats line and returns it. */
  stats(): Promise<Record<string, number>>;
  /** Closes stdin, waits up to 5 s for the exit (SIGKILL after), returns what stderr held. */
  stop(): Promise<string>;
}

/** Starts `node script ...args` with piped stdio. */
export function startChildServer(script: string, args: string[]): ChildServer {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const lines: string[] = [];
  readline.createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const next = async (): Promise<Record<string, number>> => {
    if (!(await waitFor(() => lines.length > 0, 5000))) throw new Error(`no line from ${script} in 5 s; stderr: ${stderr}`);
    return JSON.parse(lines.shift()!) as Record<string, number>;
  };
  return {
    child,
    next,
    stats: () => {
      child.stdin!.write("stats\n");
      return next();
    },
    stop: async () => {
      child.stdin!.end();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 5000)));
      const code = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (code === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
      return stderr;
    },
  };
}
