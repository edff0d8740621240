// Which backends this build holds, best first. The build files (binding.gyp,
// CMakeLists.txt) define FDR_HAVE_EPOLL / FDR_HAVE_KQUEUE for the platforms that compile
// those backend files; poll and select are POSIX and always present. io_uring follows
// epoll: the default stays epoll (docs/platforms.md says why).
#include "io_uring_ring.h"  // defines FDR_HAVE_IO_URING where the headers allow
#include "poller.h"

namespace fdr {
namespace {

struct Backend {
  const char* name;
  std::unique_ptr<Poller> (*make)(Status*);
};

const Backend kBackends[] = {
#if defined(FDR_HAVE_EPOLL)
    {"epoll", MakeEpollPoller},
#endif
#if defined(FDR_HAVE_IO_URING)
    {"io_uring", MakeIoUringPoller},
#endif
#if defined(FDR_HAVE_KQUEUE)
    {"kqueue", MakeKqueuePoller},
#endif
    {"poll", MakePollPoller},
    {"select", MakeSelectPoller},
};

const char* const kNames[] = {
#if defined(FDR_HAVE_EPOLL)
    "epoll",
#endif
#if defined(FDR_HAVE_IO_URING)
    "io_uring",
#endif
#if defined(FDR_HAVE_KQUEUE)
    "kqueue",
#endif
    "poll",
    "select",
    nullptr,
};

}  // namespace

std::unique_ptr<Poller> MakePoller(const std::string& backend, Status* status) {
  for (const Backend& b : kBackends)
    if (backend == b.name) return b.make(status);
  *status = Status::Ok();
  return nullptr;
}

const char* const* BackendNames() { return kNames; }

#if !defined(FDR_HAVE_IO_URING)
void SubmitQueuedSends() {}
#endif

const char* MissingBackendReason(const std::string& backend) {
#if !defined(FDR_HAVE_IO_URING)
  if (backend == "io_uring") {
#if defined(__linux__)
    return "the io_uring backend is not compiled into this build: its kernel headers "
           "(linux/io_uring.h) lack multishot poll; rebuild with linux-libc-dev from Linux 5.13 or later";
#else
    return "the io_uring backend is Linux only";
#endif
  }
#endif
  return "";
}

}  // namespace fdr
