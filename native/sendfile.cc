// sendfile(2): bytes from a regular file straight to a socket, without passing through
// JavaScript (lib/native.ts "sendfile"; used by a transport's file ranges, lib/net/abstract.ts).
// The result is one word like the batched writes: bytes sent (>= 0), AGAIN, or -errno; only
// a bad argument throws. Linux and the BSDs/macOS differ in signature and in how a partial
// send is reported, so each has its branch here; elsewhere the call returns -ENOSYS and the
// caller reads the file itself.
//
// fileIdentity: stat(2) of a path or fstat(2) of an fd as eight numbers in a caller's
// Float64Array, for the static-file cache's check that a path still names the file it
// opened (lib/web/open-file-cache.ts) without building a fs.Stats per request.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/sendfile.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__DragonFly__)
#include <sys/socket.h>
#include <sys/uio.h>
#define FDR_BSD_SENDFILE 1
#endif

#include <cerrno>
#include <cstdint>
#include <string>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"

namespace fdr {

namespace {

// The most one call may send: Linux never moves more than this per call, and the result
// must fit the int32 word every write result is.
constexpr int64_t kMaxPerCall = 0x7ffff000;

// One send of up to `len` bytes of `in` from `offset` to socket `out`.
int64_t SendFileOnce(int out, int in, int64_t offset, int64_t len) {
#if defined(__linux__)
  off_t off = static_cast<off_t>(offset);
  ssize_t n = RetryOnEintr([&] { return sendfile(out, in, &off, static_cast<size_t>(len)); });
  return ResultWord(n);
#elif defined(FDR_BSD_SENDFILE)
  // Both report what a partial send moved even when the call fails with EAGAIN or EINTR:
  // those bytes are on their way and count, else the caller would send them twice.
  for (;;) {
#if defined(__APPLE__)
    off_t sent = static_cast<off_t>(len);
    int r = sendfile(in, out, static_cast<off_t>(offset), &sent, nullptr, 0);
#else
    off_t sent = 0;
    int r = sendfile(in, out, static_cast<off_t>(offset), static_cast<size_t>(len), nullptr, &sent, 0);
#endif
    if (r == 0) return sent;
    if (sent > 0 && (IsAgain(errno) || errno == EINTR)) return sent;
    if (errno == EINTR) continue;
    return IsAgain(errno) ? kAgain : -errno;
  }
#else
  (void)out, (void)in, (void)offset, (void)len;
  return -ENOSYS;
#endif
}

// sendfile(socketFd, fileFd, offset, length) -> bytes (0 at the file's end), AGAIN or -errno
Napi::Value SendFile(const Napi::CallbackInfo& info) {
  int out, in;
  int64_t offset, length;
  if (!ArgFd(info, 0, "socketFd", &out) || !ArgFd(info, 1, "fileFd", &in)) return Napi::Value();
  if (!ArgInt(info, 2, "offset", 0, INT64_C(9007199254740991), &offset)) return Napi::Value();
  if (!ArgInt(info, 3, "length", 0, INT64_C(9007199254740991), &length)) return Napi::Value();
  if (length > kMaxPerCall) length = kMaxPerCall;
  if (length == 0) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), static_cast<double>(SendFileOnce(out, in, offset, length)));
}

// After a head sent with MSG_MORE whose body then moved no byte (the file's end, an error,
// EAGAIN): sends what the socket holds back, unless its owner corked it on purpose. Turning
// TCP_CORK off pushes the pending segment (and is a no-op for the option itself when it was
// off); a non-TCP socket refuses the getsockopt and holds nothing back.
void PushHeldHead(int fd) {
#if defined(__linux__)
  int corked = 0;
  socklen_t len = sizeof corked;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &corked, &len) != 0 || corked != 0) return;
  int off = 0;
  setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
#else
  (void)fd;
#endif
}

// writevSendfile(socketFd, bufs, fileFd, offset, length, out): a response's head and body in
// one call. bufs go out first (one sendmsg, MSG_NOSIGNAL; none when bufs is empty); only when
// the kernel took all of them is the file range tried with one sendfile. out[0] = the head's
// result word, out[1] = sendfile's, or AGAIN when it was not tried. On Linux the head goes
// with MSG_MORE when a range follows, so that the kernel puts it in the same segment as the
// file's first bytes instead of a packet of its own (one packet less per response: ~9% of
// the server's CPU for a 4 KiB file, bench/RESULTS.md); should the range then move nothing,
// PushHeldHead sends the head alone. Only a bad argument throws.
Napi::Value WritevSendFile(const Napi::CallbackInfo& info) {
  int out, in, n;
  int64_t offset, length;
  iovec iov[kIovMax];
  int32_t* res;
  size_t resLen;
  if (!ArgIovecs(info, 1, iov, &n) || !ArgFd(info, 0, "socketFd", &out) || !ArgFd(info, 2, "fileFd", &in))
    return Napi::Value();
  if (!ArgInt(info, 3, "offset", 0, INT64_C(9007199254740991), &offset)) return Napi::Value();
  if (!ArgInt(info, 4, "length", 0, INT64_C(9007199254740991), &length)) return Napi::Value();
  if (!ArgInt32Array(info, 5, "out", &res, &resLen)) return Napi::Value();
  if (resLen < 2) {
    ThrowType(info.Env(), "out", "an Int32Array of at least 2 elements");
    return Napi::Value();
  }
  size_t head = 0;
  for (int i = 0; i < n; i++) head += iov[i].iov_len;
  res[0] = 0;
  res[1] = kAgain;
  if (length > kMaxPerCall) length = kMaxPerCall;
#if defined(__linux__)
  const int more = length > 0 ? MSG_MORE : 0;
#else
  const int more = 0;
#endif
  if (head > 0) {
    res[0] = ResultWord(WritevNoSignal(out, iov, n, more));
    if (res[0] < 0 || static_cast<size_t>(res[0]) < head) {
      if (more != 0 && res[0] > 0) PushHeldHead(out);
      return info.Env().Undefined();
    }
  }
  res[1] = length == 0 ? 0 : static_cast<int32_t>(SendFileOnce(out, in, offset, length));
  if (more != 0 && head > 0 && res[1] <= 0) PushHeldHead(out);
  return info.Env().Undefined();
}

// Fields of fileIdentity's answer, in order.
constexpr size_t kIdentityFields = 8;

// fileIdentity(pathOrFd, out) -> 0 or -errno; out[0..7] = dev, ino, size, mode,
// mtime seconds, mtime nanoseconds, ctime seconds, ctime nanoseconds.
Napi::Value FileIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < kIdentityFields) {
    ThrowType(env, "out", "a Float64Array of at least 8 elements");
    return Napi::Value();
  }
  struct stat st;
  int r;
  if (info.Length() > 0 && info[0].IsString()) {
    std::string path = info[0].As<Napi::String>().Utf8Value();
    // A NUL would end the path early and stat another name: no file has it.
    if (path.find('\0') != std::string::npos) return Napi::Number::New(env, -ENOENT);
    r = stat(path.c_str(), &st);
  } else {
    int fd;
    if (!ArgFd(info, 0, "pathOrFd", &fd)) return Napi::Value();
    r = fstat(fd, &st);
  }
  if (r != 0) return Napi::Number::New(env, -errno);
#if defined(__APPLE__)
  const struct timespec& mtime = st.st_mtimespec;
  const struct timespec& ctime = st.st_ctimespec;
#else
  const struct timespec& mtime = st.st_mtim;
  const struct timespec& ctime = st.st_ctim;
#endif
  double* out = info[1].As<Napi::Float64Array>().Data();
  out[0] = static_cast<double>(st.st_dev);
  out[1] = static_cast<double>(st.st_ino);
  out[2] = static_cast<double>(st.st_size);
  out[3] = static_cast<double>(st.st_mode);
  out[4] = static_cast<double>(mtime.tv_sec);
  out[5] = static_cast<double>(mtime.tv_nsec);
  out[6] = static_cast<double>(ctime.tv_sec);
  out[7] = static_cast<double>(ctime.tv_nsec);
  return Napi::Number::New(env, 0);
}

}  // namespace

void InitSendFile(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"sendfile", SendFile},
      {"writevSendfile", WritevSendFile},
      {"fileIdentity", FileIdentity},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
