"use strict";
/**
 * fdreactor's HTTP server for the bench harness: `node fdreactor_server.js http PORT`.
 * A lib/web Site whose handler answers every request with status 200, Content-Type
 * text/plain and the 13-byte body "Hello, World!" (plus the Date header every Site sends),
 * keep-alive, written in one transport write (bench/lib/fdreactor_server.js helloSite).
 * Environment: FDREACTOR_BACKEND (default: best of this build), FDREACTOR_MODE
 * ("integrated", the default, or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library: `npx tsc -p tsconfig.json` (→ dist/).
 */
const { dist, helloSite, serve } = require("../lib/fdreactor_server");

const [mode, portArg] = process.argv.slice(2);
if (mode !== "http") {
  process.stderr.write("usage: node fdreactor_server.js http PORT\n");
  process.exit(2);
}

const { listenTCP } = dist("net/index.js");
serve((reactor) => listenTCP(reactor, Number(portArg) || 0, helloSite(reactor, 120), { interface: "127.0.0.1", backlog: 4096 }));
