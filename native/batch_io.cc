// Batched I/O: one N-API call reads or writes many fds (docs/design.md, "Batching is the
// performance lever"). Results go into caller-owned Int32Arrays; nothing is allocated per fd.
#include "batch_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"

namespace fdr {

namespace {

// readBatch(fds, count, slab, offset, maxPerFd, out) -> processed
Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadBatchArgs a;
  if (!ArgReadBatch(info, "fds", 3, &a)) return Napi::Value();
  const int32_t* fds = a.keys;
  int32_t* out = a.out;
  uint8_t* slab = a.slab;
  const size_t slabSize = a.slabSize;
  const int64_t count = a.count;
  size_t pos = a.offset;
  const size_t per = a.maxPerFd;
  int64_t i = 0;
  for (; i < count; i++) {
    if (slabSize - pos < per) break;  // the caller starts a new slab and passes the rest again
    int fd = fds[i];
    int32_t* triple = out + 3 * i;
    triple[0] = fd;
    triple[1] = static_cast<int32_t>(pos);
    if (fd < 0) {
      triple[2] = -EBADF;
      continue;
    }
    ssize_t n = RetryOnEintr([&] { return read(fd, slab + pos, per); });
    triple[2] = ResultWord(n);
    if (n > 0) pos += static_cast<size_t>(n);
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

// writevBatch(fds, count, counts, bufs, out[, notSocket]): notSocket[i] != 0 says fds[i] is
// no socket (a pipe, a terminal, a file), written with one writev instead of a sendmsg that
// would fail with ENOTSOCK first. The caller knows this per registration (lib/net), so a
// reused fd number never inherits it.
Napi::Value WritevBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WriteBatchArgs a;
  if (!ArgWriteBatch(info, "fds", 1, &a)) return Napi::Value();
  const uint8_t* notSocket = nullptr;
  if (!ArgNotSocket(info, 5, a.count, &notSocket)) return Napi::Value();
  const int32_t* fds = a.keys;
  const int32_t* counts = a.counts;
  int32_t* out = a.out;
  const int64_t count = a.count;
  const iovec* iovs = a.iov;
  size_t k = 0;
  for (int64_t i = 0; i < count; i++) {
    int fd = fds[i];
    int n = counts[i];
    const iovec* iov = iovs + k;
    k += static_cast<size_t>(n);
    if (fd < 0) {
      out[i] = -EBADF;
      continue;
    }
    if (n == 0) {
      out[i] = 0;
      continue;
    }
    const int m = n < kIovMax ? n : kIovMax;
    if (notSocket != nullptr && notSocket[i] != 0)
      out[i] = ResultWord(RetryOnEintr([&] { return writev(fd, iov, m); }));
    else
      out[i] = ResultWord(WritevNoSignal(fd, iov, m));
  }
  return env.Undefined();
}

}  // namespace

bool ArgReadBatch(const Napi::CallbackInfo& info, const char* keysName, size_t outStride, ReadBatchArgs* a) {
  Napi::Env env = info.Env();
  size_t nkeys, outLen;
  int64_t offset, maxPerFd;
  if (!ArgInt32Array(info, 0, keysName, &a->keys, &nkeys)) return false;
  if (!ArgInt(info, 1, "count", 0, static_cast<int64_t>(nkeys), &a->count)) return false;
  if (!ArgBytes(info, 2, "slab", &a->slab, &a->slabSize)) return false;
  if (!ArgInt(info, 3, "offset", 0, static_cast<int64_t>(a->slabSize), &offset)) return false;
  if (!ArgInt(info, 4, "maxPerFd", 1, 0x7fffffff, &maxPerFd)) return false;
  if (!ArgInt32Array(info, 5, "out", &a->out, &outLen)) return false;
  if (outLen / outStride < static_cast<size_t>(a->count)) {
    std::string why = "must hold " + std::to_string(outStride) + " * count words";
    ThrowRange(env, "out", why.c_str());
    return false;
  }
  a->offset = static_cast<size_t>(offset);
  a->maxPerFd = static_cast<size_t>(maxPerFd);
  return true;
}

bool ArgNotSocket(const Napi::CallbackInfo& info, size_t index, int64_t count, const uint8_t** notSocket) {
  *notSocket = nullptr;
  if (info.Length() <= index || info[index].IsUndefined()) return true;
  uint8_t* bytes;
  size_t len;
  if (!ArgBytes(info, index, "notSocket", &bytes, &len)) return false;
  if (len < static_cast<size_t>(count)) {
    ThrowRange(info.Env(), "notSocket", "must hold count entries");
    return false;
  }
  *notSocket = bytes;
  return true;
}

bool ArgWriteBatch(const Napi::CallbackInfo& info, const char* keysName, size_t outStride, WriteBatchArgs* a) {
  Napi::Env env = info.Env();
  // Element handles first: no JavaScript may run once we hold typed-array pointers.
  static thread_local std::vector<napi_value> vals;
  if (!FetchBufs(env, info[3], "bufs", UINT32_MAX, &vals)) return false;
  size_t nkeys, ncounts, nout;
  if (!ArgInt32Array(info, 0, keysName, &a->keys, &nkeys)) return false;
  if (!ArgInt(info, 1, "count", 0, static_cast<int64_t>(nkeys), &a->count)) return false;
  const size_t count = static_cast<size_t>(a->count);
  if (!ArgInt32Array(info, 2, "counts", &a->counts, &ncounts)) return false;
  if (ncounts < count) {
    ThrowRange(env, "counts", "must hold count entries");
    return false;
  }
  if (!ArgInt32Array(info, 4, "out", &a->out, &nout)) return false;
  if (nout / outStride < count) {
    ThrowRange(env, "out", outStride == 1 ? "must hold count entries" : "must hold 2 * count words");
    return false;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (a->counts[i] < 0) {
      ThrowRange(env, "counts", "entries must be >= 0");
      return false;
    }
    total += static_cast<uint64_t>(a->counts[i]);
  }
  if (total > vals.size()) {
    ThrowRange(env, "counts", "entries add up to more buffers than bufs holds");
    return false;
  }
  // Every buffer is checked before the first write, so a bad element never leaves some
  // connections written and others not. The arrays live on per thread and only ever grow.
  static thread_local std::vector<iovec> iovs;
  if (iovs.size() < total) iovs.resize(total);
  if (!BufsToIovecs(env, vals.data(), static_cast<uint32_t>(total), "bufs", iovs.data())) return false;
  a->iov = iovs.data();
  return true;
}

bool FetchBufs(Napi::Env env, Napi::Value bufs, const char* name, uint32_t limit,
               std::vector<napi_value>* out) {
  if (bufs.IsEmpty() || !bufs.IsArray()) {
    ThrowType(env, name, "an Array of Uint8Array");
    return false;
  }
  Napi::Array arr = bufs.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > limit) n = limit;
  out->resize(n);
  for (uint32_t j = 0; j < n; j++) {
    napi_value v;
    if (napi_get_element(env, arr, j, &v) != napi_ok) return false;  // a getter threw
    (*out)[j] = v;
  }
  return true;
}

bool BufsToIovecs(Napi::Env env, const napi_value* vals, uint32_t n, const char* name, iovec* iov) {
  for (uint32_t j = 0; j < n; j++) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    // napi_get_typedarray_info fails on anything but a typed array: one query per buffer.
    if (napi_get_typedarray_info(env, vals[j], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      std::string what = std::string(name) + "[" + std::to_string(j) + "]";
      ThrowType(env, what.c_str(), "a Buffer or Uint8Array");
      return false;
    }
    iov[j].iov_base = data;
    iov[j].iov_len = length;
  }
  return true;
}

bool ArgIovecs(const Napi::CallbackInfo& info, size_t i, iovec* iov, int* n) {
  static thread_local std::vector<napi_value> vals;
  if (!FetchBufs(info.Env(), info[i], "bufs", kIovMax, &vals)) return false;
  if (!BufsToIovecs(info.Env(), vals.data(), static_cast<uint32_t>(vals.size()), "bufs", iov))
    return false;
  *n = static_cast<int>(vals.size());
  return true;
}

ssize_t WriteNoSignal(int fd, const void* data, size_t len) {
  ssize_t n = RetryOnEintr([&] { return send(fd, data, len, kNoSignal); });
  if (n < 0 && errno == ENOTSOCK) n = RetryOnEintr([&] { return write(fd, data, len); });
  return n;
}

ssize_t WritevNoSignal(int fd, const iovec* iov, int n, int flags) {
  msghdr msg = {};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = n;
  ssize_t r = RetryOnEintr([&] { return sendmsg(fd, &msg, kNoSignal | flags); });
  if (r < 0 && errno == ENOTSOCK) r = RetryOnEintr([&] { return writev(fd, iov, n); });
  return r;
}

void InitBatchIo(Napi::Env env, Napi::Object exports) {
  exports.Set("readBatch", Napi::Function::New(env, ReadBatch, "readBatch"));
  exports.Set("writevBatch", Napi::Function::New(env, WritevBatch, "writevBatch"));
}

}  // namespace fdr
