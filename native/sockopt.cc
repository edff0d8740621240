// Socket options (lib/native.ts, "sockets"): setsockopt/getsockopt for the options fdreactor
// names, and multicast group membership. IPv4 multicast options follow the socket's family
// (their IPv6 twin on an IPv6 socket); an option this platform lacks throws ENOPROTOOPT.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <string>

#include "errors.h"
#include "fd_setup.h"
#include "sockaddr.h"

namespace fdr {

namespace {

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

// unsentBytes(fd) -> the bytes of a stream socket's send queue the peer has not yet
// acknowledged (SIOCOUTQ on Linux, SO_NWRITE where BSD has it), or -1 where the platform
// cannot say. A writer whose own queue is empty can see its bytes leave the kernel.
Napi::Value UnsentBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  int value = -1;
#if defined(__linux__)
  if (ioctl(fd, SIOCOUTQ, &value) < 0) {
    ThrowErrno(env, errno, "ioctl");
    return Napi::Value();
  }
#elif defined(SO_NWRITE)
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_NWRITE, &value, &len) < 0) {
    ThrowErrno(env, errno, "getsockopt");
    return Napi::Value();
  }
#endif
  return Napi::Number::New(env, value);
}

}  // namespace

void InitSockopt(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"setsockopt", SetSockOpt},
      {"getsockopt", GetSockOpt},
      {"setMembership", SetMembership},
      {"unsentBytes", UnsentBytes},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
