/**
 * A reader on stdin and a timer on the global reactor; Ctrl-C (SIGINT) or the end of stdin
 * stops it cleanly.
 *
 *   npx tsc -p tsconfig.json && node dist/examples/stdin-timer.js
 *   echo hello | node dist/examples/stdin-timer.js
 *
 * stdin must be a terminal, a pipe or a socket: the kernel cannot poll a regular file
 * (`< file.txt` is refused with EPERM by epoll).
 */
import type { Failure } from "../lib/defer";
import { native, AGAIN } from "../lib/native";
import { ConnectionDone } from "../lib/error";
import { reactor } from "../lib/reactor";
import type { IReadDescriptor } from "../lib/reactor";

/** Echoes what arrives on fd 0; stdin's end drops it with ConnectionDone. */
class StdinReader implements IReadDescriptor {
  private readonly buf = Buffer.alloc(4096);

  fileno(): number {
    return 0;
  }

  doRead(): Error | void {
    const n = native.read(0, this.buf, 0, this.buf.length);
    if (n === AGAIN) return;
    if (n === 0) return new ConnectionDone("stdin closed");
    process.stdout.write(`stdin: ${JSON.stringify(this.buf.toString("utf8", 0, n))}\n`);
  }

  connectionLost(reason: Failure): void {
    process.stdout.write(`stdin reader done: ${reason.getErrorMessage()}\n`);
    if (reactor.running) reactor.stop();
  }
}

let ticks = 0;
function tick(): void {
  ticks++;
  process.stdout.write(`tick ${ticks}\n`);
  reactor.callLater(1, tick);
}

try {
  reactor.addReader(new StdinReader());
} catch (e) {
  process.stderr.write(`cannot watch stdin (${(e as Error).message}): use a terminal or a pipe\n`);
  process.exit(1);
}
reactor.callLater(1, tick);
reactor.addSystemEventTrigger("before", "shutdown", () => process.stdout.write("shutting down\n"));
void reactor.run().then(() => process.stdout.write(`stopped after ${ticks} ticks\n`));
