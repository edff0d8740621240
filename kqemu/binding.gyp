# TEST BUILD ONLY (npm run build:kqemu → kqemu/build/Release/): the addon with the kqueue
# backend compiled over the epoll emulation in native/kqueue_emul/, so that the kqueue code
# path runs on Linux. Never shipped: the package's binding.gyp and prebuilds do not see it.
# The shipped sources and defines are read from ../binding.gyp (kqemu/sources.js).
{
  "targets": [
    {
      "target_name": "fdreactor_kqemu",
      "sources": [
        "<!@(node sources.js sources)",
        "../native/kqueue_poller.cc",
        "../native/kqueue_emul/kqemu.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["<!@(node sources.js defines)", "FDR_KQUEUE_EMULATION=1", "FDR_HAVE_KQUEUE=1"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "kqemu_raw",
      "sources": [
        "../native/errors.cc",
        "../native/kqueue_emul/kqemu.cc",
        "../native/kqueue_emul/raw_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "FDR_KQUEUE_EMULATION=1"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
