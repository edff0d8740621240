"use strict";
/**
 * fdreactor's echo server for the bench harness: `node fdreactor_server.js echo PORT`.
 * A Twisted-style Protocol whose dataReceived writes the bytes back (the slab view goes
 * straight into the write queue: no copy), TCP_NODELAY on like the C and Node peers.
 * Environment: FDREACTOR_BACKEND (default: best of this build), FDREACTOR_MODE
 * ("integrated", the default, or "exclusive"). Prints "READY <port>"; exits on SIGTERM.
 * Needs the compiled library: `npx tsc -p tsconfig.json` (→ dist/).
 */
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const { Reactor } = require(path.join(ROOT, "dist/lib/reactor/index.js"));
require(path.join(ROOT, "dist/lib/net/index.js")); // installs reactor.listenTCP
const { Factory, Protocol } = require(path.join(ROOT, "dist/lib/protocols/protocol.js"));

const [mode, portArg] = process.argv.slice(2);
if (mode !== "echo") {
  process.stderr.write("usage: node fdreactor_server.js echo PORT   (only the echo workload is served here)\n");
  process.exit(2);
}

class Echo extends Protocol {
  connectionMade() {
    this.transport.setTcpNoDelay(true);
  }
  dataReceived(data) {
    this.transport.write(data);
  }
}

const reactor = new Reactor({
  backend: process.env.FDREACTOR_BACKEND || undefined,
  mode: process.env.FDREACTOR_MODE || undefined,
});
reactor.callWhenRunning(() => {
  const port = reactor.listenTCP(Number(portArg) || 0, Factory.forProtocol(Echo), { interface: "127.0.0.1", backlog: 4096 });
  process.stdout.write(`READY ${port.getHost().port}\n`);
});
process.on("SIGTERM", () => {
  if (reactor.running) reactor.stop();
  else process.exit(0);
});
reactor.run().then(() => process.exit(0));
