// A deliberate leak, for `npm run test:asan` to prove LeakSanitizer is armed with the
// suppressions in use: a process that calls leak() must end with LeakSanitizer's exit code
// and a report naming fdr_lsan_canary. Built only into asan/build, never shipped.
#include <node_api.h>

namespace {

__attribute__((noinline)) int* fdr_lsan_canary() {
  int* p = new int[16];
  p[0] = 1;
  return p;
}

// The pointer is dropped on purpose: nothing references the block once this returns.
napi_value Leak(napi_env env, napi_callback_info info) {
  volatile int* p = fdr_lsan_canary();
  p = nullptr;
  (void)p;
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "leak", NAPI_AUTO_LENGTH, Leak, nullptr, &fn);
  napi_set_named_property(env, exports, "leak", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
