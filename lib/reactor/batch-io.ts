/**
 * The reactor's batched I/O (docs/design.md "Batching"): one native call per iteration
 * reads every ready batch reader into a slab, and one writes the queues of every batch
 * writer that asked for a flush. Each descriptor then hears its own result; what a
 * descriptor does with it, and what happens when it fails, is the reactor's
 * (`BatchSink`). Nothing here allocates per fd.
 */
import { native, AGAIN } from "../native";
import { log } from "../log";
import { asError, describe } from "./failures";
import type { Registry } from "./registry";
import type { IBatchReadDescriptor, IBatchWriter, IFileDescriptor } from "./interfaces";

/** Where the batches hand their results (the reactor, which drops a descriptor that fails). */
export interface BatchSink {
  /** `r.readResult(data, result)`, guarded. */
  readResult(r: IBatchReadDescriptor, data: Buffer | null, result: number): void;
  /** `w.wrote(result)`, guarded. */
  wrote(w: IBatchWriter, result: number): void;
  /** Drops `d` with `reason` (it handed the batch something unusable). */
  drop(d: IFileDescriptor, reason: Error): void;
}

/** Batch readers collected during dispatch, read with one readBatch per slab. */
export class ReadBatch {
  private readonly fds: Int32Array;
  private readonly readers: (IBatchReadDescriptor | null)[];
  private readonly out: Int32Array;
  private count = 0;
  private slab: Buffer;
  private slabOffset = 0;

  /** Room for `capacity` readers per iteration (one per event); slabs of `slabSize`, at most `maxReadPerFd` per fd. */
  constructor(
    capacity: number,
    private readonly slabSize: number,
    private readonly maxReadPerFd: number,
  ) {
    this.fds = new Int32Array(capacity);
    this.readers = new Array<IBatchReadDescriptor | null>(capacity).fill(null);
    this.out = new Int32Array(capacity * 3);
    this.slab = Buffer.allocUnsafeSlow(slabSize);
  }

  /** True when dispatch collected readers this iteration. */
  get pending(): boolean {
    return this.count > 0;
  }

  /** Dispatch: `r` (registered for `fd`) is readable. */
  add(fd: number, r: IBatchReadDescriptor): void {
    this.fds[this.count] = fd;
    this.readers[this.count++] = r;
  }

  /**
   * Reads every collected reader with one readBatch per slab and hands each its bytes. A
   * reader removed since dispatch is skipped (its fd may be closed, or even reused); bytes
   * already read are always delivered to the reader they were read for, even when it
   * stopped reading meanwhile (nothing read is ever dropped).
   */
  run(reg: Registry, sink: BatchSink): void {
    const fds = this.fds;
    const readers = this.readers;
    let m = 0;
    for (let k = 0; k < this.count; k++) {
      const r = readers[k];
      const slot = reg.slotOf(fds[k]);
      if (slot >= 0 && reg.readers[slot] === r) {
        fds[m] = fds[k];
        readers[m++] = r;
      }
    }
    for (let k = m; k < this.count; k++) readers[k] = null;
    this.count = 0;
    let done = 0;
    let emptyRounds = 0;
    while (done < m) {
      if (this.slab.length - this.slabOffset < this.maxReadPerFd) this.newSlab();
      const out = this.out;
      const k = native.readBatch(done === 0 ? fds : fds.subarray(done), m - done, this.slab, this.slabOffset, this.maxReadPerFd, out);
      if (k === 0) {
        // Cannot happen with a fresh slab (it holds maxReadPerFd); never loop on it.
        if (++emptyRounds > 1) break;
        this.newSlab();
        continue;
      }
      const slab = this.slab;
      let end = this.slabOffset;
      for (let i = 0, t = 0; i < k; i++, t += 3) {
        const res = out[t + 2];
        if (res > 0 && out[t + 1] + res > end) end = out[t + 1] + res;
      }
      // Past every byte handed out below: later reads never write over them.
      this.slabOffset = end;
      for (let i = 0, t = 0; i < k; i++, t += 3) {
        const r = readers[done + i] as IBatchReadDescriptor;
        readers[done + i] = null;
        const res = out[t + 2];
        if (res === AGAIN) continue;
        // Buffer.from(arrayBuffer, offset, length) makes the same view as subarray, cheaper.
        sink.readResult(r, res > 0 ? Buffer.from(slab.buffer, slab.byteOffset + out[t + 1], res) : null, res);
      }
      done += k;
    }
    for (let k = done; k < m; k++) readers[k] = null;
  }

  private newSlab(): void {
    this.slab = Buffer.allocUnsafeSlow(this.slabSize);
    this.slabOffset = 0;
  }
}

/** Batch writers that asked for a flush, written with one writevBatch at the end of the iteration. */
export class WriteBatch {
  private queue: IBatchWriter[] = [];
  private spare: IBatchWriter[] = [];
  private fds = new Int32Array(64);
  private counts = new Int32Array(64);
  private out = new Int32Array(64);
  private readonly bufs: Uint8Array[] = [];

  /** True when a flush has been asked for. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Queues `w` (once: `w.flushQueued` marks it); true when it was not queued yet. */
  add(w: IBatchWriter): boolean {
    if (w.flushQueued === true) return false;
    w.flushQueued = true;
    this.queue.push(w);
    return true;
  }

  /** Forgets every request (the reactor's release). */
  clear(): void {
    for (const w of this.queue) w.flushQueued = false;
    this.queue.length = 0;
  }

  /**
   * Writes every queued writer with one writevBatch, then tells each its own result
   * through `sink.wrote`: bytes taken, AGAIN or -errno, exactly as the kernel said; the
   * writer handles all three (a transport's `wrote` is its one write routine). A writer
   * with nothing queued is told 0 without a syscall (a close waiting for its queue to empty
   * completes that way). Requests made from `wrote` go to the next flush.
   */
  flush(sink: BatchSink): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = this.spare;
    this.spare = queue;
    // Drop the entries cancelFlush() withdrew (flushQueued already false; a writer that
    // cancelled and asked again has one live entry and one it skips here), then reset
    // the flags of the rest before calling any writer.
    let count = 0;
    for (let i = 0; i < queue.length; i++) {
      const w = queue[i];
      if (w.flushQueued !== true) continue;
      w.flushQueued = false;
      queue[count++] = w;
    }
    queue.length = count;
    if (count === 0) return;
    if (this.fds.length < count) this.grow(count);
    const fds = this.fds;
    const counts = this.counts;
    const bufs = this.bufs;
    let m = 0;
    for (let i = 0; i < count; i++) {
      const w = queue[i];
      const fd = w.fileno();
      if (fd < 0) continue; // closed since it asked: the fd number may already be reused
      const pending = w.pendingBuffers();
      fds[m] = fd;
      counts[m] = pending.length;
      for (let b = 0; b < pending.length; b++) bufs.push(pending[b]);
      queue[m++] = w;
    }
    let refused: unknown = null;
    try {
      native.writevBatch(fds, m, counts, bufs, this.out);
    } catch (e) {
      refused = e;
    }
    bufs.length = 0;
    if (refused !== null) this.eachAlone(queue, m, refused, sink);
    else for (let i = 0; i < m; i++) sink.wrote(queue[i], this.out[i]);
    queue.length = 0;
  }

  /**
   * The batch refused every write because one writer handed it a bad buffer (it checks all
   * before writing any): the same call, one writer at a time, so that only the culprit is
   * dropped; every other writer still hears `wrote`.
   */
  private eachAlone(queue: IBatchWriter[], m: number, batchError: unknown, sink: BatchSink): void {
    log("warn", "writevBatch refused the batch; flushing writers one by one", batchError);
    const fd = this.fds.subarray(0, 1);
    const count = this.counts.subarray(0, 1);
    const out = this.out.subarray(0, 1);
    for (let i = 0; i < m; i++) {
      const w = queue[i];
      fd[0] = w.fileno();
      if (fd[0] < 0) continue;
      const pending = w.pendingBuffers();
      count[0] = pending.length;
      try {
        native.writevBatch(fd, 1, count, pending, out);
      } catch (e) {
        log("error", `Bad pendingBuffers() of ${describe(w)}`, e);
        sink.drop(w, asError(e));
        continue;
      }
      sink.wrote(w, out[0]);
    }
  }

  private grow(count: number): void {
    let size = this.fds.length;
    while (size < count) size *= 2;
    this.fds = new Int32Array(size);
    this.counts = new Int32Array(size);
    this.out = new Int32Array(size);
  }
}
