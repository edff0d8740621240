// poll(2) backend: level-triggered only. The pollfd array is dense; an fd→index map makes
// remove O(1) (the last entry moves into the hole).
#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <unordered_map>
#include <vector>

#include "poller.h"

namespace fdr {
namespace {

#ifdef POLLRDHUP
constexpr short kPollRdHup = POLLRDHUP;  // Linux: a peer's shutdown(SHUT_WR) is a HANGUP.
#else
constexpr short kPollRdHup = 0;
#endif

short ToPoll(uint32_t interest) {
  short ev = kPollRdHup;
  if (interest & kReadable) ev |= POLLIN;
  if (interest & kWritable) ev |= POLLOUT;
  return ev;
}

uint32_t FromPoll(short rev) {
  uint32_t bits = 0;
  if (rev & POLLIN) bits |= kReadable;
  if (rev & POLLOUT) bits |= kWritable;
  // POLLNVAL: the fd was closed while still registered; reported as ERROR so the owner
  // finds out instead of the loop spinning silently.
  if (rev & (POLLERR | POLLNVAL)) bits |= kError;
  if (rev & (POLLHUP | kPollRdHup)) bits |= kHangup;
  return bits;
}

class PollPoller final : public Poller {
 public:
  const char* name() const override { return "poll"; }
  uint32_t supportedOptions() const override { return 0; }

  Status add(int fd, Token token, uint32_t interest) override {
    if (index_.count(fd)) return Status::Errno(EEXIST, "poll_add");
    // epoll refuses a closed fd at registration; do the same rather than report POLLNVAL later.
    if (fcntl(fd, F_GETFD) < 0) return Status::Errno(errno, "fcntl");
    index_.emplace(fd, fds_.size());
    fds_.push_back(pollfd{fd, ToPoll(interest), 0});
    tokens_.push_back(token);
    return Status::Ok();
  }

  Status modify(int fd, Token token, uint32_t interest) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return Status::Errno(ENOENT, "poll_modify");
    fds_[it->second].events = ToPoll(interest);
    tokens_[it->second] = token;
    return Status::Ok();
  }

  Status remove(int fd) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return Status::Errno(ENOENT, "poll_remove");
    size_t i = it->second, last = fds_.size() - 1;
    if (i != last) {
      fds_[i] = fds_[last];
      tokens_[i] = tokens_[last];
      index_[fds_[i].fd] = i;
    }
    fds_.pop_back();
    tokens_.pop_back();
    index_.erase(fd);
    return Status::Ok();
  }

  int wait(int timeoutMs, uint32_t* out, int capacity) override {
    if (capacity <= 0) return 0;
    int ready = ::poll(fds_.data(), fds_.size(), timeoutMs);
    if (ready < 0) return errno == EINTR ? 0 : -errno;
    size_t n = fds_.size();
    int count = 0;
    // The scan starts where the previous one stopped, so that when more fds are ready
    // than the array holds, the ones at the end are not starved.
    size_t start = n ? next_ % n : 0;
    for (size_t k = 0; k < n && ready > 0; k++) {
      size_t i = (start + k) % n;
      short rev = fds_[i].revents;
      if (rev == 0) continue;
      ready--;
      if (count == capacity) {
        next_ = i;
        return count;
      }
      out[count * kEventStride + 0] = tokens_[i].slot;
      out[count * kEventStride + 1] = tokens_[i].generation;
      out[count * kEventStride + 2] = FromPoll(rev);
      count++;
    }
    next_ = 0;
    return count;
  }

  void close() override {
    std::vector<pollfd>().swap(fds_);
    std::vector<Token>().swap(tokens_);
    index_.clear();
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<Token> tokens_;  // tokens_[i] belongs to fds_[i]
  std::unordered_map<int, size_t> index_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<Poller> MakePollPoller(Status* status) {
  *status = Status::Ok();
  return std::make_unique<PollPoller>();
}

}  // namespace fdr
