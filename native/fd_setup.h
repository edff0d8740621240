// What the socket, I/O, option and waker bindings share: making fds non-blocking and
// close-on-exec where the kernel cannot do it at creation, closing half-made fds on
// failure, and the argument reader for ports. Implemented in socket_binding.cc.
#pragma once

#include <napi.h>
#include <sys/socket.h>

namespace fdr {

#ifdef SOCK_NONBLOCK
constexpr int kSockFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
constexpr int kSockFlags = 0;  // ConfigureFd sets the flags after creation
#endif

// Where the kernel lacks SOCK_NONBLOCK/SOCK_CLOEXEC (macOS), sets the flags on a new fd,
// and SO_NOSIGPIPE on sockets because send() there has no MSG_NOSIGNAL. False with errno set.
bool ConfigureFd(int fd, bool isSocket);

// Throws errno from `syscall` after closing the fds made so far (-1: none); returns empty.
Napi::Value FailClosing(Napi::Env env, const char* syscall, int a, int b = -1);

// [a, b] as a JavaScript array (the two ends of a pipe or socketpair).
Napi::Array Pair(Napi::Env env, int a, int b);

// A port number 0..65535 at argument i; false after throwing a TypeError naming "port".
bool ArgPort(const Napi::CallbackInfo& info, size_t i, int* port);

// A non-blocking, close-on-exec pipe as [readFd, writeFd]; throws (returns empty) on failure.
Napi::Value NewPipe(Napi::Env env);

// One exported function: its JavaScript name and its implementation.
struct ExportEntry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// Sets exports[name] to each entry's function (a binding file's Init).
template <size_t N>
void ExportAll(Napi::Env env, Napi::Object exports, const ExportEntry (&entries)[N]) {
  for (const auto& e : entries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace fdr
