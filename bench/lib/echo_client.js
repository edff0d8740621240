"use strict";
/**
 * Running the C echo load generator (bench/peers/echo_client.c) pinned to the load
 * generator's CPU. It says "MEASURE_START" and "MEASURE_END" around the counted interval;
 * the callbacks given here run at those moments so the server's CPU can be sampled then.
 */
const { spawnTracked, stopTracked } = require("./children");
const { ensureBuilt } = require("./build");

/** Parses the client's final JSON line (the one starting with "{"). */
function parseEchoClientOutput(text) {
  const line = text
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (!line) throw new Error(`echo_client printed no result:\n${text.slice(0, 2000)}`);
  return JSON.parse(line);
}

/**
 * Runs the echo client against 127.0.0.1:port. Resolves to its JSON result ({ messages,
 * seconds, rate, bytes_verified, latency_us: {p50, p90, p99, p999, ...}, errors: {...} })
 * plus the exact command. Killed if it overruns its duration by 15 s.
 */
async function runEchoClient({ port, conns, size = 64, warmup = 1, duration = 5, cpu = 1, onMeasureStart, onMeasureEnd }) {
  if (!Number.isInteger(port) || port <= 0) throw new RangeError("runEchoClient: port must be a positive integer");
  if (!Number.isInteger(conns) || conns <= 0) throw new RangeError("runEchoClient: conns must be a positive integer");
  if (!Number.isInteger(size) || size <= 0) throw new RangeError("runEchoClient: size must be a positive integer");
  const bin = ensureBuilt("echo_client");
  const args = ["--port", String(port), "--conns", String(conns), "--size", String(size), "--warmup", String(warmup), "--duration", String(duration)];
  const child = spawnTracked("echo_client", bin, args, { cpu });
  let out = "";
  let err = "";
  let pending = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (err = (err + d).slice(-4000)));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    out += d;
    pending += d;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line === "MEASURE_START" && onMeasureStart) onMeasureStart();
      if (line === "MEASURE_END" && onMeasureEnd) onMeasureEnd();
    }
  });
  const guard = setTimeout(() => stopTracked(child, 500), (warmup + duration + 15) * 1000);
  const { code, signal, error } = await child.exited;
  clearTimeout(guard);
  if (error) throw new Error(`echo_client could not start: ${error.message}`, { cause: error });
  // Exit 1 means "errors seen": the JSON says which; anything else is a failure to run.
  if (code !== 0 && code !== 1) throw new Error(`echo_client exited with code ${code} signal ${signal}:\n${err}${out.slice(-1000)}`);
  const command = `${cpu === null ? "" : `taskset -c ${cpu} `}bench/out/echo_client ${args.join(" ")}`;
  return { ...parseEchoClientOutput(out), command };
}

module.exports = { runEchoClient };
