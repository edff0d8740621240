// The soak's echo server: fdreactor from dist/, one process (pinned by run.js). argv: mode
// ("integrated" | "exclusive"). Prints "port N" once listening, then one JSON line a second:
// {t, timers, accepted, live, fds, bytes} where `timers` is reactor.getDelayedCalls().length
// at the moment of the line (the stats call has just fired, so it is not counted) and `fds`
// the process's open fds at the same instant as `live`. Stops on SIGTERM/SIGINT and prints "stopped".
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const DIST = path.resolve(__dirname, "..", "..", "dist", "lib");
const { Reactor } = require(path.join(DIST, "reactor", "index.js"));
const net = require(path.join(DIST, "net", "index.js"));
const { Protocol, ServerFactory } = require(path.join(DIST, "protocols", "index.js"));

const mode = process.argv[2] || "integrated";
const reactor = new Reactor({ mode });
let live = 0;
let bytes = 0;

class Echo extends Protocol {
  connectionMade() {
    live++;
  }
  dataReceived(data) {
    bytes += data.length;
    this.transport.write(data);
  }
  connectionLost() {
    live--;
  }
}

reactor.callWhenRunning(() => {
  const factory = new ServerFactory();
  factory.protocol = Echo;
  factory.noisy = false;
  const port = net.listenTCP(reactor, 0, factory, { interface: "127.0.0.1", backlog: 4096 });
  process.stdout.write(`port ${port.getHost().port}\n`);
  const t0 = Date.now();
  const tick = () => {
    process.stdout.write(JSON.stringify({ t: (Date.now() - t0) / 1000, timers: reactor.getDelayedCalls().length, accepted: port.acceptedCount, live, fds: fs.readdirSync("/proc/self/fd").length - 1, bytes }) + "\n");
    reactor.callLater(1, tick);
  };
  reactor.callLater(1, tick);
});
reactor.run({ installSignalHandlers: true }).then(
  () => process.stdout.write("stopped\n"),
  (e) => {
    process.stderr.write(`server failed: ${e && e.stack}\n`);
    process.exit(1);
  },
);
