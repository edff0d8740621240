/** An in-memory Writable for tests of code that prints (the bench runners' out/err streams). */
import { Writable } from "node:stream";

/** A Writable collecting what is written to it as text in `text`. */
export function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = "";
  return w;
}
