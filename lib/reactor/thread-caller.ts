/**
 * The worker-thread side of callFromThread. Functions cannot cross threads, so a worker
 * calls a function the reactor thread has *exposed by name*: `callFromThread(name, ...args)`
 * posts `[name, args]` on a MessagePort (structured clone, FIFO) and then wakes the
 * reactor through its waker fd (one eventfd write, safe from any thread). The reactor
 * reads the port with `receiveMessageOnPort` after draining the waker, so a message posted
 * before a wake is always seen: no lost wake-ups.
 *
 * The waker fd belongs to the reactor and is closed when it stops. To never write to a
 * closed (or reused) fd, the caller and the reactor share a small SharedArrayBuffer:
 * [CLOSED, INFLIGHT]. The caller counts itself in INFLIGHT, checks CLOSED, wakes, counts
 * itself out; the reactor sets CLOSED, waits for INFLIGHT to reach 0, then closes the fd.
 *
 * This file imports only the native addon, so a worker can load it alone.
 */
import type { MessagePort } from "node:worker_threads";
import { native } from "../native";

/** Index of the CLOSED flag in a channel's shared state. */
export const STATE_CLOSED = 0;
/** Index of the in-flight wake counter in a channel's shared state. */
export const STATE_INFLIGHT = 1;

/**
 * What a worker needs to call into a reactor: made by `reactor.threadChannel()`, sent in
 * `workerData` with `port` in the transfer list.
 */
export interface ThreadChannelHandle {
  /** The worker's end of the channel (transfer it). */
  port: MessagePort;
  /** The reactor's waker fd (write side). */
  wakeFd: number;
  /** [CLOSED, INFLIGHT] as Int32, shared with the reactor. */
  state: SharedArrayBuffer;
}

/** Calls functions exposed on a reactor from another thread (or from the same one). */
export class ThreadCaller {
  private readonly port: MessagePort;
  private readonly wakeFd: number;
  private readonly state: Int32Array;

  /** `handle` is the object made by `reactor.threadChannel()`. */
  constructor(handle: ThreadChannelHandle) {
    if (!handle || typeof handle !== "object") throw new TypeError("handle must be a ThreadChannelHandle");
    if (typeof handle.port?.postMessage !== "function") throw new TypeError("handle.port must be a MessagePort");
    if (!Number.isInteger(handle.wakeFd) || handle.wakeFd < 0) throw new RangeError("handle.wakeFd must be an fd");
    if (!(handle.state instanceof SharedArrayBuffer)) throw new TypeError("handle.state must be a SharedArrayBuffer");
    this.port = handle.port;
    this.wakeFd = handle.wakeFd;
    this.state = new Int32Array(handle.state);
  }

  /**
   * Queues `name(...args)` to run on the reactor thread in a coming iteration, after the
   * calls this thread queued before (FIFO per thread). `args` are structured-cloned.
   * Returns false (and queues nothing) once the reactor has shut down.
   */
  callFromThread(name: string, ...args: unknown[]): boolean {
    if (typeof name !== "string") throw new TypeError("name must be a string");
    const s = this.state;
    Atomics.add(s, STATE_INFLIGHT, 1);
    try {
      if (Atomics.load(s, STATE_CLOSED) !== 0) return false;
      this.port.postMessage([name, args]);
      native.wake(this.wakeFd);
      return true;
    } finally {
      Atomics.sub(s, STATE_INFLIGHT, 1);
    }
  }

  /** Closes this thread's end of the channel. */
  close(): void {
    this.port.close();
  }
}
