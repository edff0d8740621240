// select(2) backend: level-triggered only, fds below FD_SETSIZE only. FD_SET on a larger
// fd writes past the fd_set, so such fds are refused at registration, never clamped.
#include <fcntl.h>
#include <sys/select.h>

#include <cerrno>
#include <string>
#include <vector>

#include "poller.h"

namespace fdr {
namespace {

class SelectPoller final : public Poller {
 public:
  SelectPoller() : pos_(FD_SETSIZE, -1), tokens_(FD_SETSIZE) {
    FD_ZERO(&read_);
    FD_ZERO(&write_);
  }

  const char* name() const override { return "select"; }
  uint32_t supportedOptions() const override { return 0; }

  Status add(int fd, Token token, uint32_t interest) override {
    if (fd < 0 || fd >= FD_SETSIZE)
      return Status::RefuseRange("select cannot watch fd " + std::to_string(fd) +
                                 ": fds must be below FD_SETSIZE (" +
                                 std::to_string(FD_SETSIZE) + "); use epoll, kqueue or poll");
    if (pos_[fd] >= 0) return Status::Errno(EEXIST, "select_add");
    // epoll refuses a closed fd at registration; do the same rather than fail every wait.
    if (fcntl(fd, F_GETFD) < 0) return Status::Errno(errno, "fcntl");
    pos_[fd] = static_cast<int>(fds_.size());
    fds_.push_back(fd);
    if (fd > maxfd_) maxfd_ = fd;
    Set(fd, token, interest);
    return Status::Ok();
  }

  Status modify(int fd, Token token, uint32_t interest) override {
    if (!Registered(fd)) return Status::Errno(ENOENT, "select_modify");
    Set(fd, token, interest);
    return Status::Ok();
  }

  Status remove(int fd) override {
    if (!Registered(fd)) return Status::Errno(ENOENT, "select_remove");
    FD_CLR(fd, &read_);
    FD_CLR(fd, &write_);
    int i = pos_[fd];
    int last = fds_.back();
    fds_[i] = last;
    pos_[last] = i;
    fds_.pop_back();
    pos_[fd] = -1;
    if (fd == maxfd_) {
      maxfd_ = -1;
      for (int f : fds_)
        if (f > maxfd_) maxfd_ = f;
    }
    return Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
    if (capacity <= 0) return 0;
    fd_set r = read_, w = write_;
    struct timeval tv, *ptv = nullptr;
    if (timeoutMs >= 0) {
      tv.tv_sec = timeoutMs / 1000;
      tv.tv_usec = (timeoutMs % 1000) * 1000;
      ptv = &tv;
    }
    int ready = ::select(maxfd_ + 1, &r, &w, nullptr, ptv);
    if (ready >= 0) return Collect(&r, &w, ready, out, 0, capacity);
    if (errno == EINTR) return 0;
    if (errno != EBADF) return -errno;
    // select fails as a whole with EBADF when a registered fd was closed; poll would say
    // POLLNVAL for that fd alone. Report each closed fd as ERROR, like poll, then poll the
    // others without waiting so that they are not held back a round.
    int count = 0;
    r = read_;
    w = write_;
    for (int fd : fds_) {
      if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
      FD_CLR(fd, &r);
      FD_CLR(fd, &w);
      if (count < capacity) Emit(out, count++, fd, kError);
    }
    struct timeval zero = {0, 0};
    ready = ::select(maxfd_ + 1, &r, &w, nullptr, &zero);
    if (ready <= 0) return count;  // EINTR or another error: the ERRORs are news enough
    return Collect(&r, &w, ready, out, count, capacity);
  }

  void close() override {
    FD_ZERO(&read_);
    FD_ZERO(&write_);
    for (int fd : fds_) pos_[fd] = -1;
    fds_.clear();
    maxfd_ = -1;
  }

 private:
  bool Registered(int fd) const { return fd >= 0 && fd < FD_SETSIZE && pos_[fd] >= 0; }

  void Set(int fd, Token token, uint32_t interest) {
    tokens_[fd] = token;
    if (interest & kReadable) FD_SET(fd, &read_); else FD_CLR(fd, &read_);
    if (interest & kWritable) FD_SET(fd, &write_); else FD_CLR(fd, &write_);
  }

  void Emit(uint32_t* out, int i, int fd, uint32_t bits) {
    out[i * kEventStride + 0] = tokens_[fd].slot;
    out[i * kEventStride + 1] = tokens_[fd].generation;
    out[i * kEventStride + 2] = bits;
  }

  // Writes events for the fds set in r/w (`ready` bits in all) after the `count` already
  // written; returns the new count.
  int Collect(const fd_set* r, const fd_set* w, int ready, uint32_t* out, int count, int capacity) {
    size_t n = fds_.size();
    // Rotating start: when more fds are ready than the array holds, none is starved.
    size_t start = n ? next_ % n : 0;
    for (size_t k = 0; k < n && ready > 0; k++) {
      size_t i = (start + k) % n;
      int fd = fds_[i];
      uint32_t bits = 0;
      if (FD_ISSET(fd, r)) bits |= kReadable, ready--;
      if (FD_ISSET(fd, w)) bits |= kWritable, ready--;
      if (!bits) continue;
      if (count == capacity) {
        next_ = i;
        return count;
      }
      Emit(out, count++, fd, bits);
    }
    next_ = 0;
    return count;
  }

  fd_set read_, write_;
  std::vector<int> fds_;     // registered fds, dense
  std::vector<int> pos_;     // pos_[fd] = index in fds_, or -1
  std::vector<Token> tokens_;  // tokens_[fd]
  int maxfd_ = -1;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Poller> MakeSelectPoller(Status* status) {
  *status = Status::Ok();
  return std::make_unique<SelectPoller>();
}

}  // namespace fdr
