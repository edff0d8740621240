// Non-blocking socket syscalls on raw fds, wakers and RLIMIT_NOFILE (lib/native.ts,
// "sockets", "wakers", "limits"). Every fd made here is O_NONBLOCK and O_CLOEXEC.
// EAGAIN is returned as AGAIN (-1), EINTR is retried (except by close), every other errno
// is thrown through ThrowErrno; arguments are checked before any syscall.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "batch_io.h"
#include "errors.h"
#include "sockaddr.h"

namespace fdr {

namespace {

// Where the kernel lacks SOCK_NONBLOCK/SOCK_CLOEXEC (macOS), set the flags right after
// creation, and SO_NOSIGPIPE because send() there has no MSG_NOSIGNAL.
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

#ifdef SOCK_NONBLOCK
constexpr int kSockFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
constexpr int kSockFlags = 0;
#endif

// Throws errno from `syscall` after closing the fds made so far.
Napi::Value FailClosing(Napi::Env env, const char* syscall, int a, int b = -1) {
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
  int64_t v;
  if (!ArgInt(info, i, "port", 0, 65535, &v)) return false;
  *port = static_cast<int>(v);
  return true;
}

// --- sockets ------------------------------------------------------------------------

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

// Collects bufs (at most IOV_MAX of them) into iov; false after throwing.
bool ArgIovecs(const Napi::CallbackInfo& info, size_t i, iovec* iov, int* n) {
  static thread_local std::vector<napi_value> vals;
  if (!FetchBufs(info.Env(), info[i], "bufs", kIovMax, &vals)) return false;
  if (!BufsToIovecs(info.Env(), vals.data(), static_cast<uint32_t>(vals.size()), "bufs", iov))
    return false;
  *n = static_cast<int>(vals.size());
  return true;
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
  // Not retried on EINTR: Linux has released the fd already, and a retry could close a
  // number another thread just reused.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// --- socket options -----------------------------------------------------------------

struct OptionSpec {
  const char* name;
  int level;    // -1: option absent on this platform
  int optname;
  bool boolean;
  bool multicast;  // IP_* option with an IPv6 twin, chosen by the socket's family
};

#ifdef SO_REUSEPORT
#define FDR_REUSEPORT SOL_SOCKET, SO_REUSEPORT
#else
#define FDR_REUSEPORT -1, 0
#endif

const OptionSpec kOptions[] = {
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, true, false},
    {"SO_REUSEPORT", FDR_REUSEPORT, true, false},
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, true, false},
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, false, false},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, false, false},
    {"SO_BROADCAST", SOL_SOCKET, SO_BROADCAST, true, false},
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, true, false},
    {"IP_MULTICAST_TTL", IPPROTO_IP, IP_MULTICAST_TTL, false, true},
    {"IP_MULTICAST_LOOP", IPPROTO_IP, IP_MULTICAST_LOOP, true, true},
    {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY, true, false},
    // struct linger, not an int: SetSockOpt/GetSockOpt treat it apart (seconds, or off).
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, false, false},
};

const OptionSpec* ArgOption(const Napi::CallbackInfo& info, size_t i) {
  std::string name;
  if (!ArgString(info, i, "option", &name)) return nullptr;
  for (const auto& o : kOptions)
    if (name == o.name) return &o;
  ThrowType(info.Env(), "option",
            "one of SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_BROADCAST, "
            "TCP_NODELAY, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IPV6_V6ONLY, SO_LINGER");
  return nullptr;
}

// Resolves level/optname for fd; multicast options follow the socket's family. False after throwing.
bool ResolveOption(Napi::Env env, int fd, const OptionSpec& o, const char* syscall, int* level,
                   int* optname) {
  if (o.level < 0) {
    ThrowErrnoDetail(env, ENOPROTOOPT, syscall, std::string(o.name) + " does not exist on this platform");
    return false;
  }
  *level = o.level;
  *optname = o.optname;
  if (o.multicast) {
    int family = SocketFamily(fd);
    if (family < 0) {
      ThrowErrno(env, errno, syscall);
      return false;
    }
    if (family == AF_INET6) {
      *level = IPPROTO_IPV6;
      *optname = o.optname == IP_MULTICAST_TTL ? IPV6_MULTICAST_HOPS : IPV6_MULTICAST_LOOP;
    }
  }
  return true;
}

// BSDs take IPv4 multicast TTL/loop as one byte; Linux takes an int or a byte.
bool ByteSized(int level, int optname) {
#ifdef __linux__
  return false;
#else
  return level == IPPROTO_IP && (optname == IP_MULTICAST_TTL || optname == IP_MULTICAST_LOOP);
#endif
}

Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  const OptionSpec* o = ArgOption(info, 1);
  if (!o) return Napi::Value();
  if (o->optname == SO_LINGER && o->level == SOL_SOCKET) {
    // false: off (close() returns at once, the kernel sends what is queued, then FIN);
    // N seconds: close() waits up to N s for the queue to drain; 0: close() sends RST.
    struct linger l = {0, 0};
    if (info.Length() > 2 && info[2].IsBoolean()) {
      if (info[2].As<Napi::Boolean>().Value()) {
        ThrowType(env, "value", "false (off) or a number of seconds for SO_LINGER");
        return Napi::Value();
      }
    } else {
      int64_t v;
      if (!ArgInt(info, 2, "value", 0, 0x7fff, &v)) return Napi::Value();
      l.l_onoff = 1;
      l.l_linger = static_cast<int>(v);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0) ThrowErrno(env, errno, "setsockopt");
    return env.Undefined();
  }
  int value;
  if (info.Length() > 2 && info[2].IsBoolean()) {
    value = info[2].As<Napi::Boolean>().Value() ? 1 : 0;
  } else {
    int64_t v;
    if (!ArgInt(info, 2, "value", 0, 0x7fffffff, &v)) return Napi::Value();
    value = static_cast<int>(v);
  }
  int level, optname;
  if (!ResolveOption(env, fd, *o, "setsockopt", &level, &optname)) return Napi::Value();
  int r;
  if (ByteSized(level, optname)) {
    unsigned char b = static_cast<unsigned char>(value > 255 ? 255 : value);
    r = setsockopt(fd, level, optname, &b, sizeof b);
  } else {
    r = setsockopt(fd, level, optname, &value, sizeof value);
  }
  if (r < 0) ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  const OptionSpec* o = ArgOption(info, 1);
  if (!o) return Napi::Value();
  int level, optname;
  if (!ResolveOption(env, fd, *o, "getsockopt", &level, &optname)) return Napi::Value();
  if (optname == SO_LINGER && level == SOL_SOCKET) {
    struct linger l = {0, 0};
    socklen_t llen = sizeof l;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &llen) < 0) {
      ThrowErrno(env, errno, "getsockopt");
      return Napi::Value();
    }
    return Napi::Number::New(env, l.l_onoff ? l.l_linger : -1);  // -1: off
  }
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, optname, &value, &len) < 0) {
    ThrowErrno(env, errno, "getsockopt");
    return Napi::Value();
  }
  if (len == 1) value = *reinterpret_cast<unsigned char*>(&value);  // a byte-sized option
  if (o->boolean) value = value != 0;
  return Napi::Number::New(env, value);
}

Napi::Value SetMembership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  std::string group, iface;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgString(info, 1, "group", &group) ||
      !ArgString(info, 2, "iface", &iface))
    return Napi::Value();
  if (info.Length() <= 3 || !info[3].IsBoolean()) {
    ThrowType(env, "join", "a boolean");
    return Napi::Value();
  }
  bool join = info[3].As<Napi::Boolean>().Value();
  sockaddr_storage gs;
  socklen_t glen;
  if (!ParseInet(env, group, 0, AF_UNSPEC, "group", &gs, &glen)) return Napi::Value();
  int r;
  if (gs.ss_family == AF_INET) {
    ip_mreq mreq = {};
    mreq.imr_multiaddr = reinterpret_cast<sockaddr_in*>(&gs)->sin_addr;
    mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (!iface.empty() && (iface.find('\0') != std::string::npos ||
                           inet_pton(AF_INET, iface.c_str(), &mreq.imr_interface) != 1)) {
      ThrowType(env, "iface", "an IPv4 address literal or \"\" for an IPv4 group");
      return Napi::Value();
    }
    r = setsockopt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mreq, sizeof mreq);
  } else {
    ipv6_mreq mreq = {};
    mreq.ipv6mr_multiaddr = reinterpret_cast<sockaddr_in6*>(&gs)->sin6_addr;
    if (!iface.empty()) {
      // An IPv6 interface is named ("eth0") or numbered ("2"), not addressed.
      char* end = nullptr;
      unsigned long idx = strtoul(iface.c_str(), &end, 10);
      if (*end != '\0' || iface.find('\0') != std::string::npos)
        idx = if_nametoindex(iface.c_str());
      if (idx == 0 || idx > 0xffffffffUL) {
        ThrowType(env, "iface", "an interface name or index or \"\" for an IPv6 group");
        return Napi::Value();
      }
      mreq.ipv6mr_interface = static_cast<unsigned>(idx);
    }
    r = setsockopt(fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mreq, sizeof mreq);
  }
  if (r < 0) ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
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

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (!MakePipe(fds)) return FailClosing(info.Env(), "pipe2", -1);
  return Pair(info.Env(), fds[0], fds[1]);
}

// --- wakers -------------------------------------------------------------------------

Napi::Value MakeWaker(const Napi::CallbackInfo& info) {
#ifdef __linux__
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return FailClosing(info.Env(), "eventfd", -1);
  return Pair(info.Env(), fd, fd);
#else
  return Pipe(info);
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

// --- limits -------------------------------------------------------------------------

double LimitValue(rlim_t v) {
  return v == RLIM_INFINITY ? INFINITY : static_cast<double>(v);
}

Napi::Object Limits(Napi::Env env, const rlimit& rl) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("soft", Napi::Number::New(env, LimitValue(rl.rlim_cur)));
  o.Set("hard", Napi::Number::New(env, LimitValue(rl.rlim_max)));
  return o;
}

Napi::Value GetNofileLimit(const Napi::CallbackInfo& info) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
    ThrowErrno(info.Env(), errno, "getrlimit");
    return Napi::Value();
  }
  return Limits(info.Env(), rl);
}

Napi::Value SetNofileLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t soft;
  if (!ArgInt(info, 0, "soft", 0, int64_t{1} << 53, &soft)) return Napi::Value();
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
    ThrowErrno(env, errno, "getrlimit");
    return Napi::Value();
  }
  rlimit want = rl;
  want.rlim_cur = static_cast<rlim_t>(soft);
  if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
    int err = errno;
    std::string detail = "cannot set the soft RLIMIT_NOFILE to " + std::to_string(soft);
    if (rl.rlim_max != RLIM_INFINITY && static_cast<rlim_t>(soft) > rl.rlim_max)
      detail += ": the hard limit is " + std::to_string(static_cast<unsigned long long>(rl.rlim_max));
    ThrowErrnoDetail(env, err, "setrlimit", detail);
    return Napi::Value();
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
    ThrowErrno(env, errno, "getrlimit");
    return Napi::Value();
  }
  return Limits(env, rl);
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Entry kEntries[] = {
      {"socket", Socket},           {"bind", Bind},
      {"bindUnix", BindUnix},       {"listen", Listen},
      {"accept", Accept},           {"connect", Connect},
      {"connectUnix", ConnectUnix}, {"socketError", SocketError},
      {"read", Read},               {"readv", Readv},
      {"recvfrom", Recvfrom},       {"write", Write},
      {"writev", Writev},           {"sendto", Sendto},
      {"shutdown", Shutdown},       {"close", Close},
      {"setsockopt", SetSockOpt},   {"getsockopt", GetSockOpt},
      {"setMembership", SetMembership}, {"getsockname", GetSockName},
      {"getpeername", GetPeerName}, {"socketpair", SocketPair},
      {"pipe", Pipe},               {"makeWaker", MakeWaker},
      {"wake", Wake},               {"drainWaker", DrainWaker},
      {"getNofileLimit", GetNofileLimit}, {"setNofileLimit", SetNofileLimit},
  };
  for (const auto& e : kEntries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace fdr
