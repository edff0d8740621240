// Ring: see io_uring_ring.h. Memory ordering follows io_uring(7): the kernel's indices
// are read with acquire and ours published with release; the SQ tail is published only
// in enter(), the one place the kernel reads the SQ (no SQPOLL thread).
#include "io_uring_ring.h"

#if defined(FDR_HAVE_IO_URING)

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace fdr {
namespace {

// Multishot poll (5.13) is the newest feature the poller needs; RSRC_TAGS came with it.
constexpr unsigned kNeededFeatures =
    IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG | IORING_FEAT_RSRC_TAGS;

std::string DisabledSysctl() {
  FILE* f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
  if (!f) return "";
  int v = -1;
  bool read = fscanf(f, "%d", &v) == 1;
  fclose(f);
  return read ? " (kernel.io_uring_disabled is " + std::to_string(v) + ")" : "";
}

// A sentence telling the user why io_uring_setup failed with `err`.
std::string SetupHint(int err) {
  switch (err) {
    case EPERM:
      return "io_uring is not permitted for this process: the sysctl kernel.io_uring_disabled "
             "is 2, or 1 while the process is outside kernel.io_uring_group, or a seccomp "
             "filter (a container runtime's) refuses io_uring_setup" + DisabledSysctl();
    case ENOSYS:
      return "this kernel has no io_uring (Linux before 5.1, or built without CONFIG_IO_URING)";
    case EINVAL:
      return "this kernel refused the ring's parameters (Linux 5.13 or later is needed)";
    case ENOMEM:
      return "no memory for the ring (before Linux 5.12 it counts against RLIMIT_MEMLOCK)";
    case EMFILE:
    case ENFILE:
      return "no file descriptor is free for the ring";
    default:
      return "";
  }
}

}  // namespace

int Ring::setup(unsigned sqEntries, unsigned cqEntries, std::string* why) {
  io_uring_params p = {};
  // A completion ring larger than the submission ring: one multishot poll per fd may
  // post many completions between two waits.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  p.cq_entries = cqEntries;
  long fd = -1;
#if defined(IORING_SETUP_COOP_TASKRUN) && defined(IORING_SETUP_TASKRUN_FLAG)
  // Completions of poll requests are posted by task work on this thread. By default the
  // kernel interrupts the thread for it (an IPI when it runs on another CPU, which costs a
  // VM dearly); cooperative task work runs at our next io_uring_enter instead, and the
  // TASKRUN flag tells needsEnter() that some is waiting. A thread asleep (in epoll_wait
  // on the ring's fd, integrated mode) is still woken. Linux 5.19+; older kernels refuse
  // the flags and get the ring without them.
  io_uring_params coop = p;
  coop.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  fd = syscall(__NR_io_uring_setup, sqEntries, &coop);
  if (fd >= 0) p = coop;
#endif
  if (fd < 0) fd = syscall(__NR_io_uring_setup, sqEntries, &p);
  if (fd < 0) {
    int err = errno;
    *why = SetupHint(err);
    return err;
  }
  fd_ = static_cast<int>(fd);
  setupFlags_ = p.flags;
  if ((p.features & kNeededFeatures) != kNeededFeatures) {
    close();
    *why = "this kernel's io_uring lacks multishot poll or timed waits (Linux 5.13 or later is needed)";
    return ENOTSUP;
  }
  auto map = [this](size_t size, off_t what) {
    void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, what);
    return m == MAP_FAILED ? nullptr : m;
  };
  ringsSize_ = std::max(p.sq_off.array + p.sq_entries * sizeof(unsigned),
                        p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe));
  sqesSize_ = p.sq_entries * sizeof(io_uring_sqe);
  rings_ = map(ringsSize_, IORING_OFF_SQ_RING);
  sqes_ = rings_ ? static_cast<io_uring_sqe*>(map(sqesSize_, IORING_OFF_SQES)) : nullptr;
  if (!sqes_) {
    int err = errno;
    close();
    *why = "mapping the rings into this process failed";
    return err;
  }

  char* base = static_cast<char*>(rings_);
  auto at = [base](uint32_t off) { return reinterpret_cast<unsigned*>(base + off); };
  sqHead_ = at(p.sq_off.head);
  sqTail_ = at(p.sq_off.tail);
  sqFlags_ = at(p.sq_off.flags);
  sqMask_ = *at(p.sq_off.ring_mask);
  sqEntries_ = p.sq_entries;
  // SQE i always sits in array slot i: the indirection is never used.
  unsigned* array = at(p.sq_off.array);
  for (unsigned i = 0; i < sqEntries_; i++) array[i] = i;
  sqTailLocal_ = *sqTail_;
  cqHead_ = at(p.cq_off.head);
  cqTail_ = at(p.cq_off.tail);
  cqMask_ = *at(p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(base + p.cq_off.cqes);
  cqHeadLocal_ = *cqHead_;
  return 0;
}

unsigned Ring::unsubmitted() const { return sqTailLocal_ - __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE); }

bool Ring::needsEnter() const {
  return unsubmitted() != 0 ||
         (__atomic_load_n(sqFlags_, __ATOMIC_RELAXED) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

unsigned Ring::neuterUnsubmitted(bool (*mine)(uint64_t userData)) {
  unsigned turned = 0;
  for (unsigned i = __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE); i != sqTailLocal_; i++) {
    io_uring_sqe* sqe = &sqes_[i & sqMask_];
    if (!mine(sqe->user_data)) continue;
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_NOP;
    turned++;
  }
  return turned;
}

io_uring_sqe* Ring::nextSqe(int* err) {
  if (unsubmitted() >= sqEntries_) {
    int e = enter(0);
    if (e != 0 || unsubmitted() >= sqEntries_) {
      *err = e != 0 ? e : EBUSY;
      return nullptr;
    }
  }
  io_uring_sqe* sqe = &sqes_[sqTailLocal_ & sqMask_];
  memset(sqe, 0, sizeof *sqe);
  sqTailLocal_++;
  return sqe;
}

int Ring::enter(int waitMs, unsigned minComplete) {
  __atomic_store_n(sqTail_, sqTailLocal_, __ATOMIC_RELEASE);
  unsigned flags = IORING_ENTER_GETEVENTS;
  io_uring_getevents_arg arg = {};
  __kernel_timespec ts = {};
  const void* argp = nullptr;
  size_t argSize = 0;
  if (waitMs == 0 || ready() != 0) {
    minComplete = 0;
  } else {
    if (waitMs > 0) {
      ts.tv_sec = waitMs / 1000;
      ts.tv_nsec = static_cast<long long>(waitMs % 1000) * 1000000;
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      argp = &arg;
      argSize = sizeof arg;
      flags |= IORING_ENTER_EXT_ARG;
    }
  }
  enters_++;
  long r = syscall(__NR_io_uring_enter, fd_, unsubmitted(), minComplete, flags, argp, argSize);
  if (r >= 0) return 0;
  int err = errno;
  // ETIME: the wait timed out; EINTR: a signal (the caller returns to run its handler);
  // EBUSY: completions are held back until some are read, which the caller does next.
  if (err == ETIME || err == EINTR || err == EBUSY) return 0;
  return err;
}

unsigned Ring::ready() const { return __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE) - cqHeadLocal_; }

void Ring::consume(unsigned n) {
  cqHeadLocal_ += n;
  __atomic_store_n(cqHead_, cqHeadLocal_, __ATOMIC_RELEASE);
}

void Ring::close() {
  if (sqes_) munmap(sqes_, sqesSize_);
  if (rings_) munmap(rings_, ringsSize_);
  sqes_ = nullptr;
  rings_ = nullptr;
  if (fd_ >= 0) ::close(fd_);  // cancels every request still armed, releasing their files
  fd_ = -1;
}

}  // namespace fdr

#endif  // FDR_HAVE_IO_URING
