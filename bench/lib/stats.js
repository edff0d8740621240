"use strict";
/** Summaries of repeated rounds: median, min–max spread, the "noisy" flag, ratios, round order. */

/** A spread (max − min, relative to the median) wider than this marks a figure as noisy. */
const NOISY_SPREAD = 0.15;

/** Median of a non-empty list of finite numbers (mean of the two middle ones when even). */
function median(values) {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError("median: values must be a non-empty array");
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Median, min, max and the relative spread (max − min) / median of the values, with
 * `noisy` true when that spread exceeds 15%.
 */
function summarize(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, spread: NaN, noisy: false };
  const med = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const spread = med === 0 ? (max === min ? 0 : Infinity) : (max - min) / Math.abs(med);
  return { n: finite.length, median: med, min, max, spread, noisy: spread > NOISY_SPREAD };
}

/** value / baseline, or NaN when either is missing or the baseline is zero. */
function ratio(value, baseline) {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return NaN;
  return value / baseline;
}

/**
 * The measuring order: for each workload, round 1 runs every peer once (A, B, C), then
 * round 2 does the same, and so on: A,B,A,B — never all of A before B.
 */
function interleave(peers, workloads, rounds) {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError("interleave: rounds must be a positive integer");
  const order = [];
  for (const workload of workloads)
    for (let round = 1; round <= rounds; round++)
      for (const peer of peers) order.push({ workload, round, peer });
  return order;
}

module.exports = { NOISY_SPREAD, median, summarize, ratio, interleave };
