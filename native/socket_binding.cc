// STUB: replaced by its owner. Keeps the addon buildable meanwhile.
#include <napi.h>
namespace fdr {
void InitSockets(Napi::Env env, Napi::Object exports) {}
}  // namespace fdr
