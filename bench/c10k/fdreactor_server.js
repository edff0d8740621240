"use strict";
/**
 * fdreactor's server for the C10K harness: `node fdreactor_server.js echo|http PORT [--reuseport]`.
 * echo: a Protocol whose dataReceived writes the bytes back (the slab view, no copy).
 * http: a lib/web Site answering every `GET /` with 200, text/plain, "Hello, World!".
 * --reuseport sets SO_REUSEPORT so that several of these processes share the port (one
 * process holds at most 20,000 fds here; run.js starts several past ~18,000 connections).
 * Environment: FDREACTOR_BACKEND (default: the best of this build), FDREACTOR_MODE
 * ("integrated" or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library (dist/, built by `npx tsc -p tsconfig.json`).
 */
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const { Reactor } = require(path.join(ROOT, "dist/lib/reactor/index.js"));
const { listenTCP } = require(path.join(ROOT, "dist/lib/net/index.js"));
const { Factory, Protocol } = require(path.join(ROOT, "dist/lib/protocols/protocol.js"));
const { native } = require(path.join(ROOT, "dist/lib/native.js"));

const [mode, portArg, ...flags] = process.argv.slice(2);
if ((mode !== "echo" && mode !== "http") || flags.some((f) => f !== "--reuseport")) {
  process.stderr.write("usage: node fdreactor_server.js echo|http PORT [--reuseport]\n");
  process.exit(2);
}
const reusePort = flags.includes("--reuseport");

// Hold as many connections as the hard limit allows.
{
  const lim = native.getNofileLimit();
  if (lim.soft < lim.hard) native.setNofileLimit(lim.hard);
}

/** Writes every byte back. */
class Echo extends Protocol {
  connectionMade() {
    this.transport.setTcpNoDelay(true);
  }
  dataReceived(data) {
    this.transport.write(data);
  }
}

/** The factory of `mode`: the echo protocol, or a web Site with the hello-world resource. */
function makeFactory() {
  if (mode === "echo") return Factory.forProtocol(Echo);
  const { Site, Resource } = require(path.join(ROOT, "dist/lib/web/index.js"));
  class Hello extends Resource {
    constructor() {
      super();
      this.isLeaf = true;
    }
    render_GET(request) {
      request.setHeader("Content-Type", "text/plain");
      return "Hello, World!";
    }
  }
  return new Site(new Hello(), { reactor, idleTimeout: 600 });
}

const reactor = new Reactor({
  backend: process.env.FDREACTOR_BACKEND || undefined,
  mode: process.env.FDREACTOR_MODE || undefined,
});
reactor.callWhenRunning(() => {
  const port = listenTCP(reactor, Number(portArg) || 0, makeFactory(), { interface: "127.0.0.1", backlog: 4096, reusePort });
  process.stdout.write(`READY ${port.getHost().port}\n`);
});
process.on("SIGTERM", () => {
  if (reactor.running) reactor.stop();
  else process.exit(0);
});
// A shutdown that walks 18,000 connections may take a moment; the harness waits 3 s, then SIGKILLs.
reactor.run().then(() => process.exit(0));
