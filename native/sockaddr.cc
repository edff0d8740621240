#include "sockaddr.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace fdr {

namespace {

// A scope id after '%': an interface name or a number.
bool ParseScope(const std::string& scope, uint32_t* out) {
  if (scope.empty()) return false;
  char* end = nullptr;
  unsigned long n = strtoul(scope.c_str(), &end, 10);
  if (*end == '\0' && n <= 0xffffffffUL) {
    *out = static_cast<uint32_t>(n);
    return true;
  }
  unsigned idx = if_nametoindex(scope.c_str());
  if (idx == 0) return false;
  *out = idx;
  return true;
}

}  // namespace

bool ParseInet(Napi::Env env, const std::string& host, int port, int family, const char* name,
               sockaddr_storage* out, socklen_t* len) {
  memset(out, 0, sizeof *out);
  // A NUL inside the string would make inet_pton read a prefix: refuse it.
  if (host.find('\0') == std::string::npos) {
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
      if (family == AF_INET6) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(port));
        s6->sin6_addr.s6_addr[10] = 0xff;
        s6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
        *len = sizeof(sockaddr_in6);
      } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(out);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<uint16_t>(port));
        s4->sin_addr = a4;
        *len = sizeof(sockaddr_in);
      }
      return true;
    }
    std::string addr = host;
    uint32_t scope = 0;
    size_t pct = host.find('%');
    bool scopeOk = true;
    if (pct != std::string::npos) {
      addr = host.substr(0, pct);
      scopeOk = ParseScope(host.substr(pct + 1), &scope);
    }
    auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
    if (scopeOk && inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(static_cast<uint16_t>(port));
      s6->sin6_scope_id = scope;
      *len = sizeof(sockaddr_in6);
      return true;
    }
  }
  std::string expected = "an IPv4 or IPv6 address literal, received \"" + host + "\"";
  Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be " + expected)
      .ThrowAsJavaScriptException();
  return false;
}

bool ParseUnix(Napi::Env env, const std::string& path, const char* name, sockaddr_storage* out,
               socklen_t* len) {
  memset(out, 0, sizeof *out);
  auto* un = reinterpret_cast<sockaddr_un*>(out);
  const size_t cap = sizeof un->sun_path;
  const char* why = nullptr;
  bool abstract = !path.empty() && path[0] == '\0';
  if (path.empty()) {
    why = "a Unix socket path must not be empty";
  } else if (abstract) {
#ifndef __linux__
    why = "the abstract namespace (leading \"\\0\") exists only on Linux";
#else
    // Abstract names are length-delimited, not NUL-terminated: the whole of them counts.
    if (path.size() > cap) why = "an abstract Unix socket name is longer than sun_path";
#endif
  } else if (path.find('\0') != std::string::npos) {
    why = "a Unix socket path must not contain NUL bytes";
  } else if (path.size() >= cap) {
    why = "a Unix socket path is longer than sun_path allows (107 bytes on Linux, 103 on BSD)";
  }
  if (why) {
    Napi::RangeError::New(env, std::string("The \"") + name + "\" argument is out of range: " + why)
        .ThrowAsJavaScriptException();
    return false;
  }
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path.data(), path.size());
  // The kernel takes the name's length from the address length: for an abstract name any
  // trailing NUL would become part of the name, so only filesystem paths get one.
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return true;
}

Napi::Object FormatSockAddr(Napi::Env env, const sockaddr_storage& addr, socklen_t len) {
  Napi::Object o = Napi::Object::New(env);
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (len >= sizeof(sockaddr_in) && addr.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
    o.Set("family", Napi::String::New(env, "IPv4"));
    o.Set("address", Napi::String::New(env, buf));
    o.Set("port", Napi::Number::New(env, ntohs(s4->sin_port)));
    return o;
  }
  if (len >= sizeof(sockaddr_in6) && addr.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, INET6_ADDRSTRLEN);
    if (s6->sin6_scope_id != 0) {
      size_t n = strlen(buf);
      buf[n++] = '%';
      if (!if_indextoname(s6->sin6_scope_id, buf + n))
        snprintf(buf + n, sizeof buf - n, "%u", s6->sin6_scope_id);
    }
    o.Set("family", Napi::String::New(env, "IPv6"));
    o.Set("address", Napi::String::New(env, buf));
    o.Set("port", Napi::Number::New(env, ntohs(s6->sin6_port)));
    return o;
  }
  std::string path;
  const size_t base = offsetof(sockaddr_un, sun_path);
  if (addr.ss_family == AF_UNIX && len > base) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
    size_t n = len - base;
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    if (un->sun_path[0] == '\0') {
      path.assign(un->sun_path, n);  // abstract: every byte of the length is the name
    } else {
      path.assign(un->sun_path, strnlen(un->sun_path, n));
    }
  }
  o.Set("family", Napi::String::New(env, "unix"));
  o.Set("path", Napi::String::New(env, path));
  return o;
}

int SocketFamily(int fd) {
#ifdef SO_DOMAIN
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return -1;
  return domain;
#else
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  return ss.ss_family;
#endif
}

}  // namespace fdr
