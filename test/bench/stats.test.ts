/**
 * The arithmetic every benchmark table rests on: medians, min–max spread, the noisy flag,
 * ratios against a baseline, and the interleaved A,B,A,B measuring order.
 */
import { expectNoFdLeaks } from "../support/fds";

// bench/ is plain CommonJS JavaScript (runs right after npm install), so it is required.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stats = require("../../bench/lib/stats");

expectNoFdLeaks();

describe("median", () => {
  test("of an odd count is the middle value of the sorted list", () => {
    expect(stats.median([9, 1, 5])).toBe(5);
  });
  test("of an even count is the mean of the two middle values", () => {
    expect(stats.median([4, 1, 3, 2])).toBe(2.5);
  });
  test("does not reorder the caller's array", () => {
    const v = [3, 1, 2];
    stats.median(v);
    expect(v).toEqual([3, 1, 2]);
  });
  test("of an empty list is a RangeError naming the argument", () => {
    expect(() => stats.median([])).toThrow(RangeError);
    expect(() => stats.median([])).toThrow(/values/);
  });
});

describe("summarize", () => {
  test("gives median, min, max and (max - min) / median", () => {
    expect(stats.summarize([110, 100, 105])).toEqual({ n: 3, median: 105, min: 100, max: 110, spread: 10 / 105, noisy: false });
  });
  test("a spread of exactly 15% is not noisy, just above it is", () => {
    expect(stats.summarize([100, 100, 115]).noisy).toBe(false);
    expect(stats.summarize([100, 100, 115.5]).noisy).toBe(true);
  });
  test("ignores rounds that produced no number", () => {
    expect(stats.summarize([NaN, 4, 6, Infinity])).toMatchObject({ n: 2, median: 5, min: 4, max: 6 });
  });
  test("of no finite value is all NaN and not noisy", () => {
    const s = stats.summarize([NaN]);
    expect(s.n).toBe(0);
    expect(Number.isNaN(s.median)).toBe(true);
    expect(s.noisy).toBe(false);
  });
});

describe("ratio", () => {
  test("divides by the baseline", () => {
    expect(stats.ratio(15, 30)).toBe(0.5);
  });
  test("is NaN when the baseline is missing or zero", () => {
    expect(Number.isNaN(stats.ratio(1, NaN))).toBe(true);
    expect(Number.isNaN(stats.ratio(1, 0))).toBe(true);
  });
});

describe("interleave", () => {
  test("runs every peer once per round before the next round: A,B,A,B,A,B per workload", () => {
    const order = stats.interleave(["A", "B"], ["c100", "c1000"], 3);
    expect(order.map((o: { workload: string; round: number; peer: string }) => `${o.workload}:${o.round}:${o.peer}`)).toEqual([
      "c100:1:A", "c100:1:B", "c100:2:A", "c100:2:B", "c100:3:A", "c100:3:B",
      "c1000:1:A", "c1000:1:B", "c1000:2:A", "c1000:2:B", "c1000:3:A", "c1000:3:B",
    ]);
  });
  test("refuses a round count that is not a positive integer", () => {
    expect(() => stats.interleave(["A"], ["w"], 0)).toThrow(RangeError);
    expect(() => stats.interleave(["A"], ["w"], 1.5)).toThrow(/rounds/);
  });
});
