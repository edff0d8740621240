// The JS class `Poller` (lib/native.ts): a thin ObjectWrap over one fdr::Poller. wait()
// writes into the caller's Uint32Array; the array is re-read on every wait (two N-API
// calls) because JS can detach or shrink its buffer between calls.
#include <napi.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "batch_io.h"
#include "checked_method.h"
#include "errors.h"
#include "poller.h"
#include "sockaddr.h"

namespace fdr {
namespace {

// More events per wait gain nothing and would size the kernel buffer from a JS value.
constexpr uint32_t kMaxCapacity = 1u << 16;

std::string AvailableBackends() {
  std::string s;
  for (const char* const* n = BackendNames(); *n; n++) s += (s.empty() ? "" : ", ") + std::string(*n);
  return s;
}

std::string OptionNames(uint32_t opts) {
  std::string s;
  if (opts & kEdge) s += "EDGE";
  if (opts & kOneshot) s += s.empty() ? "ONESHOT" : ", ONESHOT";
  if (opts & kAccept) s += s.empty() ? "ACCEPT" : ", ACCEPT";
  if (opts & kRecv) s += s.empty() ? "RECV" : ", RECV";
  return s.empty() ? "none" : s;
}

class PollerWrap : public Napi::ObjectWrap<PollerWrap> {
 public:
  // Tags Poller objects: see checked_method.h.
  static const napi_type_tag kTypeTag;
  static constexpr const char* kWhat = "a Poller";

  static Napi::Function Define(Napi::Env env) {
    using W = PollerWrap;
    return DefineClass(env, "Poller",
                       {CheckedGetter<W, &W::Backend>("backend"),
                        CheckedGetter<W, &W::SupportedOptions>("supportedOptions"),
                        CheckedGetter<W, &W::CompletesIo>("completesIo"),
                        CheckedMethod<W, &W::Add>("add"),
                        CheckedMethod<W, &W::Modify>("modify"),
                        CheckedMethod<W, &W::Remove>("remove"),
                        CheckedMethod<W, &W::Wait>("wait"),
                        CheckedMethod<W, &W::Flush>("flush"),
                        CheckedMethod<W, &W::ReadBatch>("readBatch"),
                        CheckedMethod<W, &W::WritevBatch>("writevBatch"),
                        CheckedMethod<W, &W::QueueWrites>("queueWrites"),
                        CheckedMethod<W, &W::FinishWrites>("finishWrites"),
                        CheckedMethod<W, &W::Accept>("accept"),
                        CheckedGetter<W, &W::EnterCount>("enterCount"),
                        CheckedMethod<W, &W::Fd>("fd"),
                        CheckedMethod<W, &W::EnterIntegratedMode>("enterIntegratedMode"),
                        CheckedMethod<W, &W::EnableRecv>("enableRecv"),
                        CheckedMethod<W, &W::EnableFixedFiles>("enableFixedFiles"),
                        CheckedGetter<W, &W::FixedFiles>("fixedFiles"),
                        CheckedMethod<W, &W::AddRecvSlab>("addRecvSlab"),
                        CheckedMethod<W, &W::Close>("close")});
  }

  explicit PollerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PollerWrap>(info) {
    Napi::Env env = info.Env();
    std::string backend;
    if (!ArgString(info, 0, "backend", &backend)) return;
    if (info.Length() < 2 || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      ThrowType(env, "events", "a Uint32Array");
      return;
    }
    Napi::Uint32Array events = info[1].As<Napi::Uint32Array>();
    size_t capacity = events.ElementLength() / kEventStride;
    if (capacity == 0) {
      ThrowRange(env, "events", "must hold at least one event (EVENT_STRIDE = 3 words)");
      return;
    }
    Status status;
    poller_ = MakePoller(backend, &status);
    if (!poller_) {
      const char* missing = MissingBackendReason(backend);
      if (status.err) {
        ThrowErrnoDetail(env, status.err, status.syscall, status.detail);
      } else if (*missing) {
        ThrowCoded(env, false, std::string("Poller backend \"") + backend + "\": " + missing,
                   "ERR_BACKEND_NOT_BUILT");
      } else {
        ThrowCoded(env, false,
                   "Unknown poller backend \"" + backend + "\": this build has " + AvailableBackends(),
                   "ERR_UNKNOWN_BACKEND");
      }
      return;
    }
    backend_ = poller_->name();
    options_ = poller_->supportedOptions();
    waitSyscall_ = backend_ == "epoll"      ? "epoll_wait"
                   : backend_ == "kqueue"   ? "kevent"
                   : backend_ == "io_uring" ? "io_uring_enter"
                                            : backend_;
    capacity_ = capacity < kMaxCapacity ? static_cast<uint32_t>(capacity) : kMaxCapacity;
    events_ = Napi::Reference<Napi::Uint32Array>::New(events, 1);
    napi_type_tag_object(env, info.This(), &kTypeTag);
  }

  ~PollerWrap() override {
    if (poller_) poller_->close();
  }

 private:
  // False (with a JS exception pending) when the poller is closed.
  bool Usable(const Napi::CallbackInfo& info) {
    if (closed_) {
      ThrowCoded(info.Env(), false, "Poller (" + backend_ + ") is closed", "ERR_POLLER_CLOSED");
      return false;
    }
    return true;
  }

  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), backend_);
  }

  Napi::Value SupportedOptions(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), options_);
  }

  Napi::Value CompletesIo(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), !closed_ && poller_->completesIo());
  }

  // False (with a JS exception pending) unless the poller does batched I/O itself.
  bool BatchUsable(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return false;
    if (poller_->completesIo()) return true;
    ThrowCoded(info.Env(), false,
               "The " + backend_ + " backend does no batched I/O of its own; use readBatch/writevBatch of the addon",
               "ERR_UNSUPPORTED_OPERATION");
    return false;
  }

  // readBatch(fds, count, slab, offset, maxPerFd, out) -> processed, as the addon's readBatch.
  Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
    ReadBatchArgs a;
    if (!BatchUsable(info) || !ArgReadBatch(info, "fds", 3, &a)) return Napi::Value();
    int64_t r = poller_->readBatch(a);
    if (r < 0) {
      ThrowErrno(info.Env(), static_cast<int>(-r), waitSyscall_.c_str());
      return Napi::Value();
    }
    return Napi::Number::New(info.Env(), static_cast<double>(r));
  }

  // writevBatch(fds, count, counts, bufs, out[, notSocket]), as the addon's writevBatch.
  Napi::Value WritevBatch(const Napi::CallbackInfo& info) {
    WriteBatchArgs a;
    const uint8_t* notSocket;
    if (!BatchUsable(info) || !ArgWriteBatch(info, "fds", 1, &a) || !ArgNotSocket(info, 5, a.count, &notSocket))
      return Napi::Value();
    int64_t r = poller_->writevBatch(a, notSocket);
    if (r < 0) ThrowErrno(info.Env(), static_cast<int>(-r), waitSyscall_.c_str());
    return Napi::Value();
  }

  // queueWrites(fds, count, counts, bufs, out[, notSocket]): writevBatch's arguments (out
  // is checked, and written later by finishWrites); the sends wait for the next enter.
  Napi::Value QueueWrites(const Napi::CallbackInfo& info) {
    WriteBatchArgs a;
    const uint8_t* notSocket;
    if (!BatchUsable(info) || !ArgWriteBatch(info, "fds", 1, &a) || !ArgNotSocket(info, 5, a.count, &notSocket))
      return Napi::Value();
    int64_t r = poller_->queueWrites(a, notSocket);
    if (r == -EBUSY) {
      ThrowCoded(info.Env(), false, "queueWrites: the previous deferred batch is not finished; call finishWrites first",
                 "ERR_BATCH_PENDING");
    } else if (r < 0) {
      ThrowErrno(info.Env(), static_cast<int>(-r), waitSyscall_.c_str());
    }
    return Napi::Value();
  }

  // finishWrites(out, mayEnter) -> results written (0: no batch), or -1 when !mayEnter and
  // a send is still to complete.
  Napi::Value FinishWrites(const Napi::CallbackInfo& info) {
    int32_t* out;
    size_t nout;
    if (!BatchUsable(info) || !ArgInt32Array(info, 0, "out", &out, &nout)) return Napi::Value();
    bool mayEnter = info.Length() > 1 && info[1].ToBoolean().Value();
    int64_t r = poller_->finishWrites(out, nout, mayEnter);
    if (r == -EINVAL) {
      ThrowRange(info.Env(), "out", "must hold one word per writer of the queued batch");
      return Napi::Value();
    }
    if (r < -1) {
      ThrowErrno(info.Env(), static_cast<int>(-r), waitSyscall_.c_str());
      return Napi::Value();
    }
    return Napi::Number::New(info.Env(), static_cast<double>(r));
  }

  // accept(fd, max) -> [{fd, address}]: the connections a kAccept registration accepted, as
  // the addon's accept returns them, the peer's address read with getpeername (the
  // completion carries none). One reset before this (ENOTCONN) is closed and skipped, as
  // accept skips ECONNABORTED. Throws the errno that ended the request (EMFILE...) only
  // when no connection waits, and ENOENT for an fd not registered with ACCEPT.
  Napi::Value Accept(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd;
    int64_t max;
    if (!Usable(info) || !ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "max", 1, 0x7fffffff, &max))
      return Napi::Value();
    const size_t cap = static_cast<size_t>(std::min<int64_t>(max, 4096));
    if (accepted_.size() < cap) accepted_.resize(cap);
    int64_t n = poller_->takeAccepted(fd, accepted_.data(), cap);
    if (n < 0) {
      ThrowErrno(env, static_cast<int>(-n), "accept");
      return Napi::Value();
    }
    Napi::Array result = Napi::Array::New(env);
    uint32_t k = 0;
    for (int64_t i = 0; i < n; i++) {
      int c = accepted_[static_cast<size_t>(i)];
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (getpeername(c, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
        close(c);
        continue;
      }
      Napi::Object item = Napi::Object::New(env);
      item.Set("fd", Napi::Number::New(env, c));
      item.Set("address", FormatSockAddr(env, ss, len));
      result.Set(k++, item);
    }
    return result;
  }

  Napi::Value EnterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), closed_ ? 0.0 : static_cast<double>(poller_->enterCount()));
  }

  // Reads (fd, slot, generation, interest) and refuses unsupported options.
  bool Registration(const Napi::CallbackInfo& info, int* fd, Token* token, uint32_t* interest) {
    int64_t slot, generation, bits;
    if (!ArgFd(info, 0, "fd", fd) || !ArgInt(info, 1, "slot", 0, 0xffffffffLL, &slot) ||
        !ArgInt(info, 2, "generation", 0, 0xffffffffLL, &generation) ||
        !ArgInt(info, 3, "interest", 0, 0xffffffffLL, &bits))
      return false;
    uint32_t b = static_cast<uint32_t>(bits);
    if (b & ~(kInterestMask | kOptionMask)) {
      ThrowRange(info.Env(), "interest",
                 "only READABLE, WRITABLE, EDGE, ONESHOT, ACCEPT and RECV may be set (ERROR and HANGUP "
                 "are always reported)");
      return false;
    }
    if (b & kOptionMask & ~options_) {
      ThrowCoded(info.Env(), false,
                 "The " + backend_ + " backend does not support " + OptionNames(b & kOptionMask & ~options_) +
                     " (supported options: " + OptionNames(options_) + ")",
                 "ERR_UNSUPPORTED_OPTION");
      return false;
    }
    token->slot = static_cast<uint32_t>(slot);
    token->generation = static_cast<uint32_t>(generation);
    *interest = b;
    return true;
  }

  void Throw(Napi::Env env, const Status& s) {
    if (!s.message.empty())
      ThrowCoded(env, true, s.message, "ERR_OUT_OF_RANGE");
    else
      ThrowErrnoDetail(env, s.err, s.syscall, s.detail);
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    int fd;
    Token token;
    uint32_t interest;
    if (!Usable(info) || !Registration(info, &fd, &token, &interest)) return Napi::Value();
    Status s = poller_->add(fd, token, interest);
    if (!s.ok()) Throw(info.Env(), s);
    return Napi::Value();
  }

  Napi::Value Modify(const Napi::CallbackInfo& info) {
    int fd;
    Token token;
    uint32_t interest;
    if (!Usable(info) || !Registration(info, &fd, &token, &interest)) return Napi::Value();
    Status s = poller_->modify(fd, token, interest);
    if (!s.ok()) Throw(info.Env(), s);
    return Napi::Value();
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    int fd;
    if (!Usable(info) || !ArgFd(info, 0, "fd", &fd)) return Napi::Value();
    Status s = poller_->remove(fd);
    if (!s.ok()) Throw(info.Env(), s);
    return Napi::Value();
  }

  Napi::Value Wait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(info)) return Napi::Value();
    // One N-API query: napi_get_value_double fails on anything but a number.
    double t = 0;
    if (info.Length() < 1 || napi_get_value_double(env, info[0], &t) != napi_ok) {
      ThrowType(env, "timeoutMs", "a number");
      return Napi::Value();
    }
    // -1 waits forever; a fractional delay is rounded up so that a timer is never early.
    if (std::isnan(t) || t < -1 || t > 2147483647.0 || (t < 0 && t != -1)) {
      ThrowRange(env, "timeoutMs", "must be -1 (forever) or between 0 and 2147483647");
      return Napi::Value();
    }
    int timeout = static_cast<int>(std::ceil(t));
    Napi::Uint32Array events = events_.Value();
    size_t words = events.ElementLength();
    uint32_t* data = events.Data();
    uint32_t capacity = capacity_;
    if (words / kEventStride < capacity) capacity = static_cast<uint32_t>(words / kEventStride);
    if (capacity == 0 || data == nullptr) {
      ThrowCoded(env, false, "The events array was detached or shrunk below one event",
                 "ERR_EVENTS_DETACHED");
      return Napi::Value();
    }
    if (!RecvOut(env)) return Napi::Value();
    int n = poller_->wait(timeout, data, static_cast<int>(capacity));
    if (recvEnabled_) ForgetReleasedSlabs();
    if (n < 0) {
      ThrowErrno(env, -n, waitSyscall_.c_str());
      return Napi::Value();
    }
    return Napi::Number::New(env, n);
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return Napi::Value();
    int r = poller_->flush();
    if (r < 0) {
      ThrowErrno(info.Env(), -r, waitSyscall_.c_str());
      return Napi::Value();
    }
    return Napi::Boolean::New(info.Env(), poller_->hasPending());
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return Napi::Value();
    return Napi::Number::New(info.Env(), poller_->fd());
  }

  Napi::Value EnterIntegratedMode(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return Napi::Value();
    return Napi::Number::New(info.Env(), poller_->enterIntegratedMode());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Value();
    closed_ = true;
    poller_->close();
    events_.Reset();
    records_.Reset();
    slabs_.clear();  // the ring is gone: the kernel writes into none of them any more
    return Napi::Value();
  }

  // ---- Registered files (poller.h, enableFixedFiles).

  // enableFixedFiles() -> null, or why the kernel refused the file table (fds are then
  // named by number, as before).
  Napi::Value EnableFixedFiles(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(info)) return Napi::Value();
    std::string why;
    int err = poller_->enableFixedFiles(&why);
    if (err == ENOTSUP) return Napi::String::New(env, "the " + backend_ + " backend has no registered files");
    if (err) return Napi::String::New(env, why + " (" + strerror(err) + ")");
    return env.Null();
  }

  Napi::Value FixedFiles(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), !closed_ && poller_->fixedFiles());
  }

  // ---- Completion-based receive (poller.h, enableRecv).

  // enableRecv(records, entries, regionSize) -> null, or why the ring could not be set up
  // (the caller then reads through readiness). `records` receives each wait's records.
  Napi::Value EnableRecv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t* out;
    size_t words;
    int64_t entries, regionSize;
    if (!Usable(info) || !ArgInt32Array(info, 0, "records", &out, &words) ||
        !ArgInt(info, 1, "entries", 1, 32768, &entries) || !ArgInt(info, 2, "regionSize", 1, 0xffffffffLL, &regionSize))
      return Napi::Value();
    if (words < static_cast<size_t>(kRecvHeader + kRecvStride)) {
      ThrowRange(env, "records", "must hold the header and at least one record (2 + 5 words)");
      return Napi::Value();
    }
    std::string why;
    int err = poller_->enableRecv(static_cast<unsigned>(entries), static_cast<size_t>(regionSize), &why);
    if (err == ENOTSUP) return Napi::String::New(env, "the " + backend_ + " backend does not receive by completion");
    if (err) return Napi::String::New(env, why + " (" + strerror(err) + ")");
    recvEnabled_ = true;
    options_ = poller_->supportedOptions();
    records_ = Napi::Reference<Napi::Int32Array>::New(info[0].As<Napi::Int32Array>(), 1);
    return env.Null();
  }

  // addRecvSlab(slab) -> the slab's id in records, or -1 when the ring has no room. The
  // slab is referenced until the kernel and every record are done with it.
  Napi::Value AddRecvSlab(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(info)) return Napi::Value();
    if (!recvEnabled_) {
      ThrowCoded(env, false, "addRecvSlab: enableRecv has not succeeded on this poller", "ERR_UNSUPPORTED_OPERATION");
      return Napi::Value();
    }
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowType(env, "slab", "a Uint8Array (a Buffer)");
      return Napi::Value();
    }
    Napi::Uint8Array slab = info[0].As<Napi::Uint8Array>();
    int64_t id = poller_->addRecvSlab(slab.Data(), slab.ByteLength());
    if (id >= 0) {
      if (static_cast<size_t>(id) >= slabs_.size()) slabs_.resize(static_cast<size_t>(id) + 1);
      slabs_[id] = Napi::Reference<Napi::Uint8Array>::New(slab, 1);
    }
    return Napi::Number::New(env, static_cast<double>(id));
  }

  // Hands the poller the records array for this wait (re-read: JS may detach it).
  bool RecvOut(Napi::Env env) {
    if (!recvEnabled_) return true;
    Napi::Int32Array records = records_.Value();
    size_t words = records.ElementLength();
    if (records.Data() == nullptr || words < static_cast<size_t>(kRecvHeader + kRecvStride)) {
      ThrowCoded(env, false, "The receive records array was detached or shrunk", "ERR_EVENTS_DETACHED");
      return false;
    }
    poller_->setRecvOut(records.Data(), (words - kRecvHeader) / kRecvStride);
    return true;
  }

  void ForgetReleasedSlabs() {
    int32_t ids[64];
    size_t n;
    while ((n = poller_->takeReleasedSlabs(ids, 64)) > 0) {
      for (size_t i = 0; i < n; i++) slabs_[ids[i]].Reset();
    }
  }

  std::unique_ptr<Poller> poller_;
  std::vector<int32_t> accepted_;  // Accept's buffer, reused
  Napi::Reference<Napi::Uint32Array> events_;
  Napi::Reference<Napi::Int32Array> records_;
  std::vector<Napi::Reference<Napi::Uint8Array>> slabs_;  // by slab id, while the poller may use them
  bool recvEnabled_ = false;
  std::string backend_;
  std::string waitSyscall_;
  uint32_t options_ = 0;
  uint32_t capacity_ = 0;
  bool closed_ = false;
};

const napi_type_tag PollerWrap::kTypeTag = {0x6664726561637472ULL, 0x506f6c6c65723031ULL};

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports) {
  exports.Set("Poller", PollerWrap::Define(env));
  exports.Set("backends", Napi::Function::New(
                              env,
                              [](const Napi::CallbackInfo& info) -> Napi::Value {
                                Napi::Array a = Napi::Array::New(info.Env());
                                uint32_t i = 0;
                                for (const char* const* n = BackendNames(); *n; n++)
                                  a.Set(i++, Napi::String::New(info.Env(), *n));
                                return a;
                              },
                              "backends"));
  exports.Set("FD_SETSIZE", Napi::Number::New(env, FD_SETSIZE));
}

}  // namespace fdr
