// The soak's load: connection churn against the echo server, from fdreactor in one process
// (pinned by run.js). argv: port, seconds, rate (connections/s), concurrency, mode, protocol.
// echo: each connection sends 1..MAX_MESSAGE bytes of a fixed pattern (length and offset
// from the connection's number), reads the echo, checks it byte for byte as it arrives,
// and closes. http: each connection asks GET /<n>/<len> (Connection: close), checks the
// status line, Content-Length and every body byte, and sees the server close.
// `bytesSent` counts the bytes that must come back (echo: sent; http: the expected body).
// Prints one JSON line a second ({t, started, completed}) and a final {final: {...}} line.
"use strict";
const path = require("node:path");
const DIST = path.resolve(__dirname, "..", "..", "dist", "lib");
const { Reactor } = require(path.join(DIST, "reactor", "index.js"));
const net = require(path.join(DIST, "net", "index.js"));
const { Protocol, ClientFactory } = require(path.join(DIST, "protocols", "index.js"));

const [portArg, secondsArg, rateArg, concArg, modeArg, protocolArg] = process.argv.slice(2);
const HTTP = protocolArg === "http";
const PORT = Number(portArg);
const SECONDS = Number(secondsArg);
const RATE = Number(rateArg);
const CONCURRENCY = Number(concArg);
const MAX_MESSAGE = 4096;
const PERIOD = 251; // prime: the pattern never lines up with power-of-two sizes
const PATTERN = Buffer.alloc(MAX_MESSAGE + PERIOD);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 7 + 3) % PERIOD;

const reactor = new Reactor({ mode: modeArg || "integrated" });
const stats = {
  started: 0,
  completed: 0,
  failedConnect: 0,
  lostEarly: 0,
  mismatches: 0,
  bytesSent: 0,
  bytesVerified: 0,
  reasons: {},
};
let inflight = 0;
let stopping = false;
let t0 = 0;

/** Counts `reason` (a Failure) by error class and errno name. */
const note = (reason) => {
  const k = `${reason.getTypeName()}:${reason.value.code || ""}`;
  stats.reasons[k] = (stats.reasons[k] || 0) + 1;
};

class Probe extends Protocol {
  constructor() {
    super();
    this.n = 0;
    this.length = 0;
    this.offset = 0;
    this.got = 0;
    this.ok = true;
  }
  connectionMade() {
    this.n = this.factory.nextId++;
    this.length = 1 + ((this.n * 7919) % MAX_MESSAGE);
    this.offset = this.n % PERIOD;
    stats.bytesSent += this.length;
    if (HTTP) {
      this.head = "";
      this.inBody = false;
      this.transport.write(`GET /${this.n}/${this.length} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    } else {
      this.transport.write(PATTERN.subarray(this.offset, this.offset + this.length));
    }
  }
  dataReceived(data) {
    if (HTTP && !this.inBody) {
      this.head += data.toString("latin1");
      const end = this.head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.head.slice(0, end);
      if (!head.startsWith("HTTP/1.1 200 OK\r\n") || !new RegExp(`\r\ncontent-length: ${this.length}(\r|$)`, "i").test(head)) {
        this.ok = false;
        stats.mismatches++;
        this.transport.abortConnection();
        return;
      }
      this.inBody = true;
      data = Buffer.from(this.head.slice(end + 4), "latin1");
      if (data.length === 0) return;
    }
    const at = this.offset + this.got;
    if (this.got + data.length > this.length || PATTERN.compare(data, 0, data.length, at, at + data.length) !== 0) {
      this.ok = false;
      stats.mismatches++;
      this.transport.abortConnection();
      return;
    }
    this.got += data.length;
    if (this.got === this.length && !HTTP) this.transport.loseConnection();
  }
  connectionLost(reason) {
    inflight--;
    if (this.ok && this.got === this.length) {
      stats.completed++;
      stats.bytesVerified += this.got;
    } else if (this.ok) {
      stats.lostEarly++;
      note(reason);
    }
    launch();
  }
}

class Churn extends ClientFactory {
  constructor() {
    super();
    this.protocol = Probe;
    this.noisy = false;
    this.nextId = 0;
  }
  clientConnectionFailed(connector, reason) {
    inflight--;
    stats.failedConnect++;
    note(reason);
    launch();
  }
}
const factory = new Churn();

/** Starts connections while under both the concurrency cap and the rate budget. */
function launch() {
  if (stopping) {
    if (inflight === 0) reactor.stop();
    return;
  }
  const budget = Math.floor(RATE * ((Date.now() - t0) / 1000)) - stats.started;
  for (let i = 0; i < budget && inflight < CONCURRENCY; i++) {
    inflight++;
    stats.started++;
    net.connectTCP(reactor, "127.0.0.1", PORT, factory, { timeout: 10 });
  }
}

reactor.callWhenRunning(() => {
  t0 = Date.now();
  const pace = () => {
    launch();
    if (!stopping) reactor.callLater(0.002, pace);
  };
  pace();
  const report = () => {
    process.stdout.write(JSON.stringify({ t: (Date.now() - t0) / 1000, started: stats.started, completed: stats.completed }) + "\n");
    if (!stopping) reactor.callLater(1, report);
  };
  reactor.callLater(1, report);
  reactor.callLater(SECONDS, () => {
    stopping = true;
    if (inflight === 0) reactor.stop();
    reactor.callLater(30, () => reactor.stop()); // bound: stragglers get 30 s
  });
});
reactor.run().then(() => {
  stats.inflightAtStop = inflight;
  stats.seconds = (Date.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ final: stats }) + "\n");
  process.exit(0);
});
