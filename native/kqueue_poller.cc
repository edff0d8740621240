// kqueue backend (macOS, FreeBSD and the other BSDs; on Linux only in the kqemu test build,
// over the epoll emulation in kqueue_emul/). READ and WRITE are separate knotes (filters);
// their kevents for one fd are merged into one event per wait, as the other backends report.
// ONESHOT follows the contract (the fd is disarmed after one event): EV_ONESHOT deletes
// only the knote that fired, so the other filter is disabled in the next changelist.
//
// Changes are batched: add and modify only append to a changelist that rides on the next
// kevent() call, the one that waits. remove() sends nothing at all: close(2) drops an fd's
// knotes by itself, and one that outlives remove() (the fd stays open) is deleted the first
// time it fires, its event dropped (as libuv does). Two exceptions flush at once, with
// EV_RECEIPT (applies changes without draining events; reports each change's errno):
// - the changelist grows past kMaxPending (10,000 adds must not hold 20,000 changes);
// - after enterIntegratedMode(): libuv polls the kqueue fd between our waits, so the
//   kernel must know every registration at once.
// Errors the caller can act on are synchronous, from this poller's own table (ENOENT for
// an fd never added, EBADF for a closed fd at add), as epoll's are; a change the kernel
// refuses once batched reaches its token as an ERROR event.
//
// A child's exit (OpenKqueueExitWatch, for lib/net/child-exit.ts) is not a knote of the
// poller's: each child gets a kqueue of its own with one EVFILT_PROC/NOTE_EXIT knote, whose
// fd the poller watches for READ like any fd, so the poller's table stays keyed by fd.
#include "poller.h"

#if defined(FDR_KQUEUE_EMULATION)
#include "kqueue_emul/sys/event.h"  // test build only: kqueue()/kevent() over epoll
#define FDR_KQUEUE_AVAILABLE 1
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#define FDR_KQUEUE_AVAILABLE 1
#endif

#if defined(FDR_KQUEUE_AVAILABLE)

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

namespace fdr {
namespace {

// udata is void* on FreeBSD/macOS/OpenBSD and intptr_t on older NetBSD.
using UData = decltype(std::declval<struct kevent>().udata);
static_assert(sizeof(UData) >= 8, "kqueue backend: udata must hold a 64-bit token (slot + generation)");

// Marks changes whose failure nobody needs to hear of (EV_DELETE, EV_DISABLE).
const uint64_t kNoToken = ~uint64_t{0};
// Past this many pending changes, they are flushed without waiting.
constexpr size_t kMaxPending = 1024;

uint64_t Pack(Token t) { return (static_cast<uint64_t>(t.generation) << 32) | t.slot; }
UData ToUData(uint64_t v) { return (UData)(uintptr_t)v; }
uint64_t FromUData(UData u) { return static_cast<uint64_t>((uintptr_t)u); }

class KqueuePoller final : public Poller {
 public:
  explicit KqueuePoller(int kq) : kq_(kq) {}
  ~KqueuePoller() override { close(); }

  const char* name() const override { return "kqueue"; }
  uint32_t supportedOptions() const override { return kEdge | kOneshot; }

  Status add(int fd, Token token, uint32_t interest) override {
    if (kq_ < 0) return Status::Errno(EBADF, "kevent");
    // A closed fd is refused now, as epoll_ctl does, not one batch later.
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) return Status::Errno(fd < 0 ? EBADF : errno, "fcntl");
    if (static_cast<size_t>(fd) >= regs_.size()) regs_.resize(static_cast<size_t>(fd) + 1024);
    // An fd already live here is re-registered (EV_ADD is add-or-modify): it may be a new
    // file that reused the number of one closed without remove(), whose knotes close dropped.
    Queue(fd, token, interest);
    return Commit(fd, true);
  }

  Status modify(int fd, Token token, uint32_t interest) override {
    if (kq_ < 0) return Status::Errno(EBADF, "kevent");
    if (!Live(fd)) return Status::Errno(ENOENT, "kevent");
    Queue(fd, token, interest);
    return Commit(fd, false);
  }

  Status remove(int fd) override {
    if (kq_ < 0) return Status::Errno(EBADF, "kevent");
    if (!Live(fd)) return Status::Errno(ENOENT, "kevent");
    regs_[fd].live = false;  // knotes stay recorded in rd/wr: a re-add must know of them
    Forget(fd);
    return Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
    if (kq_ < 0) return -EBADF;
    if (capacity <= 0) return 0;
    if (++stamp_ == 0) {  // the stamp wrapped: forget every mark rather than trust one
      std::fill(seen_.begin(), seen_.end(), 0);
      stamp_ = 1;
    }
    int count = 0;
    // Events left over from an earlier batch go first.
    DrainCarry(out, &count, capacity);
    if (count == capacity) return count;

    for (int attempt = 0; attempt < 2; attempt++) {
      // Integrated mode: queued changes (lazy deletes, ONESHOT disarms) go out first, so
      // that the eventlist holds no more than the caller's array: an event left over in
      // user space would not make the kqueue fd readable for libuv.
      if (immediate_) FlushWithReceipts(-1, nullptr);
      int room = capacity - count;
      // Room for every change's EV_ERROR as well as for `room` events: a failed change
      // without room would make kevent fail and drop the changes after it.
      size_t size = static_cast<size_t>(room) + changes_.size();
      if (events_.size() < size) events_.resize(size);
      struct timespec ts, *pts = nullptr;
      if (timeoutMs >= 0 || count > 0) {
        int ms = count > 0 ? 0 : timeoutMs;
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
        pts = &ts;
      }
      int n = kevent(kq_, changes_.data(), static_cast<int>(changes_.size()), events_.data(),
                     static_cast<int>(size), pts);
      int err = errno;
      changes_.clear();  // applied (also on EINTR: changes are processed before the scan)
      if (n < 0) return err == EINTR || count > 0 ? count : -err;
      bool onlyErrors = n > 0;
      int dropped = 0;
      for (int i = 0; i < n; i++) {
        const struct kevent& e = events_[i];
        if (e.flags & EV_ERROR) {
          Failed(e);
          continue;
        }
        onlyErrors = false;
        int fd = static_cast<int>(e.ident);
        if (!Live(fd)) {
          Unwanted(fd, e.filter);
          dropped++;
          continue;
        }
        uint32_t bits = e.filter == EVFILT_READ ? kReadable : kWritable;
        if (e.flags & EV_EOF) {
          bits |= kHangup;  // READ: the peer shut down its side; WRITE: we can send no more
          if (e.fflags != 0) bits |= kError;  // fflags holds the socket's pending errno
        }
        uint64_t t = FromUData(e.udata);
        Event ev{fd, static_cast<uint32_t>(t), static_cast<uint32_t>(t >> 32), bits};
        if (e.flags & EV_ONESHOT) DisarmOther(fd, e.filter);
        if (Merge(out, ev)) continue;
        if (count < capacity) {
          Mark(fd, count);
          Put(out, &count, ev);
        } else {
          carry_.push_back(ev);  // the eventlist also had room for the changes' errors
        }
      }
      DrainCarry(out, &count, capacity);  // failed changes reported just now
      // A kernel that meets a failed change returns the EV_ERROR entries at once, without
      // scanning (FreeBSD): scan now, without waiting if there is something to return.
      // Likewise when every event was a dropped one: the deletes go out with the rescan.
      if (!onlyErrors && !(count == 0 && dropped > 0)) break;
    }
    return count;
  }

  int fd() const override { return kq_; }

  int enterIntegratedMode() override {
    // From now on the kernel must see each change at once (see Poller::enterIntegratedMode).
    immediate_ = true;
    FlushWithReceipts(-1, nullptr);
    return kq_;
  }

  void close() override {
    if (kq_ >= 0) {
      ::close(kq_);  // the fd is released even when close reports EINTR
      kq_ = -1;
    }
    std::vector<Registration>().swap(regs_);
    std::vector<struct kevent>().swap(changes_);
    std::vector<struct kevent>().swap(events_);
    std::vector<struct kevent>().swap(receipts_);
    std::vector<Event>().swap(carry_);
    std::vector<uint64_t>().swap(seen_);
  }

 private:
  // What this poller asked of the kernel for one fd. rd/wr: a knote may exist for that
  // filter (enabled or disabled; a fired EV_ONESHOT one is gone, which EV_DELETE tolerates).
  // live: registered (remove() clears it and leaves rd/wr for the lazy deletion).
  struct Registration {
    Token token{0, 0};
    uint32_t interest = 0;
    bool live = false;
    bool rd = false;
    bool wr = false;
  };
  struct Event {
    int fd;
    uint32_t slot, generation, bits;
  };

  bool Live(int fd) const { return fd >= 0 && static_cast<size_t>(fd) < regs_.size() && regs_[fd].live; }

  void Push(int fd, int16_t filter, uint16_t flags, uint64_t token) {
    struct kevent k;
    EV_SET(&k, static_cast<uintptr_t>(fd), filter, flags, 0, 0, ToUData(token));
    changes_.push_back(k);
  }

  void Queue(int fd, Token token, uint32_t interest) {
    Registration& r = regs_[fd];
    uint16_t mode = ((interest & kEdge) ? EV_CLEAR : 0) | ((interest & kOneshot) ? EV_ONESHOT : 0);
    if ((r.rd || r.wr) && (r.interest & kOptionMask) != (interest & kOptionMask)) {
      // EV_CLEAR and EV_ONESHOT are fixed when a knote is created: a new mode needs new knotes.
      if (r.rd) Push(fd, EVFILT_READ, EV_DELETE, kNoToken);
      if (r.wr) Push(fd, EVFILT_WRITE, EV_DELETE, kNoToken);
      r.rd = r.wr = false;
    }
    // EV_DISABLE rather than EV_DELETE for a dropped interest: toggling WRITABLE on and off
    // as a send buffer fills and drains is the common case, and keeps the knote.
    if (interest & kReadable) {
      Push(fd, EVFILT_READ, EV_ADD | EV_ENABLE | mode, Pack(token));
      r.rd = true;
    } else if (r.rd) {
      Push(fd, EVFILT_READ, EV_DISABLE, kNoToken);
    }
    if (interest & kWritable) {
      Push(fd, EVFILT_WRITE, EV_ADD | EV_ENABLE | mode, Pack(token));
      r.wr = true;
    } else if (r.wr) {
      Push(fd, EVFILT_WRITE, EV_DISABLE, kNoToken);
    }
    r.token = token;
    r.interest = interest;
    r.live = true;
    Forget(fd);
  }

  // Sends the changelist now when it must not wait; otherwise leaves it for wait().
  Status Commit(int fd, bool isAdd) {
    if (!immediate_ && changes_.size() < kMaxPending) return Status::Ok();
    int err = 0;
    FlushWithReceipts(immediate_ ? fd : -1, &err);
    if (err == 0) return Status::Ok();
    if (isAdd) regs_[fd].live = false;
    return Status::Errno(err, "kevent");
  }

  // Applies the pending changes without collecting events. A failed registration of
  // `opFd` is returned in *opErr; one of any other fd becomes an ERROR event for its token.
  void FlushWithReceipts(int opFd, int* opErr) {
    if (changes_.empty() || kq_ < 0) return;
    size_t n = changes_.size();
    for (struct kevent& k : changes_) k.flags |= EV_RECEIPT;
    if (receipts_.size() < n) receipts_.resize(n);
    struct timespec zero = {0, 0};
    int r = kevent(kq_, changes_.data(), static_cast<int>(n), receipts_.data(), static_cast<int>(n), &zero);
    changes_.clear();
    for (int i = 0; i < r; i++) {
      const struct kevent& e = receipts_[i];
      if (!(e.flags & EV_ERROR) || e.data == 0 || FromUData(e.udata) == kNoToken) continue;
      if (opErr && static_cast<int>(e.ident) == opFd) {
        if (*opErr == 0) *opErr = static_cast<int>(e.data);
        continue;
      }
      Failed(e);
    }
  }

  // A registration the kernel refused in a batch is reported to its owner as ERROR, except
  // EBADF: the fd was closed before the batch went out, and had the change gone out at once,
  // close(2) would have dropped the knote silently (as epoll drops a closed fd): batching
  // must not be visible. Failures of EV_DELETE/EV_DISABLE mean the knote is already gone,
  // which is what was asked.
  void Failed(const struct kevent& e) {
    uint64_t t = FromUData(e.udata);
    if (e.data == 0 || e.data == EBADF || t == kNoToken) return;
    carry_.push_back(Event{static_cast<int>(e.ident), static_cast<uint32_t>(t), static_cast<uint32_t>(t >> 32), kError});
  }

  // A knote of an fd removed while still open fired: delete it, drop its event.
  void Unwanted(int fd, int16_t filter) {
    Push(fd, filter, EV_DELETE, kNoToken);
    if (fd >= 0 && static_cast<size_t>(fd) < regs_.size())
      (filter == EVFILT_READ ? regs_[fd].rd : regs_[fd].wr) = false;
  }

  // The other filter of an fd whose EV_ONESHOT knote fired is disabled before the next
  // scan (if it fired too, it is already gone and the EV_DISABLE fails harmlessly).
  void DisarmOther(int fd, int16_t filter) {
    const Registration& r = regs_[fd];
    if (filter == EVFILT_READ && (r.interest & kWritable)) Push(fd, EVFILT_WRITE, EV_DISABLE, kNoToken);
    if (filter == EVFILT_WRITE && (r.interest & kReadable)) Push(fd, EVFILT_READ, EV_DISABLE, kNoToken);
  }

  void Put(uint32_t* out, int* count, const Event& e) {
    uint32_t* o = out + *count * kEventStride;
    o[0] = e.slot;
    o[1] = e.generation;
    o[2] = e.bits;
    ++*count;
  }

  // Hands out carried events in order: each is merged into this wait's event for its fd, or
  // written and marked (so that a kernel event for the fd later in this wait merges into it),
  // while there is room. The rest stay carried; carry_ is compacted once.
  void DrainCarry(uint32_t* out, int* count, int capacity) {
    size_t kept = 0;
    for (size_t i = 0; i < carry_.size(); i++) {
      const Event& e = carry_[i];
      if (Merge(out, e)) continue;
      if (*count < capacity) {
        Mark(e.fd, *count);
        Put(out, count, e);
        continue;
      }
      carry_[kept++] = e;
    }
    carry_.resize(kept);
  }

  // Records that `fd` has its event at `index` of this wait's output.
  void Mark(int fd, int index) {
    if (static_cast<size_t>(fd) >= seen_.size()) seen_.resize(std::max(regs_.size(), static_cast<size_t>(fd) + 1), 0);
    seen_[fd] = (static_cast<uint64_t>(stamp_) << 32) | static_cast<uint32_t>(index);
  }

  // ORs `e` into the event this wait already wrote for the same fd and token, if any.
  bool Merge(uint32_t* out, const Event& e) {
    if (static_cast<size_t>(e.fd) >= seen_.size()) return false;
    uint64_t m = seen_[e.fd];
    if (static_cast<uint32_t>(m >> 32) != stamp_) return false;
    uint32_t* o = out + static_cast<uint32_t>(m) * kEventStride;
    if (o[0] != e.slot || o[1] != e.generation) return false;
    o[2] |= e.bits;
    return true;
  }

  // Drops carried events of an fd whose registration changed or went.
  void Forget(int fd) {
    if (carry_.empty()) return;
    size_t j = 0;
    for (size_t i = 0; i < carry_.size(); i++)
      if (carry_[i].fd != fd) carry_[j++] = carry_[i];
    carry_.resize(j);
  }

  int kq_;
  bool immediate_ = false;
  std::vector<Registration> regs_;       // by fd
  std::vector<struct kevent> changes_;   // the changelist of the next kevent call
  std::vector<struct kevent> events_;    // kevent's eventlist, grown once and reused
  std::vector<struct kevent> receipts_;  // EV_RECEIPT answers of a flush
  std::vector<Event> carry_;             // events not yet handed out (no room, failed changes)
  std::vector<uint64_t> seen_;           // by fd: this wait's stamp << 32 | output index
  uint32_t stamp_ = 0;                   // numbers the waits, for seen_
};

}  // namespace

std::unique_ptr<Poller> MakeKqueuePoller(Status* status) {
  int kq = kqueue();
  if (kq < 0) {
    *status = Status::Errno(errno, "kqueue");
    return nullptr;
  }
  // kqueue fds are not inherited across fork; CLOEXEC keeps exec'd children clean too.
  if (fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    ::close(kq);
    *status = Status::Errno(e, "fcntl");
    return nullptr;
  }
  *status = Status::Ok();
  return std::make_unique<KqueuePoller>(kq);
}

int OpenKqueueExitWatch(int pid, int* err) {
  int kq = kqueue();
  if (kq < 0 || fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    *err = errno;
    if (kq >= 0) ::close(kq);
    return -1;
  }
  struct kevent k;
  EV_SET(&k, static_cast<uintptr_t>(pid), EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, ToUData(0));
  if (kevent(kq, &k, 1, nullptr, 0, nullptr) < 0) {
    *err = errno;
    ::close(kq);
    return -1;
  }
  return kq;
}

}  // namespace fdr

#endif  // FDR_KQUEUE_AVAILABLE
