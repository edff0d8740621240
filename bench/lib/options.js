"use strict";
/** Command-line options shared by bench/echo/run.js and bench/http/run.js, and the strict parsing and list splitting bench/c10k/options.js reuses. */
const { parseArgs } = require("node:util");

/** Thrown for a bad command line; the runner prints it with the usage and exits 2. */
class UsageError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "UsageError";
  }
}

/** The usage text for `script` ("bench/echo/run.js") with its defaults. */
function usage(script, d) {
  return `usage: node ${script} [options]
  --rounds N         interleaved rounds per workload (A,B,A,B...), at least 3 (default ${d.rounds})
  --duration S       measured seconds per round (default ${d.duration})
  --warmup S         warm-up seconds before each measured interval (default ${d.warmup})
  --conns LIST       connection counts, comma-separated (default ${d.conns.join(",")})
  --peers LIST       servers to run, comma-separated names, or "all" (default: every
                     installed server for this workload except the optional ones)${d.size ? `\n  --size BYTES       echo message size (default ${d.size})` : ""}
  --baseline NAME    peer the ratios are against (default ${d.baseline})
  --target A/B<=R    fail (exit 1) unless A's median CPU per ${d.unit} is at most R times
                     B's, at every connection count; repeatable
  --json FILE        raw results as JSON (default bench/out/${d.kind}-<date>.json)
  --chart FILE       SVG chart of the summary (default bench/out/${d.kind}-<date>.svg)
  --record           append the run to bench/RESULTS.md
  --heading TEXT     the "## " section --record appends under (default "${d.heading}")
  --no-pin           do not pin with taskset (say so in the results)
  --help             this text`;
}

/** Parses a target "A/B<=R" into { a, b, max }. */
function parseTarget(text) {
  const m = /^([\w.-]+)\/([\w.-]+)<=([\d.]+)$/.exec(text);
  if (!m || !(Number(m[3]) > 0)) throw new UsageError(`--target must look like fdreactor/node-net<=0.67, got ${JSON.stringify(text)}`);
  return { a: m[1], b: m[2], max: Number(m[3]) };
}

/** Splits a comma-separated list, trimming and dropping empties. */
function list(text) {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The values of `argv` parsed strictly (no positionals, no unknown options) against `options`; UsageError otherwise. */
function parseStrict(argv, options) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(err.message);
  }
}

/** Parses argv against the defaults; throws UsageError with a message naming the option. */
function parseOptions(argv, defaults) {
  const values = parseStrict(argv, {
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    conns: { type: "string" },
    peers: { type: "string" },
    size: { type: "string" },
    baseline: { type: "string" },
    target: { type: "string", multiple: true },
    json: { type: "string" },
    chart: { type: "string" },
    record: { type: "boolean" },
    heading: { type: "string" },
    "no-pin": { type: "boolean" },
    help: { type: "boolean" },
  });
  const num = (name, min, integer) => {
    if (values[name] === undefined) return defaults[name];
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got ${JSON.stringify(values[name])}`);
    return n;
  };
  const conns = values.conns === undefined ? defaults.conns : values.conns.split(",").map((c) => Number(c.trim()));
  if (conns.some((c) => !Number.isInteger(c) || c < 1 || c > 19000))
    throw new UsageError(`--conns must be integers between 1 and 19000 (one process holds at most 20,000 fds here), got ${JSON.stringify(values.conns)}`);
  if (values.size !== undefined && !defaults.size) throw new UsageError("--size applies to the echo workload only");
  const heading = values.heading ?? defaults.heading;
  if (!/^## \S/.test(heading)) throw new UsageError(`--heading must start with "## ", got ${JSON.stringify(heading)}`);
  const duration = num("duration", 0.5, false);
  const warmup = num("warmup", 0, false);
  if (defaults.wholeSeconds && (!Number.isInteger(duration) || !Number.isInteger(warmup) || duration < 1))
    throw new UsageError(`--duration and --warmup must be whole seconds here (wrk takes no fractions), got ${duration} and ${warmup}`);
  return {
    help: Boolean(values.help),
    rounds: num("rounds", 3, true),
    duration,
    warmup,
    conns,
    peers: values.peers === undefined ? null : list(values.peers),
    size: defaults.size ? num("size", 1, true) : undefined,
    baseline: values.baseline ?? defaults.baseline,
    targets: (values.target || []).map(parseTarget),
    json: values.json ?? null,
    chart: values.chart ?? null,
    record: Boolean(values.record),
    heading,
    pin: !values["no-pin"],
  };
}

/** The number after `--name` in this process's arguments, or `dflt` when the flag is absent (the quick benches' flags). */
function numberArg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

module.exports = { UsageError, usage, parseOptions, parseTarget, parseStrict, list, numberArg };
