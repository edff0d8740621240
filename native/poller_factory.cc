// Which backends this build holds, best first. The build files (binding.gyp,
// CMakeLists.txt) define FDR_HAVE_EPOLL / FDR_HAVE_KQUEUE for the platforms that compile
// those backend files; poll and select are POSIX and always present.
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

}  // namespace fdr
