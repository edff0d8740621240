/**
 * HTTPChannel over an in-memory transport, driven by fast-check: whatever bytes arrive,
 * in whatever pieces, nothing escapes dataReceived, everything written is an HTTP/1.1
 * response, an error answer is always followed by a close, and a good request among
 * garbage is answered exactly.
 */
import fc from "fast-check";
import { Failure, type IDelayedCall } from "../../lib/defer";
import { HTTPChannel, Site, type Request } from "../../lib/web";
import { expectNoFdLeaks } from "../support/fds";
import { connectInMemory, type MemoryTransport } from "./helpers";

expectNoFdLeaks();

const noTimers = {
  seconds: (): number => 0,
  callLater: (): IDelayedCall => ({ active: () => false, cancel: () => undefined, getTime: () => 0, reset: () => undefined, delay: () => undefined }) as unknown as IDelayedCall,
};

function channel(): { ch: HTTPChannel; t: MemoryTransport } {
  const site = new Site((req: Request) => `ok ${req.method} ${req.content.length}`, { reactor: noTimers, maxHeaderSize: 1024, maxBodySize: 4096 });
  return connectInMemory(site);
}

function feed(ch: HTTPChannel, bytes: Buffer, splits: number[]): void {
  let at = 0;
  for (const s of [...splits].sort((a, b) => a - b)) {
    if (s <= at || s >= bytes.length) continue;
    ch.dataReceived(Buffer.from(bytes.subarray(at, s)));
    at = s;
  }
  if (at < bytes.length) ch.dataReceived(Buffer.from(bytes.subarray(at)));
}

const STATUS_RE = /^HTTP\/1\.1 (200|400|413|431|501|505) /;

test("arbitrary bytes in arbitrary pieces: no exception, only HTTP/1.1 responses, an error answer then a close", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 10 }), (bytes, splits) => {
      const { ch, t } = channel();
      feed(ch, Buffer.from(bytes), splits);
      for (const w of t.written) expect(w).toMatch(STATUS_RE);
      const errors = t.written.filter((w) => !w.startsWith("HTTP/1.1 200 "));
      expect(errors.length).toBeLessThanOrEqual(1);
      if (errors.length === 1) {
        expect(t.closing).toBe(true);
        expect(t.written[t.written.length - 1]).toBe(errors[0]);
      }
      ch.connectionLost(new Failure(new Error("done")));
    }),
    { numRuns: 1000 },
  );
});

test("good requests before garbage are each answered exactly, then the garbage gets one 400 and a close", () => {
  const good = fc.constantFrom("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "PUT /q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  fc.assert(
    fc.property(fc.array(good, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 10 }), (reqs, splits) => {
      const { ch, t } = channel();
      feed(ch, Buffer.from(reqs.join("") + "BAD\x01REQUEST\r\n\r\n", "latin1"), splits);
      const expected = reqs.map((r) => (r.startsWith("GET") ? "ok GET 0" : r.startsWith("POST") ? "ok POST 3" : "ok PUT 2"));
      expect(t.written.slice(0, reqs.length).map((w) => w.slice(w.indexOf("\r\n\r\n") + 4))).toEqual(expected);
      expect(t.written.length).toBe(reqs.length + 1);
      expect(t.written[reqs.length]).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(t.closing).toBe(true);
      ch.connectionLost(new Failure(new Error("done")));
    }),
    { numRuns: 300 },
  );
});
