"use strict";
/**
 * The echo server of examples/echo-server as the platform bench runs it: fdreactor's
 * Reactor + TCP transport + a Protocol writing back what it receives, on one chosen poller
 * backend, in exclusive mode for every backend (poll and select have no fd for integrated
 * mode, and the comparison needs the same program on each). Needs the compiled library:
 * `npx tsc -p tsconfig.json` (dist/). Set FDREACTOR_ADDON to the kqemu build for kqueue.
 *
 *   node bench/platforms/reactor_echo_server.js <backend> <port>
 * Prints "READY <port>" once listening on 127.0.0.1:<port>. Runs until killed.
 */
const path = require("node:path");

const dist = path.resolve(__dirname, "../../dist");
const [backend, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (!backend || !Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: reactor_echo_server.js <backend> <port>\n");
  process.exit(2);
}
require(path.join(dist, "lib/net")); // installs reactor.listenTCP
const { Factory, Protocol } = require(path.join(dist, "lib/protocols/protocol"));
const { Reactor } = require(path.join(dist, "lib/reactor"));

/** Writes back whatever it receives. */
class Echo extends Protocol {
  /** Echoes `data`. */
  dataReceived(data) {
    this.transport.write(data);
  }
}

const reactor = new Reactor({ backend, mode: "exclusive" });
reactor.callWhenRunning(() => {
  reactor.listenTCP(port, Factory.forProtocol(Echo), { interface: "127.0.0.1", backlog: 4096 });
  process.stdout.write(`READY ${port}\n`);
});
reactor.run().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
