/**
 * Twisted peers for interop tests: a fixture script run under Debian's python3-twisted
 * (/usr/bin/python3), its stdout read line by line as it comes.
 */
import { spawn } from "node:child_process";
import { peerEnv } from "./peers";

/** The interpreter that has Debian's python3-twisted. */
export const PYTHON = "/usr/bin/python3";

/** How a Twisted peer ended: its exit code, every stdout line and all of stderr. */
export interface PeerExit {
  code: number | null;
  lines: string[];
  stderr: string;
}

/** Runs `script args...` under PYTHON; calls `onLine` per stdout line; resolves once it exits. */
export function runTwistedPeer(script: string, args: string[], onLine: (line: string) => void = () => undefined): Promise<PeerExit> {
  const child = spawn(PYTHON, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env: peerEnv() });
  const lines: string[] = [];
  let out = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    out += chunk;
    let nl: number;
    while ((nl = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.push(line);
      onLine(line);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, lines, stderr })));
}

/** A Twisted server fixture that has printed `READY <port>`: its port and its exit. */
export interface ListeningPeer {
  port: number;
  exit: Promise<PeerExit>;
}

/**
 * Runs a server fixture (`script args...`) and resolves once it prints `READY <port>`;
 * rejects with its stderr if it exits first.
 */
export function startTwistedServer(script: string, args: string[]): Promise<ListeningPeer> {
  return new Promise((resolve, reject) => {
    const exit = runTwistedPeer(script, args, (line) => {
      const m = /^READY (\d+)$/.exec(line);
      if (m) resolve({ port: Number(m[1]), exit });
    });
    void exit.then((e) => reject(new Error(`${script} exited (${e.code}) before READY: ${e.stderr}`)));
  });
}
