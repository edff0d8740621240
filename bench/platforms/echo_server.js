"use strict";
/**
 * A native-level echo server on one poller backend, for bench/platforms/run.js: the addon's
 * Poller + read/write only (no reactor), so that the backends are compared with nothing
 * else in the way. Level-triggered, READABLE interest; a short write parks the rest and
 * asks for WRITABLE until it is flushed.
 *
 *   node bench/platforms/echo_server.js <backend> <port> [addon.node]
 * Prints "READY <port>" once listening on 127.0.0.1:<port>. Runs until killed.
 */
const path = require("node:path");

const [backend, portArg, addonPath] = process.argv.slice(2);
const root = path.resolve(__dirname, "../..");
const native = addonPath ? require(path.resolve(addonPath)) : require("node-gyp-build")(root);
const port = Number(portArg);
if (!backend || !Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: echo_server.js <backend> <port> [addon.node]\n");
  process.exit(2);
}

const READABLE = 1;
const WRITABLE = 2;
const ERROR = 4;
const AGAIN = -1;
const CAPACITY = 1024;
const LISTENER_SLOT = 0; // connections use slot fd + 1

const events = new Uint32Array(CAPACITY * 3);
const poller = new native.Poller(backend, events);
const listener = native.socket("IPv4", "tcp");
native.setsockopt(listener, "SO_REUSEADDR", true);
native.bind(listener, "127.0.0.1", port);
native.listen(listener, 4096);
poller.add(listener, LISTENER_SLOT, 0, READABLE);

const buf = Buffer.alloc(65536);
const parked = new Map(); // fd → bytes not yet written

function drop(fd) {
  parked.delete(fd);
  poller.remove(fd);
  native.close(fd);
}

function acceptAll() {
  for (let i = 0; i < 64; i++) {
    let got;
    try {
      got = native.accept(listener, 256);
    } catch (err) {
      process.stderr.write(`accept: ${err.message}\n`);
      return;
    }
    if (got.length === 0) return;
    for (const c of got) {
      native.setsockopt(c.fd, "TCP_NODELAY", true);
      poller.add(c.fd, c.fd + 1, 1, READABLE);
    }
  }
}

function flush(fd) {
  const rest = parked.get(fd);
  const w = native.write(fd, rest, 0, rest.length);
  if (w === rest.length) {
    parked.delete(fd);
    poller.modify(fd, fd + 1, 1, READABLE);
  } else if (w > 0) {
    parked.set(fd, rest.subarray(w));
  }
}

function echo(fd) {
  const r = native.read(fd, buf, 0, buf.length);
  if (r === AGAIN) return;
  if (r === 0) return drop(fd);
  const w = native.write(fd, buf, 0, r);
  if (w === r) return;
  parked.set(fd, Buffer.from(buf.subarray(w === AGAIN ? 0 : w, r)));
  poller.modify(fd, fd + 1, 1, READABLE | WRITABLE);
}

process.stdout.write(`READY ${port}\n`);
for (;;) {
  const n = poller.wait(1000);
  for (let i = 0; i < n; i++) {
    const slot = events[i * 3];
    const bits = events[i * 3 + 2];
    if (slot === LISTENER_SLOT) {
      acceptAll();
      continue;
    }
    const fd = slot - 1;
    try {
      if (bits & WRITABLE && parked.has(fd)) flush(fd);
      if (bits & (READABLE | ERROR) && !parked.has(fd)) echo(fd);
    } catch (err) {
      drop(fd); // ECONNRESET and the like: the client went away
    }
  }
}
