{
  "targets": [
    {
      "target_name": "fdreactor",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/poller_binding.cc",
        "native/poller_factory.cc",
        "native/socket_binding.cc",
        "native/fd_io.cc",
        "native/sockopt.cc",
        "native/waker.cc",
        "native/limits.cc",
        "native/batch_io.cc",
        "native/sendfile.cc",
        "native/fd_passing.cc",
        "native/fd_control.cc",
        "native/process.cc",
        "native/datagram_batch.cc",
        "native/dns_codec.cc",
        "native/sockaddr.cc",
        "native/uv_watch.cc",
        "native/tls_context.cc",
        "native/tls_session.cc",
        "native/tls_peer.cc",
        "native/tls_kernel.cc",
        "native/poll_poller.cc",
        "native/select_poller.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", { "sources": ["native/epoll_poller.cc", "native/io_uring_ring.cc", "native/io_uring_poller.cc"], "defines": ["FDR_HAVE_EPOLL=1", "FDR_HAVE_MMSG=1"] }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", { "sources": ["native/kqueue_poller.cc"], "defines": ["FDR_HAVE_KQUEUE=1"] }],
        ["OS=='mac'", { "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "GCC_OPTIMIZATION_LEVEL": "2" } }]
      ]
    }
  ]
}
