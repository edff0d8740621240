/**
 * Every wrong argument to the socket, waker, limit and batch calls throws a TypeError or a
 * RangeError naming the argument, before any syscall; nothing the JavaScript side passes
 * can crash the process or reach memory outside the buffers it gave.
 */
import { native } from "../../lib/native";
import { expectNoFdLeaks } from "../support/fds";

expectNoFdLeaks();

type Thrown = { name?: string; message?: string; code?: string };
/** What `fn` throws (addon errors come from another realm than jest's: compare names). */
function thrown(fn: () => unknown): Thrown {
  try {
    fn();
  } catch (e) {
    return e as Thrown;
  }
  return { name: "(nothing thrown)" };
}

let a = -1;
let b = -1;

const u8 = (n: number) => new Uint8Array(n);
// `as never` lets the table pass values the TypeScript signatures forbid, as JS callers can.
const X = (v: unknown) => v as never;

describe("argument checks", () => {
  // Scoped here so that the pair is closed before the file's fd-leak check runs.
  beforeAll(() => {
    [a, b] = native.socketpair("stream");
  });
  afterAll(() => {
    native.close(a);
    native.close(b);
  });

  const cases: Array<[string, () => unknown, "TypeError" | "RangeError", string]> = [
    // fds
    ["negative fd", () => native.read(-1, u8(4), 0, 4), "RangeError", "fd"],
    ["fractional fd", () => native.write(1.5, u8(4), 0, 4), "RangeError", "fd"],
    ["NaN fd", () => native.close(NaN), "RangeError", "fd"],
    ["fd past int range", () => native.close(2 ** 31), "RangeError", "fd"],
    ["string fd", () => native.close(X("3")), "TypeError", "fd"],
    ["missing fd", () => (native.getsockname as unknown as () => unknown)(), "TypeError", "fd"],
    ["bigint fd", () => native.socketError(X(3n)), "TypeError", "fd"],
    ["wake with a negative fd", () => native.wake(-2), "RangeError", "writeFd"],
    ["drainWaker with a string", () => native.drainWaker(X("x")), "TypeError", "readFd"],
    // buffers and windows
    ["string buffer", () => native.write(a, X("abc"), 0, 3), "TypeError", "buf"],
    ["Int32Array buffer", () => native.read(a, X(new Int32Array(4)), 0, 4), "TypeError", "buf"],
    ["ArrayBuffer buffer", () => native.read(a, X(new ArrayBuffer(4)), 0, 4), "TypeError", "buf"],
    ["DataView buffer", () => native.write(a, X(new DataView(new ArrayBuffer(4))), 0, 4), "TypeError", "buf"],
    ["array buffer", () => native.write(a, X([1, 2, 3]), 0, 3), "TypeError", "buf"],
    ["offset past the end", () => native.write(a, u8(4), 5, 0), "RangeError", "offset"],
    ["negative offset", () => native.read(a, u8(4), -1, 2), "RangeError", "offset"],
    ["fractional offset", () => native.read(a, u8(4), 0.5, 2), "RangeError", "offset"],
    ["length past the end", () => native.write(a, u8(4), 2, 3), "RangeError", "length"],
    ["huge length", () => native.read(a, u8(4), 0, 2 ** 40), "RangeError", "length"],
    ["zero-length read (would look like EOF)", () => native.read(a, u8(4), 0, 0), "RangeError", "length"],
    ["string length", () => native.recvfrom(a, u8(4), 0, X("4")), "TypeError", "length"],
    ["window of a subarray is relative to the view", () => native.write(a, u8(16).subarray(8), 0, 9), "RangeError", "length"],
    // buffer arrays
    ["bufs not an array", () => native.writev(a, X(u8(4))), "TypeError", "bufs"],
    ["bufs element not a Uint8Array", () => native.writev(a, X([u8(1), "x"])), "TypeError", "bufs[1]"],
    ["bufs element a Uint16Array", () => native.readv(a, X([new Uint16Array(2)])), "TypeError", "bufs[0]"],
    ["readv with no room", () => native.readv(a, [u8(0)]), "RangeError", "bufs"],
    // names and enumerations
    ["unknown domain", () => native.socket(X("IPv5"), "tcp"), "TypeError", "domain"],
    ["unknown type", () => native.socket("IPv4", X("sctp")), "TypeError", "type"],
    ["stream type for IPv4", () => native.socket("IPv4", X("stream")), "TypeError", "type"],
    ["unknown socketpair type", () => native.socketpair(X("seqpacket")), "TypeError", "type"],
    ["unknown option to setsockopt", () => native.setsockopt(a, X("SO_DEBUG"), 1), "TypeError", "option"],
    ["unknown option to getsockopt", () => native.getsockopt(a, X("so_reuseaddr")), "TypeError", "option"],
    ["option value a string", () => native.setsockopt(a, "SO_SNDBUF", X("big")), "TypeError", "value"],
    ["option value negative", () => native.setsockopt(a, "SO_SNDBUF", -1), "RangeError", "value"],
    ["shutdown how 3", () => native.shutdown(a, X(3)), "RangeError", "how"],
    ["listen backlog negative", () => native.listen(a, -1), "RangeError", "backlog"],
    ["accept max 0", () => native.accept(a, 0), "RangeError", "max"],
    // addresses
    ["host not a literal", () => native.bind(a, "example.com", 80), "TypeError", "host"],
    ["host a number", () => native.connect(a, X(127), 80), "TypeError", "host"],
    ["host with a NUL", () => native.bind(a, "127.0.0.1\0x", 80), "TypeError", "host"],
    ["port too big", () => native.bind(a, "127.0.0.1", 65536), "RangeError", "port"],
    ["port negative", () => native.connect(a, "127.0.0.1", -1), "RangeError", "port"],
    ["sendto host a number", () => native.sendto(a, u8(1), 0, 1, X(1), 80), "TypeError", "host"],
    ["sendto port fractional", () => native.sendto(a, u8(1), 0, 1, "127.0.0.1", 8.5), "RangeError", "port"],
    ["unix path not a string", () => native.bindUnix(a, X(Buffer.from("/tmp/x"))), "TypeError", "path"],
    ["multicast group not a literal", () => native.setMembership(a, "group", "", true), "TypeError", "group"],
    ["multicast iface not an address", () => native.setMembership(a, "239.1.1.1", "lo0x", true), "TypeError", "iface"],
    ["multicast join not a boolean", () => native.setMembership(a, "239.1.1.1", "", X(1)), "TypeError", "join"],
    // limits
    ["negative soft limit", () => native.setNofileLimit(-1), "RangeError", "soft"],
    ["soft limit a string", () => native.setNofileLimit(X("max")), "TypeError", "soft"],
    // readBatch
    ["readBatch fds a Uint32Array", () => native.readBatch(X(new Uint32Array(1)), 1, u8(8), 0, 8, new Int32Array(3)), "TypeError", "fds"],
    ["readBatch count past fds", () => native.readBatch(new Int32Array(1), 2, u8(8), 0, 8, new Int32Array(6)), "RangeError", "count"],
    ["readBatch slab an array", () => native.readBatch(new Int32Array(1), 1, X([0]), 0, 8, new Int32Array(3)), "TypeError", "slab"],
    ["readBatch offset past the slab", () => native.readBatch(new Int32Array(1), 1, u8(8), 9, 1, new Int32Array(3)), "RangeError", "offset"],
    ["readBatch maxPerFd 0", () => native.readBatch(new Int32Array(1), 1, u8(8), 0, 0, new Int32Array(3)), "RangeError", "maxPerFd"],
    ["readBatch out too short", () => native.readBatch(new Int32Array(2), 2, u8(8), 0, 1, new Int32Array(5)), "RangeError", "out"],
    ["readBatch out a Float64Array", () => native.readBatch(new Int32Array(1), 1, u8(8), 0, 1, X(new Float64Array(3))), "TypeError", "out"],
    // writevBatch
    ["writevBatch counts too short", () => native.writevBatch(Int32Array.of(a, a), 2, Int32Array.of(1), [u8(1)], new Int32Array(2)), "RangeError", "counts"],
    ["writevBatch negative count", () => native.writevBatch(Int32Array.of(a), 1, Int32Array.of(-1), [u8(1)], new Int32Array(1)), "RangeError", "counts"],
    ["writevBatch counts past bufs", () => native.writevBatch(Int32Array.of(a, a), 2, Int32Array.of(1, 1), [u8(1)], new Int32Array(2)), "RangeError", "counts"],
    ["writevBatch bufs not an array", () => native.writevBatch(Int32Array.of(a), 1, Int32Array.of(1), X(u8(1)), new Int32Array(1)), "TypeError", "bufs"],
    ["writevBatch out too short", () => native.writevBatch(Int32Array.of(a, a), 2, Int32Array.of(0, 0), [], new Int32Array(1)), "RangeError", "out"],
    ["writevBatch count past fds", () => native.writevBatch(Int32Array.of(a), 2, Int32Array.of(0, 0), [], new Int32Array(2)), "RangeError", "count"],
    ["writevBatch notSocket not a Uint8Array", () => native.writevBatch(Int32Array.of(a), 1, Int32Array.of(1), [u8(1)], new Int32Array(1), X([1])), "TypeError", "notSocket"],
    ["writevBatch notSocket too short", () => native.writevBatch(Int32Array.of(a, a), 2, Int32Array.of(0, 0), [], new Int32Array(2), u8(1)), "RangeError", "notSocket"],
  ];

  const rows = cases.map(([what, call, kind, arg]) => [what, kind, arg, call] as const);
  test.each(rows)("%s is a %s naming %s", (_what, kind, arg, call) => {
    const e = thrown(call);
    expect(e.name).toBe(kind);
    expect(e.message).toContain(`"${arg}"`);
  });

  test("no bad argument reached a syscall: the socketpair is still empty both ways", () => {
    expect(native.read(a, u8(4), 0, 4)).toBe(-1);
    expect(native.read(b, u8(4), 0, 4)).toBe(-1);
  });
});

describe("garbage never crashes", () => {
  // Values that cannot name an open fd of this process (fd 1e6 is past RLIMIT_NOFILE), so
  // that no random call can close or write to jest's own fds.
  const pool: unknown[] = [
    undefined, null, true, -1, 1.5, NaN, Infinity, 2 ** 40, 1e6, "", "x", "IPv4", "tcp",
    "SO_REUSEADDR", "127.0.0.1", {}, [], [u8(2), 7], [u8(3)], u8(0), u8(16), u8(16).subarray(4, 6),
    new Int32Array(3), new Float32Array(2), new ArrayBuffer(8), 3n, Symbol("s"), () => 1,
  ];
  const calls = [
    "socket", "bind", "bindUnix", "listen", "accept", "connect", "connectUnix", "socketError",
    "read", "readv", "recvfrom", "write", "writev", "sendto", "shutdown", "close", "setsockopt",
    "getsockopt", "setMembership", "getsockname", "getpeername", "socketpair", "wake",
    "drainWaker", "setNofileLimit", "readBatch", "writevBatch", "adoptSocket",
  ] as const;

  test.each(calls)("%s with 300 random argument lists throws only typed errors", (name) => {
    let seed = 0x9e3779b9 ^ name.length;
    const rand = (n: number) => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed % n;
    };
    const fn = (native as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    const limits = native.getNofileLimit();
    for (let i = 0; i < 300; i++) {
      const args = Array.from({ length: rand(7) }, () => pool[rand(pool.length)]);
      let result: unknown;
      try {
        result = fn(...args);
      } catch (e) {
        const err = e as Thrown;
        const ok = err.name === "TypeError" || err.name === "RangeError" || typeof err.code === "string";
        if (!ok) throw new Error(`${name}(${args.map(String).join(", ")}) threw ${String(e)}`);
        continue;
      }
      // The only calls that can succeed on this pool make fds (socket, socketpair, adoptSocket): close them.
      if (typeof result === "number" && name === "socket") native.close(result);
      if (Array.isArray(result) && name === "socketpair") for (const fd of result) native.close(fd as number);
      if (name === "adoptSocket" && result !== null && typeof result === "object") native.close((result as { fd: number }).fd);
    }
    expect(native.getNofileLimit()).toEqual(limits);
  });
});
