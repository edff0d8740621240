#include "errors.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace fdr {

namespace {
struct ErrnoEntry {
  const char* name;
  int value;
};
#define E(x) {#x, x}
const ErrnoEntry kErrnos[] = {
    E(EAGAIN),      E(EWOULDBLOCK), E(EINTR),       E(EINPROGRESS), E(EALREADY),   E(EISCONN),
    E(ENOTCONN),    E(ECONNREFUSED), E(ECONNRESET), E(ECONNABORTED), E(EPIPE),      E(ETIMEDOUT),
    E(EHOSTUNREACH), E(ENETUNREACH), E(EADDRINUSE), E(EADDRNOTAVAIL), E(EAFNOSUPPORT), E(EACCES),
    E(EPERM),       E(EBADF),       E(EINVAL),      E(EMFILE),      E(ENFILE),     E(ENOBUFS),
    E(ENOMEM),      E(ENOENT),      E(EEXIST),      E(ENOTSOCK),    E(EMSGSIZE),   E(EPROTO),
    E(EOPNOTSUPP),  E(ENOPROTOOPT), E(EFAULT),      E(ENOSPC),      E(EIO),        E(ENODEV),
    E(ENAMETOOLONG), E(ESRCH),      E(ENOSYS),      E(ESHUTDOWN),   E(ENETDOWN),   E(EDESTADDRREQ),
    E(ECHILD),      E(ENOEXEC),     E(E2BIG),       E(ETXTBSY),     E(ENOTDIR),    E(ELOOP),
};
#undef E
}  // namespace

const char* ErrnoName(int err) {
  if (err == EWOULDBLOCK) return "EAGAIN";
  for (const auto& e : kErrnos)
    if (e.value == err) return e.name;
  static thread_local char buf[24];
  snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

Napi::Object ErrnoTable(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& e : kErrnos) o.Set(e.name, Napi::Number::New(env, e.value));
  o.Freeze();
  return o;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) { ThrowErrnoDetail(env, err, syscall, ""); }

void ThrowErrnoDetail(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  const char* code = ErrnoName(err);
  std::string msg = std::string(syscall) + " " + code + " (" + strerror(err) + ")";
  if (!detail.empty()) msg += ": " + detail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
}

void ThrowCoded(Napi::Env env, bool range, const std::string& msg, const char* code) {
  Napi::Error e = range ? Napi::RangeError::New(env, msg) : Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
}

void ThrowType(Napi::Env env, const char* arg, const char* expected) {
  Napi::Error e = Napi::TypeError::New(env, std::string("The \"") + arg + "\" argument must be " + expected);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  e.ThrowAsJavaScriptException();
}

void ThrowRange(Napi::Env env, const char* arg, const char* why) {
  ThrowCoded(env, true, std::string("The \"") + arg + "\" argument is out of range: " + why,
             "ERR_OUT_OF_RANGE");
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi,
            int64_t* out) {
  // One N-API query on the hot path: napi_get_value_double fails on anything but a number.
  double d = 0;
  if (i >= info.Length() || napi_get_value_double(info.Env(), info[i], &d) != napi_ok) {
    ThrowType(info.Env(), name, "a number");
    return false;
  }
  if (!std::isfinite(d) || d != std::floor(d)) {
    ThrowRange(info.Env(), name, "must be an integer");
    return false;
  }
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    std::string why = ">= " + std::to_string(lo) + " and <= " + std::to_string(hi) +
                      ", received " + std::to_string(static_cast<long long>(d));
    ThrowRange(info.Env(), name, why.c_str());
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  int64_t v;
  if (!ArgInt(info, i, name, 0, 0x7fffffff, &v)) return false;
  *out = static_cast<int>(v);
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) {
    ThrowType(info.Env(), name, "a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

namespace {

// One napi_get_typedarray_info (it fails on anything but a typed array): the batch calls
// take three or four typed arrays per call, and each node-addon-api accessor queried again.
bool TypedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type want, void** data,
              size_t* length) {
  napi_typedarray_type type;
  return i < info.Length() &&
         napi_get_typedarray_info(info.Env(), info[i], &type, length, data, nullptr, nullptr) ==
             napi_ok &&
         type == want;
}

}  // namespace

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data,
              size_t* size) {
  void* base = nullptr;
  if (!TypedArg(info, i, napi_uint8_array, &base, size)) {
    ThrowType(info.Env(), name, "a Buffer or Uint8Array");
    return false;
  }
  *data = static_cast<uint8_t*>(base);
  return true;
}

bool ArgWindow(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLength,
               uint8_t** data, size_t* length) {
  // The per-fd read/write path: one typed-array query and one double per integer when the
  // arguments are good; the checked readers above only run to word the error.
  napi_env env = info.Env();
  napi_typedarray_type type;
  size_t size = 0;
  void* base = nullptr;
  double off = -1, len = -1;
  if (info.Length() > i + 2 &&
      napi_get_typedarray_info(env, info[i], &type, &size, &base, nullptr, nullptr) == napi_ok &&
      type == napi_uint8_array && napi_get_value_double(env, info[i + 1], &off) == napi_ok &&
      napi_get_value_double(env, info[i + 2], &len) == napi_ok && off >= 0 &&
      off <= static_cast<double>(size) && off == static_cast<double>(static_cast<size_t>(off)) &&
      len >= static_cast<double>(minLength) && len <= static_cast<double>(size) - off &&
      len == static_cast<double>(static_cast<size_t>(len))) {
    *data = static_cast<uint8_t*>(base) + static_cast<size_t>(off);
    *length = static_cast<size_t>(len);
    return true;
  }
  uint8_t* b;
  int64_t o, l;
  if (!ArgBytes(info, i, name, &b, &size)) return false;
  if (!ArgInt(info, i + 1, "offset", 0, static_cast<int64_t>(size), &o)) return false;
  if (!ArgInt(info, i + 2, "length", static_cast<int64_t>(minLength),
              static_cast<int64_t>(size) - o, &l))
    return false;
  *data = b + o;
  *length = static_cast<size_t>(l);
  return true;
}

bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t** data,
                   size_t* count) {
  void* base = nullptr;
  if (!TypedArg(info, i, napi_int32_array, &base, count)) {
    ThrowType(info.Env(), name, "an Int32Array");
    return false;
  }
  *data = static_cast<int32_t*>(base);
  return true;
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("errno", ErrnoTable(env));
  exports.Set("noop", Napi::Function::New(env, [](const Napi::CallbackInfo&) {}, "noop"));
}

}  // namespace fdr
