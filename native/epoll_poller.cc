// epoll backend (Linux). The token travels in epoll_data.u64 as generation<<32 | slot, so
// the kernel hands back both halves and a stale event can be told from a fresh one.
#include "poller.h"

#if defined(__linux__)

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace fdr {
namespace {

uint32_t ToEpoll(uint32_t interest) {
  // EPOLLRDHUP only with READABLE: it is level-triggered, so a writer-only (or paused)
  // registration whose peer has half-closed would otherwise wake every wait and spin.
  // EPOLLHUP (both directions closed) is reported whatever the interest.
  uint32_t ev = 0;
  if (interest & kReadable) ev |= EPOLLIN | EPOLLRDHUP;
  if (interest & kWritable) ev |= EPOLLOUT;
  if (interest & kEdge) ev |= EPOLLET;
  if (interest & kOneshot) ev |= EPOLLONESHOT;
  return ev;
}

uint32_t FromEpoll(uint32_t ev) {
  uint32_t bits = 0;
  if (ev & EPOLLIN) bits |= kReadable;
  if (ev & EPOLLOUT) bits |= kWritable;
  if (ev & EPOLLERR) bits |= kError;
  if (ev & (EPOLLHUP | EPOLLRDHUP)) bits |= kHangup;
  return bits;
}

class EpollPoller final : public Poller {
 public:
  explicit EpollPoller(int epfd) : epfd_(epfd) {}
  ~EpollPoller() override { close(); }

  const char* name() const override { return "epoll"; }
  uint32_t supportedOptions() const override { return kEdge | kOneshot; }

  Status add(int fd, Token token, uint32_t interest) override {
    return Ctl(EPOLL_CTL_ADD, fd, token, interest);
  }
  Status modify(int fd, Token token, uint32_t interest) override {
    return Ctl(EPOLL_CTL_MOD, fd, token, interest);
  }
  Status remove(int fd) override {
    // A non-null event pointer keeps kernels before 2.6.9 happy; it costs nothing.
    struct epoll_event ev = {};
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) != 0) return Status::Errno(errno, "epoll_ctl");
    return Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
    if (capacity <= 0) return 0;
    // Grown once to the caller's capacity, then reused: no allocation per wait.
    if (static_cast<size_t>(capacity) > events_.size()) events_.resize(capacity);
    int n = epoll_wait(epfd_, events_.data(), capacity, timeoutMs);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      uint64_t t = events_[i].data.u64;
      out[i * kEventStride + 0] = static_cast<uint32_t>(t);
      out[i * kEventStride + 1] = static_cast<uint32_t>(t >> 32);
      out[i * kEventStride + 2] = FromEpoll(events_[i].events);
    }
    return n;
  }

  int fd() const override { return epfd_; }

  void close() override {
    if (epfd_ >= 0) {
      ::close(epfd_);  // EINTR is not retried: the fd is released either way on Linux.
      epfd_ = -1;
    }
    std::vector<struct epoll_event>().swap(events_);
  }

 private:
  Status Ctl(int op, int fd, Token token, uint32_t interest) {
    struct epoll_event ev = {};
    ev.events = ToEpoll(interest);
    ev.data.u64 = (static_cast<uint64_t>(token.generation) << 32) | token.slot;
    if (epoll_ctl(epfd_, op, fd, &ev) != 0) return Status::Errno(errno, "epoll_ctl");
    return Status::Ok();
  }

  int epfd_;
  std::vector<struct epoll_event> events_;
};

}  // namespace

std::unique_ptr<Poller> MakeEpollPoller(Status* status) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *status = Status::Errno(errno, "epoll_create1");
    return nullptr;
  }
  *status = Status::Ok();
  return std::make_unique<EpollPoller>(epfd);
}

}  // namespace fdr

#endif  // __linux__
