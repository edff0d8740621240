"use strict";
/**
 * The servers the benchmarks know. Each entry is a spec:
 *
 *   {
 *     name:    "node-net",                 // unique, used by --peers
 *     label:   "Node net (libuv)",          // shown in tables
 *     modes:   ["echo", "http"],            // workloads it can serve
 *     optionalIn: ["http"],                 // modes where it runs only when asked (--peers)
 *     cmd:     process.execPath,            // program (or ({mode, port, ...}) => program)
 *     args:    ["{root}/bench/peers/node_net.js", "{mode}", "{port}"],
 *                                           // "{port}", "{mode}", "{root}" and whatever
 *                                           // prepare() returns are filled in (or a function)
 *     env:     {},                          // added to the environment
 *     ready:   "stdout",                    // "stdout": waits for "READY <port>";
 *                                           // "connect": waits until the port accepts
 *     check:   () => null | "why not + how to install",  // availability, cheap
 *     prepare: ({mode, port}) => ({...}),   // optional: build, write configs, extra vars
 *     cleanup: (vars) => {},                 // optional: undo prepare() once it has stopped
 *   }
 *
 * The harness runs each one as its own process pinned to CPU 0 (taskset -c 0) on a port it
 * chose, checks its answer bytes once, measures it, and stops it by PID. A spec whose
 * check() fails is listed as skipped with its reason; none is silently left out.
 */
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { ROOT, haveCompiler, ensureBuilt } = require("../lib/build");
const { nginxBinary, prepareNginx, cleanupNginx } = require("./nginx");
const { STATIC_ROOT } = require("./static_tree");

const PYTHON = "/usr/bin/python3";

/** null when Debian's python3-twisted (with epollreactor) can be imported by /usr/bin/python3. */
function checkTwisted() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} missing: apt-get install python3 python3-twisted`;
  try {
    execFileSync(PYTHON, ["-c", "import twisted.internet.epollreactor, twisted.web.server"], { stdio: "ignore" });
    return null;
  } catch {
    return "python3-twisted not installed: apt-get install python3-twisted";
  }
}

/** null when the uWebSockets.js package and its native binary for this Node are present. */
function checkUws() {
  let dir;
  try {
    dir = path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json"));
  } catch {
    return "uWebSockets.js missing: npm install (devDependency @trufflesuite/uws-js-unofficial)";
  }
  const bin = path.join(dir, "binaries", `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  return fs.existsSync(bin) ? null : `uWebSockets.js has no binary for this Node (ABI ${process.versions.modules}): ${bin}`;
}

const nodeScript = (file) => [path.join(ROOT, "bench", "peers", file), "{mode}", "{port}"];

/** `file` run as "MODE PORT", plus the static workload's directory in mode static. */
const withStaticRoot = (file) => (vars) => [path.join(ROOT, "bench", "peers", file), vars.mode, String(vars.port), ...(vars.mode === "static" ? [STATIC_ROOT] : [])];

/** nginx's config for `vars` (port, mode, and the C10K harness' workers): the static workload serves STATIC_ROOT. */
const prepareNginxFor = (vars) => prepareNginx({ ...vars, staticRoot: vars.mode === "static" ? STATIC_ROOT : null });

/** The peers: what a user would pick instead of fdreactor. */
const PEERS = [
  {
    name: "c-reference",
    label: "C epoll reference",
    modes: ["echo", "http"],
    cmd: ({ bin }) => bin,
    args: ["{mode}", "{port}"],
    ready: "stdout",
    check: () => (haveCompiler() ? null : "no C compiler: apt-get install gcc libc6-dev"),
    prepare: () => ({ bin: ensureBuilt("c_reference") }),
  },
  {
    name: "node-net",
    label: "Node net",
    modes: ["echo", "http"],
    optionalIn: ["http"],
    cmd: process.execPath,
    args: nodeScript("node_net.js"),
    ready: "stdout",
    check: () => null,
  },
  {
    name: "node-http",
    label: "Node http",
    modes: ["http"],
    cmd: process.execPath,
    args: nodeScript("node_http.js"),
    ready: "stdout",
    check: () => null,
  },
  {
    name: "node-http-static",
    label: "Node http + createReadStream",
    modes: ["static"],
    cmd: process.execPath,
    args: withStaticRoot("node_http_static.js"),
    ready: "stdout",
    check: () => null,
  },
  {
    name: "uws",
    label: "uWebSockets.js",
    modes: ["http", "static"],
    cmd: process.execPath,
    args: withStaticRoot("uws_http.js"),
    ready: "stdout",
    check: checkUws,
  },
  {
    name: "twisted",
    label: "Twisted raw Protocol (epoll)",
    modes: ["echo", "http"],
    optionalIn: ["http"],
    cmd: PYTHON,
    args: [path.join(ROOT, "bench", "peers", "twisted_raw.py"), "{mode}", "{port}"],
    ready: "stdout",
    check: checkTwisted,
  },
  {
    name: "twisted-web",
    label: "Twisted web (epoll)",
    modes: ["http", "static"],
    cmd: PYTHON,
    args: (vars) => [path.join(ROOT, "bench", "peers", "twisted_web.py"), vars.mode, String(vars.port), ...(vars.mode === "static" ? [STATIC_ROOT] : [])],
    ready: "stdout",
    check: checkTwisted,
  },
  {
    name: "nginx",
    label: "nginx (1 worker)",
    modes: ["http", "static"],
    cmd: () => nginxBinary(),
    args: ["-p", "{dir}", "-c", "{conf}", "-e", "{dir}/error.log"],
    ready: "connect",
    check: () => (nginxBinary() ? null : "nginx not installed: apt-get install nginx-light"),
    prepare: prepareNginxFor,
    cleanup: cleanupNginx,
  },
];

// ───────────────────────────── fdreactor servers: add entries here ─────────────────────────────
// One entry per run mode / backend worth comparing, made by fdreactorServer below, e.g.
//   fdreactorServer({ name: "fdreactor-poll", label: "fdreactor (poll, integrated)", workload: "echo", runMode: "integrated", backend: "poll" })
// runs bench/<workload>/fdreactor_server.js with FDREACTOR_BACKEND / FDREACTOR_MODE set, checked
// by distCheck for the compiled files it loads. A script of its own must print "READY <port>"
// once listening on 127.0.0.1:<port> and exit on SIGTERM.

/** A check that is null when every compiled file of `need` (repo-relative) exists, else what is missing and how to build it. */
function distCheck(need) {
  return () => {
    const missing = need.filter((f) => !fs.existsSync(path.join(ROOT, f)));
    return missing.length === 0 ? null : `${missing.join(", ")} missing: run npx tsc -p tsconfig.json first`;
  };
}

/** What each workload's fdreactor server loads from dist/. */
const DIST_NEEDS = {
  echo: distCheck(["dist/lib/net/index.js", "dist/lib/reactor/index.js", "dist/lib/protocols/protocol.js"]),
  http: distCheck(["dist/lib/web/index.js"]),
};

/**
 * An fdreactor server entry: bench/<workload>/fdreactor_server.js in one run mode, on one
 * backend; from the checkout `root` (default this one: another one's script loads its own
 * dist/ and addon). `optional`: runs only when named in --peers.
 */
function fdreactorServer({ name, label, workload, runMode, backend = "epoll", root = ROOT, optional = false }) {
  return {
    name,
    label,
    modes: [workload],
    ...(optional ? { optionalIn: [workload] } : {}),
    cmd: process.execPath,
    args: [path.join(root, "bench", workload, "fdreactor_server.js"), "{mode}", "{port}"],
    env: { FDREACTOR_BACKEND: backend, FDREACTOR_MODE: runMode },
    ready: "stdout",
    check: DIST_NEEDS[workload],
  };
}

const FDREACTOR = [
  // lib/net echo (issue 5): the same script in each run mode of the reactor, on epoll.
  fdreactorServer({ name: "fdreactor", label: "fdreactor (epoll, integrated)", workload: "echo", runMode: "integrated" }),
  fdreactorServer({ name: "fdreactor-exclusive", label: "fdreactor (epoll, exclusive)", workload: "echo", runMode: "exclusive" }),
  // lib/web Site (issue 6): bench/http/fdreactor_server.js in each run mode, on epoll.
  fdreactorServer({ name: "fdreactor-web", label: "fdreactor web Site (epoll, integrated)", workload: "http", runMode: "integrated" }),
  fdreactorServer({ name: "fdreactor-web-exclusive", label: "fdreactor web Site (epoll, exclusive)", workload: "http", runMode: "exclusive" }),
  // The web Site on io_uring (issue 18), when named in --peers.
  fdreactorServer({ name: "fdreactor-web-io_uring", label: "fdreactor web Site (io_uring, integrated)", workload: "http", runMode: "integrated", backend: "io_uring", optional: true }),
];
// An older build measured in the same run (FDREACTOR_BENCH_BASE: another built checkout), when named in --peers.
const BASE = process.env.FDREACTOR_BENCH_BASE;
if (BASE) {
  for (const backend of ["epoll", "io_uring"]) {
    const tag = backend === "epoll" ? "" : `-${backend}`;
    FDREACTOR.push(
      fdreactorServer({ name: `fdreactor-web${tag}-base`, label: `fdreactor web Site (base build, ${backend}, integrated)`, workload: "http", runMode: "integrated", backend, root: BASE, optional: true }),
    );
  }
}
// ────────────────────────────────────────────────────────────────────────────────────────────────

/** Every known server, peers first, then fdreactor's entries. */
const SERVERS = [...PEERS, ...FDREACTOR];

/** The spec named `name`, or undefined. */
function findServer(name) {
  return SERVERS.find((s) => s.name === name);
}

module.exports = { SERVERS, PEERS, FDREACTOR, findServer, checkTwisted, checkUws, prepareNginxFor, PYTHON };
