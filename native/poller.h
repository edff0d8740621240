// One interface for every readiness backend (epoll, io_uring, kqueue, poll, select).
// A backend registers raw fds under a token and fills a caller-owned event array;
// it knows nothing of sockets, protocols or JavaScript. Platform #ifdefs live in the
// backend files and the build files only.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

namespace fdr {

// Interest and readiness bits, identical to the constants in lib/native.ts.
//
// What each backend reports (the kernels' vocabularies differ; the tests pin these down):
// - epoll, poll: a peer's close or shutdown(SHUT_WR) is HANGUP (plus READABLE on a socket),
//   a pipe whose writer closed is HANGUP alone, a pipe whose reader closed is
//   WRITABLE|ERROR. HANGUP and ERROR come even for an fd registered with no interest.
// - poll also reports an fd closed while registered (POLLNVAL) as ERROR.
// - select has neither: EOF is READABLE, a broken pipe WRITABLE; an fd closed while
//   registered is reported as ERROR (found with fcntl after select's EBADF).
// So a reader treats READABLE|HANGUP|ERROR as "try a read", a writer WRITABLE|ERROR|HANGUP
// as "try a write": the syscall then tells EOF, the error, or more data.
enum : uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kError = 1u << 2,   // readiness only
  kHangup = 1u << 3,  // readiness only: peer closed (EPOLLHUP/EPOLLRDHUP, POLLHUP, EV_EOF)
  kEdge = 1u << 4,    // option: edge-triggered (EPOLLET, EV_CLEAR)
  kOneshot = 1u << 5, // option: disarm after one event (EPOLLONESHOT, EV_ONESHOT)
  // option, with READABLE alone, on a listening socket: the poller accepts its connections
  // itself (io_uring: a multishot accept request) and reports READABLE while some wait in
  // takeAccepted. Only backends listing it in supportedOptions() take it.
  kAccept = 1u << 6,
  // option, with READABLE on a socket: the poller receives for it itself (io_uring: a
  // multishot receive into the provided buffer ring, see enableRecv) and reports the bytes
  // as receive records instead of READABLE. Offered only once enableRecv succeeded.
  kRecv = 1u << 7,
};
constexpr uint32_t kInterestMask = kReadable | kWritable;
constexpr uint32_t kOptionMask = kEdge | kOneshot | kAccept | kRecv;

// A token is the reactor's slot index plus the slot's generation. The kernel hands it
// back untouched, so a stale event for a closed-and-reused fd can be told apart.
struct ReadBatchArgs;   // batch_io.h
struct WriteBatchArgs;  // batch_io.h

struct Token {
  uint32_t slot;
  uint32_t generation;
};

// One event as written into the shared array: three uint32 words.
constexpr int kEventStride = 3;  // [slot, generation, bits]
// One receive record (kRecv): [slot, generation, slab id, offset, result], after a
// two-word header [records, free ring slots].
constexpr int kRecvStride = 5;
constexpr int kRecvHeader = 2;

// Result of a poller operation: 0 on success, else an errno value (the caller throws it),
// or a message for a refusal of a value out of the backend's range (an fd past
// FD_SETSIZE), thrown as a RangeError with code ERR_OUT_OF_RANGE. Options a backend lacks
// are refused by the binding, from supportedOptions(), before the backend is called.
struct Status {
  int err = 0;                 // errno, 0 = ok
  const char* syscall = "";    // which call failed
  std::string message;         // set for an out-of-range refusal (not an errno)
  std::string detail;          // with err: a sentence on what the errno means here
  bool ok() const { return err == 0 && message.empty(); }
  static Status Ok() { return Status{}; }
  static Status Errno(int e, const char* sc) { Status s; s.err = e; s.syscall = sc; return s; }
  static Status RefuseRange(std::string m) { Status s; s.message = std::move(m); return s; }
};

class Poller {
 public:
  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  // Options (kEdge, kOneshot) this backend honours; others are refused by add/modify.
  virtual uint32_t supportedOptions() const = 0;
  virtual Status add(int fd, Token token, uint32_t interest) = 0;
  virtual Status modify(int fd, Token token, uint32_t interest) = 0;
  virtual Status remove(int fd) = 0;
  // Waits at most timeoutMs (-1 = forever, 0 = poll). Writes at most `capacity` events
  // (kEventStride words each) into `out` and returns their count, or -errno on failure.
  // EINTR returns 0 so that the caller can run signal handlers.
  virtual int wait(int timeoutMs, uint32_t* out, int capacity) = 0;
  // Hands the kernel the changes a wait would otherwise carry (io_uring: its re-arms).
  // Integrated mode calls it after each iteration, because libuv, not wait(), blocks
  // there. Returns 0 or -errno; a no-op for the backends whose changes apply at once.
  virtual int flush() { return 0; }
  // The backend's own pollable fd (epoll, io_uring, kqueue), or -1 (poll, select). Only a getter:
  // handing the fd out changes nothing; enterIntegratedMode() does.
  virtual int fd() const { return -1; }
  // Integrated mode: from now on another loop (libuv) polls fd() between our waits, so a
  // change must reach the kernel at once (kqueue flushes its pending changes and stops
  // batching: a change still in the changelist would not make the kqueue fd readable).
  // Returns fd(), or -1 when the backend has no fd to poll (nothing changes then).
  virtual int enterIntegratedMode() { return fd(); }
  // Whether readBatch/writevBatch below do the batched I/O through this poller (io_uring:
  // as SQEs submitted in one io_uring_enter) instead of one syscall per fd (batch_io.cc).
  virtual bool completesIo() const { return false; }
  // batch_io.cc's readBatch and writevBatch with the same arguments and results, done by
  // the poller: returns how many fds were processed (readBatch) or 0 (writevBatch), or
  // -errno when the poller itself failed. Every operation has completed on return, so no
  // buffer is referenced by the kernel afterwards.
  virtual int64_t readBatch(const ReadBatchArgs&) { return -ENOTSUP; }
  // `notSocket` (may be null): flags of the fds known not to be sockets (plain writev).
  virtual int64_t writevBatch(const WriteBatchArgs&, const uint8_t* /*notSocket*/) { return -ENOTSUP; }
  // writevBatch deferred (io_uring): the sends are queued, not submitted; they reach the
  // kernel with the next call that enters it (a wait, a readBatch, finishWrites, or a
  // close() of any fd on this thread: SubmitQueuedSends), so a busy loop pays one
  // io_uring_enter per iteration. The buffers must stay alive until finishWrites has
  // returned their results; the iovecs are copied. One deferred batch at a time: returns
  // 0, -EBUSY while one is unfinished, or -errno.
  virtual int64_t queueWrites(const WriteBatchArgs&, const uint8_t* /*notSocket*/) { return -ENOTSUP; }
  // The deferred batch's results, writevBatch's words, into out[0..count): returns count,
  // 0 when no batch is queued, or -1 when `mayEnter` is false and some send has not
  // completed yet (nothing written, no syscall made). With `mayEnter`, submits and waits as
  // needed; -errno when the ring failed.
  virtual int64_t finishWrites(int32_t* /*out*/, size_t /*capacity*/, bool /*mayEnter*/) { return 0; }
  // kAccept registrations: moves at most `max` connections accepted for listening socket
  // `fd` (non-blocking, close-on-exec fds, now the caller's) into out and returns how many.
  // When none waits and the accept request ended with an error (EMFILE...), returns
  // -errno once and re-arms the request at the next wait (unless the fd is removed first).
  // -ENOENT when `fd` is not registered with kAccept.
  virtual int64_t takeAccepted(int /*fd*/, int32_t* /*out*/, size_t /*max*/) { return -ENOENT; }
  // Syscalls this poller made to wait or to do batched I/O (io_uring: io_uring_enter),
  // counted for tests and benchmarks; 0 for the backends that do not count them.
  virtual uint64_t enterCount() const { return 0; }
  // Completions the poller has read from the kernel but not yet reported (io_uring: poll
  // completions reaped while a batch waited for its own): the next wait returns them
  // without blocking, but the backend's fd does not show them to another loop.
  virtual bool hasPending() const { return false; }
  // Completion-based receive (io_uring; the others return ENOTSUP). enableRecv registers a
  // provided buffer ring of `entries` buffers, consumed incrementally (Linux 6.12+), into
  // which kRecv registrations receive; returns 0 or an errno (then `why` says why), and
  // kRecv joins supportedOptions(). addRecvSlab lends the ring `size` bytes at `data`, cut
  // into buffers of the region size, and returns the slab's id (records name it), or -1
  // when the ring has no room for even one buffer. The memory must stay valid until the id
  // comes back from takeReleasedSlabs (or the poller is closed).
  virtual int enableRecv(unsigned /*entries*/, size_t /*regionSize*/, std::string* /*why*/) { return ENOTSUP; }
  virtual int64_t addRecvSlab(uint8_t* /*data*/, size_t /*size*/) { return -ENOTSUP; }
  // Where the next wait writes its receive records: out[0] = how many, out[1] = free
  // buffer slots of the ring, then kRecvStride words per record (slot, generation, slab
  // id, offset, result: bytes, 0 for EOF or -errno), at most `capacity` records.
  virtual void setRecvOut(int32_t* /*out*/, size_t /*capacity*/) {}
  // Ids of slabs the kernel no longer writes into and no record still names; at most max.
  virtual size_t takeReleasedSlabs(int32_t* /*ids*/, size_t /*max*/) { return 0; }
  // Registered files (io_uring, Linux 5.19+; the others return ENOTSUP): a sparse file
  // table sized from RLIMIT_NOFILE, whose slot n holds fd n's file from add() to remove(),
  // so the per-fd requests skip the kernel's file lookup. Only before the first add();
  // returns 0 or an errno (then `why` says why, and fds are named by number as before).
  virtual int enableFixedFiles(std::string* /*why*/) { return ENOTSUP; }
  // Whether enableFixedFiles succeeded.
  virtual bool fixedFiles() const { return false; }
  // Releases kernel resources; idempotent.
  virtual void close() = 0;
};

// Factories, one per backend file. A backend not built on this platform returns nullptr
// from MakePoller, and BackendNames() lists only those that are built.
std::unique_ptr<Poller> MakeEpollPoller(Status* status);
std::unique_ptr<Poller> MakeKqueuePoller(Status* status);
// kqueue builds only: a new close-on-exec kqueue holding one EVFILT_PROC/NOTE_EXIT knote for
// child `pid`, so its fd turns readable once the child exits (a reactor on kqueue watches
// it as a reader, as it watches a pidfd on Linux). -1 with *err set on failure.
int OpenKqueueExitWatch(int pid, int* err);
std::unique_ptr<Poller> MakeIoUringPoller(Status* status);
std::unique_ptr<Poller> MakePollPoller(Status* status);
std::unique_ptr<Poller> MakeSelectPoller(Status* status);
std::unique_ptr<Poller> MakePoller(const std::string& backend, Status* status);
// Hands the kernel every send queued by queueWrites on this thread's pollers. A queued send
// names its fd by number, so the socket bindings call this before closing any fd: the
// number could otherwise be reused and the bytes go to the new file. A no-op when none is
// queued (and on builds without io_uring).
void SubmitQueuedSends();
const char* const* BackendNames();  // nullptr-terminated
// Why a backend this project has is absent from this build ("" when it is built or unknown).
const char* MissingBackendReason(const std::string& backend);

}  // namespace fdr
