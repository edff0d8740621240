/**
 * The reactor's batched I/O (docs/design.md "Batching"): one native call per iteration
 * reads every ready batch reader into a slab, and one writes the queues of every batch
 * writer that asked for a flush. Each descriptor then hears its own result; what a
 * descriptor does with it, and what happens when it fails, is the reactor's
 * (`BatchSink`). Nothing here allocates per fd.
 *
 * TLS transports (`ITLSBatchDescriptor` with a session on) have a lane of their own in
 * both: their reads go through one `tlsReadBatch` into the same slab, their flushes through
 * one `tlsWriteBatch`, and they hear the session's status bits with each result.
 */
import { markAsUntransferable } from "node:worker_threads";
import { native, AGAIN } from "../native";
import type { NativeAddon, Poller } from "../native";
import { log } from "../log";
import { asError, describe } from "./failures";
import type { Registry } from "./registry";
import type { IBatchReadDescriptor, IBatchWriter, IFileDescriptor, ITLSBatchDescriptor } from "./interfaces";

/**
 * Who performs the plain (non-TLS) batched reads and writes: the addon (one syscall per fd)
 * or a poller that completes I/O itself (io_uring: one io_uring_enter for the batch).
 */
export type BatchIo = Pick<NativeAddon, "readBatch" | "writevBatch">;

/**
 * A poller that can defer a write batch to its next io_uring_enter (io_uring): the sends
 * are queued at the end of one iteration and submitted by the next iteration's first
 * enter, which the writers then hear the results of.
 */
export type DeferredBatchIo = Pick<Poller, "queueWrites" | "finishWrites">;

/** Where the batches hand their results (the reactor, which drops a descriptor that fails). */
export interface BatchSink {
  /** `r.readResult(data, result)`, guarded. */
  readResult(r: IBatchReadDescriptor, data: Buffer | null, result: number): void;
  /** `w.wrote(result)`, guarded. */
  wrote(w: IBatchWriter, result: number): void;
  /** `r.tlsReadResult(data, result, status)`, guarded. */
  tlsReadResult(r: ITLSBatchDescriptor, data: Buffer | null, result: number, status: number): void;
  /** `w.tlsWrote(taken, status)`, guarded. */
  tlsWrote(w: ITLSBatchDescriptor, taken: number, status: number): void;
  /** Drops `d` with `reason` (it handed the batch something unusable). */
  drop(d: IFileDescriptor, reason: Error): void;
}

/**
 * A slab that reads fill and protocols get views of. Marked untransferable: many
 * connections' bytes share its ArrayBuffer, so a protocol that passes a view's buffer in a
 * transfer list (postMessage, structuredClone) sends a copy and empties no other view.
 */
export function readSlab(size: number): Buffer {
  const slab = Buffer.allocUnsafeSlow(size);
  markAsUntransferable(slab.buffer);
  return slab;
}

/** Batch readers collected during dispatch, read with one readBatch (and one tlsReadBatch for TLS sessions) per slab. */
export class ReadBatch {
  private fds: Int32Array;
  private readers: (IBatchReadDescriptor | null)[];
  private out: Int32Array;
  private count = 0;
  // The TLS lane. Two reader arrays: reads asked for while a run delivers (a session with
  // plaintext still inside the engine) go to the next run, never into the one under way.
  private tlsReaders: (ITLSBatchDescriptor | null)[] = [];
  private tlsSpare: (ITLSBatchDescriptor | null)[] = [];
  private tlsCount = 0;
  private slab: Buffer;
  private slabOffset = 0;
  /** Who reads the plain lane (the reactor sets its poller when that completes I/O). */
  io: BatchIo = native;

  /** Room for `capacity` readers per iteration (one per event); slabs of `slabSize`, at most `maxReadPerFd` per fd. */
  constructor(
    capacity: number,
    private readonly slabSize: number,
    private readonly maxReadPerFd: number,
  ) {
    this.fds = new Int32Array(capacity);
    this.readers = new Array<IBatchReadDescriptor | null>(capacity).fill(null);
    this.out = new Int32Array(capacity * 4);
    this.slab = readSlab(slabSize);
  }

  /** True when dispatch collected readers this iteration (or a TLS read was asked for). */
  get pending(): boolean {
    return this.count > 0 || this.tlsCount > 0;
  }

  /** Dispatch: `r` (registered for `fd`) is readable. */
  add(fd: number, r: IBatchReadDescriptor): void {
    this.fds[this.count] = fd;
    this.readers[this.count++] = r;
  }

  /** Dispatch (or a session with plaintext still buffered): read TLS reader `r` in the next run. */
  addTls(r: ITLSBatchDescriptor): void {
    if (this.tlsCount === this.tlsReaders.length) this.tlsReaders.push(r);
    else this.tlsReaders[this.tlsCount] = r;
    this.tlsCount++;
  }

  /**
   * Reads every collected reader with one readBatch per slab (TLS readers with one
   * tlsReadBatch per slab) and hands each its bytes. A reader removed since dispatch is
   * skipped (its fd may be closed, or even reused); bytes already read are always
   * delivered to the reader they were read for, even when it stopped reading meanwhile
   * (nothing read is ever dropped).
   */
  run(reg: Registry, sink: BatchSink): void {
    if (this.count > 0) {
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
      this.readLane(fds, readers, m, false, sink);
    }
    if (this.tlsCount > 0) this.runTls(reg, sink);
  }

  private runTls(reg: Registry, sink: BatchSink): void {
    const readers = this.tlsReaders;
    const n = this.tlsCount;
    this.tlsReaders = this.tlsSpare;
    this.tlsSpare = readers;
    this.tlsCount = 0;
    if (this.fds.length < n) this.grow(n);
    const ids = this.fds;
    let m = 0;
    for (let k = 0; k < n; k++) {
      const r = readers[k] as ITLSBatchDescriptor;
      readers[k] = null;
      const slot = reg.slotOf(r.fileno());
      const id = r.tlsId;
      if (slot >= 0 && reg.readers[slot] === r && id >= 0) {
        ids[m] = id;
        readers[m++] = r;
      }
    }
    this.readLane(ids, readers, m, true, sink);
  }

  /** Reads `keys[0..m)` (fds, or TLS session ids when `tls`) into slabs and hands each reader its result. */
  private readLane(keys: Int32Array, readers: (IBatchReadDescriptor | null)[], m: number, tls: boolean, sink: BatchSink): void {
    const stride = tls ? 4 : 3;
    let done = 0;
    let emptyRounds = 0;
    while (done < m) {
      if (this.slab.length - this.slabOffset < this.maxReadPerFd) this.newSlab();
      const out = this.out;
      const rest = done === 0 ? keys : keys.subarray(done);
      const k = tls
        ? native.tlsReadBatch(rest, m - done, this.slab, this.slabOffset, this.maxReadPerFd, out)
        : this.io.readBatch(rest, m - done, this.slab, this.slabOffset, this.maxReadPerFd, out);
      if (k === 0) {
        // Cannot happen with a fresh slab (it holds maxReadPerFd); never loop on it.
        if (++emptyRounds > 1) break;
        this.newSlab();
        continue;
      }
      const slab = this.slab;
      let end = this.slabOffset;
      for (let i = 0, t = 0; i < k; i++, t += stride) {
        const res = out[t + 2];
        if (res > 0 && out[t + 1] + res > end) end = out[t + 1] + res;
      }
      // Past every byte handed out below: later reads never write over them.
      this.slabOffset = end;
      for (let i = 0, t = 0; i < k; i++, t += stride) {
        const r = readers[done + i] as IBatchReadDescriptor;
        readers[done + i] = null;
        const res = out[t + 2];
        // Buffer.from(arrayBuffer, offset, length) makes the same view as subarray, cheaper.
        const data = res > 0 ? Buffer.from(slab.buffer, slab.byteOffset + out[t + 1], res) : null;
        if (tls) sink.tlsReadResult(r as ITLSBatchDescriptor, data, res, out[t + 3]);
        else if (res !== AGAIN) sink.readResult(r, data, res);
      }
      done += k;
    }
    for (let k = done; k < m; k++) readers[k] = null;
  }

  private grow(n: number): void {
    let size = this.fds.length;
    while (size < n) size *= 2;
    this.fds = new Int32Array(size);
    this.out = new Int32Array(size * 4);
    while (this.readers.length < size) this.readers.push(null);
  }

  private newSlab(): void {
    this.slab = readSlab(this.slabSize);
    this.slabOffset = 0;
  }
}

/** Batch writers that asked for a flush, written with one writevBatch at the end of the iteration. */
export class WriteBatch {
  private queue: IBatchWriter[] = [];
  private spare: IBatchWriter[] = [];
  private fds = new Int32Array(64);
  private counts = new Int32Array(64);
  private notSocket = new Uint8Array(64);
  private out = new Int32Array(128);
  private bufs: Uint8Array[] = [];
  // The TLS lane: writers with a session on, flushed with one tlsWriteBatch.
  private readonly tlsWriters: IBatchWriter[] = [];
  private tlsIds = new Int32Array(64);
  private tlsCounts = new Int32Array(64);
  private readonly tlsBufs: Uint8Array[] = [];
  /** Who writes the plain lane (the reactor sets its poller when that completes I/O). */
  io: BatchIo = native;
  /**
   * Set while the reactor runs its own loop on a poller that defers writes (exclusive mode
   * on io_uring): the plain lane is then queued with `queueWrites` and its writers hear
   * `wrote` in a later iteration, from finish(); null: written at once.
   */
  deferTo: DeferredBatchIo | null = null;
  // The deferred batch: its writers (in order), its buffers (kept alive until the kernel
  // has sent them) and the poller that holds it.
  private deferred: IBatchWriter[] = [];
  private deferredBufs: Uint8Array[] = [];
  private deferredBy: DeferredBatchIo | null = null;

  /** True while a deferred batch waits for finish(). */
  get unfinished(): boolean {
    return this.deferredBy !== null;
  }

  /**
   * Tells the writers of the deferred batch their results (as flush does), when its sends
   * have completed: without `mayEnter` only if they already have (no syscall; false when
   * not yet), with it after submitting and waiting as needed.
   */
  finish(sink: BatchSink, mayEnter: boolean): boolean {
    const by = this.deferredBy;
    if (by === null) return true;
    const writers = this.deferred;
    const n = writers.length;
    let failure: unknown = null;
    try {
      if (by.finishWrites(this.out, mayEnter) < 0) return false;
    } catch (e) {
      failure = e; // the ring itself failed: no result can be trusted
    }
    this.deferredBy = null;
    emptyKeepingStore(this.deferredBufs);
    const out = this.out;
    for (let i = 0; i < n; i++) {
      const w = writers[i];
      if (failure !== null) sink.drop(w, asError(failure));
      else sink.wrote(w, out[i]);
    }
    emptyKeepingStore(writers);
    return true;
  }

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
   * Writes every queued writer with one writevBatch (TLS writers with one tlsWriteBatch),
   * then tells each its own result through `sink.wrote` (`sink.tlsWrote`): bytes taken,
   * AGAIN or -errno, exactly as the kernel (or the TLS engine) said; the writer handles all
   * of them (a transport's `wrote` is its one write routine). A plain writer with nothing
   * queued is told 0 without a syscall (a close waiting for its queue to empty completes
   * that way); a TLS one sends what ciphertext its session still holds. Requests made from
   * `wrote` go to the next flush.
   */
  flush(sink: BatchSink): void {
    // The previous deferred batch first: its writers' queues must be up to date before any
    // of them is written again (requests they make from `wrote` join this flush).
    if (this.deferredBy !== null) this.finish(sink, true);
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
    const tlsWriters = this.tlsWriters;
    let m = 0;
    let t = 0;
    for (let i = 0; i < count; i++) {
      const w = queue[i];
      const fd = w.fileno();
      if (fd < 0) continue; // closed since it asked: the fd number may already be reused
      const pending = w.pendingBuffers();
      const id = (w as ITLSBatchDescriptor).tlsId;
      if (id >= 0) {
        this.tlsIds[t] = id;
        this.tlsCounts[t] = pending.length;
        for (let b = 0; b < pending.length; b++) this.tlsBufs.push(pending[b]);
        tlsWriters[t++] = w;
      } else {
        this.fds[m] = fd;
        this.counts[m] = pending.length;
        this.notSocket[m] = w.notSocket === true ? 1 : 0;
        for (let b = 0; b < pending.length; b++) this.bufs.push(pending[b]);
        queue[m++] = w;
      }
    }
    if (m > 0 && this.deferTo !== null) this.defer(this.deferTo, queue, m, sink);
    else if (m > 0) this.send(queue, m, false, sink);
    if (t > 0) this.send(tlsWriters, t, true, sink);
    emptyKeepingStore(queue);
    emptyKeepingStore(tlsWriters);
  }

  /** One writevBatch (tlsWriteBatch when `tls`) for `writers[0..n)`, whose keys, counts and buffers are gathered; each hears its result. */
  private send(writers: IBatchWriter[], n: number, tls: boolean, sink: BatchSink): void {
    const bufs = tls ? this.tlsBufs : this.bufs;
    const out = this.out;
    let refused: unknown = null;
    try {
      if (tls) native.tlsWriteBatch(this.tlsIds, n, this.tlsCounts, bufs, out);
      else this.io.writevBatch(this.fds, n, this.counts, bufs, out, this.notSocket);
    } catch (e) {
      refused = e;
    }
    emptyKeepingStore(bufs);
    if (refused !== null) this.eachAlone(writers, n, tls, refused, sink);
    else if (tls) for (let i = 0; i < n; i++) sink.tlsWrote(writers[i] as ITLSBatchDescriptor, out[2 * i], out[2 * i + 1]);
    else for (let i = 0; i < n; i++) sink.wrote(writers[i], out[i]);
  }

  /** Queues the plain lane's `writers[0..n)` on `io` (queueWrites); finish() tells them the results. */
  private defer(io: DeferredBatchIo, writers: IBatchWriter[], n: number, sink: BatchSink): void {
    try {
      io.queueWrites(this.fds, n, this.counts, this.bufs, this.out, this.notSocket);
    } catch (e) {
      emptyKeepingStore(this.bufs);
      this.eachAlone(writers, n, false, e, sink);
      return;
    }
    const bufs = this.deferredBufs;
    this.deferredBufs = this.bufs;
    this.bufs = bufs;
    for (let i = 0; i < n; i++) this.deferred.push(writers[i]);
    this.deferredBy = io;
  }

  /**
   * The batch refused every write because one writer handed it a bad buffer (it checks all
   * before writing any): the same call, one writer at a time, so that only the culprit is
   * dropped; every other writer still hears `wrote` (`tlsWrote`).
   */
  private eachAlone(writers: IBatchWriter[], n: number, tls: boolean, batchError: unknown, sink: BatchSink): void {
    log("warn", `${tls ? "tlsWriteBatch" : "writevBatch"} refused the batch; flushing writers one by one`, batchError);
    const key = this.fds.subarray(0, 1);
    const count = this.counts.subarray(0, 1);
    const notSocket = this.notSocket.subarray(0, 1);
    const out = this.out.subarray(0, 2);
    for (let i = 0; i < n; i++) {
      const w = writers[i];
      if (w.fileno() < 0) continue;
      key[0] = tls ? (w as ITLSBatchDescriptor).tlsId : w.fileno();
      const pending = w.pendingBuffers();
      count[0] = pending.length;
      notSocket[0] = w.notSocket === true ? 1 : 0;
      try {
        if (tls) native.tlsWriteBatch(key, 1, count, pending, out);
        else this.io.writevBatch(key, 1, count, pending, out, notSocket);
      } catch (e) {
        log("error", `Bad pendingBuffers() of ${describe(w)}`, e);
        sink.drop(w, asError(e));
        continue;
      }
      if (tls) sink.tlsWrote(w as ITLSBatchDescriptor, out[0], out[1]);
      else sink.wrote(w, out[0]);
    }
  }

  private grow(count: number): void {
    let size = this.fds.length;
    while (size < count) size *= 2;
    this.fds = new Int32Array(size);
    this.counts = new Int32Array(size);
    this.notSocket = new Uint8Array(size);
    this.out = new Int32Array(size * 2);
    this.tlsIds = new Int32Array(size);
    this.tlsCounts = new Int32Array(size);
  }
}

/**
 * Empties `a` with pop, not `length = 0`: that drops the backing store, and the next
 * iteration's pushes grow a new one (garbage per flush, which at low request rates costs
 * page faults: docs/web.md, "Static files"); popping keeps it.
 */
function emptyKeepingStore(a: unknown[]): void {
  for (let i = a.length; i > 0; i--) a.pop();
}
