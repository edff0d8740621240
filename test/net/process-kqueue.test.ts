/**
 * spawnProcess on the kqueue backend, through the kqueue-emulation build (kqemu/) on Linux:
 * each child's exit arrives by EVFILT_PROC/NOTE_EXIT on a kqueue of its own that the
 * reactor's kqueue watches (not by a pidfd of ours, not by SIGCHLD), and ends in the same
 * callbacks as on the other backends (test/net/process.test.ts). A few children per case:
 * the 2,000-spawn run stays on the native backends.
 */
import "../support/use-kqemu-addon"; // first: lib/native loads the kqueue-emulation addon
import * as fs from "node:fs";
import { ProcessDone } from "../../lib/error";
import { spawnProcess } from "../../lib/net";
import { native } from "../../lib/native";
import { expectNoFdLeaks, listFds, openFds } from "../support/fds";
import { KQEMU_MISSING } from "../support/kqemu-path";
import { runReactor, type Mode } from "./helpers";
import { Tracer, zombieChildren } from "./process-support";

expectNoFdLeaks();

/**
 * A real kqueue drops its knotes at close(2); the emulation cannot see that close, and
 * closes the pidfd behind a closed queue's EVFILT_PROC knote at the next kqueue() or
 * kevent() call (docs/platforms.md, "kqueue on Linux"). One kqueue() made here, so that fd
 * counts see what a real kqueue would leave.
 */
function settleEmulation(): void {
  new native.Poller("kqueue", new Uint32Array(3)).close();
}
afterEach(settleEmulation);

/** How many epoll fds this process holds (a kqueue of the emulation is one). */
function epollFds(): number {
  let n = 0;
  for (const fd of listFds()) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[eventpoll]") n++;
    } catch {
      // closed since the listing
    }
  }
  return n;
}

/** Spawns `args` on a kqueue reactor in `mode`; the tracer, and the epoll fds counted at connectionMade and at processEnded. */
function runOnKqueue(mode: Mode, args: string[], made?: (t: Tracer) => void): Promise<{ t: Tracer; whileRunning: number; afterEnd: number }> {
  if (!native.backends().includes("kqueue")) throw new Error(KQEMU_MISSING);
  let whileRunning = -1;
  return runReactor(
    mode,
    (reactor, finish) => {
      const t = new Tracer();
      t.onMade = () => {
        whileRunning = epollFds();
        made?.(t);
      };
      t.onEnded = () => finish({ t, whileRunning, afterEnd: epollFds() });
      spawnProcess(reactor, t, args[0], args);
    },
    20,
    { backend: "kqueue" },
  );
}

describe.each(["integrated", "exclusive"] as Mode[])("spawnProcess on kqueue (emulated, %s)", (mode) => {
  test("exit code 3 after the output, seen by the child's own EVFILT_PROC kqueue, which is closed once it fired", async () => {
    const { t, whileRunning, afterEnd } = await runOnKqueue(mode, ["/bin/sh", "-c", "printf out; exit 3"]);
    expect(t.text(1)).toBe("out");
    expect(t.trace[t.trace.length - 1]).toBe("processEnded:ProcessTerminated(exitCode=3, signal=null)");
    // The child's kqueue (an epoll fd in the emulation) existed while it ran, and is gone.
    expect(whileRunning - afterEnd).toBe(1);
  });

  test("a child killed by a signal reports the signal, and no exit code", async () => {
    const { t } = await runOnKqueue(mode, ["/bin/sleep", "30"], (p) => p.transport!.signalProcess("KILL"));
    expect(t.trace[t.trace.length - 1]).toBe("processEnded:ProcessTerminated(exitCode=null, signal=9)");
  });

  test("20 children in a row end with ProcessDone, no zombie, no fd behind", async () => {
    const fds = openFds();
    for (let i = 0; i < 20; i++) {
      const { t } = await runOnKqueue(mode, ["/bin/true"]);
      expect(t.reasonEnded!.check(ProcessDone)).toBe(ProcessDone);
    }
    settleEmulation();
    expect(zombieChildren()).toEqual([]);
    expect(openFds()).toBe(fds);
  });
});
