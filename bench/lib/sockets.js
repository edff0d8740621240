"use strict";
/**
 * The TCP state of one port's connections, from `ss -tmin` (iproute2): on the server's side
 * the bytes each connection holds unsent (`notsent`) and the window its peer offers
 * (`snd_wnd`); on the client's side the receive buffer the kernel gave it (`skmem` rb).
 * bench/static/run.js --windows samples it mid-round: on loopback a client whose receive
 * window stays small leaves most of each large answer queued at the server, and its own
 * ACKs then send those bytes, so the transfer's kernel work is charged to the client.
 */
const { execFile } = require("node:child_process");

/** The middle value of `xs` (the upper one of an even count), NaN for none. */
function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * `ss -tmin` output for the connections of `port` on 127.0.0.0/8: the server's side (local
 * port is `port`) and the client's side (peer port is `port`), one entry per connection.
 * A field the kernel did not print counts as 0 (`notsent` appears only when bytes wait).
 */
function parseSs(text, port) {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError("parseSs: port must be an integer from 1 to 65535");
  const server = [];
  const client = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /(\S+):(\d+)\s+(\S+):(\d+)/.exec(lines[i]);
    if (m === null) continue;
    // The details follow on the next line, indented.
    const detail = i + 1 < lines.length && /^\s/.test(lines[i + 1]) ? lines[++i] : "";
    const field = (re) => {
      const f = re.exec(detail);
      return f === null ? 0 : Number(f[1]);
    };
    if (Number(m[2]) === port) server.push({ notsent: field(/\bnotsent:(\d+)/), sndWnd: field(/\bsnd_wnd:(\d+)/), cwnd: field(/\bcwnd:(\d+)/) });
    else if (Number(m[4]) === port) client.push({ rb: field(/\brb(\d+)/), rcvSpace: field(/\brcv_space:(\d+)/) });
  }
  return { server, client };
}

/** Samples `port`'s established connections (needs `ss`: apt-get install iproute2). */
function sampleSockets(port) {
  return new Promise((resolve, reject) => {
    execFile("ss", ["-tmin", "state", "established", `( sport = :${port} or dport = :${port} )`], { timeout: 5000 }, (err, stdout) => {
      if (err) {
        reject(new Error(`ss could not run (apt-get install iproute2): ${err.message}`, { cause: err }));
        return;
      }
      resolve(parseSs(stdout, port));
    });
  });
}

/** A sample's figures: the client's median receive buffer, how many server sockets hold unsent bytes and the median they hold, the median window offered. */
function summariseSockets({ server, client }) {
  const unsent = server.map((s) => s.notsent).filter((n) => n > 0);
  return {
    clientRbMedian: median(client.map((c) => c.rb)),
    serverUnsent: unsent.length,
    serverUnsentMedian: median(unsent),
    sndWndMedian: median(server.map((s) => s.sndWnd)),
    connections: server.length,
  };
}

module.exports = { parseSs, sampleSockets, summariseSockets };
