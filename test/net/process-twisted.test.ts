/**
 * The same children under real Twisted's spawnProcess (fixtures/twisted_process.py) and
 * under fdreactor, their ProcessProtocol callbacks traced side by side. The interleaving of
 * independent events (which pipe closes first, whether the exit is seen before the last
 * output) depends on the kernel's timing under both, so the comparison is of what Twisted
 * guarantees: the same callbacks, each once, the same bytes per fd, the same reasons, and
 * the same order rules (connectionMade first; a pipe's output before its loss, and its
 * childConnectionLost right before its in/out/errConnectionLost; processExited before
 * processEnded, which is last).
 */
import * as path from "node:path";
import { spawnProcess } from "../../lib/net";
import { native } from "../../lib/native";
import { describeWithPeer } from "../support/peers";
import { runTwistedPeer } from "../support/twisted";
import { expectNoFdLeaks } from "../support/fds";
import { runReactor } from "./helpers";
import { Tracer } from "./process-support";

// The SIGCHLD self-pipe is the process's for good (two fds, made once): make it before counting.
native.sigchldFd();
expectNoFdLeaks();

const FIXTURE = path.join(__dirname, "fixtures", "twisted_process.py");

/** The scenarios of the fixture, as fdreactor runs them. */
const SCENARIOS: Record<string, { executable: string; args: string[]; made: (t: Tracer) => void }> = {
  exit3: {
    executable: "/bin/sh",
    args: ["sh", "-c", 'read x; printf "got:%s" "$x"; printf err >&2; exit 3'],
    made: (t) => {
      t.transport!.write("in\n");
      t.transport!.closeStdin();
    },
  },
  kill: { executable: "/bin/sleep", args: ["sleep", "30"], made: (t) => t.transport!.signalProcess("KILL") },
  cat: {
    executable: "/bin/cat",
    args: ["cat"],
    made: (t) => {
      t.transport!.write(Buffer.alloc(65536, "x"));
      t.transport!.closeStdin();
    },
  },
};

async function twistedTrace(scenario: string): Promise<string[]> {
  let trace: string[] | null = null;
  const exit = await runTwistedPeer(FIXTURE, [scenario], (line) => {
    if (line.startsWith("TRACE ")) trace = JSON.parse(line.slice(6)) as string[];
  });
  if (trace === null) throw new Error(`the Twisted peer printed no trace (exit ${exit.code}): ${exit.stderr}`);
  return trace;
}

async function fdreactorTrace(scenario: string): Promise<string[]> {
  const s = SCENARIOS[scenario];
  const t = await runReactor<Tracer>("integrated", (reactor, finish) => {
    const tracer = new Tracer();
    tracer.onMade = s.made;
    tracer.onEnded = () => finish(tracer);
    spawnProcess(reactor, tracer, s.executable, s.args, { env: {} });
  });
  return t.trace;
}

/** What must be equal under both: callbacks (data merged per fd), each counted. */
function shape(trace: string[]): { calls: string[]; out: string; err: string } {
  const calls = trace.filter((l) => !l.startsWith("out:") && !l.startsWith("err:")).sort();
  const text = (p: string): string => trace.filter((l) => l.startsWith(p)).map((l) => l.slice(p.length)).join("");
  return { calls, out: text("out:"), err: text("err:") };
}

/** Twisted's order rules; returns the broken ones (none expected). */
function brokenRules(trace: string[]): string[] {
  const broken: string[] = [];
  const at = (l: string): number => trace.indexOf(l);
  const lastAt = (p: string): number => trace.map((l) => l.startsWith(p)).lastIndexOf(true);
  if (trace[0] !== "connectionMade") broken.push("connectionMade first");
  if (!trace[trace.length - 1].startsWith("processEnded:")) broken.push("processEnded last");
  if (lastAt("processExited:") > lastAt("processEnded:")) broken.push("processExited before processEnded");
  const names = ["inConnectionLost", "outConnectionLost", "errConnectionLost"];
  for (let fd = 0; fd < 3; fd++) {
    if (at(names[fd]) !== at(`childConnectionLost:${fd}`) + 1) broken.push(`childConnectionLost:${fd} right before ${names[fd]}`);
  }
  if (lastAt("out:") > at("childConnectionLost:1")) broken.push("stdout's output before its loss");
  if (lastAt("err:") > at("childConnectionLost:2")) broken.push("stderr's output before its loss");
  return broken;
}

describeWithPeer("python3-twisted")("spawnProcess traced under Twisted and under fdreactor", () => {
  test.each(Object.keys(SCENARIOS))("%s: the same callbacks, bytes and reasons, in an order Twisted's rules allow", async (scenario) => {
    const twisted = await twistedTrace(scenario);
    const ours = await fdreactorTrace(scenario);
    // Side by side in the report when they differ.
    const sideBySide = { twisted, fdreactor: ours };
    expect({ scenario, ...shape(ours) }).toEqual({ scenario, ...shape(twisted) });
    expect({ broken: brokenRules(twisted), sideBySide }).toEqual({ broken: [], sideBySide });
    expect({ broken: brokenRules(ours), sideBySide }).toEqual({ broken: [], sideBySide });
  });
});
