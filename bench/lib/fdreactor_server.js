"use strict";
/**
 * What fdreactor's servers under test (bench/echo, bench/http and bench/c10k
 * fdreactor_server.js) share: the compiled library (dist/, built by `npx tsc -p
 * tsconfig.json`), the echo protocol, the hello-world Site, and a reactor run the way the
 * harness expects: backend and mode from FDREACTOR_BACKEND / FDREACTOR_MODE, "READY <port>"
 * once listening, stopped by SIGTERM.
 */
const path = require("node:path");

/** The repository root (two folders above this file). */
const ROOT = path.resolve(__dirname, "..", "..");

/** The module dist/lib/`rel` of the compiled library. */
function dist(rel) {
  return require(path.join(ROOT, "dist", "lib", rel));
}

/** A factory of a Protocol that writes every byte back (the slab view, no copy), with TCP_NODELAY. */
function echoFactory() {
  const { Factory, Protocol } = dist("protocols/protocol.js");
  /** Writes every byte back. */
  class Echo extends Protocol {
    connectionMade() {
      this.transport.setTcpNoDelay(true);
    }
    dataReceived(data) {
      this.transport.write(data);
    }
  }
  return Factory.forProtocol(Echo);
}

/** A lib/web Site on `reactor` answering every GET with 200, text/plain and "Hello, World!"; idle connections close after `idleTimeout` s. */
function helloSite(reactor, idleTimeout) {
  const { Site, Resource } = dist("web/index.js");
  /** The root resource: text/plain hello world for GET. */
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
  return new Site(new Hello(), { reactor, idleTimeout });
}

/** A lib/web Site on `reactor` serving the files under `dir` with static.File and its open-file cache (64 files); idle connections close after `idleTimeout` s. */
function staticSite(reactor, dir, idleTimeout) {
  const { Site, File } = dist("web/index.js");
  return new Site(new File(dir, { maxCachedFiles: 64 }), { reactor, idleTimeout });
}

/**
 * Runs a reactor of the backend and mode the environment names (FDREACTOR_RECV_RING, when
 * set, is the io_uring recvRing option: 64 reads through the buffer ring, 0 readiness;
 * FDREACTOR_FIXED_FILES=1 turns io_uring's registered files on); once it runs, `listen(reactor)`
 * returns the listening port and "READY <port>" is printed. SIGTERM stops the reactor (or exits
 * when it is not running); the process exits 0 when the reactor has stopped.
 */
function serve(listen) {
  const { Reactor } = dist("reactor/index.js");
  const reactor = new Reactor({
    backend: process.env.FDREACTOR_BACKEND || undefined,
    mode: process.env.FDREACTOR_MODE || undefined,
    // "0": io_uring ports accept with readiness and accept4, not multishot accept (a bench variant).
    acceptByPoller: process.env.FDREACTOR_ACCEPT_BY_POLLER !== "0",
    recvRing: process.env.FDREACTOR_RECV_RING ? Number(process.env.FDREACTOR_RECV_RING) : undefined,
    // "1": io_uring names watched fds by registered-file slot (a bench variant).
    fixedFiles: process.env.FDREACTOR_FIXED_FILES === "1",
  });
  reactor.callWhenRunning(() => {
    const port = listen(reactor);
    process.stdout.write(`READY ${port.getHost().port}\n`);
  });
  process.on("SIGTERM", () => {
    if (reactor.running) reactor.stop();
    else process.exit(0);
  });
  reactor.run().then(() => process.exit(0));
}

module.exports = { dist, echoFactory, helloSite, staticSite, serve };
