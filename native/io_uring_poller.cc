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
#include "io_uring_ring.h"  // defines FDR_HAVE_IO_URING where the headers allow
#include "batch_io.h"
#include "poller.h"

#if defined(FDR_HAVE_IO_URING)

#include <fcntl.h>
#include <poll.h>
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

class IoUringPoller;
// This thread's pollers with sends queued and perhaps not yet submitted (SubmitQueuedSends).
std::vector<IoUringPoller*>& QueuedSends() {
  static thread_local std::vector<IoUringPoller*> list;
  return list;
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

struct Registration {
  Token token{0, 0};
  uint32_t interest = 0;    // interest and option bits as given
  uint32_t seq = 0;         // the armed request's seq, 0 when none is armed
  uint32_t reportedIn = 0;  // the wait that last reported it (merges its completions)
  uint32_t outIndex = 0;    // its event's index in that wait's array
  bool registered = false;
  bool rearmQueued = false;
};

class IoUringPoller final : public Poller {
 public:
  // Sets up the ring; an errno, with `why` saying what it means here.
  int Setup(std::string* why) { return ring_.setup(kSqEntries, kCqEntries, why); }
  ~IoUringPoller() override { close(); }

  const char* name() const override { return "io_uring"; }
  uint32_t supportedOptions() const override { return kEdge | kOneshot; }

  Status add(int fd, Token token, uint32_t interest) override {
    if (fd < 0) return Status::Errno(EBADF, "io_uring_poll_add");
    if (static_cast<size_t>(fd) >= regs_.size()) regs_.resize(static_cast<size_t>(fd) + 1);
    Registration& r = regs_[fd];
    if (r.registered) return Status::Errno(EEXIST, "io_uring_poll_add");
    r = Registration{};
    r.registered = true;
    r.token = token;
    r.interest = interest;
    return ArmNow(fd, r);
  }

  Status modify(int fd, Token token, uint32_t interest) override {
    Registration* r = Find(fd);
    if (!r) return Status::Errno(ENOENT, "io_uring_poll_update");
    if (r->seq != 0 && !QueueCancel(fd, r->seq)) return Status::Errno(sqErr_, "io_uring_enter");
    r->seq = 0;
    r->token = token;
    r->interest = interest;
    r->reportedIn = 0;  // a completion of this wait's array was the old token's
    return ArmNow(fd, *r);
  }

  Status remove(int fd) override {
    Registration* r = Find(fd);
    if (!r) return Status::Errno(ENOENT, "io_uring_poll_remove");
    uint32_t seq = r->seq;
    r->registered = false;
    r->seq = 0;
    if (seq == 0) return Status::Ok();
    // The fd itself is not needed (it may be closed already): the cancel names the request.
    if (!QueueCancel(fd, seq)) return Status::Errno(sqErr_, "io_uring_enter");
    int err = ring_.enter(0);
    return err ? Status::Errno(err, "io_uring_enter") : Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
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
    Unlist();
    d_.count = 0;
    d_.left = 0;
    ring_.close();
    std::vector<Registration>().swap(regs_);
    std::vector<int>().swap(rearms_);
    std::vector<io_uring_cqe>().swap(stash_);
    stashHead_ = 0;
  }

  bool completesIo() const override { return true; }
  bool hasPending() const override { return stashHead_ < stash_.size(); }

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
      sqe->fd = fd;
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

  // SubmitQueuedSends: the queued sends go to the kernel now (their completions are read later).
  void SubmitNow() {
    listed_ = false;
    if (ring_.unsubmitted() != 0) ring_.enter(0);
  }

 private:
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
      sqe->fd = fd;
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
    if (++seq_ == 0 || seq_ == (kWriteTag >> 32)) seq_ = 1;
    return seq_;
  }

  bool QueueArm(int fd, Registration& r) {
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    r.seq = NextSeq();
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = ToPoll(r.interest);
    if ((r.interest & (kEdge | kOneshot)) == kEdge) sqe->len = IORING_POLL_ADD_MULTI;
    sqe->user_data = (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd);
    return true;
  }

  bool QueueCancel(int fd, uint32_t seq) {
    io_uring_sqe* sqe = ring_.nextSqe(&sqErr_);
    if (!sqe) return false;
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = (static_cast<uint64_t>(seq) << 32) | static_cast<uint32_t>(fd);
    sqe->user_data = 0;  // seq 0: its own completion is dropped
    return true;
  }

  // Arms `r` and submits at once, as epoll_ctl would. A bad fd fails inside that very
  // submission: its completion is found in the ring and thrown, like epoll_ctl's EBADF.
  Status ArmNow(int fd, Registration& r) {
    if (!QueueArm(fd, r)) {
      r.registered = false;
      return Status::Errno(sqErr_, "io_uring_enter");
    }
    int err = ring_.enter(0);
    if (err) {
      r.registered = false;
      return Status::Errno(err, "io_uring_enter");
    }
    uint64_t mine = (static_cast<uint64_t>(r.seq) << 32) | static_cast<uint32_t>(fd);
    for (unsigned i = 0, n = ring_.ready(); i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      if (c.user_data == mine && c.res < 0) {
        r.registered = false;  // the completion, read later, no longer matches anything
        r.seq = 0;
        return Status::Errno(-c.res, "io_uring_poll_add");
      }
    }
    return Status::Ok();
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
    for (; stashHead_ < stash_.size(); stashHead_++) {
      if (!Report(stash_[stashHead_], wait, out, capacity, &count)) return count;
    }
    stash_.clear();
    stashHead_ = 0;
    unsigned n = ring_.ready(), i = 0;
    for (; i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      if (!TakeWrite(c) && !Report(c, wait, out, capacity, &count)) break;
    }
    ring_.consume(i);
    return count;
  }

  Ring ring_;
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
  int unsentErr_ = 0;                // why the last batch SQEs left unsent were dropped
  uint32_t seq_ = 0;
  uint32_t waits_ = 0;
  int sqErr_ = 0;
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
