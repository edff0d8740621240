// Vectored I/O shared by the socket bindings and the batched calls: gathering JavaScript
// arrays of Uint8Array into iovecs, writes that can never raise SIGPIPE, and the small
// syscall helpers both files use (AGAIN, MSG_NOSIGNAL, EINTR retries).
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <climits>
#include <vector>

namespace fdr {

// What the bindings return for EAGAIN/EWOULDBLOCK (lib/native.ts AGAIN).
constexpr int kAgain = -1;

#ifdef MSG_NOSIGNAL
constexpr int kNoSignal = MSG_NOSIGNAL;
#else
constexpr int kNoSignal = 0;  // SO_NOSIGPIPE is set on every socket at creation instead
#endif

inline bool IsAgain(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// One result word: bytes (>= 0), AGAIN, or -errno. Only a translation: what AGAIN or an
// errno means for a connection is decided by its reader or writer in JavaScript (a
// transport's wrote(), docs/design.md "The write path"), never here.
inline int32_t ResultWord(ssize_t n) {
  if (n >= 0) return static_cast<int32_t>(n);
  if (IsAgain(errno)) return kAgain;
  return -errno;
}

// Runs `call` (a syscall) again while it fails with EINTR; returns its last result.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) r;
  do r = call();
  while (r < 0 && errno == EINTR);
  return r;
}

#ifdef IOV_MAX
constexpr int kIovMax = IOV_MAX < 1024 ? IOV_MAX : 1024;
#else
constexpr int kIovMax = 1024;
#endif

// Fetches the handles bufs[0..min(length, limit)) into `out` (TypeError naming `name` when
// bufs is not an Array). Element reads may run JavaScript (getters), which could detach a
// typed array: callers therefore fetch first and take data pointers only afterwards.
bool FetchBufs(Napi::Env env, Napi::Value bufs, const char* name, uint32_t limit,
               std::vector<napi_value>* out);
// iov[j] from vals[j], j < n; each must be a Uint8Array (TypeError naming `name[j]`).
// Runs no JavaScript.
bool BufsToIovecs(Napi::Env env, const napi_value* vals, uint32_t n, const char* name, iovec* iov);
// Collects info[i] (an Array of at most kIovMax Uint8Array, named "bufs") into iov; false
// after throwing.
bool ArgIovecs(const Napi::CallbackInfo& info, size_t i, iovec* iov, int* n);

// The arguments of a batched read, (keys, count, slab, offset, maxPerFd, out): keys are fds
// or TLS session ids, out holds outStride words per key. Checked, each error naming its
// argument.
struct ReadBatchArgs {
  int32_t* keys = nullptr;
  int64_t count = 0;
  uint8_t* slab = nullptr;
  size_t slabSize = 0;
  size_t offset = 0;
  size_t maxPerFd = 0;
  int32_t* out = nullptr;
};
bool ArgReadBatch(const Napi::CallbackInfo& info, const char* keysName, size_t outStride, ReadBatchArgs* a);

// The arguments of a batched write, (keys, count, counts, bufs, out): keys[i] (an fd or a
// TLS session id) gets the next counts[i] buffers of bufs, out holds outStride words per
// key. All checked, and every buffer turned into an iovec (in order), before the caller
// writes anything; iov stays valid until the next call on this thread.
struct WriteBatchArgs {
  int32_t* keys = nullptr;
  int64_t count = 0;
  int32_t* counts = nullptr;
  int32_t* out = nullptr;
  const iovec* iov = nullptr;
};
bool ArgWriteBatch(const Napi::CallbackInfo& info, const char* keysName, size_t outStride, WriteBatchArgs* a);
// writevBatch's optional notSocket argument at `index` (a Uint8Array of at least `count`
// flags, RangeError naming it otherwise): nullptr when absent.
bool ArgNotSocket(const Napi::CallbackInfo& info, size_t index, int64_t count, const uint8_t** notSocket);

// write/writev that never raise SIGPIPE on sockets (send/sendmsg with MSG_NOSIGNAL) and
// still work on pipes and other fds (plain write/writev after ENOTSOCK). EINTR retried.
// `flags` adds to sendmsg's (MSG_MORE from writevSendfile); a non-socket ignores them.
ssize_t WriteNoSignal(int fd, const void* data, size_t len);
ssize_t WritevNoSignal(int fd, const iovec* iov, int n, int flags = 0);

}  // namespace fdr
