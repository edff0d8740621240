/**
 * The main script of a thread-pool worker (see threadpool.ts). It runs the functions the
 * pool sends, one at a time, and reports each outcome through the reactor's thread channel
 * (so the reactor wakes through its waker fd, in either run mode).
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { ThreadCaller } from "./thread-caller";
import { BLOCKING_CALL, RESULT_CALL, THREAD_STATE, errorFromRecord, errorRecord } from "./threadpool-protocol";
import type { BlockingReply, PoolThreadState, PoolWorkerData, RunMessage } from "./threadpool-protocol";

const data = (workerData as { fdreactorThreadPool?: PoolWorkerData } | null)?.fdreactorThreadPool;
if (parentPort === null || data === undefined) throw new Error("threadpool-worker is the main script of a thread-pool worker, not a module");

const caller = new ThreadCaller(data.channel);
const flag = new Int32Array(data.replyFlag);
const worker = data.worker;

const state: PoolThreadState = {
  blockingCall(name, args) {
    Atomics.store(flag, 0, 0);
    if (!caller.callFromThread(BLOCKING_CALL, worker, name, args)) throw new Error("blockingCallFromThread: the reactor has stopped");
    Atomics.wait(flag, 0, 0);
    const m = receiveMessageOnPort(data.replyPort);
    if (m === undefined) throw new Error("blockingCallFromThread: woken without a reply");
    const reply = m.message as BlockingReply;
    if (reply[0]) return reply[1];
    throw errorFromRecord(reply[1]);
  },
};
(globalThis as { [THREAD_STATE]?: PoolThreadState })[THREAD_STATE] = state;

/** Reports one outcome; a result that cannot be cloned is reported as that error. */
function report(id: number, ok: boolean, value: unknown): void {
  try {
    caller.callFromThread(RESULT_CALL, worker, id, ok, ok ? value : errorRecord(value));
  } catch (err) {
    caller.callFromThread(RESULT_CALL, worker, id, false, errorRecord(err));
  }
}

async function run(m: RunMessage): Promise<void> {
  let value: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(m.module) as Record<string, unknown>;
    const f = mod[m.export];
    if (typeof f !== "function") throw new TypeError(`${m.module} has no function export named "${m.export}"`);
    value = await (f as (...a: unknown[]) => unknown)(...m.args);
  } catch (err) {
    report(m.id, false, err);
    return;
  }
  report(m.id, true, value);
}

// null: the pool lowered its size and this idle worker leaves (its last report is done).
parentPort.on("message", (m: RunMessage | null) => {
  if (m === null) {
    caller.close();
    data.replyPort.close();
    parentPort?.close();
    return;
  }
  void run(m);
});
