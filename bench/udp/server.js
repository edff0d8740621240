"use strict";
/**
 * A UDP echo server for bench/udp: `node bench/udp/server.js <fdreactor|fdreactor-exclusive|node> <port>`.
 * Echoes every datagram to its sender; prints "ready" once bound; stops on SIGTERM.
 * fdreactor runs from dist/ (build it with `npx tsc -p tsconfig.json`).
 */
const [impl, portArg] = process.argv.slice(2);
const port = Number(portArg);

if (impl === "node") {
  const dgram = require("node:dgram");
  const s = dgram.createSocket("udp4");
  s.on("message", (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  s.bind(port, "127.0.0.1", () => process.stdout.write("ready\n"));
  process.on("SIGTERM", () => s.close());
} else if (impl === "fdreactor" || impl === "fdreactor-exclusive") {
  const { Reactor } = require("../../dist/lib/reactor");
  const { listenUDP } = require("../../dist/lib/net/udp");
  const { DatagramProtocol } = require("../../dist/lib/protocols/datagram");
  class Echo extends DatagramProtocol {
    datagramReceived(data, addr) {
      this.transport.write(data, addr);
    }
  }
  const mode = impl === "fdreactor" ? "integrated" : "exclusive";
  const reactor = new Reactor({ installSignalHandlers: true, mode });
  reactor.callWhenRunning(() => {
    listenUDP(reactor, port, new Echo(), { interface: "127.0.0.1" });
    process.stdout.write("ready\n");
  });
  reactor.run();
} else {
  process.stderr.write("usage: server.js <fdreactor|fdreactor-exclusive|node> <port>\n");
  process.exit(2);
}
