// One read or write per call on a socket or pipe fd: read, readv, recvfrom, write, writev,
// sendto (lib/native.ts, "sockets"). EAGAIN is returned as AGAIN (-1) (recvfrom: null),
// EINTR is retried, every other errno is thrown. The batched calls, one per reactor
// iteration, are in batch_io.cc.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"
#include "sockaddr.h"

namespace fdr {

namespace {

// bytes (>= 0) or AGAIN; any other failure thrown (returns empty).
Napi::Value IoResult(Napi::Env env, ssize_t n, const char* syscall) {
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  if (IsAgain(errno)) return Napi::Number::New(env, kAgain);
  ThrowErrno(env, errno, syscall);
  return Napi::Value();
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* data;
  size_t len;
  // A zero-length read would return 0, indistinguishable from EOF: refuse it.
  if (!ArgFd(info, 0, "fd", &fd) || !ArgWindow(info, 1, "buf", 1, &data, &len)) return Napi::Value();
  ssize_t n = RetryOnEintr([&] { return read(fd, data, len); });
  return IoResult(info.Env(), n, "read");
}

Napi::Value Readv(const Napi::CallbackInfo& info) {
  int fd;
  iovec iov[kIovMax];
  int n;
  if (!ArgIovecs(info, 1, iov, &n) || !ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  size_t total = 0;
  for (int j = 0; j < n; j++) total += iov[j].iov_len;
  if (total == 0) {
    ThrowRange(info.Env(), "bufs", "must have room for at least one byte (0 means EOF)");
    return Napi::Value();
  }
  ssize_t r = RetryOnEintr([&] { return readv(fd, iov, n); });
  return IoResult(info.Env(), r, "readv");
}

Napi::Value Recvfrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgWindow(info, 1, "buf", 0, &data, &len)) return Napi::Value();
  sockaddr_storage ss;
  socklen_t slen = sizeof ss;
  memset(&ss, 0, sizeof ss);
  ssize_t n = RetryOnEintr(
      [&] { return recvfrom(fd, data, len, 0, reinterpret_cast<sockaddr*>(&ss), &slen); });
  if (n < 0) {
    if (IsAgain(errno)) return env.Null();
    ThrowErrno(env, errno, "recvfrom");
    return Napi::Value();
  }
  if (slen == 0) {
    // Connected stream sockets report no source: the source is the peer.
    slen = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &slen) < 0) {
      memset(&ss, 0, sizeof ss);
      ss.ss_family = AF_UNIX;  // an unbound Unix sender has no name at all
      slen = 0;
    }
  }
  Napi::Object d = Napi::Object::New(env);
  d.Set("bytes", Napi::Number::New(env, static_cast<double>(n)));
  d.Set("address", FormatSockAddr(env, ss, slen));
  return d;
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* data;
  size_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgWindow(info, 1, "buf", 0, &data, &len)) return Napi::Value();
  return IoResult(info.Env(), WriteNoSignal(fd, data, len), "write");
}

Napi::Value Writev(const Napi::CallbackInfo& info) {
  int fd;
  iovec iov[kIovMax];
  int n;
  if (!ArgIovecs(info, 1, iov, &n) || !ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  if (n == 0) return Napi::Number::New(info.Env(), 0);
  return IoResult(info.Env(), WritevNoSignal(fd, iov, n), "writev");
}

Napi::Value Sendto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t len;
  int port;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgWindow(info, 1, "buf", 0, &data, &len)) return Napi::Value();
  bool connected = info.Length() > 4 && (info[4].IsNull() || info[4].IsUndefined());
  if (!connected && (info.Length() <= 4 || !info[4].IsString())) {
    ThrowType(env, "host", "a string or null");
    return Napi::Value();
  }
  if (!ArgPort(info, 5, &port)) return Napi::Value();
  ssize_t n;
  if (connected) {
    n = RetryOnEintr([&] { return send(fd, data, len, kNoSignal); });
  } else {
    std::string host = info[4].As<Napi::String>().Utf8Value();
    sockaddr_storage ss;
    socklen_t slen;
    // The literal's own family: the kernel maps an IPv4 destination on a dual-stack socket.
    if (!ParseInet(env, host, port, AF_UNSPEC, "host", &ss, &slen)) return Napi::Value();
    n = RetryOnEintr(
        [&] { return sendto(fd, data, len, kNoSignal, reinterpret_cast<sockaddr*>(&ss), slen); });
  }
  return IoResult(env, n, "sendto");
}

}  // namespace

void InitFdIo(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"read", Read},
      {"readv", Readv},
      {"recvfrom", Recvfrom},
      {"write", Write},
      {"writev", Writev},
      {"sendto", Sendto},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
