"use strict";
/** The line that says where a run is: step, what runs now, elapsed and an estimate of what is left. */

/** Renders "m:ss". */
function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A progress line on stderr: rewritten in place on a terminal, one line per step otherwise. */
class Progress {
  /** @param {number} total steps @param {number} secondsPerStep expected, for the estimate */
  constructor(total, secondsPerStep, stream = process.stderr) {
    this.total = total;
    this.secondsPerStep = secondsPerStep;
    this.stream = stream;
    this.started = Date.now();
    this.step = 0;
    this.tty = Boolean(stream.isTTY);
  }

  /** Announces step `step` (1-based) doing `what`. */
  update(step, what) {
    this.step = step;
    const elapsed = (Date.now() - this.started) / 1000;
    const perStep = step > 1 ? elapsed / (step - 1) : this.secondsPerStep;
    const left = perStep * (this.total - step + 1);
    const width = String(this.total).length;
    const text = `[${String(step).padStart(width)}/${this.total}] ${what} · ${clock(elapsed)} elapsed, ~${clock(left)} left`;
    if (this.tty) this.stream.write(`\r\x1b[K${text}`);
    else this.stream.write(`${text}\n`);
  }

  /** Ends the progress line (so the next output starts on a fresh line). */
  done() {
    const text = `done in ${clock((Date.now() - this.started) / 1000)}`;
    this.stream.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}

module.exports = { Progress, clock };
