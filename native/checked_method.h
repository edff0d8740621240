// Methods and getters for ObjectWrap classes that check `this` by type tag before
// unwrapping it. node-addon-api's own InstanceMethod casts whatever napi_unwrap returns,
// so `Poller.prototype.wait.call(someFdWatcher)` would run a Poller method on an
// FdWatcher's memory; with these it throws a TypeError instead.
//
// A class using them declares `static const napi_type_tag kTypeTag;` and
// `static constexpr const char* kWhat = "a Poller";`, and tags every instance in its
// constructor with napi_type_tag_object.
#pragma once

#include <napi.h>

#include <string>

namespace fdr {

template <typename T>
T* UnwrapTagged(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_value self = info.This();
  bool tagged = false;
  void* p = nullptr;
  // Two N-API calls per method call. napi_unwrap goes first: it fails cleanly (no pending
  // exception) on a primitive or an object nobody wrapped, so the tag is only checked on an
  // object (napi_check_object_type_tag would convert a primitive, and throw for undefined).
  if (self == nullptr || napi_unwrap(env, self, &p) != napi_ok || p == nullptr ||
      napi_check_object_type_tag(env, self, &T::kTypeTag, &tagged) != napi_ok || !tagged) {
    Napi::TypeError::New(info.Env(), std::string("Illegal invocation: `this` is not ") + T::kWhat)
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  // ObjectWrap<T> wraps its own `this`: downcast from that base, as node-addon-api does.
  return static_cast<T*>(static_cast<Napi::ObjectWrap<T>*>(p));
}

template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
napi_value CheckedCall(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  T* self = UnwrapTagged<T>(info);
  if (self == nullptr) return nullptr;
  return (self->*M)(info);
}

// A prototype method (writable, configurable, not enumerable: as a JS class method).
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
Napi::ClassPropertyDescriptor<T> CheckedMethod(const char* name) {
  napi_property_descriptor d = {name, nullptr, CheckedCall<T, M>, nullptr, nullptr,
                                nullptr, napi_default_method, nullptr};
  return Napi::ClassPropertyDescriptor<T>(d);
}

// A read-only prototype getter.
template <typename T, Napi::Value (T::*G)(const Napi::CallbackInfo&)>
Napi::ClassPropertyDescriptor<T> CheckedGetter(const char* name) {
  napi_property_descriptor d = {name, nullptr, nullptr, CheckedCall<T, G>, nullptr,
                                nullptr, napi_configurable, nullptr};
  return Napi::ClassPropertyDescriptor<T>(d);
}

}  // namespace fdr
