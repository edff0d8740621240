"use strict";
/**
 * The C10K load generator, built on fdreactor itself: one exclusive-mode reactor (epoll)
 * in this process, started pinned to CPU 1 by bench/c10k/run.js, several of them past
 * ~18,000 connections (one process holds at most 20,000 fds here).
 *
 *   node loadgen.js '<json config>'     (see CONFIG below; run.js writes it)
 *
 * Opens `conns` connections to host:port at a bounded rate (at most `rate` per second and
 * `maxPending` in flight), each bound to one of `sources` (127.0.0.x: ~28k ephemeral ports
 * per source address), keeps them all open, and once told drives the `active` ones, one
 * message in flight on each: echo sends `size` bytes and waits for exactly those back; http
 * sends one `GET /` and waits for exactly the expected answer (bytes compared one by one;
 * only the value of a Date header may differ); static GETs the `files` in turn (each
 * connection starting at its own) and checks each answer's status (200), Content-Length
 * and the CRC-32 of its body (zlib.crc32, over the body as it arrives). A wrong byte, an extra byte, a reset or a
 * close is an error, counted by kind. Two ways to drive them:
 *   - closed loop ("run"): the next message goes as soon as the answer is back: the most
 *     this pair of server and load generator can do; the latency is then mostly queueing.
 *   - paced ("pace R A"): this process' share of R messages per second over the A active
 *     ones of all load processes, each connection on its own fixed schedule. A message is
 *     timed from when it was due, not from when it went out, if its connection was still
 *     waiting for the previous answer then (no coordinated omission, as wrk2); one that
 *     went out late only because this process' timer fired late is timed from its sending.
 *     Between messages less than 2 ms apart this process polls rather than sleeps (echo
 *     and http; not static files, see POLL_PACED). Static: each driven connection gets a
 *     receive buffer that holds a whole answer from then on (holdWholeAnswers), and from
 *     the closed loop on when the harness asks (cfg.wholeAnswers, --client-rcvbuf whole).
 *
 * Control, one line each on stdin:  run · pace R A · measure (reset the answer count and the
 * histogram, start counting; errors count from the start) · report (print the result of
 * what was measured, stop driving, keep the connections) · stop (report and exit).
 * Reports, one JSON line each on stdout: {"type":"limits"}, {"type":"progress"},
 * {"type":"connected"}, {"type":"driving"}, {"type":"result"} (with its phase, "closed" or
 * "paced", and the latency as an HDR histogram, compressed base64). It exits by itself
 * after `deadlineS` seconds whatever happens.
 */
const path = require("node:path");
const zlib = require("node:zlib");
const hdr = require("hdr-histogram-js");

const ROOT = path.resolve(__dirname, "..", "..");
const { Reactor } = require(path.join(ROOT, "dist/lib/reactor/index.js"));
const { connectTCP } = require(path.join(ROOT, "dist/lib/net/index.js"));
const { Protocol, ClientFactory } = require(path.join(ROOT, "dist/lib/protocols/protocol.js"));
const { native } = require(path.join(ROOT, "dist/lib/native.js"));
const { ConnectionDone } = require(path.join(ROOT, "dist/lib/error.js"));
const { newHistogram, emptyErrors } = require("./results");

/**
 * CONFIG: { id, host, port, conns, active, scenario: "echo"|"http", size, rate, maxPending,
 * sources: ["127.0.0.10", ...], response: { hex, wildcards: [[from, to], ...] } (http),
 * files: [{ path, size, crc32 }] (static), connectTimeoutS, deadlineS, backend }
 */
const cfg = JSON.parse(process.argv[2] || "{}");

/** Writes one report line for run.js. */
function emit(obj) {
  process.stdout.write(`${JSON.stringify({ id: cfg.id, ...obj })}\n`);
}

// ─── file descriptor limit: raise the soft limit as far as the hard one allows ───
{
  const need = cfg.conns + 64;
  let lim = native.getNofileLimit();
  let raised = false;
  if (lim.soft < need && lim.soft < lim.hard) {
    lim = native.setNofileLimit(Math.min(need, lim.hard));
    raised = true;
  }
  const enough = lim.soft >= need;
  emit({ type: "limits", soft: lim.soft, hard: lim.hard, need, raised, enough });
  if (!enough) {
    process.stderr.write(`loadgen ${cfg.id}: RLIMIT_NOFILE is ${lim.soft} (hard ${lim.hard}) and cannot be raised to ${need}: give fewer connections per process (--per-process)\n`);
  }
}

// ─── the bytes on the wire, allocated once ───
const SIZE = cfg.size | 0;
/** PATTERN[k] = k & 255: every echo message is a window of it (offset per connection and message). */
const PATTERN = Buffer.alloc(256 + Math.max(SIZE, 1));
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i & 0xff;
/** WINDOWS[o] = the echo message that starts at offset o (0..255): views made once, not per message. */
const WINDOWS = Array.from({ length: 256 }, (_, o) => PATTERN.subarray(o, o + SIZE));
const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "latin1");
const RESPONSE = cfg.response ? Buffer.from(cfg.response.hex, "hex") : Buffer.alloc(0);
/** WILD[i] = 1 where the expected answer may differ (a Date value): any printable byte is right. */
const WILD = new Uint8Array(RESPONSE.length);
for (const [from, to] of cfg.response ? cfg.response.wildcards : []) WILD.fill(1, from, to);
const HTTP = cfg.scenario === "http";
const STATIC = cfg.scenario === "static";
const EXPECT_LEN = HTTP ? RESPONSE.length : SIZE;
/** static: the files, their requests (made once) and the end of a response head. */
const FILES = STATIC ? cfg.files : [];
const FILE_REQUESTS = FILES.map((f) => Buffer.from(`GET ${f.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, "latin1"));
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** A response head longer than this is wrong (and would otherwise grow without bound). */
const MAX_HEAD = 8192;
/**
 * static: SO_RCVBUF asked for on each driven connection (paced phase, and closed loop with
 * cfg.wholeAnswers), room for the largest answer (see holdWholeAnswers). Only the driven
 * ones: the idle connections of a 100,000 run keep the kernel's default, and a receive
 * buffer takes memory only for the bytes queued in it.
 */
const ANSWER_ROOM = STATIC ? Math.max(...FILES.map((f) => f.size)) + MAX_HEAD : 0;
/**
 * Whether the paced phase polls between messages less than 2 ms apart (see paceTick). Not
 * for static files: an answer there takes the driver many reads, and a driver spinning
 * between them saw 5-10 times the server's tail-loss-probe retransmissions and a p90 of
 * 60-220 ms where the same nginx measured 5-12 ms with the driver asleep (docs/benchmarks.md).
 */
const POLL_PACED = !STATIC;
/** static: the closed loop's driven connections get the whole-answer buffer too (see holdWholeAnswers). */
const WHOLE_ANSWERS_CLOSED = STATIC && cfg.wholeAnswers === true;

// ─── counters (reset by "measure") ───
const hist = newHistogram();
const errors = emptyErrors();
const connectErrors = {};
let completed = 0;
let counting = false;
let measureStart = 0;
/** How the active connections are driven now: "none", "closed" or "paced". */
let phase = "none";

const reactor = new Reactor({ backend: cfg.backend || undefined, mode: "exclusive" });

/** One client connection; active ones run the closed loop (no allocation per message). */
class Driver extends Protocol {
  /** @param {number} index this connection's number over every load process (varies the echo pattern) */
  constructor(index) {
    super();
    this.index = index;
    this.inFlight = false; // a message is out and its answer not complete
    this.freeAt = 0; // when the last answer was complete (performance.now() ms)
    this.owed = 0; // paced: messages that fell due while one was in flight
    this.owedFrom = 0; // paced: when the oldest of them was due
    this.seq = 0;
    this.got = 0; // bytes of the current answer received
    this.offset = 0; // echo: PATTERN window of the current message
    this.sentAt = 0;
    this.bad = false;
    this.file = 0; // static: index in FILES of the file asked for
    this.head = null; // static: the part of a response head that came before the chunk now read
    this.bodyLeft = -1; // static: body bytes still to come (-1: reading the head)
    this.crc = 0; // static: CRC-32 of the body bytes so far
  }

  /** Counts the connection as established and keeps it for the drive. */
  connectionMade() {
    this.transport.setTcpNoDelay(true);
    established++;
    open.push(this);
  }

  /** Sends the next message or request; its latency counts from `from` (ms, performance.now()). */
  send(from) {
    this.got = 0;
    this.bad = false;
    this.inFlight = true;
    this.sentAt = from;
    if (HTTP) {
      this.transport.write(REQUEST);
    } else if (STATIC) {
      this.file = (this.index + this.seq) % FILES.length;
      this.head = null;
      this.bodyLeft = -1;
      this.crc = 0;
      this.transport.write(FILE_REQUESTS[this.file]);
    } else {
      this.offset = (this.index * 31 + this.seq * 7) & 0xff;
      this.transport.write(WINDOWS[this.offset]);
    }
    this.seq++;
  }

  /** Compares the bytes with the expected answer; a complete answer is counted and the next message sent. */
  dataReceived(data) {
    if (STATIC) {
      this.fileData(data);
      return;
    }
    const n = data.length;
    let got = this.got;
    if (!this.inFlight || got + n > EXPECT_LEN) {
      errors.extra++;
      if (!this.inFlight) return;
    }
    const end = Math.min(n, EXPECT_LEN - got);
    if (!this.bad) {
      if (HTTP) {
        for (let i = 0; i < end; i++) {
          const want = RESPONSE[got + i];
          const b = data[i];
          if (b !== want && (WILD[got + i] === 0 || b < 0x20 || b > 0x7e)) {
            this.bad = true;
            break;
          }
        }
      } else {
        const base = this.offset + got;
        for (let i = 0; i < end; i++) {
          if (data[i] !== ((base + i) & 0xff)) {
            this.bad = true;
            break;
          }
        }
      }
    }
    got += end;
    this.got = got;
    if (got < EXPECT_LEN) return;
    this.answered();
  }

  /**
   * static: a response head (status 200 and the file's Content-Length, else a mismatch),
   * then the body, whose CRC-32 must be the file's. Bytes past the body are extra.
   */
  fileData(data) {
    if (!this.inFlight) {
      errors.extra++;
      return;
    }
    let at = 0;
    if (this.bodyLeft < 0) {
      const prior = this.head === null ? 0 : this.head.length;
      const text = prior === 0 ? data : Buffer.concat([this.head, data]);
      const end = text.indexOf(HEAD_END);
      if (end < 0) {
        if (text.length > MAX_HEAD) this.fail();
        else this.head = Buffer.from(text); // a copy: the chunk is the reactor's to reuse
        return;
      }
      this.head = null;
      const head = text.toString("latin1", 0, end);
      const want = FILES[this.file];
      const len = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(\r\n|$)/i.exec(head);
      if (!head.startsWith("HTTP/1.1 200 ") || len === null || Number(len[1]) !== want.size) this.bad = true;
      this.bodyLeft = want.size;
      at = end + 4 - prior;
    }
    const take = Math.min(this.bodyLeft, data.length - at);
    if (take > 0) {
      if (!this.bad) this.crc = zlib.crc32(data.subarray(at, at + take), this.crc);
      this.bodyLeft -= take;
      at += take;
    }
    if (this.bodyLeft > 0) return;
    if (this.crc >>> 0 !== FILES[this.file].crc32 >>> 0) this.bad = true;
    if (at < data.length) errors.extra++;
    this.answered();
  }

  /** static: a head too long to be right; the answer counts as a mismatch once its connection is dropped. */
  fail() {
    this.bad = true;
    this.inFlight = false;
    if (counting) errors.mismatch++;
    this.transport.abortConnection();
  }

  /** The answer is complete: counted (or a mismatch), timed, and the next message sent as the phase says. */
  answered() {
    const now = performance.now();
    this.inFlight = false;
    this.freeAt = now;
    if (counting) {
      if (this.bad) errors.mismatch++;
      else {
        completed++;
        let us = Math.round((now - this.sentAt) * 1000);
        if (us < 1) us = 1;
        hist.recordValue(us);
      }
    }
    if (phase === "closed") this.send(now);
    else if (phase === "paced" && this.owed > 0) {
      // Due while the previous answer was out: goes now, timed from when it was due.
      this.owed--;
      const due = this.owedFrom;
      this.owedFrom += pacer.periodMs;
      this.send(due);
    }
  }

  /** A connection that ends before "stop" is an error: closed (clean) or reset. */
  connectionLost(reason) {
    lost++;
    if (!stopping) {
      if (reason.check(ConnectionDone)) errors.closed++;
      else errors.reset++;
    }
  }
}

/** Counts connect failures by kind and the attempt slot they freed. */
class DriverFactory extends ClientFactory {
  /** A Driver numbered after the previous one. */
  buildProtocol() {
    return new Driver(nextIndex++);
  }
  /** Counts a failed connect by kind and errno. */
  clientConnectionFailed(connector, reason) {
    const e = reason.value; // reason is a Failure wrapping the ConnectError
    const code = (e && (e.code || (e.cause && e.cause.code))) || (e && e.constructor.name) || "unknown";
    if (e && e.constructor.name === "TCPTimedOutError") errors.connectTimeout++;
    else errors.connectFailed++;
    connectErrors[code] = (connectErrors[code] || 0) + 1;
  }
  clientConnectionLost() {}
  startedConnecting() {}
}

const factory = new DriverFactory();
const open = [];
let nextIndex = cfg.indexBase | 0;
let started = 0; // connects started
let established = 0;
let pending = 0;
let stopping = false;
let lost = 0;
let connectStart = 0;
let connectEnd = 0;

// ─── opening the connections: at most `rate` per second and `maxPending` in flight ───
const TICK_S = 0.01;
const perTick = Math.max(1, Math.round(cfg.rate * TICK_S));
const sources = cfg.sources;

/** Counts the attempts that are over (connected or failed) and keeps starting new ones. */
function connectTick() {
  pending = started - established - (errors.connectFailed + errors.connectTimeout);
  for (let i = 0; i < perTick && started < cfg.conns && pending < cfg.maxPending; i++) {
    const source = sources[started % sources.length];
    started++;
    pending++;
    connectTCP(reactor, cfg.host, cfg.port, factory, { bindAddress: source, timeout: cfg.connectTimeoutS });
  }
  const done = established + errors.connectFailed + errors.connectTimeout;
  if (done >= cfg.conns) {
    connectEnd = performance.now();
    emit({
      type: "connected",
      established,
      failed: errors.connectFailed + errors.connectTimeout,
      connectErrors,
      seconds: (connectEnd - connectStart) / 1000,
    });
    return;
  }
  reactor.callLater(TICK_S, connectTick);
}

/** Tells run.js how far the opening has got, twice a second. */
function progressTick() {
  if (connectEnd !== 0) return;
  emit({ type: "progress", established, started, failed: errors.connectFailed + errors.connectTimeout, connectErrors });
  reactor.callLater(0.5, progressTick);
}

// ─── control from run.js ───
/** The `active` connections of the open ones, spread evenly over them (chosen once). */
let actives = null;
function activeSet() {
  if (actives === null) {
    const n = Math.min(cfg.active, open.length);
    const step = n > 0 ? open.length / n : 1;
    actives = [];
    for (let i = 0; i < n; i++) actives.push(open[Math.floor(i * step)]);
  }
  return actives;
}

/** The smallest receive buffer of the driven connections (getsockopt SO_RCVBUF), or null. */
let answerRcvbuf = null;

/**
 * static: asks for a receive buffer that holds a whole answer on each driven connection,
 * for the paced phase always and for the closed loop when WHOLE_ANSWERS_CLOSED. With the
 * kernel's default (128 KiB growing by autotuning) against loopback's 64 KiB segments, a
 * 1 MiB answer kept the window at one or two segments: hundreds of zero-window adverts a
 * second and tail-loss-probe retransmissions, so the latency measured this process'
 * reading, not the server. In the closed loop the buffer decides whose CPU a transfer is
 * charged to: bytes the window holds back wait at the server and are sent later by this
 * process' ACKs, in its context, and how far autotuning grows the window depends on how
 * the server packs its answers (docs/benchmarks.md). The kernel caps the buffer at
 * net.core.rmem_max; the smallest one granted goes in the reports (rcvbuf).
 */
function holdWholeAnswers(list) {
  for (const d of list) {
    try {
      const fd = d.transport.fileno();
      native.setsockopt(fd, "SO_RCVBUF", ANSWER_ROOM);
      const got = native.getsockopt(fd, "SO_RCVBUF");
      if (answerRcvbuf === null || got < answerRcvbuf) answerRcvbuf = got;
    } catch {
      // Closed since it connected: its loss is counted as an error already.
    }
  }
}

/** Starts the closed loop on the active connections (those still waiting for an answer go on when it comes). */
function startClosedLoop() {
  phase = "closed";
  if (WHOLE_ANSWERS_CLOSED && answerRcvbuf === null) holdWholeAnswers(activeSet());
  const now = performance.now();
  for (const d of activeSet()) if (!d.inFlight) d.send(now);
  emit({ type: "driving", phase, active: actives.length, rcvbuf: answerRcvbuf, answerRoom: ANSWER_ROOM });
}

/**
 * Paced sending: message k of this process is due at t0 + k/rate, on connection k mod n,
 * so each connection sends every n/rate seconds, the connections evenly staggered.
 */
const pacer = { rateHz: 0, periodMs: 0, t0: 0, k: 0, due: 0, wakeups: 0 };

/** Starts paced sending of this process' share of `total` messages/s over `allActive` active connections. */
function startPaced(total, allActive) {
  const list = activeSet();
  if (list.length === 0 || !(total > 0)) {
    emit({ type: "driving", phase: "paced", active: 0, rate: 0 });
    return;
  }
  phase = "paced";
  if (STATIC && answerRcvbuf === null) holdWholeAnswers(list);
  pacer.rateHz = (total * list.length) / Math.max(allActive, list.length);
  pacer.periodMs = (list.length * 1000) / pacer.rateHz;
  pacer.t0 = performance.now();
  pacer.k = 0;
  pacer.due = pacer.t0;
  pacer.wakeups = 0;
  for (const d of list) d.owed = 0;
  emit({ type: "driving", phase, active: list.length, rate: pacer.rateHz, polls: POLL_PACED, rcvbuf: answerRcvbuf, answerRoom: ANSWER_ROOM });
  paceTick();
}

/** Sends every message due by now, then sleeps until the next one is due. */
function paceTick() {
  if (phase !== "paced") return;
  pacer.wakeups++;
  const list = actives;
  const n = list.length;
  const now = performance.now();
  while (pacer.due <= now) {
    const d = list[pacer.k % n];
    if (!d.inFlight) {
      // Free when it fell due: any delay since is this process' timer, not the server.
      d.send(d.freeAt > pacer.due ? pacer.due : now);
    } else if (d.owed++ === 0) {
      d.owedFrom = pacer.due;
    }
    pacer.k++;
    pacer.due = pacer.t0 + (pacer.k * 1000) / pacer.rateHz;
  }
  // A wait rounds up to whole milliseconds: closer than 2 ms to the next message, poll
  // instead (this process has the load CPU to itself), so that messages go one by one
  // when they fall due rather than in bursts a millisecond apart. Static files do not
  // poll (POLL_PACED): a message that goes out up to 1 ms late is timed from its sending.
  const ahead = pacer.due - performance.now();
  if (!POLL_PACED) reactor.callLater(ahead > 0 ? ahead / 1000 : 0, paceTick);
  else reactor.callLater(ahead > 2 ? (ahead - 1) / 1000 : 0, paceTick);
}

/** Starts counting answers and latency; errors count over the whole round (a reset in the warm-up is still a reset). */
function startMeasuring() {
  hist.reset();
  completed = 0;
  pacer.wakeups = 0;
  counting = true;
  measureStart = performance.now();
}

/** Stops counting and driving (answers in flight still come and are checked) and prints the result report. */
function report() {
  const seconds = (performance.now() - measureStart) / 1000;
  const wasCounting = counting;
  const was = phase;
  counting = false;
  phase = "none";
  const pct = (q) => (hist.totalCount > 0 ? hist.getValueAtPercentile(q) : null);
  emit({
    type: "result",
    phase: was,
    target: was === "paced" ? pacer.rateHz : null,
    paceWakeups: was === "paced" ? pacer.wakeups : null,
    measured: wasCounting,
    count: completed,
    seconds,
    rate: seconds > 0 ? completed / seconds : 0,
    established,
    openAtEnd: open.length - lost,
    latencyUs: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: hist.totalCount > 0 ? hist.maxValue : null },
    histogram: hdr.encodeIntoCompressedBase64(hist),
    errors,
    connectErrors,
    connectSeconds: connectEnd > 0 ? (connectEnd - connectStart) / 1000 : null,
  });
}

/**
 * Makes the kernel close every connection of this process with RST when it exits: closed
 * with FIN, each would sit in TIME_WAIT for 60 s on this side, and at 100k connections the
 * expiry of a round's 100,000 of them stalled a round a minute later for up to ~100 ms.
 */
function resetOnExit() {
  for (const d of open) {
    try {
      native.setsockopt(d.transport.fileno(), "SO_LINGER", 0);
    } catch {
      // Already closed: nothing to linger.
    }
  }
}

/** Reports, then exits (the kernel closes the sockets, with RST: resetOnExit). */
function stopAndReport() {
  // Before the report: run.js ends this process with SIGTERM once it has every report.
  stopping = true;
  resetOnExit();
  report();
  // The kernel closes every socket when we exit; the reactor need not walk 18k of them.
  process.stdout.write("", () => process.exit(0));
}

let inbox = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  inbox += chunk;
  let nl;
  while ((nl = inbox.indexOf("\n")) >= 0) {
    const cmd = inbox.slice(0, nl).trim();
    inbox = inbox.slice(nl + 1);
    const [verb, ...args] = cmd.split(/\s+/);
    if (verb === "run") reactor.callLater(0, startClosedLoop);
    else if (verb === "pace") reactor.callLater(0, startPaced, Number(args[0]), Number(args[1]));
    else if (verb === "measure") reactor.callLater(0, startMeasuring);
    else if (verb === "report") reactor.callLater(0, report);
    else if (verb === "stop") reactor.callLater(0, stopAndReport);
  }
});
/** Exits at once, the connections reset (resetOnExit). */
function resetAndExit() {
  resetOnExit();
  process.exit(0);
}
// The parent went away (nothing left to report to), or ended us.
process.stdin.on("end", resetAndExit);
process.on("SIGTERM", resetAndExit);

const deadline = setTimeout(() => {
  process.stderr.write(`loadgen ${cfg.id}: deadline of ${cfg.deadlineS} s reached, exiting\n`);
  process.exit(3);
}, cfg.deadlineS * 1000);
deadline.unref();

reactor.callWhenRunning(() => {
  connectStart = performance.now();
  connectTick();
  progressTick();
});
reactor.run().then(() => process.exit(0));
