/**
 * What the process tests share: a ProcessProtocol that records every callback in order
 * (data and all), and the zombie count of this process.
 */
import * as fs from "node:fs";
import type { Failure } from "../../lib/defer";
import { ProcessProtocol } from "../../lib/protocols";

/** Records each callback as a line ("connectionMade", "out:<text>", "exited:3/null", ...). */
export class Tracer extends ProcessProtocol {
  readonly trace: string[] = [];
  /** Output of each child fd, concatenated. */
  readonly output = new Map<number, Buffer[]>();
  reasonExited: Failure | null = null;
  reasonEnded: Failure | null = null;
  /** Called after processEnded. */
  onEnded: (t: Tracer) => void = () => undefined;
  /** Called after connectionMade. */
  onMade: (t: Tracer) => void = () => undefined;

  override connectionMade(): void {
    this.trace.push("connectionMade");
    this.onMade(this);
  }
  override childDataReceived(childFD: number, data: Buffer): void {
    let list = this.output.get(childFD);
    if (list === undefined) this.output.set(childFD, (list = []));
    list.push(data);
    super.childDataReceived(childFD, data);
  }
  override outReceived(data: Buffer): void {
    this.trace.push(`out:${data.toString()}`);
  }
  override errReceived(data: Buffer): void {
    this.trace.push(`err:${data.toString()}`);
  }
  override childConnectionLost(childFD: number): void {
    this.trace.push(`childConnectionLost:${childFD}`);
    super.childConnectionLost(childFD);
  }
  override inConnectionLost(): void {
    this.trace.push("inConnectionLost");
  }
  override outConnectionLost(): void {
    this.trace.push("outConnectionLost");
  }
  override errConnectionLost(): void {
    this.trace.push("errConnectionLost");
  }
  override processExited(reason: Failure): void {
    this.reasonExited = reason;
    this.trace.push(`processExited:${describeReason(reason)}`);
  }
  override processEnded(reason: Failure): void {
    this.reasonEnded = reason;
    this.trace.push(`processEnded:${describeReason(reason)}`);
    this.onEnded(this);
  }

  /** Everything the child wrote to `childFD`. */
  text(childFD: number): string {
    return Buffer.concat(this.output.get(childFD) ?? []).toString();
  }
}

/** "ProcessTerminated(exitCode=3, signal=null)". */
export function describeReason(reason: Failure): string {
  const v = reason.value as { constructor: { name: string }; exitCode: unknown; signal: unknown };
  return `${v.constructor.name}(exitCode=${String(v.exitCode)}, signal=${String(v.signal)})`;
}

/** Children of this process that are zombies (exited, never reaped). */
export function zombieChildren(): number[] {
  const me = String(process.pid);
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[1] === me && rest[0] === "Z") out.push(Number(name));
  }
  return out;
}
