"use strict";
/**
 * One framing measurement of fdreactor's framers, no I/O: feeds CHUNK-byte chunks made of
 * SIZE-byte frames (lines ending in CRLF, or Int32 length-prefixed strings) to a receiver
 * whose callback only counts, for about SECONDS, and prints JSON {lines_ns, int32_ns}: the
 * cost per frame. Run from bench/framing/run.js (dist/ built by `npx tsc -p tsconfig.json`).
 *
 *   node bench/framing/fdreactor.js <size> <chunk> <seconds>
 */
const { LineReceiver, Int32StringReceiver } = require("../../dist/lib/protocols/basic");
const [size, chunk, seconds] = process.argv.slice(2).map(Number);

function chunks(kind) {
  const frame = Buffer.alloc(size, 0x61);
  if (kind === "line") frame.write("\r\n", size - 2, "latin1");
  else frame.writeUInt32BE(size - 4, 0);
  // Chunks cut at fixed offsets, so frames straddle chunk boundaries as on a real socket.
  const stream = Buffer.alloc(chunk * 16);
  for (let o = 0; o < stream.length; o += size) frame.copy(stream, o, 0, Math.min(size, stream.length - o));
  const whole = Math.floor(stream.length / size) * size;
  const out = [];
  for (let o = 0; o < whole; o += chunk) out.push(stream.subarray(o, Math.min(o + chunk, whole)));
  return { out, frames: whole / size };
}

function measure(kind) {
  let count = 0;
  const p = kind === "line" ? new LineReceiver() : new Int32StringReceiver();
  if (kind === "line") p.lineReceived = () => count++;
  else p.stringReceived = () => count++;
  p.MAX_LENGTH = 1 << 20;
  const { out } = chunks(kind);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    for (let r = 0; r < 50; r++) for (const c of out) p.dataReceived(c);
    now = process.hrtime.bigint();
  }
  return Number(now - start) / count;
}

measure("line"); // warm-up (JIT)
measure("int32");
process.stdout.write(JSON.stringify({ lines_ns: measure("line"), int32_ns: measure("int32") }) + "\n");
