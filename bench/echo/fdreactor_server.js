"use strict";
/**
 * fdreactor's echo server for the bench harness: `node fdreactor_server.js echo PORT`.
 * A Twisted-style Protocol whose dataReceived writes the bytes back (the slab view goes
 * straight into the write queue: no copy), TCP_NODELAY on like the C and Node peers.
 * Environment: FDREACTOR_BACKEND (default: best of this build), FDREACTOR_MODE
 * ("integrated", the default, or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library: `npx tsc -p tsconfig.json` (→ dist/). The protocol and the
 * reactor run are bench/lib/fdreactor_server.js's, shared with bench/http and bench/c10k.
 */
const { dist, echoFactory, serve } = require("../lib/fdreactor_server");

const [mode, portArg] = process.argv.slice(2);
if (mode !== "echo") {
  process.stderr.write("usage: node fdreactor_server.js echo PORT   (only the echo workload is served here)\n");
  process.exit(2);
}

dist("net/index.js"); // installs reactor.listenTCP
serve((reactor) => reactor.listenTCP(Number(portArg) || 0, echoFactory(), { interface: "127.0.0.1", backlog: 4096 }));
