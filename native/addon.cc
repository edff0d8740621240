// Module entry: each binding file contributes its exports.
#include <napi.h>

namespace fdr {
void InitErrors(Napi::Env env, Napi::Object exports);
void InitPoller(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitFdIo(Napi::Env env, Napi::Object exports);
void InitSockopt(Napi::Env env, Napi::Object exports);
void InitWakers(Napi::Env env, Napi::Object exports);
void InitLimits(Napi::Env env, Napi::Object exports);
void InitBatchIo(Napi::Env env, Napi::Object exports);
void InitDatagramBatch(Napi::Env env, Napi::Object exports);
void InitUvWatch(Napi::Env env, Napi::Object exports);
void InitTls(Napi::Env env, Napi::Object exports);
void InitSendFile(Napi::Env env, Napi::Object exports);
void InitFdPassing(Napi::Env env, Napi::Object exports);
void InitFdControl(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
}  // namespace fdr

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fdr::InitErrors(env, exports);
  fdr::InitPoller(env, exports);
  fdr::InitSockets(env, exports);
  fdr::InitFdIo(env, exports);
  fdr::InitSockopt(env, exports);
  fdr::InitWakers(env, exports);
  fdr::InitLimits(env, exports);
  fdr::InitBatchIo(env, exports);
  fdr::InitDatagramBatch(env, exports);
  fdr::InitUvWatch(env, exports);
  fdr::InitTls(env, exports);
  fdr::InitSendFile(env, exports);
  fdr::InitFdPassing(env, exports);
  fdr::InitFdControl(env, exports);
  fdr::InitProcess(env, exports);
  return exports;
}

NODE_API_MODULE(fdreactor, Init)
