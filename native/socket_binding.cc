// Sockets and pipes on raw fds: socket, bind, listen, accept, connect, names, socketpair,
// pipe, adoptSocket, shutdown and close (lib/native.ts, "sockets"). Every fd made here is O_NONBLOCK and
// O_CLOEXEC. EINTR is retried (except by close), every failure is thrown through ThrowErrno;
// arguments are checked before any syscall. The I/O calls on these fds are in fd_io.cc,
// their options in sockopt.cc.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "batch_io.h"
#include "errors.h"
#include "poller.h"
#include "fd_setup.h"
#include "sockaddr.h"

namespace fdr {

bool ConfigureFd(int fd, bool isSocket) {
#ifndef SOCK_NONBLOCK
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return false;
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) return false;
#endif
#ifdef SO_NOSIGPIPE
  if (isSocket) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0) return false;
  }
#endif
  return true;
}

Napi::Value FailClosing(Napi::Env env, const char* syscall, int a, int b) {
  int err = errno;
  if (a >= 0) close(a);
  if (b >= 0 && b != a) close(b);
  ThrowErrno(env, err, syscall);
  return Napi::Value();
}

Napi::Array Pair(Napi::Env env, int a, int b) {
  Napi::Array arr = Napi::Array::New(env, 2);
  arr.Set(0u, Napi::Number::New(env, a));
  arr.Set(1u, Napi::Number::New(env, b));
  return arr;
}

bool ArgPort(const Napi::CallbackInfo& info, size_t i, int* port) {
  // As Node's net: any bad port, whatever its type, is a RangeError ERR_SOCKET_BAD_PORT.
  double d = -1;
  if (i < info.Length() && info[i].IsNumber()) d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 65535 && d == std::floor(d))) {
    ThrowCoded(info.Env(), true, "The \"port\" argument must be an integer >= 0 and <= 65535",
               "ERR_SOCKET_BAD_PORT");
    return false;
  }
  *port = static_cast<int>(d);
  return true;
}

namespace {

// A non-blocking, close-on-exec pipe; false with errno set.
bool MakePipe(int fds[2]) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0;
#else
  if (pipe(fds) < 0) return false;
  for (int k = 0; k < 2; k++) {
    int fl = fcntl(fds[k], F_GETFL);
    int fdfl = fcntl(fds[k], F_GETFD);
    if (fl < 0 || fdfl < 0 || fcntl(fds[k], F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fds[k], F_SETFD, fdfl | FD_CLOEXEC) < 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      errno = err;
      return false;
    }
  }
  return true;
#endif
}

}  // namespace

Napi::Value NewPipe(Napi::Env env) {
  int fds[2];
  if (!MakePipe(fds)) return FailClosing(env, "pipe2", -1);
  return Pair(env, fds[0], fds[1]);
}

namespace {

Napi::Value Socket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string domain, type;
  if (!ArgString(info, 0, "domain", &domain)) return Napi::Value();
  if (!ArgString(info, 1, "type", &type)) return Napi::Value();
  int af;
  if (domain == "IPv4") af = AF_INET;
  else if (domain == "IPv6") af = AF_INET6;
  else if (domain == "unix") af = AF_UNIX;
  else {
    ThrowType(env, "domain", "one of \"IPv4\", \"IPv6\", \"unix\"");
    return Napi::Value();
  }
  int st;
  if (type == "tcp" || (af == AF_UNIX && type == "stream")) st = SOCK_STREAM;
  else if (type == "udp" || (af == AF_UNIX && type == "dgram")) st = SOCK_DGRAM;
  else {
    ThrowType(env, "type", "one of \"tcp\", \"udp\" (for unix also \"stream\", \"dgram\")");
    return Napi::Value();
  }
  int fd = socket(af, st | kSockFlags, 0);
  if (fd < 0) return FailClosing(env, "socket", -1);
  if (!ConfigureFd(fd, true)) return FailClosing(env, "fcntl", fd);
  return Napi::Number::New(env, fd);
}

// Parses host:port for fd's own address family (a v4 literal on an IPv6 socket is mapped).
bool InetAddrFor(const Napi::CallbackInfo& info, int fd, const char* syscall,
                 sockaddr_storage* ss, socklen_t* len) {
  std::string host;
  int port;
  if (!ArgString(info, 1, "host", &host) || !ArgPort(info, 2, &port) ||
      !ParseInet(info.Env(), host, port, AF_UNSPEC, "host", ss, len))
    return false;
  int family = SocketFamily(fd);
  if (family < 0) {
    ThrowErrno(info.Env(), errno, syscall);
    return false;
  }
  if (family != AF_INET && family != AF_INET6) {
    ThrowErrnoDetail(info.Env(), EAFNOSUPPORT, syscall, "not an IPv4/IPv6 socket (use the Unix variant)");
    return false;
  }
  if (family == AF_INET6 && ss->ss_family == AF_INET)
    return ParseInet(info.Env(), host, port, family, "host", ss, len);
  return true;
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd;
  sockaddr_storage ss;
  socklen_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !InetAddrFor(info, fd, "bind", &ss, &len)) return Napi::Value();
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

// (fd, path) arguments of the Unix variants: the fd and the parsed sockaddr_un; false after throwing.
bool ArgFdAndUnixAddr(const Napi::CallbackInfo& info, int* fd, sockaddr_storage* ss, socklen_t* len) {
  std::string path;
  return ArgFd(info, 0, "fd", fd) && ArgString(info, 1, "path", &path) &&
         ParseUnix(info.Env(), path, "path", ss, len);
}

Napi::Value BindUnix(const Napi::CallbackInfo& info) {
  int fd;
  sockaddr_storage ss;
  socklen_t len;
  if (!ArgFdAndUnixAddr(info, &fd, &ss, &len)) return Napi::Value();
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd;
  int64_t backlog;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "backlog", 0, 0x7fffffff, &backlog))
    return Napi::Value();
  if (listen(fd, static_cast<int>(backlog)) < 0) ThrowErrno(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

int AcceptOne(int fd, sockaddr_storage* ss, socklen_t* len) {
  int c;
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  c = RetryOnEintr(
      [&] { return accept4(fd, reinterpret_cast<sockaddr*>(ss), len, SOCK_NONBLOCK | SOCK_CLOEXEC); });
#else
  c = RetryOnEintr([&] { return accept(fd, reinterpret_cast<sockaddr*>(ss), len); });
  if (c >= 0 && !ConfigureFd(c, true)) {
    int err = errno;
    close(c);
    errno = err;
    return -1;
  }
#endif
#if defined(SO_NOSIGPIPE) && defined(SOCK_NONBLOCK)
  if (c >= 0) ConfigureFd(c, true);
#endif
  return c;
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t max;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "max", 1, 0x7fffffff, &max))
    return Napi::Value();
  Napi::Array result = Napi::Array::New(env);
  uint32_t n = 0;
  while (n < max) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int c = AcceptOne(fd, &ss, &len);
    if (c < 0) {
      int err = errno;
      // A connection reset while queued is gone: skip it, as accept(2) advises.
      if (err == ECONNABORTED || err == EPROTO) continue;
      if (IsAgain(err)) break;
      // EMFILE, ENFILE, ENOBUFS...: report only when this call has nothing to return; the
      // queued connection stays queued, so the next call meets the same error and throws it.
      if (n == 0) {
        ThrowErrno(env, err, "accept");
        return Napi::Value();
      }
      break;
    }
    Napi::Object item = Napi::Object::New(env);
    item.Set("fd", Napi::Number::New(env, c));
    item.Set("address", FormatSockAddr(env, ss, len));
    result.Set(n++, item);
  }
  return result;
}

// connect(2) on a non-blocking socket: true when connected at once, false when in progress.
Napi::Value ConnectTo(Napi::Env env, int fd, const sockaddr_storage& ss, socklen_t len) {
  int r = connect(fd, reinterpret_cast<const sockaddr*>(&ss), len);
  if (r == 0) return Napi::Boolean::New(env, true);
  // An interrupted non-blocking connect goes on in the background, like EINPROGRESS;
  // retrying it would only report EALREADY.
  if (errno == EINPROGRESS || errno == EINTR) return Napi::Boolean::New(env, false);
  // A Unix connect to a full backlog fails with EAGAIN: the socket is *not* connecting, so
  // it is thrown (code "EAGAIN") rather than mistaken for "in progress" (libuv does the same).
  ThrowErrno(env, errno, "connect");
  return Napi::Value();
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd;
  sockaddr_storage ss;
  socklen_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !InetAddrFor(info, fd, "connect", &ss, &len)) return Napi::Value();
  return ConnectTo(info.Env(), fd, ss, len);
}

Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  int fd;
  sockaddr_storage ss;
  socklen_t len;
  if (!ArgFdAndUnixAddr(info, &fd, &ss, &len)) return Napi::Value();
  return ConnectTo(info.Env(), fd, ss, len);
}

Napi::Value SocketError(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockopt");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), err);
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd;
  int64_t how;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "how", 0, 2, &how)) return Napi::Value();
  static const int kHow[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
  if (shutdown(fd, kHow[how]) < 0) ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  // A send an io_uring poller queued for this number must reach the kernel before the
  // number can be reused (poller.h, SubmitQueuedSends).
  SubmitQueuedSends();
  // Not retried on EINTR: Linux has released the fd already, and a retry could close a
  // number another thread just reused.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

Napi::Value SockName(const Napi::CallbackInfo& info, bool peer) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r < 0) {
    ThrowErrno(info.Env(), errno, peer ? "getpeername" : "getsockname");
    return Napi::Value();
  }
  return FormatSockAddr(info.Env(), ss, len);
}

Napi::Value GetSockName(const Napi::CallbackInfo& info) { return SockName(info, false); }
Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return SockName(info, true); }

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string type;
  if (!ArgString(info, 0, "type", &type)) return Napi::Value();
  int st;
  if (type == "stream") st = SOCK_STREAM;
  else if (type == "dgram") st = SOCK_DGRAM;
  else {
    ThrowType(env, "type", "one of \"stream\", \"dgram\"");
    return Napi::Value();
  }
  int sv[2];
  if (socketpair(AF_UNIX, st | kSockFlags, 0, sv) < 0) return FailClosing(env, "socketpair", -1);
  if (!ConfigureFd(sv[0], true) || !ConfigureFd(sv[1], true))
    return FailClosing(env, "fcntl", sv[0], sv[1]);
  return Pair(env, sv[0], sv[1]);
}

Napi::Value Pipe(const Napi::CallbackInfo& info) { return NewPipe(info.Env()); }

const char* FamilyName(int family) {
  switch (family) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_UNIX: return "unix";
    default: return "other";
  }
}

// adoptSocket(fd): a duplicate of an fd the caller keeps owning (Twisted's IReactorSocket
// adopts a copy; the caller closes its own), close-on-exec and non-blocking (O_NONBLOCK
// lives on the open file description, so the caller's fd becomes non-blocking too, as in
// Twisted), with what it is: family, type, and whether it listens.
Napi::Value AdoptSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (nfd < 0) return FailClosing(env, "fcntl", -1);
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(nfd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return FailClosing(env, "getsockopt", nfd);
  int listening = 0;
  len = sizeof listening;
  if (type == SOCK_STREAM && getsockopt(nfd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
    return FailClosing(env, "getsockopt", nfd);
  }
  int family = SocketFamily(nfd);
  if (family < 0) return FailClosing(env, "getsockname", nfd);
  int fl = fcntl(nfd, F_GETFL);
  if (fl < 0 || fcntl(nfd, F_SETFL, fl | O_NONBLOCK) < 0) return FailClosing(env, "fcntl", nfd);
#ifdef SO_NOSIGPIPE
  int one = 1;
  if (setsockopt(nfd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0) return FailClosing(env, "setsockopt", nfd);
#endif
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, nfd));
  o.Set("family", Napi::String::New(env, FamilyName(family)));
  o.Set("type", Napi::String::New(env, type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "other"));
  o.Set("listening", Napi::Boolean::New(env, listening != 0));
  return o;
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"socket", Socket},
      {"bind", Bind},
      {"bindUnix", BindUnix},
      {"listen", Listen},
      {"accept", Accept},
      {"connect", Connect},
      {"connectUnix", ConnectUnix},
      {"socketError", SocketError},
      {"getsockname", GetSockName},
      {"getpeername", GetPeerName},
      {"socketpair", SocketPair},
      {"pipe", Pipe},
      {"adoptSocket", AdoptSocket},
      {"shutdown", Shutdown},
      {"close", Close},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
