// Descriptors the reactor did not make (lib/native.ts "fd control"): close-on-exec
// duplicates, and the file status flags (O_NONBLOCK, O_APPEND...) of an open file
// description, read and written back. Used by fd passing (a descriptor queued for sending
// is a duplicate the transport owns) and by StandardIO (fds 0 and 1, whose flags are
// shared with the parent shell and must be restored as found).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"

namespace fdr {

namespace {

// dupFd(fd) -> a new close-on-exec descriptor of the same open file description.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r < 0) {
    ThrowErrno(info.Env(), errno, "fcntl");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), r);
}

// getStatusFlags(fd) -> fcntl(F_GETFL): the open file description's flags.
Napi::Value GetStatusFlags(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, "fd", &fd)) return Napi::Value();
  int r = fcntl(fd, F_GETFL);
  if (r < 0) {
    ThrowErrno(info.Env(), errno, "fcntl");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), r);
}

// setStatusFlags(fd, flags): fcntl(F_SETFL); the kernel changes only the flags it lets
// F_SETFL change (O_NONBLOCK, O_APPEND, O_ASYNC...), the access mode stays.
Napi::Value SetStatusFlags(const Napi::CallbackInfo& info) {
  int fd;
  int64_t flags;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "flags", 0, 0x7fffffff, &flags)) return Napi::Value();
  if (fcntl(fd, F_SETFL, static_cast<int>(flags)) < 0) {
    ThrowErrno(info.Env(), errno, "fcntl");
    return Napi::Value();
  }
  return info.Env().Undefined();
}

}  // namespace

void InitFdControl(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"dupFd", DupFd},
      {"getStatusFlags", GetStatusFlags},
      {"setStatusFlags", SetStatusFlags},
  };
  ExportAll(env, exports, kEntries);
  exports.Set("O_NONBLOCK", Napi::Number::New(env, O_NONBLOCK));
}

}  // namespace fdr
