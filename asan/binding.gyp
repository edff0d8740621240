# SANITIZER TEST BUILD ONLY (npm run test:asan builds it into asan/build/Release/ when
# missing or older than native/): the SAME sources and defines as ../binding.gyp's Linux
# build (read through ../kqemu/sources.js, so the three builds cannot drift apart), plus the
# kqueue-emulation addon for the platform suite and a deliberate leak (canary.cc) that
# proves LeakSanitizer reports ours, all compiled with AddressSanitizer and
# UndefinedBehaviorSanitizer. -O1 and frame pointers keep the reports' stacks readable;
# -fno-sanitize-recover makes any undefined behaviour abort the test process instead of
# printing a line nobody reads. Never shipped.
{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "cflags_cc": [
      "-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter",
      "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"
    ],
    "ldflags": ["-fsanitize=address,undefined"]
  },
  "targets": [
    {
      "target_name": "fdreactor",
      "sources": ["<!@(node ../kqemu/sources.js sources)"],
      "defines": ["<!@(node ../kqemu/sources.js defines)"]
    },
    {
      "target_name": "fdreactor_kqemu",
      "sources": [
        "<!@(node ../kqemu/sources.js sources)",
        "../native/kqueue_poller.cc",
        "../native/kqueue_emul/kqemu.cc"
      ],
      "defines": ["<!@(node ../kqemu/sources.js defines)", "FDR_KQUEUE_EMULATION=1", "FDR_HAVE_KQUEUE=1"]
    },
    {
      "target_name": "lsan_canary",
      "sources": ["canary.cc"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
