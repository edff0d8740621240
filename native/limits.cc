// The process's open-file limit (lib/native.ts, "limits"): RLIMIT_NOFILE read and the soft
// limit raised, for C10K runs. RLIM_INFINITY is reported as Infinity.
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <string>

#include "errors.h"
#include "fd_setup.h"

namespace fdr {

namespace {

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

void InitLimits(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"getNofileLimit", GetNofileLimit},
      {"setNofileLimit", SetNofileLimit},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
