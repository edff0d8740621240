// File descriptors over Unix stream sockets (SCM_RIGHTS; lib/native.ts "fd passing", used by
// lib/net/descriptors.ts): sendmsg with the descriptors riding on the bytes given, recvmsg
// that hands back the bytes and the descriptors that came with them. Results are words like
// the other stream calls: bytes (>= 0), AGAIN, or -errno; only a bad argument throws.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"

namespace fdr {

namespace {

// Linux's SCM_MAX_FD: the most descriptors one message may carry.
constexpr int kMaxFds = 253;

#ifdef MSG_CMSG_CLOEXEC
constexpr int kRecvFlags = MSG_CMSG_CLOEXEC;
#else
constexpr int kRecvFlags = 0;  // FD_CLOEXEC is set right after the call instead
#endif

// Control buffer for kMaxFds descriptors, aligned as cmsghdr wants.
union Control {
  cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(int) * kMaxFds)];
};
thread_local Control control;


// sendFds(fd, buf, fds, count) -> bytes sent, AGAIN or -errno. The descriptors fds[0..count)
// go with the first byte of buf; buf must hold at least one byte, as a descriptor sent with
// no byte would be lost by a reader that is not asking for descriptors.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t len;
  int32_t* fds;
  size_t nfds;
  int64_t count;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "buf", &data, &len) ||
      !ArgInt32Array(info, 2, "fds", &fds, &nfds) ||
      !ArgInt(info, 3, "count", 1, static_cast<int64_t>(nfds < kMaxFds ? nfds : kMaxFds), &count))
    return Napi::Value();
  if (len == 0) {
    ThrowRange(env, "buf", "must hold at least one byte to carry the descriptors");
    return Napi::Value();
  }
  iovec iov{data, len};
  msghdr h;
  memset(&h, 0, sizeof h);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  const size_t fdBytes = sizeof(int) * static_cast<size_t>(count);
  memset(control.bytes, 0, CMSG_SPACE(fdBytes));
  h.msg_control = control.bytes;
  h.msg_controllen = CMSG_SPACE(fdBytes);
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fdBytes);
  memcpy(CMSG_DATA(c), fds, fdBytes);
  ssize_t n = RetryOnEintr([&] { return sendmsg(fd, &h, kNoSignal); });
  return Napi::Number::New(env, ResultWord(n));
}

// recvFds(fd, buf, out) -> bytes (0 at EOF), AGAIN or -errno. out[0] gets the number of
// descriptors received, out[1] 1 when some were cut off (MSG_CTRUNC: no room in out, or the
// process hit its fd limit), out[2..] the descriptors, close-on-exec. Room for
// min(out.length - 2, 253) descriptors is offered to the kernel.
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t len;
  int32_t* out;
  size_t nout;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "buf", &data, &len) ||
      !ArgInt32Array(info, 2, "out", &out, &nout))
    return Napi::Value();
  if (len == 0) {
    ThrowRange(env, "buf", "must have room for at least one byte (0 means EOF)");
    return Napi::Value();
  }
  if (nout < 3) {
    ThrowRange(env, "out", "must hold at least 3 words (count, flags, one descriptor)");
    return Napi::Value();
  }
  const size_t room = nout - 2 < static_cast<size_t>(kMaxFds) ? nout - 2 : kMaxFds;
  iovec iov{data, len};
  msghdr h;
  memset(&h, 0, sizeof h);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control.bytes;
  h.msg_controllen = CMSG_SPACE(sizeof(int) * room);
  out[0] = 0;
  out[1] = 0;
  ssize_t n = RetryOnEintr([&] { return recvmsg(fd, &h, kRecvFlags); });
  if (n < 0) return Napi::Number::New(env, ResultWord(n));
  size_t got = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* p = CMSG_DATA(c);
    for (size_t j = 0; j < k; j++) {
      int r;
      memcpy(&r, p + j * sizeof(int), sizeof r);
      if (got < room) {
#if !defined(MSG_CMSG_CLOEXEC)
        fcntl(r, F_SETFD, FD_CLOEXEC);
#endif
        out[2 + got++] = r;
      } else {
        close(r);  // cannot happen with the control buffer sized to room; never leak one
        out[1] = 1;
      }
    }
  }
  out[0] = static_cast<int32_t>(got);
  if ((h.msg_flags & MSG_CTRUNC) != 0) out[1] = 1;
  return Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace

void InitFdPassing(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"sendFds", SendFds},
      {"recvFds", RecvFds},
  };
  ExportAll(env, exports, kEntries);
  exports.Set("MAX_PASSED_FDS", Napi::Number::New(env, kMaxFds));
}

}  // namespace fdr
