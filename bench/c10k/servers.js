"use strict";
/**
 * The servers the C10K harness runs, made from bench/peers/registry.js (the peers) plus
 * fdreactor's own C10K server (bench/c10k/fdreactor_server.js) in each backend and run
 * mode asked for. Each one says whether it can grow past one process (one process holds
 * at most 20,000 fds here): SO_REUSEPORT processes (fdreactor, the C reference), nginx
 * workers, Node net (or, for static files, Node http + createReadStream) under `cluster`
 * (node_net_cluster.js), or not at all (Node net and http alone, uWebSockets.js, Twisted:
 * skipped past one process' worth).
 */
const fs = require("node:fs");
const path = require("node:path");
const { PEERS, prepareNginxFor } = require("../peers/registry");
const { STATIC_ROOT } = require("../peers/static_tree");
const { ROOT } = require("../lib/build");

/** How each peer of the registry scales past one process. */
const SCALING = {
  "c-reference": { scaling: "reuseport" },
  nginx: { scaling: "workers", withProcs: nginxWithProcs, label: "nginx (workers: see procs)" },
};

/** Peers of the registry each scenario runs by default (the rest only with --peers). */
const DEFAULT_PEERS = {
  echo: ["c-reference", "node-net", "twisted"],
  http: ["c-reference", "node-net", "node-http", "uws", "twisted-web", "nginx"],
  static: ["node-http-static", "uws", "twisted-web", "nginx"],
};

/** The usual baseline of each scenario (--baseline's default): the Node peer a user would write. */
const BASELINE = { echo: "node-net", http: "node-net", static: "node-http-static" };

/**
 * The peer that takes the baseline's place at a connection count one process cannot hold:
 * the same Node server under `cluster` (bench/c10k/node_net_cluster.js).
 */
const CLUSTER_BASELINE = { echo: "node-net-cluster", http: "node-net-cluster", static: "node-http-static-cluster" };

/** The backends this build of the addon has, or [] when it is not built. */
function builtBackends() {
  try {
    const { native } = require(path.join(ROOT, "dist/lib/native.js"));
    return native.backends();
  } catch {
    return [];
  }
}

/** null when the compiled library the fdreactor server and the load generator need is there. */
function checkDist() {
  const need = ["dist/lib/reactor/index.js", "dist/lib/net/index.js", "dist/lib/protocols/protocol.js", "dist/lib/web/index.js"];
  const missing = need.filter((f) => !fs.existsSync(path.join(ROOT, f)));
  return missing.length ? `${missing.join(", ")} missing: run npx tsc -p tsconfig.json first` : null;
}

/** The name of fdreactor's entry for a backend and run mode: "fdreactor", "fdreactor-exclusive", "fdreactor-poll-exclusive". */
function fdreactorName(backend, mode) {
  return ["fdreactor", backend === "epoll" ? null : backend, mode === "integrated" ? null : mode].filter(Boolean).join("-");
}

/** fdreactor's C10K server as a registry-style spec for one backend and run mode. */
function fdreactorSpec(backend, mode) {
  return {
    name: fdreactorName(backend, mode),
    label: `fdreactor (${backend}, ${mode})`,
    modes: ["echo", "http", "static"],
    cmd: process.execPath,
    args: [path.join(__dirname, "fdreactor_server.js"), "{mode}", "{port}"],
    env: { FDREACTOR_BACKEND: backend, FDREACTOR_MODE: mode, FDREACTOR_STATIC_ROOT: STATIC_ROOT },
    ready: "stdout",
    scaling: "reuseport",
    check: () => {
      const missing = checkDist();
      if (missing) return missing;
      const have = builtBackends();
      if (!have.includes(backend)) return `backend ${backend} is not in this build (it has: ${have.join(", ") || "none"})`;
      if (mode === "integrated" && backend !== "epoll" && backend !== "io_uring" && backend !== "kqueue") return `backend ${backend} has no pollable fd: run it with --fd-modes exclusive`;
      if (backend === "select") return "select holds at most FD_SETSIZE (1024) fds: it cannot serve C10K";
      return null;
    },
  };
}

/** An io_uring entry run with `env` on top, named "fdreactor-io_uring-<tag>[-exclusive]". */
function variantSpec(spec, tag, env) {
  const name = spec.name.replace("io_uring", `io_uring-${tag}`);
  return { ...spec, name, label: spec.label.replace(", ", `, ${tag}, `), env: { ...spec.env, ...env } };
}

/** An io_uring entry whose port accepts with readiness and accept4 (acceptByPoller: false): "fdreactor-io_uring-accept4[-exclusive]". */
function accept4Spec(spec) {
  return variantSpec(spec, "accept4", { FDREACTOR_ACCEPT_BY_POLLER: "0" });
}

/** An io_uring entry whose connections read through its buffer ring (recvRing: 64), not readiness: "fdreactor-io_uring-completion[-exclusive]". */
function completionSpec(spec) {
  return variantSpec(spec, "completion", { FDREACTOR_RECV_RING: "64" });
}

/** An io_uring entry that names watched fds by registered-file slot (fixedFiles: true): "fdreactor-io_uring-fixed[-exclusive]". */
function fixedSpec(spec) {
  return variantSpec(spec, "fixed", { FDREACTOR_FIXED_FILES: "1" });
}

/**
 * An entry run from another checkout's fdreactor (its bench/c10k/fdreactor_server.js, so its
 * dist/ and its addon): "fdreactor[-<backend>]-base[-exclusive]", for an old build measured
 * in the same run as this one. FDREACTOR_BENCH_BASE names the checkout (built: npm ci, tsc).
 */
function baseSpec(spec, checkout) {
  const name = spec.name.endsWith("-exclusive") ? `${spec.name.slice(0, -"-exclusive".length)}-base-exclusive` : `${spec.name}-base`;
  const args = [path.join(checkout, "bench", "c10k", "fdreactor_server.js"), ...spec.args.slice(1)];
  return { ...spec, name, label: spec.label.replace("(", "(base build, "), args };
}

/**
 * The spec to start for `serverSpec` at `procs` processes of about `perProcess`
 * connections: SO_REUSEPORT specs (started `procs` times) get "--reuseport" when procs > 1;
 * "workers" specs (started once) say themselves how, through withProcs().
 */
function specForProcs(serverSpec, procs, perProcess) {
  if (serverSpec.scaling === "reuseport" && procs > 1) return { ...serverSpec, args: [...serverSpec.args, "--reuseport"] };
  if (serverSpec.scaling === "workers") return serverSpec.withProcs(procs, perProcess);
  return serverSpec;
}

/** nginx at `procs` workers with room for `perProcess` connections each. */
function nginxWithProcs(procs, perProcess) {
  // Headroom over the worker's share: SO_REUSEPORT spreads by hash, not evenly, and a worker
  // short of free connections closes idle keep-alive ones (the active ones between two
  // paced requests among them: 832 closed at 100k with 1,000 spare).
  const workerConnections = Math.min(19900, perProcess + 3000);
  return { ...this, prepare: (vars) => prepareNginxFor({ ...vars, workers: procs, workerConnections }) };
}

/** Node net under the cluster module (round-robin), one worker per `perProcess` connections. */
const NODE_NET_CLUSTER = {
  name: "node-net-cluster",
  label: "Node net (cluster)",
  modes: ["echo", "http"],
  cmd: process.execPath,
  args: [path.join(__dirname, "node_net_cluster.js"), "{mode}", "{port}", "1"],
  ready: "stdout",
  scaling: "workers",
  withProcs(procs) {
    return { ...this, args: [...this.args.slice(0, -1), String(procs)] };
  },
  check: () => null,
};

/** Node http + fs.createReadStream (bench/peers/node_http_static.js) under cluster, on the static files. */
const NODE_STATIC_CLUSTER = {
  name: "node-http-static-cluster",
  label: "Node http + createReadStream (cluster)",
  modes: ["static"],
  cmd: process.execPath,
  args: [path.join(__dirname, "node_net_cluster.js"), "{mode}", "{port}", "1", STATIC_ROOT],
  ready: "stdout",
  scaling: "workers",
  withProcs(procs) {
    return { ...this, args: [...this.args.slice(0, 3), String(procs), STATIC_ROOT] };
  },
  check: () => null,
};

/**
 * Every server the scenario can run: the registry's peers for that mode (with their
 * scaling), then fdreactor in each backend × run mode. Returns specs.
 */
function c10kServers(scenario, { backends = ["epoll"], runModes = ["integrated", "exclusive"] } = {}) {
  const peers = [...PEERS, NODE_NET_CLUSTER, NODE_STATIC_CLUSTER]
    .filter((p) => p.modes.includes(scenario))
    .map((p) => ({ scaling: null, ...p, ...(SCALING[p.name] || {}), optional: !DEFAULT_PEERS[scenario].includes(p.name) }));
  const ours = [];
  for (const b of backends) for (const m of runModes) ours.push({ ...fdreactorSpec(b, m), optional: false });
  // io_uring with readiness + accept4 instead of multishot accept: run when named in --peers.
  if (backends.includes("io_uring")) for (const m of runModes) ours.push({ ...accept4Spec(fdreactorSpec("io_uring", m)), optional: true });
  // io_uring reading through its buffer ring instead of readiness: run when named in --peers.
  if (backends.includes("io_uring")) for (const m of runModes) ours.push({ ...completionSpec(fdreactorSpec("io_uring", m)), optional: true });
  // io_uring naming watched fds through its registered-file table: run when named in --peers.
  if (backends.includes("io_uring")) for (const m of runModes) ours.push({ ...fixedSpec(fdreactorSpec("io_uring", m)), optional: true });
  // The same entries from an older checkout (FDREACTOR_BENCH_BASE): run when named in --peers.
  const base = process.env.FDREACTOR_BENCH_BASE;
  if (base) for (const b of backends) for (const m of runModes) ours.push({ ...baseSpec(fdreactorSpec(b, m), base), optional: true });
  return [...peers, ...ours];
}

module.exports = { c10kServers, specForProcs, BASELINE, CLUSTER_BASELINE };
