"use strict";
/**
 * Appending a run to bench/RESULTS.md: never rewriting what is there. A section heading
 * ("## Peers (baseline)") is written only when the file's last "## " heading is not
 * already that one, so consecutive runs of the same section stay under one heading.
 */
const fs = require("node:fs");

/** The last line starting with "## " in `text`, or null. */
function lastSectionHeading(text) {
  const headings = text.split("\n").filter((l) => /^## /.test(l));
  return headings.length ? headings[headings.length - 1].trim() : null;
}

/**
 * Builds the Markdown for one run: "### <title>", then the command, date, machine line,
 * settings, the summary table, notes, and the raw per-round figures.
 */
function renderRun({ title, command, date, machine, settings, table, notes = [], rawTable }) {
  const out = [
    `### ${title}`,
    "",
    `- Command: \`${command}\``,
    `- Date: ${date}`,
    `- Machine: ${machine}`,
  ];
  if (settings) out.push(`- Settings: ${settings}`);
  out.push("", table, "");
  for (const n of notes) out.push(`- ${n}`);
  if (notes.length) out.push("");
  if (rawTable) out.push("Raw per-round figures:", "", rawTable, "");
  return out.join("\n");
}

/**
 * Appends a run to `file` (created when missing) under `section` (a "## ..." heading).
 * `run` is renderRun's argument, or the run's Markdown already rendered (a bench with its
 * own layout); `intro`, when given, follows the heading whenever the heading is written.
 * Returns the text appended.
 */
function appendResults(file, section, run, { intro } = {}) {
  if (!/^## \S/.test(section)) throw new RangeError(`appendResults: section must be a "## " heading, got ${JSON.stringify(section)}`);
  let existing = "";
  try {
    existing = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  let text = "";
  if (existing === "") text += "# Benchmark results\n\nAppend-only: each run below says how it was made. See docs/benchmarks.md.\n\n";
  else if (!existing.endsWith("\n")) text += "\n";
  if (lastSectionHeading(existing) !== section.trim()) {
    text += `${section.trim()}\n\n`;
    if (intro) text += `${intro.trim()}\n\n`;
  }
  text += (typeof run === "string" ? run : renderRun(run)) + "\n";
  fs.appendFileSync(file, text);
  return text;
}

module.exports = { appendResults };
