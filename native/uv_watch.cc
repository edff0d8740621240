// FdWatcher: one uv_poll_t watching an fd for readability from Node's own loop. The
// reactor's integrated mode watches its epoll/kqueue fd with it, the one that
// Poller.enterIntegratedMode() returned (that call, not this watcher, readies the poller).
//
// libuv aborts the process if a watched fd is closed before the loop registers it, so
// start() checks the fd is open; callers must stop() or close() the watcher before
// closing its fd.
#include <fcntl.h>
#include <napi.h>
#include <uv.h>

#include <cerrno>

#include "checked_method.h"
#include "errors.h"

namespace fdr {
namespace {

class FdWatcherWrap : public Napi::ObjectWrap<FdWatcherWrap> {
 public:
  // Tags FdWatcher objects: see checked_method.h.
  static const napi_type_tag kTypeTag;
  static constexpr const char* kWhat = "an FdWatcher";

  static Napi::Function Define(Napi::Env env) {
    using W = FdWatcherWrap;
    return DefineClass(env, "FdWatcher",
                       {CheckedMethod<W, &W::Start>("start"), CheckedMethod<W, &W::Stop>("stop"),
                        CheckedMethod<W, &W::JsRef>("ref"), CheckedMethod<W, &W::JsUnref>("unref"),
                        CheckedMethod<W, &W::Close>("close")});
  }

  explicit FdWatcherWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<FdWatcherWrap>(info) {
    Napi::Env env = info.Env();
    if (!ArgFd(info, 0, "fd", &fd_)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowType(env, "onReadable", "a function");
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "FdWatcher: no libuv loop in this environment").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    int r = uv_poll_init(loop, handle_, fd_);
    if (r < 0) {
      delete handle_;  // never initialised: no uv_close needed
      handle_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
      return;
    }
    handle_->data = this;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (napi_async_init(env, nullptr, Napi::String::New(env, "FdWatcher"), &context_) != napi_ok)
      context_ = nullptr;
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    napi_type_tag_object(env, info.This(), &kTypeTag);
  }

  ~FdWatcherWrap() override { Release(true); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!handle_) {
      Napi::Error e = Napi::Error::New(env, "FdWatcher is closed");
      e.Set("code", Napi::String::New(env, "ERR_WATCHER_CLOSED"));
      e.ThrowAsJavaScriptException();
      return Napi::Value();
    }
    // A closed fd handed to libuv's epoll makes it abort(); refuse it here instead.
    if (fcntl(fd_, F_GETFD) < 0) {
      ThrowErrno(env, errno, "fcntl");
      return Napi::Value();
    }
    int r = uv_poll_start(handle_, UV_READABLE, OnPoll);
    if (r < 0) {
      ThrowErrno(env, -r, "uv_poll_start");
      return Napi::Value();
    }
    Pin(true);
    return Napi::Value();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_) {
      uv_poll_stop(handle_);
      Pin(false);
    }
    return Napi::Value();
  }

  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    if (handle_) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
    return Napi::Value();
  }

  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    return Napi::Value();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(false);
    return Napi::Value();
  }

  // A started watcher keeps its JS object alive (as Node's own handles do), so that a
  // watcher nobody references still fires instead of vanishing at the next GC.
  void Pin(bool on) {
    if (on == pinned_) return;
    pinned_ = on;
    if (on)
      Ref();
    else
      Unref();
  }

  // Stops and closes the handle; its memory is freed by libuv's close callback.
  // `finalizing`: called from the destructor or env cleanup, where JS must not be touched.
  void Release(bool finalizing) {
    if (handle_) {
      CloseHandle();
      napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
    }
    if (context_) {
      napi_async_destroy(Env(), context_);
      context_ = nullptr;
    }
    if (!finalizing) {
      Pin(false);
      callback_.Reset();
    }
  }

  // Stops and closes the handle, if any, without touching JS; libuv's close callback
  // frees its memory.
  void CloseHandle() {
    if (!handle_) return;
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  // The hook is consumed when it runs: handle_ is then null, so Release() does not remove it.
  static void CleanupHook(void* arg) { static_cast<FdWatcherWrap*>(arg)->CloseHandle(); }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    FdWatcherWrap* self = static_cast<FdWatcherWrap*>(h->data);
    if (!self || self->callback_.IsEmpty()) return;
    napi_env env = self->Env();
    Napi::HandleScope scope(self->Env());
    napi_value argv[1];
    size_t argc = 0;
    if (status < 0) {
      // The fd cannot be polled any more (libuv keeps failing): stop, and hand the error to
      // the callback so its owner finds out.
      uv_poll_stop(h);
      self->Pin(false);
      ThrowErrno(self->Env(), -status, "uv_poll");
      napi_get_and_clear_last_exception(env, &argv[0]);
      argc = 1;
    }
    napi_value recv = self->Value();
    napi_value fn = self->callback_.Value();
    napi_value result;
    // MakeCallback (not a bare call): runs async hooks and the microtask queue afterwards,
    // as for any callback Node itself makes from its loop.
    // The status tells of a throw (napi_pending_exception): no extra query per wake-up.
    if (napi_make_callback(env, self->context_, recv, fn, argc, argv, &result) == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);  // 'uncaughtException', like any Node callback
    }
  }

  int fd_ = -1;
  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
  napi_async_context context_ = nullptr;
  bool pinned_ = false;
};

const napi_type_tag FdWatcherWrap::kTypeTag = {0x6664726561637472ULL, 0x5761746368657231ULL};

}  // namespace

void InitUvWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcherWrap::Define(env));
}

}  // namespace fdr
