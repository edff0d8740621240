/**
 * Property tests of the framers (fast-check): any split of valid input frames the same as
 * one read, and arbitrary bytes never throw out of dataReceived, never deliver a frame
 * above MAX_LENGTH, and keep pending memory bounded.
 */
import * as fc from "fast-check";
import {
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  IntNStringReceiver,
  LineOnlyReceiver,
  LineReceiver,
  NetstringReceiver,
} from "../../lib/protocols/basic";
import { setLogObservers } from "../../lib/log";
import type { Protocol } from "../../lib/protocols/protocol";
import { expectNoFdLeaks } from "../support/fds";
import { splitAt, StringTransport } from "./basic-support";

expectNoFdLeaks();

const RUNS = 300;

/** The framer's pending-bytes buffer (private): how much is pending and how big the buffer is. */
function pendingOf(p: Protocol): { pending: number; capacity: number } {
  const rb = (p as unknown as { received: { buf: Buffer; pos: number; end: number } }).received;
  return { pending: rb.end - rb.pos, capacity: rb.buf.length };
}

function feed(p: Protocol, chunks: Buffer[]): void {
  for (const c of chunks) p.dataReceived(c);
}

type Framer = Protocol & { frames: string[]; exceeded: number };

function lineFramer(only: boolean, delimiter: string, max: number): Framer {
  // Both have lineReceived, lineLengthExceeded, delimiter and MAX_LENGTH: one subclass body serves both.
  const Base = only ? (LineOnlyReceiver as unknown as typeof LineReceiver) : LineReceiver;
  class F extends Base {
    frames: string[] = [];
    exceeded = 0;
    override lineReceived(line: Buffer): void {
      this.frames.push(line.toString("latin1"));
    }
    override lineLengthExceeded(line: Buffer): void {
      this.exceeded++;
      super.lineLengthExceeded(line);
    }
  }
  const p = new F();
  p.delimiter = Buffer.from(delimiter, "latin1");
  p.MAX_LENGTH = max;
  p.makeConnection(new StringTransport());
  return p;
}

function intFramer(Base: new () => IntNStringReceiver, max: number): Framer & IntNStringReceiver {
  // @ts-expect-error -- a subclass of a concrete receiver given as its abstract base type
  class F extends Base {
    frames: string[] = [];
    exceeded = 0;
    override stringReceived(data: Buffer): void {
      this.frames.push(data.toString("latin1"));
    }
    override lengthLimitExceeded(length: number): void {
      this.exceeded++;
      super.lengthLimitExceeded(length);
    }
  }
  const p = new F() as unknown as Framer & IntNStringReceiver;
  p.MAX_LENGTH = max;
  p.makeConnection(new StringTransport());
  return p;
}

function netstringFramer(max: number): Framer & NetstringReceiver {
  class F extends NetstringReceiver {
    frames: string[] = [];
    exceeded = 0;
    override stringReceived(data: Buffer): void {
      this.frames.push(data.toString("latin1"));
    }
    override handleParseError(error: Error): void {
      this.exceeded++;
      super.handleParseError(error);
    }
  }
  const p = new F();
  p.MAX_LENGTH = max;
  p.makeConnection(new StringTransport());
  return p;
}

/** Strings over a small alphabet that includes every delimiter's characters. */
const text = (maxLength: number) => fc.string({ unit: fc.constantFrom("a", "b", "\r", "\n", "<", "E", "O", "L", ">", "\u00ff"), maxLength });
const cuts = fc.array(fc.nat({ max: 2000 }), { maxLength: 40 });

let restoreLog: () => void = () => undefined;
beforeAll(() => {
  restoreLog = setLogObservers([]); // netstring parse errors are logged: keep the output clean
});
afterAll(() => restoreLog());

describe.each([
  ["LineReceiver", false],
  ["LineOnlyReceiver", true],
] as const)("%s properties", (_name, only) => {
  test.each(["\r\n", "\n", "<EOL>"])("any split of valid lines delimited by %j gives the lines of one read", (delimiter) => {
    fc.assert(
      fc.property(fc.array(text(30), { maxLength: 20 }), text(10), cuts, (raw, tail, cutPoints) => {
        const lines = raw.filter((l) => !l.includes(delimiter));
        const partial = tail.includes(delimiter) ? "" : tail;
        const wire = Buffer.from(lines.map((l) => l + delimiter).join("") + partial, "latin1");
        const whole = lineFramer(only, delimiter, 30);
        whole.dataReceived(wire);
        const pieces = lineFramer(only, delimiter, 30);
        feed(pieces, splitAt(wire, cutPoints));
        expect(whole.frames).toEqual(lines);
        expect(pieces.frames).toEqual(lines);
        expect(pieces.exceeded).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  test("arbitrary bytes never throw, never deliver a line above MAX_LENGTH, and keep pending bytes bounded", () => {
    const max = 16;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }), fc.constantFrom("\r\n", "\n", "<EOL>"), (chunks, delimiter) => {
        const p = lineFramer(only, delimiter, max);
        for (const c of chunks) {
          expect(() => p.dataReceived(Buffer.from(c))).not.toThrow();
          const { pending, capacity } = pendingOf(p);
          expect(pending).toBeLessThan(max + delimiter.length);
          expect(capacity).toBeLessThanOrEqual(Math.max(256, 2 * (max + delimiter.length + 64)));
        }
        for (const f of p.frames) expect(f.length).toBeLessThanOrEqual(max);
        expect((p.transport as StringTransport).disconnecting).toBe(p.exceeded > 0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe.each([
  ["Int32StringReceiver", Int32StringReceiver, 4],
  ["Int16StringReceiver", Int16StringReceiver, 2],
  ["Int8StringReceiver", Int8StringReceiver, 1],
] as const)("%s properties", (_name, cls, prefix) => {
  test("any split of sendString output gives the strings of one read", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), cuts, (strings, cutPoints) => {
        const sender = intFramer(cls, 255);
        for (const s of strings) sender.sendString(s);
        const wire = (sender.transport as StringTransport).value();
        const expected = strings.map((s) => Buffer.from(s).toString("latin1"));
        const whole = intFramer(cls, 255);
        whole.dataReceived(wire);
        const pieces = intFramer(cls, 255);
        feed(pieces, splitAt(wire, cutPoints));
        expect(whole.frames).toEqual(expected);
        expect(pieces.frames).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  test("arbitrary bytes never throw, never deliver a string above MAX_LENGTH, and keep pending bytes bounded", () => {
    const max = 40;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }), (chunks) => {
        const p = intFramer(cls, max);
        for (const c of chunks) {
          expect(() => p.dataReceived(Buffer.from(c))).not.toThrow();
          const { pending, capacity } = pendingOf(p);
          expect(pending).toBeLessThan(prefix + max);
          expect(capacity).toBeLessThanOrEqual(Math.max(256, 2 * (prefix + max + 64)));
        }
        for (const f of p.frames) expect(f.length).toBeLessThanOrEqual(max);
        expect((p.transport as StringTransport).disconnecting).toBe(p.exceeded > 0);
        expect(p.brokenPeer).toBe(p.exceeded > 0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("NetstringReceiver properties", () => {
  test("any split of sendString output gives the strings of one read", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), cuts, (strings, cutPoints) => {
        const sender = netstringFramer(200);
        for (const s of strings) sender.sendString(s);
        const wire = (sender.transport as StringTransport).value();
        const expected = strings.map((s) => Buffer.from(s).toString("latin1"));
        const pieces = netstringFramer(200);
        feed(pieces, splitAt(wire, cutPoints));
        expect(pieces.frames).toEqual(expected);
        expect(pieces.brokenPeer).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  test("arbitrary bytes never throw; malformed input closes with a parse error and pending bytes stay bounded", () => {
    const max = 40;
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string({ unit: fc.constantFrom("0", "1", "9", ":", ",", "x"), maxLength: 64 }).map((s) => Buffer.from(s)));
    fc.assert(
      fc.property(fc.array(bytes, { maxLength: 30 }), (chunks) => {
        const p = netstringFramer(max);
        for (const c of chunks) {
          expect(() => p.dataReceived(Buffer.from(c))).not.toThrow();
          const { pending, capacity } = pendingOf(p);
          expect(pending).toBeLessThanOrEqual(String(max).length + 1 + max + 1);
          expect(capacity).toBeLessThanOrEqual(Math.max(256, 2 * (max + 4 + 64)));
        }
        for (const f of p.frames) expect(f.length).toBeLessThanOrEqual(max);
        expect((p.transport as StringTransport).disconnecting).toBe(p.brokenPeer);
        expect(p.parseError !== null).toBe(p.brokenPeer);
      }),
      { numRuns: RUNS },
    );
  });
});
