// The soak's server: fdreactor from dist/, one process (pinned by run.js). argv: mode
// ("integrated" | "exclusive"), backend (argv[4], default epoll), protocol ("echo": every byte back; "http": a Site answering
// GET /<n>/<len> with <len> pattern bytes from offset n % 251, idleTimeout 5 s and
// headerTimeout 2 s, so that every connection carries a timer). Prints "port N" once listening, then one JSON line a second:
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
const protocol = process.argv[3] || "echo";
const PERIOD = 251;
const PATTERN = Buffer.alloc(4096 + PERIOD);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 7 + 3) % PERIOD;
const backend = process.argv[4] || "epoll";
const reactor = new Reactor({ mode, backend });
let live = 0;
let bytes = 0;
let channels = () => live;

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
  let factory;
  if (protocol === "http") {
    const { Site } = require(path.join(DIST, "web", "index.js"));
    factory = new Site(
      (request) => {
        const m = /^\/(\d+)\/(\d+)$/.exec(request.uri);
        if (m === null) {
          request.setResponseCode(404);
          return "no\n";
        }
        const off = Number(m[1]) % PERIOD;
        const len = Math.min(Number(m[2]), 4096);
        bytes += len;
        request.setHeader("Content-Type", "application/octet-stream");
        return PATTERN.subarray(off, off + len);
      },
      { reactor, idleTimeout: 5, headerTimeout: 2 },
    );
    const build = factory.buildProtocol.bind(factory);
    let open = 0;
    channels = () => open;
    factory.buildProtocol = (addr) => {
      const p = build(addr);
      const made = p.connectionMade.bind(p);
      const lost = p.connectionLost.bind(p);
      p.connectionMade = () => {
        open++;
        made();
      };
      p.connectionLost = (reason) => {
        open--;
        lost(reason);
      };
      return p;
    };
  } else {
    factory = new ServerFactory();
    factory.protocol = Echo;
    factory.noisy = false;
  }
  const port = net.listenTCP(reactor, 0, factory, { interface: "127.0.0.1", backlog: 4096 });
  process.stdout.write(`port ${port.getHost().port}\n`);
  const t0 = Date.now();
  const tick = () => {
    // With --expose-gc (run.js --gc 1), collect first: heapUsed is then live objects only.
    if (typeof global.gc === "function") global.gc();
    const mem = process.memoryUsage();
    process.stdout.write(JSON.stringify({ heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers, t: (Date.now() - t0) / 1000, timers: reactor.getDelayedCalls().length, accepted: port.acceptedCount, live: channels(), fds: fs.readdirSync("/proc/self/fd").length - 1, bytes }) + "\n");
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
