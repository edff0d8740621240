/**
 * The reactor-thread side of callFromThread (see thread-caller.ts for the protocol): the
 * waker fd pair, the channels handed to workers, the functions exposed to them by name,
 * and the drain that runs queued calls in the reactor's iteration.
 */
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { native } from "../native";
import { log } from "../log";
import { STATE_CLOSED, STATE_INFLIGHT } from "./thread-caller";
import type { ThreadChannelHandle } from "./thread-caller";

/** Calls taken from one port per iteration; the rest wait for the next (I/O is not starved). */
const MAX_PER_PORT = 1024;

/** Cross-thread calls received by one reactor. */
export class ThreadInbox {
  /** [readFd, writeFd] of the waker (equal for an eventfd). */
  readonly waker: [number, number];
  private readonly ports: MessagePort[] = [];
  private readonly functions = new Map<string, (...a: any[]) => unknown>();
  private readonly stateBuffer = new SharedArrayBuffer(8);
  private readonly state = new Int32Array(this.stateBuffer);
  private closed = false;

  constructor() {
    this.waker = native.makeWaker();
  }

  /** Exposes `f` to ThreadCallers under `name` (replacing any earlier one). */
  expose(name: string, f: (...a: any[]) => unknown): void {
    if (typeof name !== "string" || name === "") throw new TypeError("name must be a non-empty string");
    if (typeof f !== "function") throw new TypeError("f must be a function");
    this.functions.set(name, f);
  }

  /** The function exposed as `name`, if any. */
  lookup(name: string): ((...a: any[]) => unknown) | undefined {
    return this.functions.get(name);
  }

  /** A new channel for one thread. */
  channel(): ThreadChannelHandle {
    const { port1, port2 } = new MessageChannel();
    // Read synchronously with receiveMessageOnPort: never started, never keeps Node alive.
    port1.unref();
    this.ports.push(port1);
    return { port: port2, wakeFd: this.waker[1], state: this.stateBuffer };
  }

  /** Clears pending wake-ups (called when the waker fd is readable). */
  drainWaker(): void {
    native.drainWaker(this.waker[0]);
  }

  /**
   * Runs the calls queued on every channel, at most MAX_PER_PORT per channel; returns true
   * when some were left for the next iteration.
   */
  runQueued(): boolean {
    let backlog = false;
    for (const port of this.ports) {
      let k = 0;
      for (; k < MAX_PER_PORT; k++) {
        const m = receiveMessageOnPort(port);
        if (m === undefined) break;
        this.invoke(m.message);
      }
      if (k === MAX_PER_PORT) backlog = true;
    }
    return backlog;
  }

  /** Refuses further calls, waits out wakes in flight, then closes the waker and ports. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.state, STATE_CLOSED, 1);
    // A caller between its CLOSED check and its wake holds INFLIGHT; that window is one
    // eventfd write long, so spinning (bounded) is cheaper than any wait primitive here.
    for (let i = 0; i < 1e8 && Atomics.load(this.state, STATE_INFLIGHT) !== 0; i++);
    for (const port of this.ports) port.close();
    this.ports.length = 0;
    native.close(this.waker[0]);
    if (this.waker[1] !== this.waker[0]) native.close(this.waker[1]);
  }

  private invoke(message: unknown): void {
    if (!Array.isArray(message) || typeof message[0] !== "string" || !Array.isArray(message[1])) {
      log("error", "callFromThread: malformed message dropped", message);
      return;
    }
    const f = this.functions.get(message[0]);
    if (f === undefined) {
      log("error", `callFromThread: no function exposed as "${message[0]}"`);
      return;
    }
    try {
      f(...(message[1] as unknown[]));
    } catch (err) {
      log("error", `callFromThread: "${message[0]}" threw`, err);
    }
  }
}
