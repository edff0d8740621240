// io_uring backend (Linux 5.13+): readiness through IORING_OP_POLL_ADD requests on one
// ring (io_uring_ring.h), one request per registered fd with READABLE and WRITABLE merged.
//
// - EDGE is a multishot poll: the kernel posts a completion per wake-up and keeps the
//   request armed; when it drops it (a completion without IORING_CQE_F_MORE, after a CQ
//   overflow say) the next wait re-arms it.
// - Level (the default) needs "still ready" re-reported at every wait, which no poll request
//   does by itself: it is a single-shot poll re-armed, for each fd it reported, by the next
//   wait's own io_uring_enter. An fd still ready completes inside that very call, so it is
//   reported again in the same wait with no extra syscall; in integrated mode flush() sends
//   the re-arms at the end of the iteration, since libuv, not wait(), waits there.
// - ONESHOT is a single-shot poll that only modify() re-arms.
//
// An armed request holds a reference to the fd's file: an fd closed without remove() stays
// open (the peer sees no FIN) until remove() cancels the request or the ring closes. The
// reactor always removes before closing; docs/platforms.md lists the difference.
//
// A request's user_data is (seq << 32 | fd): seq is the registration's current request,
// so a completion of a request cancelled by modify()/remove(), or of a number since reused,
// carries an old seq and is dropped. seq 0 marks the poller's own requests: its cancels
// (user_data 0) and the batched I/O below (index + 1).
//
// Batched I/O (readBatch/writevBatch, the reactor's read and write batches): one RECV, SEND
// or SENDMSG per fd, all submitted by one io_uring_enter, instead of one read or sendmsg
// syscall each. MSG_DONTWAIT makes a socket that is not ready complete at once with
// -EAGAIN (the request is never parked on a poll), so every operation completes inside
// that enter; the call still waits for any that did not, and returns only when none is in
// flight: no buffer is referenced by the kernel after it, and results are the same words
// as batch_io.cc's (bytes, AGAIN, -errno). Poll completions that arrive meanwhile are kept
// (stash_) for the next wait. A fd that is not a socket (ENOTSOCK, or flagged notSocket
// by the caller) gets the plain syscall.
//
// Multishot accept (kAccept, Linux 5.19+: offered when the ring got COOP_TASKRUN, the same
// release): a listening socket registered with kAccept holds one IORING_OP_ACCEPT request
// with IORING_ACCEPT_MULTISHOT instead of a poll, its user_data tagged kAcceptBit. The
// kernel accepts each connection inside whichever io_uring_enter runs its task work (with
// SOCK_NONBLOCK | SOCK_CLOEXEC, as accept4 here) and posts the new fd; Report queues it on
// the registration, and every wait reports READABLE for a listener with connections (or an
// error) queued, until takeAccepted has moved them all out. A completion without
// IORING_CQE_F_MORE ends the request: the next wait re-arms it, except after an error such
// as EMFILE, which takeAccepted hands out first (the port then pauses, as on epoll). An fd
// posted by a request since cancelled (remove, modify, close) is closed when its
// completion is read, and remove() closes the ones queued: none is left open unseen. A
// listener whose queue reaches kAcceptQueueMax has its request cancelled (the kernel's
// backlog holds the next connections, as on epoll) until the port has taken half.
//
// Registered files (enableFixedFiles; Linux 5.19+): a sparse file table as large as
// RLIMIT_NOFILE whose slot n holds fd n's file from add() to remove(). The per-fd SQEs
// (poll, receive, the batches' RECV/SEND/SENDMSG) then name the slot with IOSQE_FIXED_FILE,
// so the kernel skips its fget/fput per request. Slots change by IORING_OP_FILES_UPDATE
// SQEs that ride on the enter add() and remove() make anyway (no syscall of their own;
// success posts no completion). A slot holds the file like an armed request does: remove()
// empties it before the caller closes the fd, so the peer sees the close, and an fd number
// reused by a new file gets that file at its add(); an fd never added (or above the table)
// is named by number. A fill the kernel refuses (another io_uring's fd, say) makes that
// registration use the number instead.
//
// Completion-based receive (enableRecv, the RECV option; Linux 6.12+): a provided buffer
// ring consumed incrementally (IOU_PBUF_RING_INC), its buffers cut from slabs the caller
// lends; each RECV registration keeps one IORING_OP_RECV with buffer selection armed, and
// the wait reports its completions as records (slab, offset, bytes | 0 | -errno) beside
// the events, so the reads ride on the wait's own io_uring_enter. Its section below says
// how pausing, ENOBUFS and close() are handled.
#include "io_uring_ring.h"  // defines FDR_HAVE_IO_URING where the headers allow
#include "batch_io.h"
#include "poller.h"

#if defined(FDR_HAVE_IO_URING)

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

namespace fdr {
namespace {

// Submissions queue between two enters: adds, re-arms and cancels of one iteration.
constexpr unsigned kSqEntries = 1024;
// Completions: a multishot request may post several per wait before they are read.
constexpr unsigned kCqEntries = 16384;
// A batched read reserves a region of the slab per fd before any completes; regions are
// at least this large (or maxPerFd, when smaller). More data than that stays in the
// socket and a level-triggered re-arm reports it again, as after any read of maxPerFd.
constexpr size_t kMinRecv = 4096;
// An operation's result while it is in flight (never a result word: -errno is > -4096).
constexpr int32_t kInFlight = INT32_MIN;
// user_data of a deferred send (queueWrites): this tag plus its index. Poll requests never
// use this seq (NextSeq skips it).
constexpr uint64_t kWriteTag = 0xFFFFFFFFull << 32;
// user_data of a registered-file slot's fill: this tag plus the fd (posted only on failure;
// NextSeq skips its seq too, so every other reader drops it).
constexpr uint64_t kSlotTag = 0xFFFFFFFEull << 32;
// Largest file table the kernel takes (IORING_MAX_FIXED_FILES, Linux 5.19's).
constexpr size_t kMaxFixedFiles = 1u << 20;
// Low-word bit of an accept request's user_data (kAccept is refused for fds at or above it;
// the receive's bit, kRecvBit, is the one above).
constexpr uint32_t kAcceptBit = 1u << 30;
// Connections a listener may hold accepted and not taken: past it its accept request is
// cancelled, and the kernel's backlog holds the next ones (as for a port on epoll whose
// loop is busy), until takeAccepted has brought the queue down to half of it.
constexpr size_t kAcceptQueueMax = 1024;

// Completion-based receive (enableRecv). A multishot receive's user_data is
// (seq << 32 | kRecvBit | fd): fds stay below 2^31, so the bit tells it from a poll.
constexpr uint64_t kRecvBit = 0x80000000ull;
constexpr uint16_t kBufGroup = 1;
// The kernel's values (include/uapi/linux/io_uring.h, Linux 6.12), for older headers.
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif
// The provided buffer ring's layout and registration argument, as the kernel reads them
// (spelled here: headers before 6.12 name the flags field `pad`).
struct RingBuf {
  uint64_t addr;
  uint32_t len;
  uint16_t bid;
  uint16_t resv;  // the ring's tail overlays entry 0's
};
struct RingBufReg {
  uint64_t ringAddr;
  uint32_t ringEntries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};

class IoUringPoller;
// This thread's pollers with sends queued and perhaps not yet submitted (SubmitQueuedSends).
std::vector<IoUringPoller*>& QueuedSends() {
  static thread_local std::vector<IoUringPoller*> list;
  return list;
}

// An index of `items` to fill: the last one freed (`free`), else a new element at the end.
template <typename Index, typename Item>
Index TakeIndex(std::vector<Index>& free, std::vector<Item>& items) {
  if (!free.empty()) {
    Index i = free.back();
    free.pop_back();
    return i;
  }
  items.emplace_back();
  return static_cast<Index>(items.size() - 1);
}

uint32_t ToPoll(uint32_t interest) {
  // POLLRDHUP only with READABLE, as epoll's EPOLLRDHUP (epoll_poller.cc says why);
  // the kernel adds POLLERR and POLLHUP to every poll request.
  uint32_t ev = 0;
  if (interest & kReadable) ev |= POLLIN | POLLRDHUP;
  if (interest & kWritable) ev |= POLLOUT;
  return ev;
}

uint32_t FromPoll(uint32_t rev) {
  uint32_t bits = 0;
  if (rev & POLLIN) bits |= kReadable;
  if (rev & POLLOUT) bits |= kWritable;
  if (rev & POLLERR) bits |= kError;
  if (rev & (POLLHUP | POLLRDHUP)) bits |= kHangup;
  return bits;
}

// Completion-based receive (enableRecv): a buffer of the ring, cut from a slab.
struct Region {
  int32_t slab = -1;  // -1: the buffer id is free
  uint32_t base = 0;  // its offset in the slab
  uint32_t size = 0;
  uint32_t fill = 0;  // bytes the kernel has put in it
};
// A slab lent to the ring; refs counts its buffers not used up and the held records in it.
struct Slab {
  uint8_t* data = nullptr;
  int32_t refs = 0;
};
// A receive record: bytes at (slab, offset), or EOF (0) or -errno.
struct Rec {
  int32_t slab;
  int32_t offset;
  int32_t res;
};
struct RecvState {
  uint32_t seq = 0;        // the armed receive's seq, 0 when none is armed
  uint32_t from = 0;       // receives from this seq on are the current socket's
  bool active = false;     // registered with READABLE | kRecv: records are reported
  bool parked = false;     // removed while its receive was armed (held for a re-add)
  bool ended = false;      // EOF or an error came: never re-armed
  bool fallback = false;   // the receive was refused: readiness (a poll) instead
  bool starved = false;    // ended with ENOBUFS: re-armed by the next addRecvSlab
  bool releasing = false;  // in releasing_
  ino_t ino = 0;           // parked: the socket's inode
  std::vector<Rec> held;   // records not reported yet, in order (from heldHead)
  size_t heldHead = 0;
};

struct Registration {
  Token token{0, 0};
  uint32_t interest = 0;    // interest and option bits as given
  uint32_t seq = 0;         // the armed request's seq, 0 when none is armed
  uint32_t reportedIn = 0;  // the wait that last reported it (merges its completions)
  uint32_t outIndex = 0;    // its event's index in that wait's array
  bool registered = false;
  bool rearmQueued = false;
  // kAccept: a multishot accept instead of a poll, the fds it accepted not yet taken, and
  // the errno that ended it, for takeAccepted to hand out.
  bool accept = false;
  int acceptErr = 0;
  std::vector<int> accepted;
  uint32_t fullSeq = 0;  // the request cancelled when the queue filled; its last fds still count
  bool full = false;     // not re-armed until the queue is down to half
};

class IoUringPoller final : public Poller {
 public:
  // Sets up the ring; an errno, with `why` saying what it means here.
  int Setup(std::string* why) {
    int err = ring_.setup(kSqEntries, kCqEntries, why);
#if defined(IORING_ACCEPT_MULTISHOT) && defined(IORING_SETUP_COOP_TASKRUN)
    // Multishot accept and cooperative task work both came with Linux 5.19.
    if (!err && (ring_.setupFlags() & IORING_SETUP_COOP_TASKRUN)) acceptOption_ = kAccept;
#endif
    return err;
  }
  ~IoUringPoller() override { close(); }

  const char* name() const override { return "io_uring"; }
  uint32_t supportedOptions() const override {
    return kEdge | kOneshot | acceptOption_ | (bufRing_ != nullptr ? static_cast<uint32_t>(kRecv) : 0u);
  }

  Status add(int fd, Token token, uint32_t interest) override {
    if (fd < 0) return Status::Errno(EBADF, "io_uring_poll_add");
    if (static_cast<size_t>(fd) >= regs_.size()) regs_.resize(static_cast<size_t>(fd) + 1);
    Registration& r = regs_[fd];
    if (r.registered) return Status::Errno(EEXIST, "io_uring_poll_add");
    if (!AcceptValid(fd, interest)) return Status::Errno(EINVAL, "io_uring_accept");
    r = Registration{};
    r.registered = true;
    r.token = token;
    r.interest = interest;
    r.accept = (interest & kAccept) != 0;
    RecvAdded(fd);
    // A listener's accept names it by number (one request for its lifetime): no slot.
    if (static_cast<size_t>(fd) < slotFd_.size() && !r.accept && !QueueSlot(fd, true)) {
      r.registered = false;
      return Status::Errno(sqErr_, "io_uring_enter");
    }
    return ArmNow(fd, r);
  }

  Status modify(int fd, Token token, uint32_t interest) override {
    Registration* r = Find(fd);
    if (!r) return Status::Errno(ENOENT, "io_uring_poll_update");
    if (!AcceptValid(fd, interest)) return Status::Errno(EINVAL, "io_uring_accept");
    if (r->seq != 0 && !QueueCancel(fd, r->seq, r->accept)) return Status::Errno(sqErr_, "io_uring_enter");
    r->seq = 0;
    r->token = token;
    r->interest = interest;
    if (r->accept && !(interest & kAccept)) DropAccepted(fd, *r);
    r->accept = (interest & kAccept) != 0;
    r->reportedIn = 0;  // a completion of this wait's array was the old token's
    return ArmNow(fd, *r);
  }

  Status remove(int fd) override {
    Registration* r = Find(fd);
    if (!r) return Status::Errno(ENOENT, "io_uring_poll_remove");
    uint32_t seq = r->seq;
    if (r->accept) DropAccepted(fd, *r);
    r->registered = false;
    r->seq = 0;
    // The fd itself is not needed (it may be closed already): the cancel names the request.
    if (seq != 0 && !QueueCancel(fd, seq, r->accept)) return Status::Errno(sqErr_, "io_uring_enter");
    if (!RecvRemoved(fd)) return Status::Errno(sqErr_, "io_uring_enter");
    // After the cancels, before the caller may close the fd: the slot lets the file go.
    if (Fixed(fd) && !QueueSlot(fd, false)) return Status::Errno(sqErr_, "io_uring_enter");
    if (ring_.unsubmitted() == 0) return Status::Ok();
    int err = ring_.enter(0);
    return err ? Status::Errno(err, "io_uring_enter") : Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
    BeginRecords();
    if (capacity <= 0) return 0;
    int err = QueueRearms();
    if (err) return -err;
    if (hasPending()) {
      // Stashed completions are ready now. When all that waits to be submitted is the
      // deferred sends (and their re-arms), they go with the next enter (a readBatch's):
      // one io_uring_enter per busy iteration.
      timeoutMs = 0;
      if (d_.left > 0 && ring_.tail() == d_.tail) return Reap(out, capacity);
    }
    if (timeoutMs != 0 || ring_.needsEnter()) {
      // With sends queued, return once they have completed (they do inside this very
      // call): their writers hear the results and may have more to do before we block.
      err = ring_.enter(timeoutMs, d_.left > 0 ? static_cast<unsigned>(d_.left) : 1);
      if (err) return -err;
    }
    return Reap(out, capacity);
  }

  int flush() override {
    int err = QueueRearms();
    if (!err && ring_.unsubmitted() != 0) err = ring_.enter(0);
    return err ? -err : 0;
  }

  int fd() const override { return ring_.fd(); }

  void close() override {
    CloseAccepted();  // first: its drain keeps the receives' completions for CloseRecv
    CloseRecv();
    Unlist();
    d_.count = 0;
    d_.left = 0;
    ring_.close();  // the file table goes with it
    std::vector<int32_t>().swap(slotFd_);
    std::vector<Registration>().swap(regs_);
    std::vector<int>().swap(rearms_);
    std::vector<io_uring_cqe>().swap(stash_);
    stashHead_ = 0;
  }

  bool completesIo() const override { return true; }
  bool hasPending() const override {
    return stashHead_ < stash_.size() || !releasing_.empty() || !acceptReady_.empty();
  }

  int64_t readBatch(const ReadBatchArgs& a) override {
    const size_t rem = a.slabSize - a.offset;
    if (a.count == 0 || rem < a.maxPerFd) return 0;  // the caller starts a new slab
    size_t chunk = std::min(a.maxPerFd, std::max(rem / static_cast<size_t>(a.count), kMinRecv));
    const int64_t k = std::min<int64_t>(a.count, static_cast<int64_t>(rem / chunk));
    int64_t queued = 0;
    int err = 0;
    for (int64_t i = 0; i < k; i++) {
      int32_t* triple = a.out + 3 * i;
      int fd = a.keys[i];
      triple[0] = fd;
      triple[1] = static_cast<int32_t>(a.offset + static_cast<size_t>(i) * chunk);
      if (fd < 0 || err) {
        triple[2] = fd < 0 ? -EBADF : -err;
        continue;
      }
      io_uring_sqe* sqe = ring_.nextSqe(&err);
      if (!sqe) {
        triple[2] = -err;
        continue;
      }
      sqe->opcode = IORING_OP_RECV;
      SetFile(sqe, fd);
      sqe->addr = reinterpret_cast<uint64_t>(a.slab + triple[1]);
      sqe->len = static_cast<uint32_t>(chunk);
      sqe->msg_flags = MSG_DONTWAIT;
      sqe->user_data = static_cast<uint64_t>(i) + 1;
      triple[2] = kInFlight;
      queued++;
    }
    // After the receives (the last of this batch's calls): a level re-arm then sees each
    // socket as its read left it.
    if (!err && k == a.count) err = QueueRearms();
    int failed = Complete(a.out, 3, 2, queued);
    if (failed) return -failed;
    // Pack the bytes as batch_io.cc's loop would have: each fd's data right after the
    // previous one's. Data only moves towards the start, so in order is safe; a non-socket
    // reads in place, ahead of every later region.
    size_t pos = a.offset;
    for (int64_t i = 0; i < k; i++) {
      int32_t* triple = a.out + 3 * i;
      if (triple[2] == kInFlight) triple[2] = Unsent();
      if (triple[2] == -ENOTSOCK) {
        triple[2] = ResultWord(RetryOnEintr([&] { return read(triple[0], a.slab + pos, chunk); }));
      } else if (triple[2] > 0 && static_cast<size_t>(triple[1]) != pos) {
        memmove(a.slab + pos, a.slab + triple[1], static_cast<size_t>(triple[2]));
      }
      triple[1] = static_cast<int32_t>(pos);
      if (triple[2] > 0) pos += static_cast<size_t>(triple[2]);
    }
    return k;
  }

  int64_t writevBatch(const WriteBatchArgs& a, const uint8_t* notSocket) override {
    const size_t count = static_cast<size_t>(a.count);
    if (msgs_.size() < count) msgs_.resize(count);
    int err = 0;
    int64_t queued = QueueSends(a.keys, count, a.counts, a.iov, notSocket, a.out, 1, msgs_.data(), &err);
    // The iteration's re-arms ride along, so integrated mode's flush() has nothing to send.
    if (!err) err = QueueRearms();
    int failed = Complete(a.out, 1, 0, queued);
    if (failed) return -failed;
    SendResults(a.keys, count, a.counts, a.iov, notSocket, a.out);
    return 0;
  }

  int64_t queueWrites(const WriteBatchArgs& a, const uint8_t* notSocket) override {
    if (d_.count != 0) return -EBUSY;
    const size_t count = static_cast<size_t>(a.count);
    size_t iovs = 0;
    for (size_t i = 0; i < count; i++) iovs += static_cast<size_t>(a.counts[i]);
    // Copies: the caller's arrays and the binding's iovecs are reused before the sends go.
    d_.keys.assign(a.keys, a.keys + count);
    d_.counts.assign(a.counts, a.counts + count);
    d_.iov.assign(a.iov, a.iov + iovs);
    d_.notSocket.assign(count, 0);
    if (notSocket != nullptr) d_.notSocket.assign(notSocket, notSocket + count);
    d_.out.assign(count, 0);
    if (d_.msgs.size() < count) d_.msgs.resize(count);
    int err = 0;
    d_.left = QueueSends(d_.keys.data(), count, d_.counts.data(), d_.iov.data(), d_.notSocket.data(), d_.out.data(),
                         kWriteTag, d_.msgs.data(), &err);
    d_.count = count;
    if (!err) err = QueueRearms();
    d_.tail = ring_.tail();
    if (d_.left > 0 && !listed_) {
      QueuedSends().push_back(this);
      listed_ = true;
    }
    // A full ring handed part of the batch to the kernel already; the rest failed with err
    // (their result words say so) and is reported by finishWrites like any other result.
    return 0;
  }

  int64_t finishWrites(int32_t* out, size_t capacity, bool mayEnter) override {
    if (d_.count == 0) return 0;
    if (capacity < d_.count) return -EINVAL;
    if (d_.left > 0) {
      if (!mayEnter) {
        // Reap what the kernel has posted: the sends may all be done without a syscall.
        TakeWrites();
        if (d_.left > 0) return -1;
      } else {
        int failed = DrainWrites();
        if (failed) return -failed;
      }
    }
    Unlist();
    const size_t count = d_.count;
    d_.count = 0;
    SendResults(d_.keys.data(), count, d_.counts.data(), d_.iov.data(), d_.notSocket.data(), d_.out.data());
    std::copy(d_.out.begin(), d_.out.begin() + static_cast<long>(count), out);
    return static_cast<int64_t>(count);
  }

  uint64_t enterCount() const override { return ring_.enters(); }

  int64_t takeAccepted(int fd, int32_t* out, size_t max) override {
    Registration* r = Find(fd);
    if (!r || !r->accept) return -ENOENT;
    const size_t n = std::min(max, r->accepted.size());
    std::copy(r->accepted.begin(), r->accepted.begin() + static_cast<long>(n), out);
    r->accepted.erase(r->accepted.begin(), r->accepted.begin() + static_cast<long>(n));
    if (n == 0 && r->acceptErr != 0) {
      int err = r->acceptErr;
      r->acceptErr = 0;
      QueueRearm(fd, *r);
      UnlistAccept(fd);
      return -err;
    }
    if (r->accepted.empty() && r->acceptErr == 0) UnlistAccept(fd);
    if (r->full && r->accepted.size() <= kAcceptQueueMax / 2) {
      r->full = false;
      QueueRearm(fd, *r);
    }
    return static_cast<int64_t>(n);
  }

  // SubmitQueuedSends: the queued sends go to the kernel now (their completions are read later).
  void SubmitNow() {
    listed_ = false;
    if (ring_.unsubmitted() != 0) ring_.enter(0);
  }

  // ---- Registered files (poller.h, enableFixedFiles).

  int enableFixedFiles(std::string* why) override {
    if (!slotFd_.empty()) return EALREADY;
    for (const Registration& r : regs_) {
      if (r.registered) {
        *why = "the file table must be registered before the first fd is watched";
        return EBUSY;
      }
    }
#if !defined(IORING_RSRC_REGISTER_SPARSE) || !defined(IOSQE_CQE_SKIP_SUCCESS)
    *why = "this build's kernel headers predate sparse registered-file tables (Linux 5.19)";
    return EINVAL;
#else
    rlimit rl = {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      int err = errno;
      *why = "reading RLIMIT_NOFILE failed";
      return err;
    }
    // The kernel refuses a table larger than RLIMIT_NOFILE: every fd this process can
    // have gets its slot.
    const size_t n = std::min<size_t>(rl.rlim_cur == RLIM_INFINITY ? kMaxFixedFiles : rl.rlim_cur, kMaxFixedFiles);
    io_uring_rsrc_register reg = {};
    reg.nr = static_cast<uint32_t>(n);
    reg.flags = IORING_RSRC_REGISTER_SPARSE;
    if (n == 0 || syscall(__NR_io_uring_register, ring_.fd(), IORING_REGISTER_FILES2, &reg, sizeof reg) < 0) {
      int err = n == 0 ? EINVAL : errno;
      *why = err == EINVAL ? "this kernel has no sparse registered-file tables (Linux 5.19 or later)"
             : err == EMFILE ? "RLIMIT_NOFILE is below the file table's size"
             : err == ENOMEM ? "no memory for the registered-file table"
                             : "registering the file table failed";
      return err;
    }
    slotFd_.assign(n, -1);
    return 0;
#endif
  }

  bool fixedFiles() const override { return !slotFd_.empty(); }

  // ---- Completion-based receive: the provided buffer ring and its slabs (poller.h).

  int enableRecv(unsigned entries, size_t regionSize, std::string* why) override {
    if (bufRing_ != nullptr) return EALREADY;
    if (entries == 0 || (entries & (entries - 1)) != 0 || entries > 32768 || regionSize == 0 ||
        regionSize > UINT32_MAX) {
      *why = "the ring takes a power of two of at most 32768 buffers, each of 1 byte to 4 GiB";
      return EINVAL;
    }
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (entries * sizeof(RingBuf) + page - 1) / page * page;
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      *why = "no memory for the buffer ring";
      return err;
    }
    RingBufReg reg = {};
    reg.ringAddr = reinterpret_cast<uint64_t>(m);
    reg.ringEntries = entries;
    reg.bgid = kBufGroup;
    // Incremental consumption: the kernel fills a buffer across receives, as the readiness
    // path fills a slab, so no byte handed to a protocol is ever written over.
    reg.flags = IOU_PBUF_RING_INC;
    if (syscall(__NR_io_uring_register, ring_.fd(), IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
      int err = errno;
      munmap(m, bytes);
      *why = err == EINVAL ? "this kernel has no incrementally consumed buffer rings (IOU_PBUF_RING_INC: Linux 6.12 or later)"
                           : "registering the provided buffer ring failed";
      return err;
    }
    bufRing_ = static_cast<RingBuf*>(m);
    bufRingBytes_ = bytes;
    bufEntries_ = entries;
    regionSize_ = regionSize;
    return 0;
  }

  int64_t addRecvSlab(uint8_t* data, size_t size) override {
    if (bufRing_ == nullptr) return -ENOTSUP;
    const size_t n = std::min<size_t>(size / regionSize_, bufEntries_ - inRing_);
    if (n == 0) return -1;
    const int32_t id = TakeIndex(freeSlabs_, slabs_);
    slabs_[id] = Slab{data, static_cast<int32_t>(n)};
    for (size_t i = 0; i < n; i++) {
      const uint16_t bid = TakeIndex(freeBids_, regions_);
      const uint32_t base = static_cast<uint32_t>(i * regionSize_);
      regions_[bid] = Region{id, base, static_cast<uint32_t>(regionSize_), 0};
      // Field by field: entry 0's resv is the ring's tail.
      RingBuf& b = bufRing_[bufTail_ & (bufEntries_ - 1)];
      b.addr = reinterpret_cast<uint64_t>(data + base);
      b.len = static_cast<uint32_t>(regionSize_);
      b.bid = bid;
      bufTail_++;
    }
    inRing_ += n;
    __atomic_store_n(&bufRing_[0].resv, bufTail_, __ATOMIC_RELEASE);
    RearmStarved();
    return id;
  }

  void setRecvOut(int32_t* out, size_t capacity) override {
    recvOut_ = out;
    recvCap_ = capacity;
  }

  size_t takeReleasedSlabs(int32_t* ids, size_t max) override {
    const size_t n = std::min(max, released_.size());
    std::copy(released_.end() - static_cast<long>(n), released_.end(), ids);
    released_.resize(released_.size() - n);
    return n;
  }

 private:
  // Whether fd's registered-file slot holds its file (add() filled it).
  bool Fixed(int fd) const { return fd >= 0 && static_cast<size_t>(fd) < slotFd_.size() && slotFd_[fd] >= 0; }

  // Names fd in `sqe`: by its slot when it has one, else by number.
  void SetFile(io_uring_sqe* sqe, int fd) const {
    sqe->fd = fd;
    if (Fixed(fd)) sqe->flags |= IOSQE_FIXED_FILE;
  }

  // Queues the FILES_UPDATE that puts fd's file in its slot (`fill`) or empties the slot.
  // The kernel reads the value from slotFd_ when it takes the SQE (within this add's or
  // remove's own enter); only a failure posts a completion (kSlotTag | fd, ArmNow reads it).
  bool QueueSlot(int fd, bool fill) {
#if defined(IOSQE_CQE_SKIP_SUCCESS)
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    slotFd_[fd] = fill ? fd : -1;
    sqe->opcode = IORING_OP_FILES_UPDATE;
    sqe->fd = -1;
    sqe->addr = reinterpret_cast<uint64_t>(&slotFd_[fd]);
    sqe->len = 1;
    sqe->off = static_cast<uint64_t>(fd);
    sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
    sqe->user_data = fill ? kSlotTag | static_cast<uint32_t>(fd) : 0;
    return true;
#else
    (void)fd, (void)fill;
    return true;  // never reached: enableFixedFiles refuses without these headers
#endif
  }

  // Queues one SEND (one buffer) or SENDMSG per writer i of keys[0..count), tagged
  // tagBase + i, its header in msgs[i]; out[i] becomes kInFlight, or the result decided
  // without a request (-EBADF, 0 for nothing to write, -ENOTSOCK for a known non-socket,
  // written by SendResults with the plain writev). Returns how many it queued; *err is set
  // when the ring could take no more (the rest then fail with it).
  int64_t QueueSends(const int32_t* keys, size_t count, const int32_t* counts, const iovec* iovs,
                     const uint8_t* notSocket, int32_t* out, uint64_t tagBase, msghdr* msgs, int* err) {
    int64_t queued = 0;
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
      int fd = keys[i];
      int n = counts[i];
      const iovec* iov = iovs + k;
      k += static_cast<size_t>(n);
      if (fd < 0 || n == 0 || *err) {
        out[i] = fd < 0 ? -EBADF : n == 0 ? 0 : -*err;
        continue;
      }
      if (notSocket != nullptr && notSocket[i] != 0) {
        out[i] = -ENOTSOCK;  // known: written with the plain writev by SendResults, no request
        continue;
      }
      io_uring_sqe* sqe = ring_.nextSqe(err);
      if (!sqe) {
        out[i] = -*err;
        continue;
      }
      SetFile(sqe, fd);
      sqe->msg_flags = MSG_DONTWAIT | kNoSignal;
      sqe->user_data = tagBase + i;
      if (n == 1) {
        sqe->opcode = IORING_OP_SEND;
        sqe->addr = reinterpret_cast<uint64_t>(iov->iov_base);
        sqe->len = static_cast<uint32_t>(iov->iov_len);
      } else {
        msghdr& m = msgs[i];
        m = msghdr{};
        m.msg_iov = const_cast<iovec*>(iov);
        m.msg_iovlen = static_cast<size_t>(std::min(n, kIovMax));
        sqe->opcode = IORING_OP_SENDMSG;
        sqe->addr = reinterpret_cast<uint64_t>(&m);
        sqe->len = 1;
      }
      out[i] = kInFlight;
      queued++;
    }
    return queued;
  }

  // After the sends of QueueSends completed: a send never sent gets Unsent(), and the
  // non-sockets (ENOTSOCK from the kernel, or flagged) get the plain writev.
  void SendResults(const int32_t* keys, size_t count, const int32_t* counts, const iovec* iovs,
                   const uint8_t* notSocket, int32_t* out) {
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
      int n = counts[i];
      if (out[i] == kInFlight) out[i] = Unsent();
      if (out[i] == -ENOTSOCK) {
        const iovec* iov = iovs + k;
        const int m = std::min(n, kIovMax);
        out[i] = notSocket != nullptr && notSocket[i] != 0
                     ? ResultWord(RetryOnEintr([&] { return writev(keys[i], iov, m); }))
                     : ResultWord(WritevNoSignal(keys[i], iov, m));
      }
      k += static_cast<size_t>(n);
    }
  }

  // A deferred send's completion: its result goes to d_.out. False for any other.
  bool TakeWrite(const io_uring_cqe& c) {
    if (!IsWriteTag(c.user_data)) return false;
    size_t i = static_cast<uint32_t>(c.user_data);
    if (i < d_.count && d_.out[i] == kInFlight) {
      d_.out[i] = c.res == -EAGAIN || c.res == -EWOULDBLOCK ? kAgain : c.res;
      d_.left--;
    }
    return true;
  }

  // Reads every posted completion: deferred sends' results to d_.out, the rest to stash_.
  void TakeWrites() {
    unsigned n = ring_.ready();
    for (unsigned i = 0; i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      if (!TakeWrite(c) && c.user_data != 0) stash_.push_back(c);
    }
    ring_.consume(n);
  }

  // Submits and waits until every deferred send has completed (Complete's loop for them).
  int DrainWrites() {
    int lastErr = 0;
    bool waitNext = false;
    while (d_.left > 0) {
      int err = ring_.enter(waitNext ? -1 : 0);
      if (err) {
        d_.left -= ring_.neuterUnsubmitted(IsWriteTag);
        unsentErr_ = err;
        if (lastErr) return err;
      }
      lastErr = err;
      TakeWrites();
      waitNext = true;
    }
    return 0;
  }

  static bool IsWriteTag(uint64_t userData) { return (userData >> 32) == (kWriteTag >> 32); }

  void Unlist() {
    if (!listed_) return;
    auto& list = QueuedSends();
    list.erase(std::remove(list.begin(), list.end(), this), list.end());
    listed_ = false;
  }

  Registration* Find(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= regs_.size() || !regs_[fd].registered) return nullptr;
    return &regs_[fd];
  }

  uint32_t NextSeq() {
    if (++seq_ == 0 || seq_ >= (kSlotTag >> 32)) seq_ = 1;
    return seq_;
  }

  bool QueueArm(int fd, Registration& r) {
    if (r.accept) return QueueAccept(fd, r);
    const uint32_t interest = PollInterest(fd, r);
    if (interest != r.interest && (interest & kInterestMask) == 0) {
      r.seq = 0;  // the receive alone serves this registration
      return true;
    }
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    r.seq = NextSeq();
    sqe->opcode = IORING_OP_POLL_ADD;
    SetFile(sqe, fd);
    sqe->poll32_events = ToPoll(interest);
    if ((r.interest & (kEdge | kOneshot)) == kEdge) sqe->len = IORING_POLL_ADD_MULTI;
    sqe->user_data = (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd);
    return true;
  }

  // Cancels request `seq` of fd: a poll, or with `accept` its multishot accept.
  bool QueueCancel(int fd, uint32_t seq, bool accept = false) {
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    sqe->opcode = accept ? IORING_OP_ASYNC_CANCEL : IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = (static_cast<uint64_t>(seq) << 32) | static_cast<uint32_t>(fd) | (accept ? kAcceptBit : 0);
    sqe->user_data = 0;  // seq 0: its own completion is dropped
    return true;
  }

  // Arms `r` and submits at once, as epoll_ctl would. A bad fd fails inside that very
  // submission: its completion is found in the ring and thrown, like epoll_ctl's EBADF.
  // A registration that ends here unregistered also lets its slot's file go.
  Status ArmNow(int fd, Registration& r) {
    Status st = ArmAndCheck(fd, r);
    if (!r.registered && Fixed(fd) && QueueSlot(fd, false)) ring_.enter(0);
    return st;
  }

  Status ArmAndCheck(int fd, Registration& r) {
    if (!QueueArm(fd, r) || !SyncRecv(fd, r)) {
      r.registered = false;
      SyncRecv(fd, r);
      return Status::Errno(sqErr_, "io_uring_enter");
    }
    int err = ring_.enter(0);
    if (err) {
      r.registered = false;
      SyncRecv(fd, r);
      return Status::Errno(err, "io_uring_enter");
    }
    if (Fixed(fd) && SlotRefused(fd, r)) return ArmAndCheck(fd, r);  // now by number
    uint64_t mine = (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd) | (r.accept ? kAcceptBit : 0);
    uint64_t recv = RecvArmed(fd) ? RecvTag(fd, recv_[fd].seq) : 0;
    for (unsigned i = 0, n = ring_.ready(); i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      // An accept's EMFILE and the like are the listener's, reported by a wait (Report).
      bool failed = (r.seq != 0 && c.user_data == mine && c.res < 0 && !(r.accept && AcceptRetryLater(-c.res))) ||
                    (recv != 0 && c.user_data == recv && c.res == -EBADF);
      if (failed) {
        r.registered = false;  // the completion, read later, no longer matches anything
        r.seq = 0;
        SyncRecv(fd, r);
        if (fd < static_cast<int>(recv_.size())) recv_[fd].from = seq_ + 1;  // nor the receive's
        return Status::Errno(-c.res, recv != 0 && c.user_data == recv ? "io_uring_recv" : r.accept ? "io_uring_accept" : "io_uring_poll_add");
      }
    }
    return Status::Ok();
  }

  // After add()'s enter: whether the kernel refused fd's file a slot (io_uring's own fds,
  // say). Then the slot is empty, the poll and receive just queued on it have failed
  // inside that enter (EBADF), and their completions, like the refusal's, are forgotten
  // here: `r` is left unarmed for a re-arm by number.
  bool SlotRefused(int fd, Registration& r) {
    const uint64_t slot = kSlotTag | static_cast<uint32_t>(fd);
    const unsigned n = ring_.ready();
    unsigned at = 0;
    while (at < n && ring_.cqe(at).user_data != slot) at++;
    if (at == n) return false;
    ring_.forget(at);
    slotFd_[fd] = -1;
    const uint64_t poll = r.seq != 0 ? (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd) : 0;
    const uint64_t recv = RecvArmed(fd) ? RecvTag(fd, recv_[fd].seq) : 0;
    for (unsigned i = 0; i < n; i++) {
      const uint64_t u = ring_.cqe(i).user_data;
      if (u == 0 || (u != poll && u != recv)) continue;
      ring_.forget(i);
      if (u == recv) {
        liveRecvs_--;
        recv_[fd].seq = 0;
      } else {
        r.seq = 0;
      }
    }
    // One that did not fail at once (never seen here) is cancelled; its completion matches nothing.
    if (r.seq != 0) QueueCancel(fd, r.seq);
    if (RecvArmed(fd)) CancelRecv(fd, recv_[fd]);
    r.seq = 0;
    return true;
  }

  // Re-arms the registrations whose request ended at a reported completion.
  int QueueRearms() {
    for (size_t i = 0; i < rearms_.size(); i++) {
      int fd = rearms_[i];
      Registration& r = regs_[fd];
      r.rearmQueued = false;
      if (!r.registered || r.seq != 0) continue;
      if (!QueueArm(fd, r)) {
        // Keep the rest for the next call: nothing is lost when the ring is full.
        rearms_.erase(rearms_.begin(), rearms_.begin() + static_cast<long>(i));
        r.rearmQueued = true;
        return sqErr_;
      }
    }
    rearms_.clear();
    return 0;
  }

  // Submits what is queued and reads completions until the `queued` batch operations
  // (user_data index + 1) have all completed, writing each result word to
  // out[index * stride + field]. Poll completions met meanwhile go to stash_. When an
  // enter fails, the batch SQEs it did not take become no-ops (their results stay
  // kInFlight; see Unsent) so that nothing can touch the caller's buffers later. Returns 0,
  // or the errno of a ring that failed twice in a row with operations still in flight.
  int Complete(int32_t* out, size_t stride, size_t field, int64_t queued) {
    int lastErr = 0;
    bool waitNext = false;
    while (true) {
      int err = ring_.enter(waitNext ? -1 : 0);
      if (err) {
        queued -= ring_.neuterUnsubmitted(IsBatchTag);
        unsentErr_ = err;
        if (lastErr) return err;
      }
      lastErr = err;
      unsigned n = ring_.ready();
      for (unsigned i = 0; i < n; i++) {
        const io_uring_cqe& c = ring_.cqe(i);
        if (TakeWrite(c)) continue;
        if (!IsBatchTag(c.user_data)) {
          if (c.user_data != 0) stash_.push_back(c);  // 0: a cancel's own completion
          continue;
        }
        out[(c.user_data - 1) * stride + field] = c.res == -EAGAIN || c.res == -EWOULDBLOCK ? kAgain : c.res;
        queued--;
      }
      ring_.consume(n);
      if (queued <= 0) return 0;
      waitNext = true;
    }
  }

  static bool IsBatchTag(uint64_t userData) { return (userData >> 32) == 0 && userData != 0; }

  // The result word of a batch operation that was never sent (its SQE became a no-op).
  int32_t Unsent() const { return -(unsentErr_ ? unsentErr_ : ECANCELED); }

  // Reports one completion into out; false (nothing consumed) when out is full.
  bool Report(const io_uring_cqe& c, uint32_t wait, uint32_t* out, int capacity, int* count) {
    if (IsAcceptTag(c.user_data)) {
      TakeAcceptCompletion(c);
      return true;
    }
    uint32_t seq = static_cast<uint32_t>(c.user_data >> 32);
    uint32_t fd = static_cast<uint32_t>(c.user_data);
    if (seq == 0 || fd >= regs_.size()) return true;
    Registration& r = regs_[fd];
    if (!r.registered || r.seq != seq || c.res == -ECANCELED) return true;
    bool merge = r.reportedIn == wait;
    if (!merge && *count == capacity) return false;  // the rest waits for the next wait
    bool more = (c.flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
      r.seq = 0;
      // A failed request is reported once and not re-armed: it would only fail again.
      if (!(r.interest & kOneshot) && c.res >= 0 && !r.rearmQueued) {
        r.rearmQueued = true;
        rearms_.push_back(static_cast<int>(fd));
      }
    }
    uint32_t bits = c.res < 0 ? kError : FromPoll(static_cast<uint32_t>(c.res));
    if (PollInterest(static_cast<int>(fd), r) != r.interest) {
      // Its receive reports the reading side (bytes, EOF, errors); a read of READABLE here
      // would race it.
      bits &= ~(kReadable | kHangup | kError);
      if (bits == 0) return true;
    }
    if (merge) {
      out[r.outIndex * kEventStride + 2] |= bits;
      return true;
    }
    r.reportedIn = wait;
    r.outIndex = static_cast<uint32_t>(*count);
    out[*count * kEventStride + 0] = r.token.slot;
    out[*count * kEventStride + 1] = r.token.generation;
    out[*count * kEventStride + 2] = bits;
    ++*count;
    return true;
  }

  int Reap(uint32_t* out, int capacity) {
    uint32_t wait = ++waits_ == 0 ? ++waits_ : waits_;
    int count = 0;
    ReleaseHeld();
    for (; stashHead_ < stash_.size(); stashHead_++) {
      const io_uring_cqe& c = stash_[stashHead_];
      if (IsRecvTag(c.user_data) ? !TakeRecv(c) : !Report(c, wait, out, capacity, &count)) return EndRecords(count);
    }
    stash_.clear();
    stashHead_ = 0;
    unsigned n = ring_.ready(), i = 0;
    for (; i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      if (TakeWrite(c)) continue;
      if (IsRecvTag(c.user_data) ? !TakeRecv(c) : !Report(c, wait, out, capacity, &count)) break;
    }
    ring_.consume(i);
    ReportAccepts(wait, out, capacity, &count);
    return EndRecords(count);
  }

  // ---- Multishot accept (kAccept): one IORING_OP_ACCEPT per listening socket.

  static bool IsAcceptTag(uint64_t userData) {
    return (static_cast<uint32_t>(userData) & (kAcceptBit | static_cast<uint32_t>(kRecvBit))) == kAcceptBit &&
           (userData >> 32) != 0 && !IsWriteTag(userData);
  }

  // kAccept goes with READABLE alone (a listener has nothing to write, and one request),
  // on an fd below kAcceptBit.
  static bool AcceptValid(int fd, uint32_t interest) {
    if (!(interest & kAccept)) return true;
    return (interest & (kInterestMask | kEdge | kOneshot | kRecv)) == kReadable && static_cast<uint32_t>(fd) < kAcceptBit;
  }

  // Errors that end an accept request but not the listener: a connection reset while
  // queued (skipped, as accept(2) advises), or a resource the process lacks for now.
  static bool AcceptRetryLater(int err) {
    switch (err) {
      case ECONNABORTED:
      case EPROTO:
      case EINTR:
      case EAGAIN:
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        return true;
      default:
        return false;
    }
  }

  bool QueueAccept(int fd, Registration& r) {
#if defined(IORING_ACCEPT_MULTISHOT)
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    r.seq = NextSeq();
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = fd;
    sqe->ioprio = IORING_ACCEPT_MULTISHOT;
    // No address: every completion would write the same buffer. The binding asks
    // getpeername when the connection is taken.
    sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    sqe->user_data = (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd) | kAcceptBit;
    acceptsArmed_++;
    return true;
#else
    (void)fd, (void)r;
    sqErr_ = EINVAL;
    return false;
#endif
  }

  void QueueRearm(int fd, Registration& r) {
    if (r.rearmQueued || r.seq != 0 || r.full) return;
    r.rearmQueued = true;
    rearms_.push_back(fd);
  }

  // One accept request's completion: a new connection, or its end.
  void TakeAcceptCompletion(const io_uring_cqe& c) {
    const uint32_t seq = static_cast<uint32_t>(c.user_data >> 32);
    const uint32_t fd = static_cast<uint32_t>(c.user_data) & ~kAcceptBit;
    const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
    if (!more && acceptsArmed_ > 0) acceptsArmed_--;
    Registration* r = fd < regs_.size() ? &regs_[fd] : nullptr;
    const bool filled = r && r->fullSeq == seq && seq != 0;  // cancelled by the cap, not by remove
    if (!r || !r->registered || !r->accept || (r->seq != seq && !filled)) {
      // Accepted in flight while its request was being cancelled: nobody will take it.
      if (c.res >= 0) ::close(c.res);
      return;
    }
    if (filled) {
      if (!more) r->fullSeq = 0;
      if (c.res >= 0) {
        r->accepted.push_back(c.res);
        ListAccept(static_cast<int>(fd));
      }
      return;
    }
    if (!more) r->seq = 0;
    if (c.res >= 0) {
      r->accepted.push_back(c.res);
      ListAccept(static_cast<int>(fd));
      if (r->accepted.size() >= kAcceptQueueMax) {
        r->full = true;
        if (more && QueueCancel(static_cast<int>(fd), r->seq, true)) {
          r->fullSeq = r->seq;
          r->seq = 0;
          // At once: until the cancel reaches the kernel, every connection is accepted.
          ring_.enter(0);
        }
      } else if (!more) {
        QueueRearm(static_cast<int>(fd), *r);
      }
      return;
    }
    const int err = -c.res;
    if (err == ECONNABORTED || err == EPROTO || err == EINTR || err == EAGAIN || err == ECANCELED) {
      if (!more && err != ECANCELED) QueueRearm(static_cast<int>(fd), *r);
      return;
    }
    // EMFILE and the rest: takeAccepted hands it out once the queue is empty, and re-arms.
    r->acceptErr = err;
    ListAccept(static_cast<int>(fd));
  }

  // READABLE for each listener with connections or an error queued (a level report: a port
  // that took part of them hears it again at the next wait).
  void ReportAccepts(uint32_t wait, uint32_t* out, int capacity, int* count) {
    for (int fd : acceptReady_) {
      if (*count == capacity) return;
      Registration& r = regs_[fd];
      if (r.reportedIn == wait) continue;
      r.reportedIn = wait;
      out[*count * kEventStride + 0] = r.token.slot;
      out[*count * kEventStride + 1] = r.token.generation;
      out[*count * kEventStride + 2] = r.acceptErr != 0 ? kReadable | kError : kReadable;
      ++*count;
    }
  }

  void ListAccept(int fd) {
    if (std::find(acceptReady_.begin(), acceptReady_.end(), fd) == acceptReady_.end()) acceptReady_.push_back(fd);
  }

  void UnlistAccept(int fd) { acceptReady_.erase(std::remove(acceptReady_.begin(), acceptReady_.end(), fd), acceptReady_.end()); }

  // Closes the connections accepted for `fd` and not taken (the listener goes away).
  void DropAccepted(int fd, Registration& r) {
    for (int c : r.accepted) ::close(c);
    r.accepted.clear();
    r.acceptErr = 0;
    r.full = false;
    UnlistAccept(fd);
  }

  // close(): cancels every armed accept and reads completions until each has ended, closing
  // the fds they posted, so that none outlives the ring unseen. Other completions read
  // meanwhile go to stash_, where CloseRecv counts its receives' last ones.
  void CloseAccepted() {
    if (ring_.fd() < 0 || (acceptsArmed_ == 0 && acceptReady_.empty())) return;
    // The deferred sends die with the poller: they must not reach the kernel with the cancels.
    ring_.neuterUnsubmitted(IsWriteTag);
    for (size_t fd = 0; fd < regs_.size(); fd++) {
      Registration& r = regs_[fd];
      if (!r.registered || !r.accept) continue;
      DropAccepted(static_cast<int>(fd), r);
      if (r.seq != 0) QueueCancel(static_cast<int>(fd), r.seq, true);
      r.registered = false;
    }
    for (size_t i = stashHead_; i < stash_.size(); i++) {
      if (IsAcceptTag(stash_[i].user_data)) TakeAcceptCompletion(stash_[i]);
    }
    // Bounded: a cancel completes within the enter that submits it or soon after.
    for (int round = 0; round < 100 && (round == 0 || acceptsArmed_ > 0); round++) {
      ring_.enter(round == 0 ? 0 : 10);
      unsigned n = ring_.ready();
      for (unsigned i = 0; i < n; i++) {
        const io_uring_cqe& c = ring_.cqe(i);
        if (IsAcceptTag(c.user_data)) {
          TakeAcceptCompletion(c);
        } else if (c.user_data != 0 && !IsWriteTag(c.user_data)) {
          stash_.push_back(c);
        }
      }
      ring_.consume(n);
    }
    acceptReady_.clear();
  }


  // ---- Completion-based receive: one IORING_OP_RECV with buffer selection per reading
  // socket, re-armed by the next enter after each completion (no syscall of its own). Not
  // multishot: on Linux 6.18 a multishot receive re-armed on a reset socket with bytes
  // still queued posted one completion and then stayed parked in the poll list for good
  // (about one run in five of test/net/io_uring's abort test, integrated mode); the
  // single-shot request never did in the same runs.
  //
  // A receive completion names a buffer (bid) and a byte count: with incremental
  // consumption the bytes sit at that buffer's fill offset, which only we track (the kernel
  // moves on to the next buffer once one is full). A record (slab, offset, result) is
  // reported by the next wait, or held, in order, while its registration is not reading
  // (removed, or READABLE dropped by modify): held records are reported, before any later
  // one, once it reads again. A socket removed with its receive armed is parked: its
  // receive is cancelled, and what completed meanwhile is held for a re-add of the same
  // socket (same inode) or dropped when the number comes back as another file.

  static uint64_t RecvTag(int fd, uint32_t seq) { return (static_cast<uint64_t>(seq) << 32) | kRecvBit | static_cast<uint32_t>(fd); }
  static bool IsRecvTag(uint64_t userData) { return (userData & kRecvBit) != 0 && (userData >> 32) != 0 && !IsWriteTag(userData); }

  RecvState& RecvOf(int fd) {
    if (static_cast<size_t>(fd) >= recv_.size()) recv_.resize(static_cast<size_t>(fd) + 1);
    return recv_[fd];
  }

  bool RecvArmed(int fd) const { return fd < static_cast<int>(recv_.size()) && recv_[fd].seq != 0; }

  // The poll interest of `r`: without READABLE while its receive reads for it.
  uint32_t PollInterest(int fd, const Registration& r) const {
    const bool recv = bufRing_ != nullptr && (r.interest & (kReadable | kRecv)) == (kReadable | kRecv) &&
                      !(static_cast<size_t>(fd) < recv_.size() && recv_[fd].fallback);
    return recv ? r.interest & ~kReadable : r.interest;
  }

  // add(): a parked receive of the same socket carries on; anything else starts afresh.
  void RecvAdded(int fd) {
    if (bufRing_ == nullptr) return;
    RecvState& s = RecvOf(fd);
    if (s.parked) {
      s.parked = false;
      struct stat st;
      if (fstat(fd, &st) == 0 && st.st_ino == s.ino) return;
    }
    DropHeld(s);
    s.from = seq_ + 1;  // completions of earlier receives of this number are another file's
    s.ended = s.fallback = s.starved = false;
  }

  // remove(): cancels the receive; parks the socket when completions may still come.
  bool RecvRemoved(int fd) {
    if (bufRing_ == nullptr || static_cast<size_t>(fd) >= recv_.size()) return true;
    RecvState& s = recv_[fd];
    const bool mayPost = s.seq != 0;
    s.active = false;
    if (s.seq != 0 && !CancelRecv(fd, s)) return false;
    if (!mayPost && s.heldHead == s.held.size()) return true;
    struct stat st;
    s.parked = fstat(fd, &st) == 0;
    if (s.parked) s.ino = st.st_ino;
    else DropHeld(s);
    return true;
  }

  // Arms or cancels `r`'s receive to match its interest; false when the ring is full.
  bool SyncRecv(int fd, const Registration& r) {
    if (bufRing_ == nullptr) return true;
    const bool want = r.registered && PollInterest(fd, r) != r.interest;
    if (!want && static_cast<size_t>(fd) >= recv_.size()) return true;
    RecvState& s = RecvOf(fd);
    if (want && !s.active && s.heldHead < s.held.size() && !s.releasing) {
      s.releasing = true;
      releasing_.push_back(fd);
    }
    s.active = want;
    if (!want && s.seq != 0) return CancelRecv(fd, s);
    if (want && s.seq == 0 && !s.ended && !s.starved) return QueueRecv(fd, s);
    return true;
  }

  bool QueueRecv(int fd, RecvState& s) {
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    s.seq = NextSeq();
    sqe->opcode = IORING_OP_RECV;
    sqe->flags = IOSQE_BUFFER_SELECT;
    SetFile(sqe, fd);
    sqe->buf_group = kBufGroup;
    sqe->user_data = RecvTag(fd, s.seq);
    liveRecvs_++;
    return true;
  }

  bool CancelRecv(int fd, RecvState& s) {
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = RecvTag(fd, s.seq);
    sqe->user_data = 0;  // its own completion is dropped
    s.seq = 0;
    return true;
  }

  // addRecvSlab: receives that ran out of buffers (ENOBUFS) start again.
  void RearmStarved() {
    size_t i = 0;
    for (; i < starved_.size(); i++) {
      RecvState& s = recv_[starved_[i]];
      if (!s.starved) continue;
      if (s.active && s.seq == 0 && !s.ended && !QueueRecv(starved_[i], s)) break;
      s.starved = false;
    }
    starved_.erase(starved_.begin(), starved_.begin() + static_cast<long>(i));
  }

  // One receive completion; false (nothing consumed) when its record finds no room.
  bool TakeRecv(const io_uring_cqe& c) {
    const int fd = static_cast<int>(c.user_data & (kRecvBit - 1));
    const uint32_t seq = static_cast<uint32_t>(c.user_data >> 32);
    const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
    RecvState& s = RecvOf(fd);
    const bool current = seq == s.seq;
    const bool belongs = seq - s.from < 0x80000000u;
    // Not a socket, or multishot receive refused: this fd goes back to readiness.
    const bool refused = !more && current && (c.res == -ENOTSOCK || c.res == -EINVAL || c.res == -EOPNOTSUPP);
    const bool terminal = c.res == 0 || (c.res < 0 && c.res != -ECANCELED && c.res != -ENOBUFS);
    const bool deliver = belongs && !refused && (c.res > 0 || terminal);
    const bool direct = deliver && s.active && s.heldHead == s.held.size() && !s.releasing;
    if (direct && recvCount_ == recvCap_) return false;
    if (!more) liveRecvs_--;
    Rec rec{-1, 0, c.res};
    if (c.flags & IORING_CQE_F_BUFFER) {
      Region& g = regions_[c.flags >> IORING_CQE_BUFFER_SHIFT];
      rec.slab = g.slab;
      rec.offset = static_cast<int32_t>(g.base + g.fill);
      if (deliver && !direct) slabs_[g.slab].refs++;  // the held record keeps the slab
      if (c.res > 0) g.fill += static_cast<uint32_t>(c.res);
      if (g.fill >= g.size) RetireRegion(c.flags >> IORING_CQE_BUFFER_SHIFT);
    }
    if (belongs && terminal) s.ended = true;
    if (!more && current) {
      s.seq = 0;
      if (refused) {
        FallBack(fd, s);
      } else if (c.res == -ENOBUFS && inRing_ == 0) {
        if (!s.starved) starved_.push_back(fd);
        s.starved = true;
      } else if ((c.res > 0 || c.res == -ENOBUFS) && s.active && !s.ended && !QueueRecv(fd, s)) {
        // (ENOBUFS with buffers in the ring: they came after the kernel ran out.)
        s.starved = true;  // the ring is full: retried with the next buffers
        starved_.push_back(fd);
      }
    }
    if (!deliver) return true;
    if (direct) {
      PutRecord(fd, rec);
    } else {
      s.held.push_back(rec);
      if (s.active && !s.releasing) {
        s.releasing = true;
        releasing_.push_back(fd);
      }
    }
    return true;
  }

  // The receive was refused: a poll with READABLE serves the registration from now on.
  void FallBack(int fd, RecvState& s) {
    s.fallback = true;
    Registration* r = Find(fd);
    if (r == nullptr) return;
    if (r->seq != 0 && QueueCancel(fd, r->seq)) r->seq = 0;
    if (r->seq == 0 && !r->rearmQueued) {
      r->rearmQueued = true;
      rearms_.push_back(fd);
    }
  }

  void RetireRegion(unsigned bid) {
    Region& g = regions_[bid];
    const int32_t slab = g.slab;
    g.slab = -1;
    freeBids_.push_back(static_cast<uint16_t>(bid));
    inRing_--;
    Unref(slab);
  }

  void Unref(int32_t slab) {
    if (slab < 0 || --slabs_[slab].refs > 0) return;
    slabs_[slab].data = nullptr;
    freeSlabs_.push_back(slab);
    released_.push_back(slab);
  }

  void DropHeld(RecvState& s) {
    for (size_t i = s.heldHead; i < s.held.size(); i++) Unref(s.held[i].slab);
    s.held.clear();
    s.heldHead = 0;
  }

  // Reports the held records of the registrations reading again, as far as room allows.
  void ReleaseHeld() {
    size_t k = 0;
    for (size_t i = 0; i < releasing_.size(); i++) {
      const int fd = releasing_[i];
      RecvState& s = recv_[fd];
      while (s.active && s.heldHead < s.held.size() && PutRecord(fd, s.held[s.heldHead])) {
        Unref(s.held[s.heldHead].slab);
        s.heldHead++;
      }
      if (s.heldHead == s.held.size()) {
        s.held.clear();
        s.heldHead = 0;
      }
      if (s.active && s.heldHead < s.held.size()) {
        releasing_[k++] = fd;  // no room left: the next wait goes on
      } else {
        s.releasing = false;
      }
    }
    releasing_.resize(k);
  }

  bool PutRecord(int fd, const Rec& rec) {
    if (recvCount_ >= recvCap_) return false;
    const Registration& r = regs_[fd];
    int32_t* w = recvOut_ + kRecvHeader + recvCount_ * kRecvStride;
    w[0] = static_cast<int32_t>(r.token.slot);
    w[1] = static_cast<int32_t>(r.token.generation);
    w[2] = rec.slab;
    w[3] = rec.offset;
    w[4] = rec.res;
    recvCount_++;
    return true;
  }

  void BeginRecords() {
    recvCount_ = 0;
    if (recvOut_ != nullptr) EndRecords(0);
  }

  int EndRecords(int count) {
    if (recvOut_ != nullptr) {
      recvOut_[0] = static_cast<int32_t>(recvCount_);
      recvOut_[1] = static_cast<int32_t>(bufEntries_ - inRing_);
    }
    return count;
  }

  // close(): the kernel may write into the slabs until every receive has posted its last
  // completion, so cancel them all and wait for that before the ring goes.
  void CloseRecv() {
    if (bufRing_ == nullptr) return;
    for (size_t fd = 0; fd < recv_.size(); fd++) {
      if (recv_[fd].seq != 0 && !CancelRecv(static_cast<int>(fd), recv_[fd])) break;
    }
    for (size_t i = stashHead_; i < stash_.size(); i++) {
      if (IsRecvTag(stash_[i].user_data) && !(stash_[i].flags & IORING_CQE_F_MORE)) liveRecvs_--;
    }
    for (int rounds = 0; liveRecvs_ > 0 && rounds < 100; rounds++) {
      if (ring_.enter(100, 1) != 0) break;
      unsigned n = ring_.ready();
      for (unsigned i = 0; i < n; i++) {
        const io_uring_cqe& c = ring_.cqe(i);
        if (IsRecvTag(c.user_data) && !(c.flags & IORING_CQE_F_MORE)) liveRecvs_--;
      }
      ring_.consume(n);
    }
    RingBufReg reg = {};
    reg.bgid = kBufGroup;
    syscall(__NR_io_uring_register, ring_.fd(), IORING_UNREGISTER_PBUF_RING, &reg, 1);
    munmap(bufRing_, bufRingBytes_);
    bufRing_ = nullptr;
    std::vector<RecvState>().swap(recv_);
    std::vector<Region>().swap(regions_);
    std::vector<Slab>().swap(slabs_);
    freeBids_.clear();
    freeSlabs_.clear();
    released_.clear();
    releasing_.clear();
    starved_.clear();
    inRing_ = 0;
    liveRecvs_ = 0;
    recvOut_ = nullptr;
    recvCap_ = recvCount_ = 0;
  }

  Ring ring_;
  // Registered files: by fd, the value its slot's last FILES_UPDATE read (fd: filled, -1:
  // empty); empty when there is no file table.
  std::vector<int32_t> slotFd_;
  std::vector<Registration> regs_;  // by fd
  std::vector<int> rearms_;         // fds whose request ended at a reported completion
  std::vector<io_uring_cqe> stash_;  // poll completions reaped by a batch, for the next wait
  size_t stashHead_ = 0;             // stash_[stashHead_..] not reported yet
  std::vector<msghdr> msgs_;         // writevBatch's SENDMSG headers, by index
  // The deferred write batch (queueWrites): copies of its arguments, and its results.
  struct DeferredWrites {
    std::vector<int32_t> keys, counts, out;
    std::vector<uint8_t> notSocket;
    std::vector<iovec> iov;
    std::vector<msghdr> msgs;
    size_t count = 0;   // writers in the batch; 0 when none is queued
    int64_t left = 0;   // sends whose completion is not read yet
    unsigned tail = 0;  // the ring's tail() right after the batch was queued
  } d_;
  bool listed_ = false;  // in QueuedSends()
  uint32_t acceptOption_ = 0;     // kAccept where the kernel has multishot accept
  std::vector<int> acceptReady_;  // kAccept listeners with connections or an error queued
  size_t acceptsArmed_ = 0;       // accept requests whose last completion is not read yet
  int unsentErr_ = 0;                // why the last batch SQEs left unsent were dropped
  uint32_t seq_ = 0;
  uint32_t waits_ = 0;
  int sqErr_ = 0;
  // Completion-based receive (enableRecv).
  RingBuf* bufRing_ = nullptr;  // the provided buffer ring, nullptr until enableRecv
  size_t bufRingBytes_ = 0;
  unsigned bufEntries_ = 0;
  size_t regionSize_ = 0;
  uint16_t bufTail_ = 0;
  size_t inRing_ = 0;                // buffers lent to the kernel and not used up
  std::vector<Region> regions_;      // by buffer id
  std::vector<uint16_t> freeBids_;
  std::vector<Slab> slabs_;          // by slab id
  std::vector<int32_t> freeSlabs_;
  std::vector<int32_t> released_;    // for takeReleasedSlabs
  std::vector<RecvState> recv_;      // by fd
  std::vector<int> releasing_;       // fds whose held records go out with the next waits
  std::vector<int> starved_;         // fds whose receive ended with ENOBUFS
  int64_t liveRecvs_ = 0;            // receives submitted whose last completion is unread
  int32_t* recvOut_ = nullptr;       // setRecvOut
  size_t recvCap_ = 0;
  size_t recvCount_ = 0;
};

}  // namespace

void SubmitQueuedSends() {
  auto& list = QueuedSends();
  if (list.empty()) return;
  for (IoUringPoller* p : list) p->SubmitNow();
  list.clear();
}

std::unique_ptr<Poller> MakeIoUringPoller(Status* status) {
  auto p = std::make_unique<IoUringPoller>();
  std::string why;
  int err = p->Setup(&why);
  if (err) {
    *status = Status::Errno(err, "io_uring_setup");
    status->detail = why;
    return nullptr;
  }
  *status = Status::Ok();
  return p;
}

}  // namespace fdr

#endif  // FDR_HAVE_IO_URING
