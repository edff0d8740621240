// Socket addresses between JavaScript and the kernel: parsing host literals and Unix paths
// into sockaddrs, and formatting sockaddrs as the SockAddr objects of lib/native.ts.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <string>

namespace fdr {

// Parses an IPv4 or IPv6 literal ("127.0.0.1", "::1", "fe80::1%lo") and a port into `out`.
// When `family` is AF_INET6 an IPv4 literal becomes its v4-mapped form, so that dual-stack
// sockets accept both. On a bad literal it throws a TypeError naming `name` and returns false.
bool ParseInet(Napi::Env env, const std::string& host, int port, int family, const char* name,
               sockaddr_storage* out, socklen_t* len);

// Fills a sockaddr_un for `path` (a leading '\0' names the Linux abstract namespace) with the
// exact length the kernel expects. Throws a RangeError naming `name` when it cannot fit.
bool ParseUnix(Napi::Env env, const std::string& path, const char* name, sockaddr_storage* out,
               socklen_t* len);

// {family: "IPv4"|"IPv6", address, port} or {family: "unix", path}; an address the kernel
// left empty (an unbound Unix peer) is {family: "unix", path: ""}.
Napi::Object FormatSockAddr(Napi::Env env, const sockaddr_storage& addr, socklen_t len);

// The address family of a socket (AF_INET, AF_INET6, AF_UNIX), or -1 with errno set.
int SocketFamily(int fd);

}  // namespace fdr
