/**
 * Completion-based reads (io_uring, docs/design.md "Batching"): the poller receives for
 * every plain batch reader on a socket itself, into slabs lent to its buffer ring, and its
 * wait reports one record per completion (slot, generation, slab id, offset, result). Each
 * record goes straight to its reader's `readResult` as a view of the slab, as a read batch
 * would hand it: the slab is never written over, so the bytes belong to the protocol.
 *
 * A reader that stops reading in the middle of a wait's records (pauseProducing, a
 * half-close) hears none of the rest: they are held, in order, with what the poller holds
 * for it, and handed over once it reads again (addReader), before anything newer.
 */
import { RECV_HEADER, RECV_STRIDE } from "../native";
import type { Poller } from "../native";
import { readSlab, type BatchSink } from "./batch-io";
import type { Registry } from "./registry";
import type { IBatchReadDescriptor, IReadDescriptor } from "./interfaces";

/** Records a reader did not hear because it was not reading: views (or null) and results. */
interface Held {
  data: (Buffer | null)[];
  results: number[];
  next: number;
}

/** The records of each wait, delivered; slabs lent to the poller as its ring frees room. */
export class Receives {
  /** The array the poller writes each wait's records into. */
  readonly records: Int32Array;
  private readonly slabs: Buffer[] = [];
  private readonly readers: (IBatchReadDescriptor | null)[];
  private readonly held = new WeakMap<IReadDescriptor, Held>();
  // Readers that read again while records are held for them.
  private resumed: IBatchReadDescriptor[] = [];
  private readonly perSlab: number;

  /** Room for `capacity` records per wait; slabs of `slabSize` cut into buffers of `regionSize`. */
  constructor(
    capacity: number,
    private readonly slabSize: number,
    regionSize: number,
  ) {
    this.records = new Int32Array(RECV_HEADER + capacity * RECV_STRIDE);
    this.readers = new Array<IBatchReadDescriptor | null>(capacity).fill(null);
    this.perSlab = Math.floor(slabSize / regionSize);
  }

  /** True when held records wait for readers that read again (the next iteration must not block). */
  get pending(): boolean {
    return this.resumed.length > 0;
  }

  /** Lends `poller` slabs until its ring has no room for a whole one (`room` free buffers). */
  lend(poller: Poller, room: number): void {
    while (room >= this.perSlab) {
      // Untransferable (readSlab): the kernel also writes into a lent slab after this call
      // returns, so a detached one would be memory the ring still fills.
      const slab = readSlab(this.slabSize);
      const id = poller.addRecvSlab(slab);
      if (id < 0) return;
      this.slabs[id] = slab;
      room -= this.perSlab;
    }
  }

  /** `r` reads again (addReader): records held for it go out in the next iteration. */
  resume(r: IReadDescriptor): boolean {
    if (!this.held.has(r)) return false;
    if (!this.resumed.includes(r as IBatchReadDescriptor)) this.resumed.push(r as IBatchReadDescriptor);
    return true;
  }

  /**
   * Hands the last wait's records to their readers (after those resumed with records held),
   * then lends the poller what its ring has room for. The hot path: no allocation but the
   * views, unless a reader stopped reading.
   */
  run(reg: Registry, sink: BatchSink, poller: Poller): void {
    if (this.resumed.length > 0) this.deliverHeld(reg, sink);
    const rec = this.records;
    const count = rec[0];
    rec[0] = 0; // read once, even if the next iteration does not wait
    if (count > 0) {
      const readers = this.readers;
      // Every reader first, before any runs: a callback may release or reuse a slot.
      for (let i = 0, t = RECV_HEADER; i < count; i++, t += RECV_STRIDE) {
        const slot = rec[t];
        readers[i] = reg.gens[slot] === rec[t + 1] >>> 0 ? (reg.readers[slot] as IBatchReadDescriptor | null) : null;
      }
      for (let i = 0, t = RECV_HEADER; i < count; i++, t += RECV_STRIDE) {
        const r = readers[i];
        if (r === null) continue;
        readers[i] = null;
        const res = rec[t + 4];
        const slab = res > 0 ? this.slabs[rec[t + 2]] : null;
        // Buffer.from(arrayBuffer, offset, length) makes the same view as subarray, cheaper.
        const data = slab !== null ? Buffer.from(slab.buffer, slab.byteOffset + rec[t + 3], res) : null;
        if (this.reading(reg, r) && !this.held.has(r)) sink.readResult(r, data, res);
        else this.hold(reg, r, data, res);
      }
      if (this.resumed.length > 0) this.deliverHeld(reg, sink);
    }
    this.lend(poller, rec[1]);
  }

  private reading(reg: Registry, r: IReadDescriptor): boolean {
    const slot = reg.slotOf(r.fileno());
    return slot >= 0 && reg.readers[slot] === r;
  }

  private hold(reg: Registry, r: IBatchReadDescriptor, data: Buffer | null, res: number): void {
    let h = this.held.get(r);
    if (h === undefined) {
      h = { data: [], results: [], next: 0 };
      this.held.set(r, h);
    }
    h.data.push(data);
    h.results.push(res);
    if (this.reading(reg, r)) this.resume(r);
  }

  /** Hands the resumed readers their held records, in order, while they keep reading. */
  private deliverHeld(reg: Registry, sink: BatchSink): void {
    const list = this.resumed;
    this.resumed = [];
    for (const r of list) {
      const h = this.held.get(r);
      if (h === undefined) continue;
      while (h.next < h.results.length && this.reading(reg, r)) {
        const k = h.next++;
        const data = h.data[k];
        h.data[k] = null;
        sink.readResult(r, data, h.results[k]);
      }
      if (h.next === h.results.length) this.held.delete(r);
    }
  }
}
