/**
 * Shared pieces of the reactor tests: every (backend, run mode) this build supports, and
 * small descriptors over raw fds.
 */
import type { Failure } from "../../lib/defer";
import { native, AGAIN } from "../../lib/native";
import type { Backend } from "../../lib/native";
import { Reactor } from "../../lib/reactor";
import type { RunMode, ReactorOptions, IReadDescriptor, IWriteDescriptor } from "../../lib/reactor";
import { runnableBackends } from "../support/backends";

/** One way to run a reactor. */
export interface Config {
  backend: Backend;
  mode: RunMode;
}

/** Every backend of this build that the kernel runs (see test/support/backends.ts), in every run mode it supports. */
export function configs(): Config[] {
  const out: Config[] = [];
  for (const backend of runnableBackends()) {
    if (backend === "epoll" || backend === "io_uring" || backend === "kqueue") out.push({ backend, mode: "integrated" });
    out.push({ backend, mode: "exclusive" });
  }
  return out;
}

/** Jest table rows: [label, config]. */
export function configTable(): [string, Config][] {
  return configs().map((c) => [`${c.backend}/${c.mode}`, c]);
}

/** A reactor for `c` with extra options. */
export function makeReactor(c: Config, extra: ReactorOptions = {}): Reactor {
  return new Reactor({ backend: c.backend, mode: c.mode, ...extra });
}

/** Reads everything available on its fd into `chunks`; calls `onData` after each read. */
export class FdReader implements IReadDescriptor {
  readonly chunks: string[] = [];
  /** The Failure given to connectionLost, or null. */
  lost: Failure | null = null;
  private readonly buf = Buffer.alloc(65536);
  constructor(
    readonly fd: number,
    private readonly onData: (r: FdReader) => void = () => undefined,
  ) {}
  fileno(): number {
    return this.fd;
  }
  doRead(): Error | void {
    const n = native.read(this.fd, this.buf, 0, this.buf.length);
    if (n === AGAIN) return;
    if (n === 0) return new Error("EOF");
    this.chunks.push(this.buf.toString("latin1", 0, n));
    this.onData(this);
  }
  connectionLost(reason: Failure): void {
    this.lost = reason;
  }
  /** Everything read, joined. */
  text(): string {
    return this.chunks.join("");
  }
}

/** Writes `data` to its fd as the fd accepts it, then calls `onDone`. */
export class FdWriter implements IWriteDescriptor {
  private offset = 0;
  /** The Failure given to connectionLost, or null. */
  lost: Failure | null = null;
  writes = 0;
  constructor(
    readonly fd: number,
    private readonly data: Buffer,
    private readonly onDone: (w: FdWriter) => void,
  ) {}
  fileno(): number {
    return this.fd;
  }
  doWrite(): Error | void {
    this.writes++;
    if (this.offset < this.data.length) {
      const n = native.write(this.fd, this.data, this.offset, this.data.length - this.offset);
      if (n > 0) this.offset += n;
    }
    if (this.offset === this.data.length) this.onDone(this);
  }
  connectionLost(reason: Failure): void {
    this.lost = reason;
  }
}

/** Closes every fd given. */
export function closeAll(...fds: number[]): void {
  for (const fd of fds) native.close(fd);
}
