// TEST SUPPORT ONLY: the kqueue emulation's kqueue()/kevent() exposed raw to JavaScript, so
// that test/kqemu can check it against kqueue(2) field by field (kqemu_raw.node, built by
// kqemu/binding.gyp; never part of the shipped addon).
// A kevent travels as 6 doubles: [ident, filter, flags, fflags, data, udata].
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <vector>

#include "../errors.h"
#include "sys/event.h"

namespace {

constexpr size_t kWords = 6;

bool ArgF64(const Napi::CallbackInfo& info, size_t i, const char* name, Napi::Float64Array* out) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    fdr::ThrowType(info.Env(), name, "a Float64Array");
    return false;
  }
  *out = info[i].As<Napi::Float64Array>();
  return true;
}

Napi::Value Kqueue(const Napi::CallbackInfo& info) {
  int kq = kqueue();
  if (kq < 0) {
    fdr::ThrowErrno(info.Env(), errno, "kqueue");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), kq);
}

// kevent(kq, changes, nchanges, events, nevents, timeoutMs): the count, or throws errno.
// timeoutMs -1 passes a null timeout (wait forever).
Napi::Value Kevent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kq;
  int64_t nchanges, nevents, timeoutMs;
  Napi::Float64Array changes, events;
  if (!fdr::ArgFd(info, 0, "kq", &kq) || !ArgF64(info, 1, "changes", &changes) ||
      !fdr::ArgInt(info, 2, "nchanges", 0, 1 << 20, &nchanges) || !ArgF64(info, 3, "events", &events) ||
      !fdr::ArgInt(info, 4, "nevents", 0, 1 << 20, &nevents) ||
      !fdr::ArgInt(info, 5, "timeoutMs", -1, 1 << 30, &timeoutMs))
    return Napi::Value();
  if (static_cast<size_t>(nchanges) * kWords > changes.ElementLength()) {
    fdr::ThrowRange(env, "nchanges", "exceeds the changes array");
    return Napi::Value();
  }
  if (static_cast<size_t>(nevents) * kWords > events.ElementLength()) {
    fdr::ThrowRange(env, "nevents", "exceeds the events array");
    return Napi::Value();
  }
  std::vector<struct kevent> cl(nchanges), el(nevents > 0 ? nevents : 1);
  const double* c = changes.Data();
  for (int64_t i = 0; i < nchanges; i++) {
    const double* w = c + i * kWords;
    EV_SET(&cl[i], static_cast<uintptr_t>(w[0]), static_cast<int16_t>(w[1]), static_cast<uint16_t>(w[2]),
           static_cast<uint32_t>(w[3]), static_cast<intptr_t>(w[4]), reinterpret_cast<void*>(static_cast<uintptr_t>(w[5])));
  }
  struct timespec ts, *pts = nullptr;
  if (timeoutMs >= 0) {
    ts.tv_sec = timeoutMs / 1000;
    ts.tv_nsec = (timeoutMs % 1000) * 1000000L;
    pts = &ts;
  }
  int n = kevent(kq, cl.data(), static_cast<int>(nchanges), el.data(), static_cast<int>(nevents), pts);
  if (n < 0) {
    fdr::ThrowErrno(env, errno, "kevent");
    return Napi::Value();
  }
  double* e = events.Data();
  for (int i = 0; i < n; i++) {
    double* w = e + i * kWords;
    w[0] = static_cast<double>(el[i].ident);
    w[1] = el[i].filter;
    w[2] = el[i].flags;
    w[3] = el[i].fflags;
    w[4] = static_cast<double>(el[i].data);
    w[5] = static_cast<double>(reinterpret_cast<uintptr_t>(el[i].udata));
  }
  return Napi::Number::New(env, n);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("kqueue", Napi::Function::New(env, Kqueue, "kqueue"));
  exports.Set("kevent", Napi::Function::New(env, Kevent, "kevent"));
  Napi::Object k = Napi::Object::New(env);
#define K(x) k.Set(#x, Napi::Number::New(env, x))
  K(EVFILT_READ); K(EVFILT_WRITE); K(EV_ADD); K(EV_DELETE); K(EV_ENABLE); K(EV_DISABLE);
  K(EV_ONESHOT); K(EV_CLEAR); K(EV_RECEIPT); K(EV_DISPATCH); K(EV_ERROR); K(EV_EOF);
  K(EVFILT_PROC); K(NOTE_EXIT);
#undef K
  exports.Set("constants", k);
  exports.Set("errno", fdr::ErrnoTable(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(kqemu_raw, Init)
