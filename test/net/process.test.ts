/**
 * IReactorProcess on real children (/bin/sh, cat, sleep): the callback order, bytes both
 * ways, the fds a child gets, exits by code and by signal, programs that cannot start, EMFILE
 * while spawning, and many spawns in a row leaving no zombie and no fd behind. Each child's
 * exit is watched by a pidfd on every Linux backend, and by SIGCHLD.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ProcessDone, ProcessExitedAlready, ProcessSpawnError, ProcessTerminated } from "../../lib/error";
import { childExitWatchKind, listenTCP, spawnProcess, useChildExitWatch, type ChildExitWatchKind, type Process } from "../../lib/net";
import { native, type Backend } from "../../lib/native";
import { ServerFactory } from "../../lib/protocols";
import { expectNoFdLeaks, listFds, openFds } from "../support/fds";
import { runReactor, type Mode } from "./helpers";
import { Tracer, zombieChildren } from "./process-support";

// The SIGCHLD self-pipe is the process's for good (two fds, made once): make it before counting.
native.sigchldFd();
expectNoFdLeaks();

const SH = "/bin/sh";
const LINUX_BACKENDS: Backend[] = native.backends().filter((b) => b !== "kqueue");
/** Each backend with the run modes it has, and each way of watching the exit. */
const SETUPS: Array<[Backend, Mode, ChildExitWatchKind]> = [];
for (const b of LINUX_BACKENDS) {
  const modes: Mode[] = b === "epoll" ? ["integrated", "exclusive"] : ["exclusive"];
  for (const m of modes) for (const w of ["pidfd", "sigchld"] as ChildExitWatchKind[]) SETUPS.push([b, m, w]);
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fdreactor-process-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  useChildExitWatch("pidfd");
});

/** Spawns under a fresh reactor, resolves with the tracer once processEnded ran. */
function runChild(args: string[], options: Parameters<typeof spawnProcess>[4] = {}, setup?: { backend?: Backend; mode?: Mode; made?: (t: Tracer) => void }, executable = args[0]): Promise<Tracer> {
  return runReactor<Tracer>(
    setup?.mode ?? "integrated",
    (reactor, finish) => {
      const t = new Tracer();
      t.onEnded = () => finish(t);
      if (setup?.made) t.onMade = setup.made;
      spawnProcess(reactor, t, executable, args, options);
    },
    20,
    setup?.backend ? { backend: setup.backend } : {},
  );
}

describe.each(SETUPS)("spawnProcess on %s (%s), exit seen by %s", (backend, mode, watch) => {
  beforeAll(() => useChildExitWatch(watch));
  afterAll(() => useChildExitWatch("pidfd"));

  test("output on stdout and stderr, then each pipe's loss once, processExited, and processEnded last with the exit code", async () => {
    const t = await runChild([SH, "-c", "printf out; printf err >&2; exit 3"], {}, { backend, mode });
    expect(childExitWatchKind()).toBe(watch);
    expect(t.trace[0]).toBe("connectionMade");
    expect(t.trace[t.trace.length - 1]).toBe("processEnded:ProcessTerminated(exitCode=3, signal=null)");
    expect(t.text(1)).toBe("out");
    expect(t.text(2)).toBe("err");
    for (const fd of [0, 1, 2]) expect(t.trace.filter((l) => l === `childConnectionLost:${fd}`)).toHaveLength(1);
    const idx = (l: string): number => t.trace.indexOf(l);
    // Each pipe's own callback follows its childConnectionLost; all output before its pipe's loss.
    expect(idx("inConnectionLost")).toBe(idx("childConnectionLost:0") + 1);
    expect(idx("outConnectionLost")).toBeGreaterThan(idx("out:out"));
    expect(idx("errConnectionLost")).toBeGreaterThan(idx("err:err"));
    expect(t.trace.filter((l) => l.startsWith("processExited"))).toEqual(["processExited:ProcessTerminated(exitCode=3, signal=null)"]);
    expect(t.reasonEnded!.check(ProcessTerminated)).toBe(ProcessTerminated);
    expect((t.reasonEnded!.value as ProcessTerminated).status).toBe(3 << 8);
  });

  test("1 MiB through cat comes back byte for byte; exit 0 is ProcessDone", async () => {
    const data = crypto.randomBytes(1024 * 1024);
    const t = await runChild(["cat"], { env: { PATH: "/usr/bin:/bin" } }, {
      backend,
      mode,
      made: (p) => {
        p.transport!.write(data);
        p.transport!.closeStdin();
      },
    });
    const got = Buffer.concat(t.output.get(1) ?? []);
    expect(got.length).toBe(data.length);
    expect(crypto.createHash("sha256").update(got).digest("hex")).toBe(crypto.createHash("sha256").update(data).digest("hex"));
    expect(t.reasonEnded!.check(ProcessDone)).toBe(ProcessDone);
    expect((t.reasonEnded!.value as ProcessDone).exitCode).toBe(0);
  });

  test("a child killed by a signal reports the signal, and no exit code", async () => {
    const t = await runChild(["/bin/sleep", "30"], {}, { backend, mode, made: (p) => p.transport!.signalProcess("KILL") });
    expect(t.trace[t.trace.length - 1]).toBe("processEnded:ProcessTerminated(exitCode=null, signal=9)");
  });
});

describe("signals", () => {
  test("signalProcess('KILL') ends the child with signal 9 and exitCode null; afterwards it throws ProcessExitedAlready", async () => {
    let proc: Process | null = null;
    let pid = 0;
    const t = await runChild(["/bin/sleep", "30"], {}, {
      made: (p) => {
        proc = p.transport as Process;
        pid = proc.pid!;
        proc.signalProcess("KILL");
      },
    });
    expect(pid).toBeGreaterThan(0);
    const v = t.reasonEnded!.value as ProcessTerminated;
    expect(v).toBeInstanceOf(ProcessTerminated);
    expect(v.signal).toBe(9);
    expect(v.exitCode).toBeNull();
    expect(v.message).toBe("process ended by signal 9");
    expect(proc!.pid).toBeNull();
    expect(() => proc!.signalProcess("TERM")).toThrow(ProcessExitedAlready);
    expect(() => proc!.signalProcess("NOSUCH")).toThrow(/signal must be a signal name/);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
  });

  test("TERM by name, SIGUSR1 by full name and 15 by number all reach the child", async () => {
    for (const sig of ["TERM", "SIGUSR1", 15] as const) {
      const t = await runChild(["/bin/sleep", "30"], {}, { made: (p) => p.transport!.signalProcess(sig) });
      expect((t.reasonEnded!.value as ProcessTerminated).signal).toBe(sig === "SIGUSR1" ? os.constants.signals.SIGUSR1 : 15);
    }
  });
});

describe("the child's fds", () => {
  /**
   * The child's open fd numbers, read from /proc while it sleeps, spawned by a
   * reactor that also holds a listening socket and a pidfd of another child.
   */
  async function childFdsOf(childFDs: Record<number, "r" | "w" | number>, extra: { uid?: number; gid?: number } = {}): Promise<number[]> {
    let seen: number[] = [];
    await runReactor<void>("integrated", (reactor, finish) => {
      listenTCP(reactor, 0, new ServerFactory());
      const sleeping = new Tracer();
      sleeping.onEnded = () => finish();
      const sleeper = spawnProcess(reactor, sleeping, "/bin/sleep", ["sleep", "30"]);
      const t = new Tracer();
      t.onMade = (p) => {
        const pid = (p.transport as Process).pid!;
        // The exec has finished (close-on-exec fds closed) once sleep sleeps: the parent may
        // resume from a vfork-style spawn a moment before the kernel closes them.
        const look = (tries: number): void => {
          if (!fs.readFileSync(`/proc/${pid}/wchan`, "utf8").includes("nanosleep") && tries > 0) {
            reactor.callLater(0.01, look, tries - 1);
            return;
          }
          seen = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
          p.transport!.signalProcess("KILL");
        };
        look(200);
      };
      t.onEnded = () => sleeper.signalProcess("KILL");
      // sleep opens nothing and needs no stdout (cat checks fd 1 at start and would exit).
      spawnProcess(reactor, t, "/bin/sleep", ["sleep", "30"], { childFDs, ...extra });
    });
    return seen;
  }

  test("a child holds exactly the fds childFDs names, though the reactor has a socket, pipes and pidfds open", async () => {
    expect(await childFdsOf({ 0: "w", 1: "r", 2: "r" })).toEqual([0, 1, 2]);
    expect(await childFdsOf({ 0: "w", 1: "r", 2: "r", 5: "r", 7: "w" })).toEqual([0, 1, 2, 5, 7]);
    // A gap below the highest fd stays closed; fd 1 left out is closed too.
    expect(await childFdsOf({ 0: "w", 4: "r" })).toEqual([0, 4]);
    // The fork + exec path (uid/gid given) closes the same way.
    expect(await childFdsOf({ 0: "w", 1: "r", 6: "r" }, { uid: process.getuid!(), gid: process.getgid!() })).toEqual([0, 1, 6]);
  });

  test("every fd a reactor with a process, a listener and a connection holds is close-on-exec", async () => {
    const before = new Set(listFds());
    const flags: Array<[number, number]> = [];
    await runReactor<void>("integrated", (reactor, finish) => {
      const port = listenTCP(reactor, 0, new ServerFactory());
      void port;
      const t = new Tracer();
      t.onMade = () => {
        for (const fd of listFds()) {
          if (before.has(fd)) continue;
          let info: string;
          try {
            info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
          } catch {
            continue; // the readdir's own fd, gone
          }
          flags.push([fd, parseInt(/flags:\s*([0-7]+)/.exec(info)![1], 8)]);
        }
        t.transport!.closeStdin();
      };
      t.onEnded = () => finish();
      spawnProcess(reactor, t, "/bin/cat", ["cat"]);
    });
    // poller, listener, three pipes, pidfd: 6, less any number freed meanwhile and reused
    expect(flags.length).toBeGreaterThanOrEqual(4);
    const O_CLOEXEC = 0o2000000;
    expect(flags.filter(([, f]) => (f & O_CLOEXEC) === 0)).toEqual([]);
  });

  test("a parent fd given by number reaches the child at the named number; extra 'w' and 'r' pipes carry bytes", async () => {
    const file = path.join(dir, "given.txt");
    const fd = fs.openSync(file, "w");
    try {
      const t = await runChild([SH, "-c", "echo to-file >&5; read line <&3; echo \"got $line\" >&4"], { childFDs: { 3: "w", 4: "r", 5: fd } }, {
        made: (p) => {
          p.transport!.writeToChild(3, "over fd 3\n");
          p.transport!.closeChildFD(3);
        },
      });
      expect(t.text(4)).toBe("got over fd 3\n");
      expect(fs.readFileSync(file, "utf8")).toBe("to-file\n");
      expect(t.reasonEnded!.check(ProcessDone)).toBe(ProcessDone);
      expect(t.trace.filter((l) => l.startsWith("childConnectionLost")).sort()).toEqual(["childConnectionLost:3", "childConnectionLost:4"]);
    } finally {
      fs.closeSync(fd);
    }
  });

  test("env is the child's whole environment ({} by default, process.env with null); path is its directory", async () => {
    const e = await runChild(["/usr/bin/env"], { env: { ONLY: "this" } });
    expect(e.text(1)).toBe("ONLY=this\n");
    const empty = await runChild(["/usr/bin/env"]);
    expect(empty.text(1)).toBe("");
    process.env.FDREACTOR_PROCESS_TEST = "inherited";
    try {
      const inherited = await runChild(["/usr/bin/env"], { env: null });
      expect(inherited.text(1)).toContain("FDREACTOR_PROCESS_TEST=inherited\n");
    } finally {
      delete process.env.FDREACTOR_PROCESS_TEST;
    }
    const cwd = await runChild([SH, "-c", "pwd"], { path: dir });
    expect(cwd.text(1)).toBe(`${fs.realpathSync(dir)}\n`);
  });
});

describe("programs that cannot start and bad arguments", () => {
  const CANNOT_START: Array<[string, () => string, object, string]> = [
    ["a missing program", () => "/no/such/program", {}, "ENOENT"],
    ["a file that is not executable", (): string => {
      const f = path.join(dir, "not-executable");
      fs.writeFileSync(f, "#!/bin/sh\necho hi\n", { mode: 0o644 });
      return f;
    }, {}, "EACCES"],
    ["a name not on PATH", () => "no-such-program-fdreactor", { env: { PATH: "/usr/bin:/bin" } }, "ENOENT"],
    ["a working directory that does not exist", () => "/bin/true", { path: "/no/such/dir" }, "ENOENT"],
    ["a missing program with uid/gid (fork + exec)", () => "/no/such/program", { uid: process.getuid!(), gid: process.getgid!() }, "ENOENT"],
  ];
  test.each(CANNOT_START)("%s ends in processExited and processEnded with a ProcessSpawnError naming it; no connectionMade, no zombie", async (_what, exe, options, code) => {
    const executable = exe();
    const t = await runChild([executable], options as object, undefined, executable);
    expect(t.trace).toEqual(["processExited:ProcessSpawnError(exitCode=127, signal=null)", "processEnded:ProcessSpawnError(exitCode=127, signal=null)"]);
    const v = t.reasonEnded!.value as ProcessSpawnError;
    expect(v).toBeInstanceOf(ProcessSpawnError);
    expect(v).toBeInstanceOf(ProcessTerminated);
    expect(v.code).toBe(code);
    expect(v.message).toContain(JSON.stringify(executable));
    expect(v.executable).toBe(executable);
    expect(t.transport).toBeNull();
    expect(zombieChildren()).toEqual([]);
  });

  test("wrong arguments throw typed errors naming the argument, before anything is made", async () => {
    const fds = openFds();
    await runReactor<void>("integrated", (reactor, finish) => {
      const t = new Tracer();
      expect(() => spawnProcess(reactor, {} as Tracer, "/bin/true")).toThrow(/processProtocol must be a ProcessProtocol/);
      expect(() => spawnProcess(reactor, t, "")).toThrow(/executable must be a non-empty string/);
      expect(() => spawnProcess(reactor, t, "/bin/true", ["a", 1 as unknown as string])).toThrow(/args must be an array of strings/);
      expect(() => spawnProcess(reactor, t, "/bin/true", [], { env: { "A=B": "x" } })).toThrow(/env: "A=B"/);
      expect(() => spawnProcess(reactor, t, "/bin/true", [], { uid: -2 })).toThrow(/uid must be an integer >= 0/);
      expect(() => spawnProcess(reactor, t, "/bin/true", [], { childFDs: { 0: "x" as "r" } })).toThrow(/childFDs\[0\] must be "r", "w"/);
      expect(() => spawnProcess(reactor, t, "/bin/true", [], { childFDs: { "-1": "r" } })).toThrow(/childFDs: "-1" is not a child fd/);
      expect(() => spawnProcess(reactor, t, "/bin/true", [], { path: 5 as unknown as string })).toThrow(/path must be a non-empty string/);
      expect(t.trace).toEqual([]);
      finish();
    });
    expect(openFds()).toBe(fds);
  });

  test("EMFILE while spawning fails that spawn only: it throws, closes what it made, and a running child carries on", async () => {
    const limits = native.getNofileLimit();
    const fdsBefore = openFds();
    const out = await runReactor<{ error: unknown; other: string }>("integrated", (reactor, finish) => {
      const other = new Tracer();
      let error: unknown = null;
      other.onMade = () => {
        try {
          native.setNofileLimit(3);
          spawnProcess(reactor, new Tracer(), "/bin/true", ["true"]);
        } catch (e) {
          error = e;
        } finally {
          native.setNofileLimit(limits.soft);
        }
        other.transport!.write("still here\n");
        other.transport!.closeStdin();
      };
      other.onEnded = () => finish({ error, other: other.text(1) });
      spawnProcess(reactor, other, "/bin/cat", ["cat"]);
    });
    expect((out.error as { code?: string }).code).toBe("EMFILE");
    expect(out.other).toBe("still here\n");
    expect(openFds()).toBe(fdsBefore);
    expect(zombieChildren()).toEqual([]);
  });
});

describe("closing", () => {
  test("loseConnection closes every pipe but does not signal: the child ends on its own (cat sees EOF)", async () => {
    const t = await runChild(["/bin/cat"], {}, { made: (p) => p.transport!.loseConnection() });
    expect(t.trace[0]).toBe("connectionMade");
    expect(t.trace.filter((l) => l.startsWith("childConnectionLost")).sort()).toEqual(["childConnectionLost:0", "childConnectionLost:1", "childConnectionLost:2"]);
    expect(t.reasonEnded!.check(ProcessDone)).toBe(ProcessDone);
  });

  test("processEnded waits for a grandchild that still holds stdout; processExited does not", async () => {
    const t = await runChild([SH, "-c", "(sleep 0.3; echo late) & exit 0"]);
    const exited = t.trace.findIndex((l) => l.startsWith("processExited"));
    const late = t.trace.indexOf("out:late\n");
    expect(exited).toBeGreaterThan(0);
    expect(late).toBeGreaterThan(exited);
    expect(t.trace[t.trace.length - 1]).toMatch(/^processEnded:ProcessDone/);
  });
});

describe("many spawns", () => {
  test("2,000 children in a row (20 at a time) all end with ProcessDone and leave no zombie and no fd", async () => {
    const TOTAL = 2000;
    const fds = openFds();
    const result = await runReactor<{ done: number; pids: Set<number> }>(
      "integrated",
      (reactor, finish) => {
        let started = 0;
        let ended = 0;
        let done = 0;
        const pids = new Set<number>();
        const next = (): void => {
          if (started >= TOTAL) return;
          started++;
          const t = new Tracer();
          t.onEnded = () => {
            if (t.reasonEnded!.check(ProcessDone)) done++;
            if (++ended === TOTAL) finish({ done, pids });
            else next();
          };
          pids.add(spawnProcess(reactor, t, "/bin/true", ["true"]).pid!);
        };
        for (let i = 0; i < 20; i++) next();
      },
      120,
    );
    expect(result.done).toBe(TOTAL);
    expect(result.pids.size).toBe(TOTAL);
    expect(zombieChildren()).toEqual([]);
    expect(openFds()).toBe(fds);
  }, 150_000);
});
