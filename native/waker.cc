// Wakers (lib/native.ts, "wakers"): an fd another thread writes to wake the reactor's
// kernel wait. An eventfd on Linux (one fd, a counter), a non-blocking pipe elsewhere.
// Waking an already-woken waker succeeds; draining is bounded.
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cstdint>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"

namespace fdr {

namespace {

Napi::Value MakeWaker(const Napi::CallbackInfo& info) {
#ifdef __linux__
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return FailClosing(info.Env(), "eventfd", -1);
  return Pair(info.Env(), fd, fd);
#else
  return NewPipe(info.Env());
#endif
}

Napi::Value Wake(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "writeFd", &fd)) return Napi::Value();
  ssize_t n;
#ifdef __linux__
  uint64_t one = 1;
  n = RetryOnEintr([&] { return write(fd, &one, sizeof one); });
#else
  char one = 1;
  n = RetryOnEintr([&] { return write(fd, &one, 1); });
#endif
  // A full counter or pipe means a wake-up is pending already: that is success.
  if (n < 0 && !IsAgain(errno)) ThrowErrno(info.Env(), errno, "write");
  return info.Env().Undefined();
}

Napi::Value DrainWaker(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "readFd", &fd)) return Napi::Value();
  ssize_t n;
#ifdef __linux__
  uint64_t count = 0;
  n = RetryOnEintr([&] { return read(fd, &count, sizeof count); });
  if (n < 0 && !IsAgain(errno)) {
    ThrowErrno(info.Env(), errno, "read");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), n == sizeof count ? static_cast<double>(count) : 0);
#else
  double total = 0;
  char buf[256];
  // Bounded: other threads may keep waking while we drain; the rest waits for next time.
  for (int k = 0; k < 1024; k++) {
    n = RetryOnEintr([&] { return read(fd, buf, sizeof buf); });
    if (n < 0) {
      if (IsAgain(errno)) break;
      ThrowErrno(info.Env(), errno, "read");
      return Napi::Value();
    }
    total += static_cast<double>(n);
    if (n < static_cast<ssize_t>(sizeof buf)) break;
  }
  return Napi::Number::New(info.Env(), total);
#endif
}

}  // namespace

void InitWakers(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"makeWaker", MakeWaker},
      {"wake", Wake},
      {"drainWaker", DrainWaker},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
