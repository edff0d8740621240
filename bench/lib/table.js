"use strict";
/** Plain-text and Markdown tables, numbers right-aligned. */

/** Formats a figure with a sensible number of digits: 9.234 → "9.23", 15234 → "15,234". */
function fmt(value, digits) {
  if (value === null || value === undefined || (typeof value === "number" && !Number.isFinite(value))) return "–";
  if (typeof value !== "number") return String(value);
  if (digits !== undefined) return value.toFixed(digits);
  const a = Math.abs(value);
  if (a >= 1000) return Math.round(value).toLocaleString("en-US");
  if (a >= 100) return value.toFixed(0);
  if (a >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A latency in µs as "850 µs" or "12.3 ms". */
function fmtUs(us) {
  if (!Number.isFinite(us)) return "–";
  return us >= 1000 ? `${fmt(us / 1000)} ms` : `${fmt(us)} µs`;
}

const isNumeric = (s) => /^[-+]?[\d,.]+(\s*(µs|ms|%|×|MiB))?$|^×?\s*[\d.]+$/.test(s) || s === "–";

/** Terminal table: a header row, a rule, the rows; columns padded, numeric cells right-aligned. */
function formatTable(headers, rows) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] || "").length)));
  const line = (r, header) =>
    r.map((c, i) => (!header && isNumeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers, true), widths.map((w) => "─".repeat(w)).join("  "), ...cells.map((r) => line(r, false))].join("\n");
}

/** Markdown table with the same cells ("|" inside a cell escaped). */
function formatMarkdownTable(headers, rows) {
  const esc = (c) => String(c).replace(/\|/g, "\\|");
  const align = headers.map((_, i) => (rows.length > 0 && rows.every((r) => isNumeric(String(r[i]))) ? "---:" : "---"));
  return [
    `| ${headers.map(esc).join(" | ")} |`,
    `| ${align.join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

module.exports = { fmt, fmtUs, formatTable, formatMarkdownTable };
