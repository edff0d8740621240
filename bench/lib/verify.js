"use strict";
/**
 * One real exchange with a server before it is measured, so a peer that answers wrong
 * bytes is caught instead of benchmarked: echo must return the exact bytes; http must
 * answer 200 with the body "Hello, World!" and keep the connection open.
 */
const net = require("node:net");
const zlib = require("node:zlib");

const plainConnect = (port) => net.connect({ port, host: "127.0.0.1" });

/**
 * Connects (with `connect(port)`, default a plain TCP socket), writes `request`, collects
 * bytes until `complete(buffer)` says so or `timeoutMs` passes.
 */
function exchange(port, request, complete, timeoutMs = 3000, connect = plainConnect) {
  return new Promise((resolve, reject) => {
    const sock = connect(port);
    const chunks = [];
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeoutMs} ms (got ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))})`)), timeoutMs);
    sock.once(sock.encrypted ? "secureConnect" : "connect", () => sock.write(request));
    sock.on("data", (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (complete(all)) finish(null, all);
    });
    sock.once("error", (err) => finish(err));
    sock.once("close", () => finish(new Error(`closed after ${JSON.stringify(Buffer.concat(chunks).toString("latin1"))}`)));
  });
}

/** Sends 64 distinct bytes and checks the same 64 come back; resolves true or rejects. */
async function verifyEcho(port) {
  const msg = Buffer.alloc(64);
  for (let i = 0; i < msg.length; i++) msg[i] = (i * 7 + 3) & 0xff;
  const got = await exchange(port, msg, (b) => b.length >= msg.length);
  if (!got.equals(msg)) throw new Error(`echo answered ${got.toString("hex")} to ${msg.toString("hex")}`);
  return true;
}

/**
 * Sends two pipelined `GET /` requests (over `connect(port)`'s socket, default plain TCP);
 * resolves to { status, headers (text), body, responseBytes } of the first answer after
 * checking both are 200 "Hello, World!".
 */
async function verifyHttp(port, connect = plainConnect) {
  const req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fdreactor-bench\r\n\r\n";
  const parse = (buf) => {
    const text = buf.toString("latin1");
    const out = [];
    let at = 0;
    for (let guard = 0; guard < 2; guard++) {
      const end = text.indexOf("\r\n\r\n", at);
      if (end < 0) break;
      const head = text.slice(at, end);
      const len = /^content-length:\s*(\d+)\s*$/im.exec(head);
      const bodyLen = len ? Number(len[1]) : 0;
      if (text.length < end + 4 + bodyLen) break;
      out.push({ head, body: text.slice(end + 4, end + 4 + bodyLen), bytes: end + 4 + bodyLen - at });
      at = end + 4 + bodyLen;
    }
    return out;
  };
  const got = await exchange(port, req + req, (b) => parse(b).length === 2, 3000, connect);
  const answers = parse(got);
  for (const a of answers) {
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(a.head)?.[1]);
    if (status !== 200 || a.body !== "Hello, World!") throw new Error(`http answered ${JSON.stringify(a.head + "\r\n\r\n" + a.body)}`);
  }
  return { status: 200, headers: answers[0].head, body: answers[0].body, responseBytes: answers[0].bytes };
}

/**
 * GETs each of `files` ([{ path, size, crc32 }]) once, each on a connection of its own;
 * resolves true when every answer is 200 with that Content-Length and a body of that
 * CRC-32, rejects naming the first that is not.
 */
async function verifyStatic(port, files) {
  for (const f of files) {
    const req = `GET ${f.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fdreactor-bench\r\n\r\n`;
    const headEnd = (b) => b.indexOf("\r\n\r\n");
    const got = await exchange(port, req, (b) => headEnd(b) >= 0 && b.length >= headEnd(b) + 4 + f.size, 10000);
    const end = headEnd(got);
    const head = got.toString("latin1", 0, end);
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const body = got.subarray(end + 4);
    if (!head.startsWith("HTTP/1.1 200 ") || !len || Number(len[1]) !== f.size || body.length !== f.size || zlib.crc32(body) >>> 0 !== f.crc32 >>> 0) {
      throw new Error(`GET ${f.path} answered ${JSON.stringify(head)} with ${body.length} body bytes (want 200, ${f.size} bytes, CRC-32 ${f.crc32})`);
    }
  }
  return true;
}

module.exports = { exchange, verifyEcho, verifyHttp, verifyStatic };
