"use strict";
/**
 * The TLS servers of bench/tls, each serving the 13-byte hello world over TLS 1.3 with
 * the certificate and suite of certs.js (specs as in bench/peers/registry.js; the mode is
 * the benchmark's kind, every one of which is HTTPS here), and the check made once before
 * each is measured: two pipelined GETs over a verifying Node `tls` client that offers only
 * that suite, answered 200 "Hello, World!", with the protocol and cipher it negotiated.
 */
const fs = require("node:fs");
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const tls = require("node:tls");
const { ROOT, haveCompiler } = require("../lib/build");
const { verifyHttp } = require("../lib/verify");
const { checkTwisted, checkUws, PYTHON } = require("../peers/registry");
const { nginxBinary, prepareNginx, cleanupNginx } = require("../peers/nginx");
const { SUITE, GROUP, benchCertificate, haveOpenssl } = require("./certs");

/** The benchmarks this file's servers take part in. */
const MODES = ["https", "handshakes", "idle"];

/** The certificate files as template variables (made on first use). */
function certVars() {
  const { cert, key } = benchCertificate();
  return { cert, key, suite: SUITE, group: GROUP };
}

/** null when the certificate can be made and the load client built. */
function checkTools() {
  if (!haveOpenssl()) return "the openssl command is missing: apt-get install openssl";
  if (!haveCompiler()) return "no C compiler: apt-get install gcc libc6-dev";
  if (!fs.existsSync("/usr/include/openssl/ssl.h")) return "OpenSSL headers missing for bench/peers/tls_client.c: apt-get install libssl-dev";
  return null;
}

/** The first reason among `checks` not to run, or null. */
const all = (...checks) => () => checks.reduce((why, c) => why || c(), null);

const nodeArgs = ["{root}/bench/peers/node_http.js", "https", "{port}", "{cert}", "{key}", "{suite}", "{group}"];

/** The peers over TLS. */
const TLS_PEERS = [
  { name: "node-https", label: "Node https", modes: MODES, cmd: process.execPath, args: nodeArgs, ready: "stdout", check: checkTools, prepare: certVars },
  {
    name: "uws-ssl",
    label: "uWebSockets.js SSLApp",
    modes: MODES,
    cmd: process.execPath,
    args: ["{root}/bench/peers/uws_http.js", "https", "{port}", "{cert}", "{key}"],
    ready: "stdout",
    check: all(checkTools, checkUws),
    prepare: certVars,
  },
  {
    name: "nginx-ssl",
    label: "nginx ssl (1 worker)",
    modes: MODES,
    cmd: () => nginxBinary(),
    args: ["-p", "{dir}", "-c", "{conf}", "-e", "{dir}/error.log"],
    ready: "connect",
    check: all(checkTools, () => (nginxBinary() ? null : "nginx not installed: apt-get install nginx-light")),
    prepare: ({ port }) => prepareNginx({ port, tls: certVars(), workerConnections: 20000 - 64 }),
    cleanup: cleanupNginx,
  },
  {
    name: "twisted-ssl",
    label: "Twisted web listenSSL (epoll)",
    modes: MODES,
    cmd: PYTHON,
    args: [path.join(ROOT, "bench", "peers", "twisted_web.py"), "https", "{port}", "{cert}", "{key}"],
    ready: "stdout",
    check: all(checkTools, checkTwisted, checkPyOpenssl),
    prepare: certVars,
  },
];

/** null when Twisted's TLS (python3-openssl, python3-service-identity) imports. */
function checkPyOpenssl() {
  try {
    execFileSync(PYTHON, ["-c", "import OpenSSL, service_identity, twisted.internet.ssl"], { stdio: "ignore" });
    return null;
  } catch {
    return "Twisted TLS missing: apt-get install python3-openssl python3-service-identity";
  }
}

/** null when dist/ holds a compiled library with listenSSL. */
function checkDistSSL() {
  const file = path.join(ROOT, "dist", "lib", "net", "index.js");
  if (!fs.existsSync(file)) return "dist/lib/net/index.js missing: run npx tsc -p tsconfig.json first";
  try {
    return typeof require(file).listenSSL === "function" ? null : "dist/ has no listenSSL: rebuild with npx tsc -p tsconfig.json";
  } catch (err) {
    return `dist/lib/net/index.js does not load: ${err.message.split("\n")[0]}`;
  }
}

/** fdreactor's Site over listenSSL (bench/tls/fdreactor_server.js), in each run mode on epoll. */
const FDREACTOR_TLS = ["integrated", "exclusive"].map((runMode) => ({
  name: runMode === "integrated" ? "fdreactor-ssl" : "fdreactor-ssl-exclusive",
  label: `fdreactor Site listenSSL (epoll, ${runMode})`,
  modes: MODES,
  optionalIn: runMode === "exclusive" ? MODES : [],
  cmd: process.execPath,
  args: ["{root}/bench/tls/fdreactor_server.js", "https", "{port}", "{cert}", "{key}"],
  env: { FDREACTOR_BACKEND: "epoll", FDREACTOR_MODE: runMode },
  ready: "stdout",
  check: all(checkTools, checkDistSSL),
  prepare: certVars,
}));

/** Every TLS server, peers first. */
const TLS_SERVERS = [...TLS_PEERS, ...FDREACTOR_TLS];

/** A verifying Node `tls` socket to 127.0.0.1:port that offers only SUITE and GROUP; `seen` gets what was negotiated. */
function benchTlsConnect(port, seen = {}) {
  const sock = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: fs.readFileSync(benchCertificate().cert), minVersion: "TLSv1.3", ciphers: SUITE, ecdhCurve: GROUP });
  sock.once("secureConnect", () => {
    seen.protocol = sock.getProtocol();
    seen.cipher = sock.getCipher().standardName;
  });
  return sock;
}

/** verifyHttp over TLS; also checks TLS 1.3 and SUITE were negotiated and returns them. */
async function verifyHttps(port) {
  const seen = {};
  const answer = await verifyHttp(port, (p) => benchTlsConnect(p, seen));
  if (seen.protocol !== "TLSv1.3" || seen.cipher !== SUITE) throw new Error(`negotiated ${seen.protocol} ${seen.cipher}, not TLSv1.3 ${SUITE}`);
  return { ...answer, ...seen };
}

module.exports = { TLS_SERVERS, TLS_PEERS, MODES, verifyHttps, benchTlsConnect, certVars };
