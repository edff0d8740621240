/**
 * Int32/Int16/Int8StringReceiver and NetstringReceiver over an in-memory transport:
 * framing, limits, malformed input and what is written.
 */
import {
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  IntNStringReceiver,
  NetstringParseError,
  NetstringReceiver,
  StringTooLongError,
} from "../../lib/protocols/basic";
import { setLogObservers, type LogLevel } from "../../lib/log";
import { expectNoFdLeaks } from "../support/fds";
import { StringTransport } from "./basic-support";

expectNoFdLeaks();

type Recorder = { strings: string[]; limits: number[] };

function recording<T extends new () => IntNStringReceiver>(Base: T): new () => InstanceType<T> & Recorder {
  // @ts-expect-error -- a mixin over an abstract-rooted class
  return class extends Base {
    strings: string[] = [];
    limits: number[] = [];
    override stringReceived(data: Buffer): void {
      this.strings.push(data.toString("latin1"));
    }
    override lengthLimitExceeded(length: number): void {
      this.limits.push(length);
      super.lengthLimitExceeded(length);
    }
  };
}

const cases = [
  { name: "Int32StringReceiver", cls: recording(Int32StringReceiver), prefix: 4, header: (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]) },
  { name: "Int16StringReceiver", cls: recording(Int16StringReceiver), prefix: 2, header: (n: number) => Buffer.from([n >>> 8, n & 255]) },
  { name: "Int8StringReceiver", cls: recording(Int8StringReceiver), prefix: 1, header: (n: number) => Buffer.from([n]) },
] as const;

describe.each(cases)("$name", ({ cls, prefix, header }) => {
  function connected() {
    const p = new cls();
    const t = new StringTransport();
    p.makeConnection(t);
    return { p, t };
  }

  test("sendString writes a big-endian length prefix then the bytes", () => {
    const { p, t } = connected();
    p.sendString("hello");
    p.sendString(Buffer.alloc(0));
    expect(t.value()).toEqual(Buffer.concat([header(5), Buffer.from("hello"), header(0)]));
  });

  test("what sendString writes comes back as the same strings, byte by byte too", () => {
    const { p: sender, t } = connected();
    for (const s of ["a", "", "xyz", "\u00ff\u0000"]) sender.sendString(Buffer.from(s, "latin1"));
    const { p } = connected();
    for (const byte of t.value()) p.dataReceived(Buffer.from([byte]));
    expect(p.strings).toEqual(["a", "", "xyz", "\u00ff\u0000"]);
  });

  test("an announced length above MAX_LENGTH calls lengthLimitExceeded once, closes, and discards what follows", () => {
    const { p, t } = connected();
    p.MAX_LENGTH = 3;
    p.dataReceived(Buffer.concat([header(3), Buffer.from("abc"), header(4), Buffer.from("abcd")]));
    p.dataReceived(Buffer.concat([header(1), Buffer.from("z")]));
    expect(p.strings).toEqual(["abc"]);
    expect(p.limits).toEqual([4]);
    expect(p.brokenPeer).toBe(true);
    expect(t.loseCount).toBe(1);
  });

  test("pauseProducing holds strings back until resumeProducing", () => {
    const { p, t } = connected();
    p.pauseProducing();
    p.dataReceived(Buffer.concat([header(1), Buffer.from("a"), header(1), Buffer.from("b")]));
    expect(p.strings).toEqual([]);
    p.resumeProducing();
    expect(p.strings).toEqual(["a", "b"]);
    expect(t.producerCalls).toEqual(["paused", "resumed"]);
  });
});

test.each([
  ["Int8StringReceiver", new Int8StringReceiver(), 256],
  ["Int16StringReceiver", new Int16StringReceiver(), 65536],
] as const)("%s.sendString refuses %d bytes with StringTooLongError and takes one byte less", (_name, p, size) => {
  const t = new StringTransport();
  p.makeConnection(t);
  const data = Buffer.alloc(size, 7);
  expect(() => p.sendString(data)).toThrow(StringTooLongError);
  expect(() => p.sendString(data)).toThrow(RangeError);
  expect(t.written).toEqual([]);
  p.sendString(data.subarray(1));
  expect(t.value().length).toBe(p.prefixLength + size - 1);
});

test("a huge announced length reserves at most 1 MiB up front, growing only as bytes arrive", () => {
  const p = new Int32StringReceiver();
  p.MAX_LENGTH = 2 ** 31;
  p.makeConnection(new StringTransport());
  p.dataReceived(Buffer.from([0x40, 0, 0, 0, 1, 2, 3])); // announces 1 GiB
  const rb = (p as unknown as { received: { buf: Buffer; pos: number; end: number } }).received;
  expect(rb.end - rb.pos).toBe(7);
  expect(rb.buf.length).toBe(1024 * 1024);
});

test("sendString with a non-bytes argument throws a TypeError naming data", () => {
  const p = new Int32StringReceiver();
  p.makeConnection(new StringTransport());
  expect(() => p.sendString(42 as unknown as string)).toThrow(new TypeError("data must be a Buffer, Uint8Array or string"));
});

class Netstrings extends NetstringReceiver {
  strings: string[] = [];
  override stringReceived(data: Buffer): void {
    this.strings.push(data.toString("latin1"));
  }
}

describe("NetstringReceiver", () => {
  let records: [LogLevel, string][] = [];
  let restore: () => void = () => undefined;
  beforeEach(() => {
    records = [];
    restore = setLogObservers([(level, message) => records.push([level, message])]);
  });
  afterEach(() => restore());

  function connected() {
    const p = new Netstrings();
    const t = new StringTransport();
    p.makeConnection(t);
    return { p, t };
  }

  test("sendString writes <length>:<bytes>,", () => {
    const { p, t } = connected();
    p.sendString("hello world!");
    p.sendString("");
    expect(t.value().toString()).toBe("12:hello world!,0:,");
  });

  test("netstrings are delivered whole, however the bytes are split", () => {
    const wire = Buffer.from("3:abc,0:,5:a,b:c,10:0123456789,");
    for (const size of [1, 2, 3, 7, wire.length]) {
      const { p } = connected();
      for (let i = 0; i < wire.length; i += size) p.dataReceived(wire.subarray(i, i + size));
      expect(p.strings).toEqual(["abc", "", "a,b:c", "0123456789"]);
    }
  });

  const malformed: [string, string, string][] = [
    ["a leading zero", "03:abc,", "netstring does not start with a length: expected decimal digits without leading zeros, then ':' (byte 0x33 at offset 1)"],
    ["no length at all", ":abc,", "netstring does not start with a length: expected decimal digits without leading zeros, then ':' (byte 0x3a at offset 0)"],
    ["a letter in the length", "1x:a,", "netstring does not start with a length: expected decimal digits without leading zeros, then ':' (byte 0x78 at offset 1)"],
    ["a length above MAX_LENGTH", "100000:", "netstring length 100000 exceeds MAX_LENGTH 99999"],
    ["a length above MAX_LENGTH, seen before its colon", "9999999", "netstring length 999999... exceeds MAX_LENGTH 99999"],
    ["a missing comma", "3:abc;", "netstring of length 3 is not followed by ','"],
  ];

  test.each(malformed)("%s closes the connection with a NetstringParseError saying so", (_what, wire, message) => {
    const { p, t } = connected();
    p.dataReceived(Buffer.from("2:ok,"));
    p.dataReceived(Buffer.from(wire));
    p.dataReceived(Buffer.from("2:no,"));
    expect(p.strings).toEqual(["ok"]);
    expect(p.brokenPeer).toBe(true);
    expect(p.parseError).toBeInstanceOf(NetstringParseError);
    expect(p.parseError?.message).toBe(message);
    expect(t.loseCount).toBe(1);
    expect(records).toEqual([["info", `Netstrings: closing the connection: ${message}`]]);
  });

  test("a length header is checked before its payload arrives", () => {
    const { p, t } = connected();
    p.MAX_LENGTH = 10;
    p.dataReceived(Buffer.from("11"));
    expect(p.parseError?.message).toBe("netstring length 11 exceeds MAX_LENGTH 10");
    expect(t.disconnecting).toBe(true);
  });
});
