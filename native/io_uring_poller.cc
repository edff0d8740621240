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
// carries an old seq and is dropped. seq 0 marks the poller's own cancel requests.
#include "io_uring_ring.h"  // defines FDR_HAVE_IO_URING where the headers allow
#include "poller.h"

#if defined(FDR_HAVE_IO_URING)

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <string>
#include <vector>

namespace fdr {
namespace {

// Submissions queue between two enters: adds, re-arms and cancels of one iteration.
constexpr unsigned kSqEntries = 1024;
// Completions: a multishot request may post several per wait before they are read.
constexpr unsigned kCqEntries = 16384;

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
    if (timeoutMs != 0 || ring_.needsEnter()) {
      err = ring_.enter(timeoutMs);
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
    ring_.close();
    std::vector<Registration>().swap(regs_);
    std::vector<int>().swap(rearms_);
  }

 private:
  Registration* Find(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= regs_.size() || !regs_[fd].registered) return nullptr;
    return &regs_[fd];
  }

  uint32_t NextSeq() {
    if (++seq_ == 0) seq_ = 1;
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

  int Reap(uint32_t* out, int capacity) {
    uint32_t wait = ++waits_ == 0 ? ++waits_ : waits_;
    int count = 0;
    unsigned n = ring_.ready(), i = 0;
    for (; i < n; i++) {
      const io_uring_cqe& c = ring_.cqe(i);
      uint32_t seq = static_cast<uint32_t>(c.user_data >> 32);
      uint32_t fd = static_cast<uint32_t>(c.user_data);
      if (seq == 0 || fd >= regs_.size()) continue;
      Registration& r = regs_[fd];
      if (!r.registered || r.seq != seq || c.res == -ECANCELED) continue;
      bool merge = r.reportedIn == wait;
      if (!merge && count == capacity) break;  // the rest stays in the ring for the next wait
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
        continue;
      }
      r.reportedIn = wait;
      r.outIndex = static_cast<uint32_t>(count);
      out[count * kEventStride + 0] = r.token.slot;
      out[count * kEventStride + 1] = r.token.generation;
      out[count * kEventStride + 2] = bits;
      count++;
    }
    ring_.consume(i);
    return count;
  }

  Ring ring_;
  std::vector<Registration> regs_;  // by fd
  std::vector<int> rearms_;         // fds whose request ended at a reported completion
  uint32_t seq_ = 0;
  uint32_t waits_ = 0;
  int sqErr_ = 0;
};

}  // namespace

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
