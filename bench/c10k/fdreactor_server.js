"use strict";
/**
 * fdreactor's server for the C10K harness: `node fdreactor_server.js echo|http|static PORT [--reuseport]`.
 * echo: a Protocol whose dataReceived writes the bytes back (the slab view, no copy).
 * http: a lib/web Site answering every `GET /` with 200, text/plain, "Hello, World!".
 * static: a lib/web Site whose root is a static.File (sendfile, open-file cache of 64) on
 * the directory FDREACTOR_STATIC_ROOT names.
 * --reuseport sets SO_REUSEPORT so that several of these processes share the port (one
 * process holds at most 20,000 fds here; run.js starts several past ~18,000 connections).
 * Environment: FDREACTOR_BACKEND (default: the best of this build), FDREACTOR_MODE
 * ("integrated" or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library (dist/, built by `npx tsc -p tsconfig.json`). The protocol, the
 * Site and the reactor run are bench/lib/fdreactor_server.js's, shared with bench/echo and bench/http.
 */
const { dist, echoFactory, helloSite, staticSite, serve } = require("../lib/fdreactor_server");

const { listenTCP } = dist("net/index.js");
const { native } = dist("native.js");

const [mode, portArg, ...flags] = process.argv.slice(2);
if (!["echo", "http", "static"].includes(mode) || flags.some((f) => f !== "--reuseport") || (mode === "static" && !process.env.FDREACTOR_STATIC_ROOT)) {
  process.stderr.write("usage: node fdreactor_server.js echo|http|static PORT [--reuseport] (static: FDREACTOR_STATIC_ROOT=DIR)\n");
  process.exit(2);
}
const reusePort = flags.includes("--reuseport");

// Hold as many connections as the hard limit allows.
{
  const lim = native.getNofileLimit();
  if (lim.soft < lim.hard) native.setNofileLimit(lim.hard);
}

// A shutdown that walks 18,000 connections may take a moment; the harness waits 3 s, then SIGKILLs.
serve((reactor) => {
  const factory = mode === "echo" ? echoFactory() : mode === "static" ? staticSite(reactor, process.env.FDREACTOR_STATIC_ROOT, 600) : helloSite(reactor, 600);
  return listenTCP(reactor, Number(portArg) || 0, factory, { interface: "127.0.0.1", backlog: 4096, reusePort });
});
