/**
 * The slot table: every registered fd owns one slot (an index into parallel typed arrays)
 * and the slot's current generation; the poller carries (slot, generation) as the token.
 * Reader and writer interest of one fd share the slot; changing interest is one
 * `poller.modify`. Releasing a slot, or handing it to a new descriptor object, bumps the
 * generation, so an event already fetched for the old owner is recognised as stale and
 * dropped by the dispatcher (the fd-reuse race: close, then a new fd with the same number
 * registered before the stale event is dispatched).
 */
import { invalidArgType, outOfRange } from "../error";
import { log } from "../log";
import { ACCEPT, isSyscallError, READABLE, WRITABLE } from "../native";
import type { Poller } from "../native";
import type { IAcceptDescriptor, IBatchReadDescriptor, IFileDescriptor, IReadDescriptor, ITLSBatchDescriptor, IWriteDescriptor } from "./interfaces";

const INITIAL_SLOTS = 64;
/** Read lane of a listener whose connections the poller accepts (ACCEPT). */
const ACCEPT_LANE = 3;

/** Registered readers and writers of one reactor, keyed by fd and by slot. */
export class Registry {
  /** fd of each slot (-1 when free). */
  fds = new Int32Array(INITIAL_SLOTS).fill(-1);
  /** Current generation of each slot; events carrying another one are stale. */
  gens = new Uint32Array(INITIAL_SLOTS);
  /** Registered interest (READABLE | WRITABLE) of each slot. */
  interest = new Uint8Array(INITIAL_SLOTS);
  /** The slot's read lane: 0 doRead, 1 an IBatchReadDescriptor (readBatch), 2 one with a TLS session (tlsReadBatch), 3 a listener the poller accepts for (doRead, ACCEPT). */
  batch = new Uint8Array(INITIAL_SLOTS);
  /** 1 when the slot belongs to the reactor itself (its waker): removeAll skips it. */
  internal = new Uint8Array(INITIAL_SLOTS);
  /** Reader of each slot, or null. */
  readers: (IReadDescriptor | null)[] = new Array<IReadDescriptor | null>(INITIAL_SLOTS).fill(null);
  /** Writer of each slot, or null. */
  writers: (IWriteDescriptor | null)[] = new Array<IWriteDescriptor | null>(INITIAL_SLOTS).fill(null);

  private fdToSlot = new Int32Array(1024).fill(-1);
  /** Slot each descriptor was last registered in: finds it when its fileno() changed (closed: -1). */
  private readonly lastSlot = new WeakMap<IFileDescriptor, number>();
  private freeSlots: number[] = [];
  private readonly acceptOption: boolean;
  private warnedAccept = false;

  /**
   * `acceptByPoller`: listeners (IAcceptDescriptor) get the ACCEPT option where the poller
   * has it. `recv`: the poller's RECV option when it receives for plain batch readers on
   * sockets itself (io_uring's completion path, receives.ts), else 0.
   */
  constructor(
    private readonly poller: Poller,
    acceptByPoller = true,
    private readonly recv = 0,
  ) {
    this.acceptOption = acceptByPoller && (poller.supportedOptions & ACCEPT) !== 0;
    for (let s = INITIAL_SLOTS - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /** The slot of `fd`, or -1. */
  slotOf(fd: number): number {
    return fd >= 0 && fd < this.fdToSlot.length ? this.fdToSlot[fd] : -1;
  }

  /** Adds read interest for `r` (a no-op when it is already the reader of its fd). */
  addReader(r: IReadDescriptor, internal = false): void {
    const fd = descriptorFd(r, "reader");
    let slot = this.slotOf(fd);
    if (slot < 0) {
      slot = this.allocate(fd);
      this.readers[slot] = r;
      this.lastSlot.set(r, slot);
      this.batch[slot] = this.readLane(r);
      this.internal[slot] = internal ? 1 : 0;
      this.register(slot, this.batch[slot] === ACCEPT_LANE ? READABLE | ACCEPT : READABLE, false);
      return;
    }
    if (this.readers[slot] === r) return;
    const newcomer = this.writers[slot] !== (r as unknown);
    this.readers[slot] = r;
    if (newcomer) this.lastSlot.set(r, slot);
    // ACCEPT goes with READABLE alone: a listener sharing its fd with a writer is polled.
    const lane = this.readLane(r);
    this.batch[slot] = lane === ACCEPT_LANE ? 0 : lane;
    if (newcomer) this.gens[slot] = (this.gens[slot] + 1) >>> 0;
    this.register(slot, this.interest[slot] | READABLE, true);
  }

  /** Adds write interest for `w` (a no-op when it is already the writer of its fd). */
  addWriter(w: IWriteDescriptor): void {
    const fd = descriptorFd(w, "writer");
    let slot = this.slotOf(fd);
    if (slot < 0) {
      slot = this.allocate(fd);
      this.writers[slot] = w;
      this.lastSlot.set(w, slot);
      this.register(slot, WRITABLE, false);
      return;
    }
    if (this.writers[slot] === w) return;
    const newcomer = this.readers[slot] !== (w as unknown);
    this.writers[slot] = w;
    if (newcomer) this.lastSlot.set(w, slot);
    if (newcomer) this.gens[slot] = (this.gens[slot] + 1) >>> 0;
    if (this.batch[slot] === ACCEPT_LANE) this.batch[slot] = 0;
    this.register(slot, (this.interest[slot] & ~ACCEPT) | WRITABLE, true);
  }

  /** Removes read interest of `r`; false when it was not registered. */
  removeReader(r: IReadDescriptor): boolean {
    const slot = this.find(r, this.readers);
    if (slot < 0) return false;
    this.readers[slot] = null;
    this.batch[slot] = 0;
    this.narrow(slot, WRITABLE);
    return true;
  }

  /** Removes write interest of `w`; false when it was not registered. */
  removeWriter(w: IWriteDescriptor): boolean {
    const slot = this.find(w, this.writers);
    if (slot < 0) return false;
    this.writers[slot] = null;
    this.narrow(slot, READABLE);
    return true;
  }

  /** Whether the poller accepts the connections of listening socket `fd` (lane 3, ACCEPT). */
  acceptsFor(fd: number): boolean {
    const slot = this.slotOf(fd);
    return slot >= 0 && this.batch[slot] === ACCEPT_LANE;
  }

  private refusedAccept(e: unknown): void {
    if (this.warnedAccept) return;
    this.warnedAccept = true;
    log("warn", "the poller refused multishot accept (EINVAL): this listener accepts with readiness and accept4", e);
  }

  /** Which lane reads `r`: 0 none (doRead), 1 readBatch, 2 tlsReadBatch (a TLS session is on), 3 ACCEPT. */
  private readLane(r: IReadDescriptor): number {
    if ((r as IAcceptDescriptor).acceptsConnections === true) return this.acceptOption ? ACCEPT_LANE : 0;
    if ((r as IBatchReadDescriptor).batchRead !== true) return 0;
    return (r as ITLSBatchDescriptor).tlsId >= 0 ? 2 : 1;
  }

  /** Every registered reader (internal ones excluded). */
  getReaders(): IReadDescriptor[] {
    const out: IReadDescriptor[] = [];
    for (let s = 0; s < this.readers.length; s++) {
      const r = this.readers[s];
      if (r !== null && this.internal[s] === 0) out.push(r);
    }
    return out;
  }

  /** Every registered writer. */
  getWriters(): IWriteDescriptor[] {
    const out: IWriteDescriptor[] = [];
    for (const w of this.writers) if (w !== null) out.push(w);
    return out;
  }

  /**
   * Unregisters every non-internal descriptor and returns them (each object once, in slot
   * order). Nobody is told: the caller decides whether to call connectionLost.
   */
  removeAll(): IFileDescriptor[] {
    const out: IFileDescriptor[] = [];
    for (let s = 0; s < this.fds.length; s++) {
      if (this.fds[s] < 0 || this.internal[s] === 1) continue;
      const r = this.readers[s];
      const w = this.writers[s];
      if (r !== null) out.push(r);
      if (w !== null && w !== (r as unknown)) out.push(w);
      this.readers[s] = null;
      this.writers[s] = null;
      this.narrow(s, 0);
    }
    return out;
  }

  /** Slot of `d` in `table`: by its fd, else by where it was registered (its fd changed); -1 when absent. O(1). */
  private find(d: IFileDescriptor, table: (IFileDescriptor | null)[]): number {
    const slot = this.slotOf(d.fileno());
    if (slot >= 0 && table[slot] === d) return slot;
    const last = this.lastSlot.get(d);
    return last !== undefined && table[last] === d ? last : -1;
  }

  /** Keeps only `keep` of the slot's interest; frees the slot when nothing is left. */
  private narrow(slot: number, keep: number): void {
    const left = this.interest[slot] & keep;
    if (left !== 0) {
      this.register(slot, left, true);
      return;
    }
    const fd = this.fds[slot];
    try {
      this.poller.remove(fd);
    } catch (e) {
      // The fd was closed (EBADF), or closed and reused (ENOENT): the kernel already
      // forgot it. Anything else is a real failure.
      if (!isSyscallError(e, "EBADF") && !isSyscallError(e, "ENOENT")) throw e;
    }
    this.release(slot);
  }

  /** Registers (or re-registers) the slot's fd with `interest` under its current token. */
  private register(slot: number, interest: number, existing: boolean): void {
    const fd = this.fds[slot];
    const bits = interest | this.recvOption(slot, interest);
    try {
      if (existing) {
        try {
          this.poller.modify(fd, slot, this.gens[slot], bits);
        } catch (e) {
          // Closed and reopened under the same number without being removed: the kernel
          // dropped the old registration, so register afresh.
          if (!isSyscallError(e, "ENOENT")) throw e;
          this.poller.add(fd, slot, this.gens[slot], bits);
        }
      } else {
        this.poller.add(fd, slot, this.gens[slot], bits);
      }
    } catch (e) {
      if ((interest & ACCEPT) !== 0 && isSyscallError(e, "EINVAL")) {
        // The kernel refused the accept request (no multishot accept, or not a listening
        // socket): this listener is polled and accepts with accept4, as on epoll.
        this.refusedAccept(e);
        this.batch[slot] = 0;
        this.register(slot, interest & ~ACCEPT, existing);
        return;
      }
      if (!existing) {
        this.readers[slot] = null;
        this.writers[slot] = null;
        this.release(slot);
      }
      throw e;
    }
    this.interest[slot] = interest;
  }

  /** RECV for a plain batch reader's socket on a poller that receives itself, else 0. */
  private recvOption(slot: number, interest: number): number {
    if (this.recv === 0 || (interest & READABLE) === 0 || this.batch[slot] !== 1) return 0;
    return (this.readers[slot] as IBatchReadDescriptor & { notSocket?: boolean }).notSocket === true ? 0 : this.recv;
  }

  private allocate(fd: number): number {
    if (this.freeSlots.length === 0) this.grow();
    const slot = this.freeSlots.pop() as number;
    if (fd >= this.fdToSlot.length) {
      let n = this.fdToSlot.length;
      while (n <= fd) n *= 2;
      const next = new Int32Array(n).fill(-1);
      next.set(this.fdToSlot);
      this.fdToSlot = next;
    }
    this.fdToSlot[fd] = slot;
    this.fds[slot] = fd;
    this.interest[slot] = 0;
    this.batch[slot] = 0;
    this.internal[slot] = 0;
    return slot;
  }

  private release(slot: number): void {
    const fd = this.fds[slot];
    if (fd >= 0 && this.fdToSlot[fd] === slot) this.fdToSlot[fd] = -1;
    this.fds[slot] = -1;
    this.interest[slot] = 0;
    this.batch[slot] = 0;
    this.internal[slot] = 0;
    this.readers[slot] = null;
    this.writers[slot] = null;
    // Any event already fetched for this slot is now stale.
    this.gens[slot] = (this.gens[slot] + 1) >>> 0;
    this.freeSlots.push(slot);
  }

  private grow(): void {
    const old = this.fds.length;
    const n = old * 2;
    this.fds = growInt32(this.fds, n, -1);
    const gens = new Uint32Array(n);
    gens.set(this.gens);
    this.gens = gens;
    this.interest = growUint8(this.interest, n);
    this.batch = growUint8(this.batch, n);
    this.internal = growUint8(this.internal, n);
    for (let s = old; s < n; s++) {
      this.readers.push(null);
      this.writers.push(null);
    }
    for (let s = n - 1; s >= old; s--) this.freeSlots.push(s);
  }
}

/** The fd of a descriptor being added, checked. */
function descriptorFd(d: IFileDescriptor, what: string): number {
  if (d === null || typeof d !== "object" || typeof d.fileno !== "function") throw invalidArgType(`${what} must have a fileno() method`);
  const fd = d.fileno();
  if (!Number.isInteger(fd) || fd < 0) throw outOfRange(`${what}.fileno() must be an open fd (a non-negative integer), got ${String(fd)}`);
  return fd;
}

function growInt32(a: Int32Array, n: number, fill: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n).fill(fill);
  b.set(a);
  return b;
}

function growUint8(a: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}
