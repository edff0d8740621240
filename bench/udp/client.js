"use strict";
/**
 * The load generator of bench/udp: `node bench/udp/client.js <port> <count> <window> <size>`.
 * Keeps `window` datagrams of `size` bytes in flight to 127.0.0.1:<port>, sending one more
 * per echo, until `count` echoes came back. A datagram lost on loopback would shrink the
 * window for good, so a stall of 100 ms refills it. Bounded: gives up after 60 s.
 * Prints one JSON line: { received, sent, refills, seconds }.
 */
const dgram = require("node:dgram");
const [port, count, windowSize, size] = process.argv.slice(2).map(Number);
const payload = Buffer.alloc(size, 0x61);
const s = dgram.createSocket("udp4");
let sent = 0;
let received = 0;
let lastSeen = 0;
let refills = 0;
let start = 0n;

function send() {
  sent++;
  s.send(payload, port, "127.0.0.1");
}

function finish() {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(stallTimer);
  clearTimeout(limit);
  s.close();
  process.stdout.write(JSON.stringify({ received, sent, refills, seconds }) + "\n");
}

s.on("message", () => {
  received++;
  if (received >= count) finish();
  else if (sent < count + windowSize) send();
});

const stallTimer = setInterval(() => {
  if (received === lastSeen && received < count) {
    refills++;
    for (let i = 0; i < windowSize; i++) send();
  }
  lastSeen = received;
}, 100);
const limit = setTimeout(finish, 60000);

s.bind(0, "127.0.0.1", () => {
  start = process.hrtime.bigint();
  for (let i = 0; i < windowSize; i++) send();
});
