"use strict";
/**
 * fdreactor's HTTP server for the bench harness: `node fdreactor_server.js http PORT`.
 * A lib/web Site whose handler answers every request with status 200, Content-Type
 * text/plain and the 13-byte body "Hello, World!" (plus the Date header every Site sends),
 * keep-alive, written in one transport write.
 * Environment: FDREACTOR_BACKEND (default: best of this build), FDREACTOR_MODE
 * ("integrated", the default, or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library: `npx tsc -p tsconfig.json` (→ dist/).
 */
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const { Reactor } = require(path.join(ROOT, "dist/lib/reactor/index.js"));
const { listenTCP } = require(path.join(ROOT, "dist/lib/net/index.js"));
const { Site, Resource } = require(path.join(ROOT, "dist/lib/web/index.js"));

const [mode, portArg] = process.argv.slice(2);
if (mode !== "http") {
  process.stderr.write("usage: node fdreactor_server.js http PORT\n");
  process.exit(2);
}

const BODY = "Hello, World!";

/** The root resource: text/plain hello world for GET. */
class Hello extends Resource {
  constructor() {
    super();
    this.isLeaf = true;
  }
  render_GET(request) {
    request.setHeader("Content-Type", "text/plain");
    return BODY;
  }
}

const reactor = new Reactor({
  backend: process.env.FDREACTOR_BACKEND || undefined,
  mode: process.env.FDREACTOR_MODE || undefined,
});
reactor.callWhenRunning(() => {
  const site = new Site(new Hello(), { reactor, idleTimeout: 120 });
  const port = listenTCP(reactor, Number(portArg) || 0, site, { interface: "127.0.0.1", backlog: 4096 });
  process.stdout.write(`READY ${port.getHost().port}\n`);
});
process.on("SIGTERM", () => {
  if (reactor.running) reactor.stop();
  else process.exit(0);
});
reactor.run().then(() => process.exit(0));
