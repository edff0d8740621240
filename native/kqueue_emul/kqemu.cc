// TEST SUPPORT ONLY, never shipped: kqueue()/kevent() emulated over epoll for the subset the
// kqueue backend uses (EVFILT_READ/EVFILT_WRITE on fds, EVFILT_PROC/NOTE_EXIT on a child
// through a pidfd; EV_ADD, EV_DELETE, EV_ENABLE,
// EV_DISABLE, EV_CLEAR, EV_ONESHOT, EV_RECEIPT; EV_EOF and EV_ERROR out). Each fd holds one
// epoll registration whose mask is the union of its enabled knotes; an epoll event is split
// back into one kevent per filter. The behaviour copied is FreeBSD's kern_event.c as
// documented in kqueue(2); departures are listed in docs/platforms.md.
#include "sys/event.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

// Linux cannot read a socket's pending error without clearing it (SO_ERROR is destructive),
// and clearing it would steal the errno from the owner's own SO_ERROR read. So an EV_EOF
// with an error pending carries this stand-in in fflags: non-zero, as on a real kqueue.
constexpr uint32_t kStandInSoError = EIO;

struct Knote {
  bool exists = false;
  bool enabled = false;
  uint16_t flags = 0;  // EV_CLEAR | EV_ONESHOT as given at creation
  void* udata = nullptr;
};

struct Ident {
  dev_t dev = 0;
  ino_t ino = 0;       // identity of the open file: a closed-and-reused number is told apart
  bool fifo = false;   // a pipe: EPOLLERR on its write end means the reader is gone (EV_EOF)
  uint32_t serial = 0; // travels in epoll_data with the fd, so stale epoll events are dropped
  uint32_t epmask = 0; // mask registered in epoll, 0 = not registered
  int16_t first = EVFILT_READ;  // the filter a short eventlist cut off goes first next time
  Knote rd, wr;
  Knote& of(int16_t filter) { return filter == EVFILT_READ ? rd : wr; }
  bool empty() const { return !rd.exists && !wr.exists; }
};

// An EVFILT_PROC/NOTE_EXIT knote: the child's pidfd, in epoll under kProcTag | pid.
struct ProcNote {
  int pidfd = -1;
  void* udata = nullptr;
};
// Marks a proc knote's epoll_data (fd knotes' serials never reach it).
constexpr uint64_t kProcTag = uint64_t{1} << 63;

struct Kq {
  int epfd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  uint32_t serials = 0;
  std::unordered_map<int, Ident> idents;
  std::unordered_map<int, ProcNote> procs;  // by pid
  std::vector<struct epoll_event> buf;
  ~Kq() {
    for (auto& p : procs) close(p.second.pidfd);  // the queue is gone: so are its knotes
  }
};

std::mutex g_mu;
std::unordered_map<int, std::shared_ptr<Kq>> g_kqs;

bool SameFile(int fd, dev_t dev, ino_t ino) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

// Forgets queues whose fds were closed since (they can no longer be named), closing the
// pidfds of their EVFILT_PROC knotes: a real kqueue drops its knotes at close(2), which
// the emulation cannot see, so every kqueue() and kevent() call looks. Caller holds g_mu.
void SweepClosed() {
  for (auto it = g_kqs.begin(); it != g_kqs.end();)
    it = SameFile(it->first, it->second->dev, it->second->ino) ? std::next(it) : g_kqs.erase(it);
}

std::shared_ptr<Kq> Find(int kq) {
  std::lock_guard<std::mutex> lock(g_mu);
  SweepClosed();
  // A number that now names another file was a queue closed with close(2): swept above.
  auto it = g_kqs.find(kq);
  return it == g_kqs.end() ? nullptr : it->second;
}

// Makes the fd's epoll registration match its enabled knotes. Always re-registers when
// something is enabled: EPOLL_CTL_MOD re-evaluates readiness, as EV_ADD/EV_ENABLE does.
int Sync(Kq& q, int fd, Ident& id) {
  uint32_t mask = 0;
  if (id.rd.exists && id.rd.enabled) mask |= EPOLLIN | EPOLLRDHUP;
  if (id.wr.exists && id.wr.enabled) mask |= EPOLLOUT;
  bool clear = (id.rd.exists && (id.rd.flags & EV_CLEAR)) || (id.wr.exists && (id.wr.flags & EV_CLEAR));
  if (mask && clear) mask |= EPOLLET;
  if (mask == 0) {
    if (id.epmask) epoll_ctl(q.epfd, EPOLL_CTL_DEL, fd, nullptr);  // may be gone already
    id.epmask = 0;
    return 0;
  }
  struct epoll_event ev = {};
  ev.events = mask;
  ev.data.u64 = static_cast<uint32_t>(fd) | (static_cast<uint64_t>(id.serial) << 32);
  int rc = epoll_ctl(q.epfd, id.epmask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0 && errno == ENOENT && id.epmask)  // epoll dropped it when the file closed
    rc = epoll_ctl(q.epfd, EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0) return errno;
  id.epmask = mask;
  return 0;
}

// EVFILT_PROC: only NOTE_EXIT, added or deleted. Every exit event is EV_ONESHOT, as the
// process can exit once (FreeBSD sets EV_ONESHOT on it).
int ApplyProc(Kq& q, const struct kevent& c) {
  if (c.ident == 0 || c.ident > static_cast<uintptr_t>(INT_MAX)) return ESRCH;
  int pid = static_cast<int>(c.ident);
  auto it = q.procs.find(pid);
  if (c.flags & EV_DELETE) {
    if (it == q.procs.end()) return ENOENT;
    close(it->second.pidfd);
    q.procs.erase(it);
    return 0;
  }
  if (!(c.flags & EV_ADD) || c.fflags != NOTE_EXIT) return EINVAL;
  if (it != q.procs.end()) {
    it->second.udata = c.udata;
    return 0;
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (pidfd < 0) return errno;
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kProcTag | static_cast<uint32_t>(pid);
  if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, pidfd, &ev) != 0) {
    int e = errno;
    close(pidfd);
    return e;
  }
  q.procs[pid] = ProcNote{pidfd, c.udata};
  return 0;
}

// The exit event of a proc knote, which is deleted with it; 0 if the knote is gone.
int DeliverProc(Kq& q, int pid, struct kevent* out) {
  auto it = q.procs.find(pid);
  if (it == q.procs.end()) return 0;
  siginfo_t si = {};
  // WNOWAIT: the status is read, the child is left for its owner's waitpid.
  intptr_t status = 0;
  if (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
    status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status;
  out->ident = static_cast<uintptr_t>(pid);
  out->filter = EVFILT_PROC;
  out->flags = EV_EOF | EV_ONESHOT;
  out->fflags = NOTE_EXIT;
  out->data = status;
  out->udata = it->second.udata;
  close(it->second.pidfd);  // also leaves the epoll set
  q.procs.erase(it);
  return 1;
}

// Applies one change; returns 0 or the errno kevent reports for it.
int Apply(Kq& q, const struct kevent& c) {
  if (c.filter == EVFILT_PROC) return ApplyProc(q, c);
  if (c.filter != EVFILT_READ && c.filter != EVFILT_WRITE) return EINVAL;
  const uint16_t supported = EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_ONESHOT | EV_CLEAR | EV_RECEIPT;
  if (c.flags & ~supported) return EINVAL;
  if (c.ident > static_cast<uintptr_t>(INT_MAX)) return EBADF;
  int fd = static_cast<int>(c.ident);
  auto it = q.idents.find(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    if (it != q.idents.end()) q.idents.erase(it);  // close(2) removed its knotes
    return EBADF;
  }
  if (it != q.idents.end() && (it->second.dev != st.st_dev || it->second.ino != st.st_ino)) {
    q.idents.erase(it);  // the number was closed and reused: the old knotes died with it
    it = q.idents.end();
  }

  if (c.flags & EV_DELETE) {
    if (it == q.idents.end() || !it->second.of(c.filter).exists) return ENOENT;
    it->second.of(c.filter) = Knote{};
    Sync(q, fd, it->second);
    if (it->second.empty()) q.idents.erase(it);
    return 0;
  }

  if (c.flags & EV_ADD) {
    if (it == q.idents.end()) {
      Ident fresh;
      fresh.dev = st.st_dev;
      fresh.ino = st.st_ino;
      fresh.fifo = S_ISFIFO(st.st_mode);
      fresh.serial = ++q.serials;
      it = q.idents.emplace(fd, fresh).first;
    }
    Ident& id = it->second;
    Knote& k = id.of(c.filter);
    Knote saved = k;
    if (!k.exists) {
      // A new knote is enabled unless EV_DISABLE says otherwise; EV_CLEAR and EV_ONESHOT
      // are fixed at creation (FreeBSD does not update them on a re-add).
      k.exists = true;
      k.flags = c.flags & (EV_CLEAR | EV_ONESHOT);
      k.enabled = !(c.flags & EV_DISABLE);
    } else {
      if (c.flags & EV_ENABLE) k.enabled = true;
      if (c.flags & EV_DISABLE) k.enabled = false;
    }
    k.udata = c.udata;
    int err = 0;
    if (id.rd.exists && id.wr.exists && ((id.rd.flags ^ id.wr.flags) & EV_CLEAR))
      err = EINVAL;  // one epoll registration per fd: both filters must agree on EV_CLEAR
    else
      err = Sync(q, fd, id);
    if (err) {
      k = saved;
      if (id.empty()) {
        Sync(q, fd, id);
        q.idents.erase(it);
      }
    }
    return err;
  }

  if (it == q.idents.end() || !it->second.of(c.filter).exists) return ENOENT;
  Knote& k = it->second.of(c.filter);
  if (c.flags & EV_ENABLE) k.enabled = true;
  if (c.flags & EV_DISABLE) k.enabled = false;
  return Sync(q, fd, it->second);
}

intptr_t Readable(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;  // 0 where FIONREAD has no meaning (listeners)
}

intptr_t Writable(int fd) {
  int sndbuf = 0, queued = 0;
  socklen_t len = sizeof sndbuf;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0) return 0;
  if (ioctl(fd, SIOCOUTQ, &queued) != 0) return 0;
  return sndbuf > queued ? sndbuf - queued : 0;
}

// An edge-triggered readiness taken from epoll but not handed out (no room in the
// eventlist) would be lost: re-registering makes epoll report it again. A level-triggered
// one is reported again anyway.
void Rearm(Kq& q, int fd, Ident& id) {
  if (id.epmask & EPOLLET) Sync(q, fd, id);
}

// Splits one epoll event into the kevents of its enabled knotes; returns how many it wrote.
int Deliver(Kq& q, const struct epoll_event& e, struct kevent* out, int room) {
  if (e.data.u64 & kProcTag) return DeliverProc(q, static_cast<int>(static_cast<uint32_t>(e.data.u64)), out);
  int fd = static_cast<int>(static_cast<uint32_t>(e.data.u64));
  uint32_t serial = static_cast<uint32_t>(e.data.u64 >> 32);
  auto it = q.idents.find(fd);
  if (it == q.idents.end() || it->second.serial != serial) return 0;  // stale registration
  Ident& id = it->second;
  uint32_t ev = e.events;
  int n = 0;
  bool oneshotFired = false;
  const int16_t order[2] = {id.first, static_cast<int16_t>(id.first == EVFILT_READ ? EVFILT_WRITE : EVFILT_READ)};
  id.first = EVFILT_READ;
  for (int16_t filter : order) {
    Knote& k = id.of(filter);
    if (!k.exists || !k.enabled) continue;
    bool ready, eof;
    if (filter == EVFILT_READ) {
      ready = ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
      eof = ev & (EPOLLRDHUP | EPOLLHUP);
    } else {
      ready = ev & (EPOLLOUT | EPOLLHUP | EPOLLERR);
      eof = (ev & EPOLLHUP) || (id.fifo && (ev & EPOLLERR));
    }
    if (!ready) continue;
    if (n == room) {
      id.first = filter;
      Rearm(q, fd, id);
      break;
    }
    struct kevent& o = out[n++];
    o.ident = static_cast<uintptr_t>(fd);
    o.filter = filter;
    o.flags = k.flags;
    o.fflags = 0;
    o.data = filter == EVFILT_READ ? Readable(fd) : Writable(fd);
    o.udata = k.udata;
    if (eof) {
      o.flags |= EV_EOF;
      // A pipe's EOF carries no error; a socket's EPOLLERR is its pending SO_ERROR.
      if ((ev & EPOLLERR) && !id.fifo) o.fflags = kStandInSoError;
    }
    if (k.flags & EV_ONESHOT) {
      k = Knote{};  // EV_ONESHOT: the knote is deleted once its event is retrieved
      oneshotFired = true;
    }
  }
  if (oneshotFired) {
    Sync(q, fd, id);
    if (id.empty()) q.idents.erase(it);
  }
  return n;
}

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int kqueue(void) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -1;
  auto q = std::make_shared<Kq>();
  struct stat st;
  if (fstat(epfd, &st) != 0) {
    int e = errno;
    close(epfd);
    errno = e;
    return -1;
  }
  q->epfd = epfd;
  q->dev = st.st_dev;
  q->ino = st.st_ino;
  std::lock_guard<std::mutex> lock(g_mu);
  SweepClosed();
  g_kqs[epfd] = q;
  return epfd;
}

int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout) {
  std::shared_ptr<Kq> q = Find(kq);
  if (!q) {
    errno = EBADF;
    return -1;
  }
  if (nchanges < 0 || nevents < 0) {
    errno = EINVAL;
    return -1;
  }
  // Changes first, in order. A failed change, or any change with EV_RECEIPT, is reported as
  // an EV_ERROR entry while there is room; without room, kevent fails with that errno and
  // the changes after it are not applied. Once any such entry was written, kevent returns
  // them at once without collecting events (FreeBSD).
  int nerrors = 0;
  for (int i = 0; i < nchanges; i++) {
    const struct kevent& c = changelist[i];
    int err = Apply(*q, c);
    if (err == 0 && !(c.flags & EV_RECEIPT)) continue;
    if (nevents == 0) {
      if (err == 0) return nerrors;
      errno = err;
      return -1;
    }
    struct kevent& o = eventlist[nerrors++];
    o = c;
    o.flags = EV_ERROR;
    o.data = err;
    nevents--;
  }
  if (nerrors) return nerrors;
  if (nevents == 0) return 0;

  int64_t waitMs = -1;
  if (timeout) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L) {
      errno = EINVAL;
      return -1;
    }
    // Rounded up: a kevent timeout is a minimum, never cut short.
    waitMs = static_cast<int64_t>(timeout->tv_sec) * 1000 + (timeout->tv_nsec + 999999) / 1000000;
  }
  int64_t deadline = waitMs >= 0 ? NowMs() + waitMs : -1;
  if (q->buf.size() < static_cast<size_t>(nevents)) q->buf.resize(nevents);
  for (;;) {
    int ms = static_cast<int>(deadline < 0 ? -1 : std::max<int64_t>(0, deadline - NowMs()));
    int n = epoll_wait(q->epfd, q->buf.data(), nevents, ms);
    if (n < 0) return -1;  // EINTR included, as from a real kevent
    int count = 0, i = 0;
    for (; i < n && count < nevents; i++)
      count += Deliver(*q, q->buf[i], eventlist + count, nevents - count);
    for (; i < n; i++) {  // fds with two filters ready filled the list before these
      if (q->buf[i].data.u64 & kProcTag) continue;  // level-triggered: reported again
      int fd = static_cast<int>(static_cast<uint32_t>(q->buf[i].data.u64));
      auto it = q->idents.find(fd);
      if (it != q->idents.end() && it->second.serial == static_cast<uint32_t>(q->buf[i].data.u64 >> 32))
        Rearm(*q, fd, it->second);
    }
    // Only stale registrations answered: keep waiting out the caller's timeout.
    if (count > 0 || n == 0 || ms == 0) return count;
  }
}
