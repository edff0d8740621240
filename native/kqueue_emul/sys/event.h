// TEST SUPPORT ONLY, never shipped: the subset of <sys/event.h> that kqueue_poller.cc uses,
// emulated over epoll so that the kqueue backend runs on Linux (built only into kqemu/).
// Names, flag values and the struct layout follow FreeBSD's header; where FreeBSD and macOS
// differ, FreeBSD's documented behaviour is emulated (it is the stricter of the two).
// What is and is not emulated: docs/platforms.md, "kqueue on Linux".
#pragma once

#include <stdint.h>
#include <time.h>

#if !defined(FDR_KQUEUE_EMULATION)
#error "kqueue_emul/sys/event.h is test support: build it only with -DFDR_KQUEUE_EMULATION"
#endif

struct kevent {
  uintptr_t ident;  // the fd (EVFILT_PROC: the pid)
  int16_t filter;   // EVFILT_READ / EVFILT_WRITE / EVFILT_PROC
  uint16_t flags;   // EV_*
  uint32_t fflags;  // on EV_EOF: the socket's pending error (see docs: a stand-in on Linux)
  intptr_t data;    // READ: bytes readable; WRITE: send-buffer space; EV_ERROR: errno
  void* udata;      // opaque, handed back untouched
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_PROC (-5)  // ident is a pid; only NOTE_EXIT, emulated with a pidfd

#define NOTE_EXIT 0x80000000U  // EVFILT_PROC: the process exited; data holds its wait status

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080  // declared so that a caller can be refused it: not emulated
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* kev_ = (kevp);      \
    kev_->ident = (a);                 \
    kev_->filter = (b);                \
    kev_->flags = (c);                 \
    kev_->fflags = (d);                \
    kev_->data = (e);                  \
    kev_->udata = (f);                 \
  } while (0)

// kqueue(2): a new queue; its fd is an epoll fd, so it is pollable like a real kqueue fd.
int kqueue(void);
// kevent(2): applies `changelist` in order, then collects at most `nevents` events.
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);
