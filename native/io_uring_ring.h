// One io_uring instance, spoken to through the raw io_uring_setup/io_uring_enter syscalls:
// the shared submission and completion rings mapped into this process, an SQE to fill,
// a batch of CQEs to read. It knows nothing of polling or sockets (io_uring_poller.cc).
//
// Why no liburing: the three syscalls and two rings are all a readiness backend needs,
// the kernel's uapi header (linux-libc-dev) is on every Linux build machine already, and
// the addon (and the npm prebuild) then depends on no library that a user's machine may
// lack; a static liburing.a would have to be found by two build systems instead.
#pragma once

// The build needs no switch: the backend is compiled wherever the kernel headers
// (linux-libc-dev) know multishot poll and timed waits (Linux 5.13's uapi), so node-gyp
// and cmake-js, which share binding.gyp's source list, decide alike.
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#if defined(IORING_POLL_ADD_MULTI) && defined(IORING_FEAT_RSRC_TAGS) && defined(IORING_ENTER_EXT_ARG)
#define FDR_HAVE_IO_URING 1
#endif
#endif
#endif

#if defined(FDR_HAVE_IO_URING)

#include <cstddef>
#include <cstdint>
#include <string>

namespace fdr {

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { close(); }

  // Sets up a ring of `sqEntries` submissions and `cqEntries` completions. On failure
  // returns the errno and sets `why` to a sentence for the user (sysctl, seccomp, kernel).
  int setup(unsigned sqEntries, unsigned cqEntries, std::string* why);

  // A zeroed SQE to fill, or nullptr when the submission ring is full even after handing
  // what it holds to the kernel (then `*err` is that call's errno).
  io_uring_sqe* nextSqe(int* err);

  // Hands the queued SQEs to the kernel; with `waitMs` != 0 also waits, when no completion
  // is ready, until `minComplete` are (-1: no time limit). Returns 0 or an errno (EINTR
  // and ETIME are not errors: the caller reads what completed).
  int enter(int waitMs, unsigned minComplete = 1);

  // Turns every SQE not yet taken by the kernel whose user_data satisfies `mine` into a
  // no-op with user_data 0 (after a failed enter, so that a later one cannot start an
  // operation on buffers its owner has let go). Returns how many it turned.
  unsigned neuterUnsubmitted(bool (*mine)(uint64_t userData));

  // SQEs written but not yet taken by the kernel.
  unsigned unsubmitted() const;
  // How many SQEs were ever written (wraps): unchanged between two calls means none was
  // queued in between.
  unsigned tail() const { return sqTailLocal_; }
  // io_uring_enter calls made so far (a diagnostic: tests count syscalls per iteration).
  uint64_t enters() const { return enters_; }
  // Whether a no-wait enter() is needed to see every completion: SQEs to submit, or
  // completions the kernel holds back (overflow list, pending task work).
  bool needsEnter() const;

  // Completions ready to read: cqe(i) for i in [0, ready()), then consume(n).
  unsigned ready() const;
  const io_uring_cqe& cqe(unsigned i) const { return cqes_[(cqHeadLocal_ + i) & cqMask_]; }
  void consume(unsigned n);
  // Makes cqe(i) read as user_data 0, which every reader drops (a completion already dealt with).
  void forget(unsigned i) { cqes_[(cqHeadLocal_ + i) & cqMask_].user_data = 0; }

  int fd() const { return fd_; }
  // The IORING_SETUP_* flags the kernel accepted (COOP_TASKRUN there means Linux 5.19+).
  unsigned setupFlags() const { return setupFlags_; }
  void close();

 private:
  int fd_ = -1;
  unsigned setupFlags_ = 0;
  void* rings_ = nullptr;  // SQ and CQ rings in one mapping (IORING_FEAT_SINGLE_MMAP)
  size_t ringsSize_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqesSize_ = 0;

  unsigned* sqHead_ = nullptr;   // kernel advances it
  unsigned* sqTail_ = nullptr;   // we advance it
  unsigned* sqFlags_ = nullptr;
  unsigned sqMask_ = 0;
  unsigned sqEntries_ = 0;
  unsigned sqTailLocal_ = 0;

  unsigned* cqHead_ = nullptr;   // we advance it
  unsigned* cqTail_ = nullptr;   // kernel advances it
  unsigned cqMask_ = 0;
  unsigned cqHeadLocal_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  uint64_t enters_ = 0;
};

}  // namespace fdr

#endif  // FDR_HAVE_IO_URING
