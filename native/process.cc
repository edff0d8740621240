// Child processes (lib/native.ts, "processes"): childPipe, spawn, pidfdOpen, reap. Every fd
// made here is close-on-exec, like every fd the reactor opens; spawn only places the fds
// the caller names at the child's numbers and runs the program, so a child holds exactly
// the fds of its map and nothing else of ours.
//
// Two ways to start a child, both safe in a multi-threaded process:
// - posix_spawn (glibc >= 2.34): glibc clones with CLONE_VM|CLONE_VFORK, so the parent's
//   page tables are not copied (fork copies them: its cost grows with the parent's memory,
//   and a Node process is large) and an exec failure (ENOENT, EACCES) comes back as the
//   call's result, with the failed child already reaped.
// - fork + exec, for what posix_spawn cannot do (uid, gid) and where glibc is older or
//   absent: the child makes only async-signal-safe calls and reports the errno of the step
//   that failed through a close-on-exec pipe, which reads as EOF once the exec succeeded.
// Either way the child starts with every signal at its default disposition and none
// blocked: Node ignores SIGPIPE and blocks signals in some threads, and a child must not
// inherit that.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "batch_io.h"
#include "errors.h"
#include "fd_setup.h"
#include "poller.h"

extern char** environ;

#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
#define FDR_POSIX_SPAWN 1  // posix_spawn_file_actions_addchdir_np and _addclosefrom_np
#endif
#endif

namespace fdr {

namespace {

// What spawn was asked for, in the form the child needs (no allocation after fork).
struct SpawnRequest {
  std::string file;
  std::vector<std::string> argStore, envStore;
  std::vector<char*> argv, envp;
  std::string cwd;
  bool hasCwd = false;
  int uid = -1, gid = -1;
  // Pairs: the child's fd number, then the parent's fd to put there.
  std::vector<int> targets, sources;
  // Parent fds duplicated above the highest target so no dup2 overwrites a later source.
  std::vector<int> lifted;
  int maxTarget = -1;

  ~SpawnRequest() {
    for (int fd : lifted) close(fd);
  }
};

bool ArgStrings(const Napi::CallbackInfo& info, size_t i, const char* name,
                std::vector<std::string>* store, std::vector<char*>* out) {
  if (i >= info.Length() || !info[i].IsArray()) {
    ThrowType(info.Env(), name, "an array of strings");
    return false;
  }
  Napi::Array a = info[i].As<Napi::Array>();
  uint32_t n = a.Length();
  store->reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) {
      ThrowType(info.Env(), name, "an array of strings");
      return false;
    }
    store->push_back(v.As<Napi::String>().Utf8Value());
    if (store->back().find('\0') != std::string::npos) {
      ThrowType(info.Env(), name, "strings without NUL bytes");
      return false;
    }
  }
  for (auto& s : *store) out->push_back(&s[0]);
  out->push_back(nullptr);
  return true;
}

bool ReadRequest(const Napi::CallbackInfo& info, SpawnRequest* r) {
  Napi::Env env = info.Env();
  if (!ArgString(info, 0, "file", &r->file)) return false;
  if (r->file.empty() || r->file.find('\0') != std::string::npos) {
    ThrowType(env, "file", "a non-empty path without NUL bytes");
    return false;
  }
  if (!ArgStrings(info, 1, "argv", &r->argStore, &r->argv)) return false;
  if (!ArgStrings(info, 2, "envp", &r->envStore, &r->envp)) return false;
  if (info.Length() > 3 && info[3].IsString()) {
    r->cwd = info[3].As<Napi::String>().Utf8Value();
    r->hasCwd = true;
  } else if (info.Length() <= 3 || !info[3].IsNull()) {
    ThrowType(env, "cwd", "a string or null");
    return false;
  }
  int64_t uid, gid;
  if (!ArgInt(info, 4, "uid", -1, 0x7fffffff, &uid) || !ArgInt(info, 5, "gid", -1, 0x7fffffff, &gid))
    return false;
  r->uid = static_cast<int>(uid);
  r->gid = static_cast<int>(gid);
  int32_t* map;
  size_t count;
  if (!ArgInt32Array(info, 6, "fdMap", &map, &count)) return false;
  if (count % 2 != 0) {
    ThrowRange(env, "fdMap", "must hold [childFd, parentFd] pairs");
    return false;
  }
  for (size_t k = 0; k < count; k += 2) {
    if (map[k] < 0 || map[k + 1] < 0) {
      ThrowRange(env, "fdMap", "must hold fd numbers >= 0");
      return false;
    }
    for (int t : r->targets) {
      if (t == map[k]) {
        ThrowRange(env, "fdMap", "names a child fd twice");
        return false;
      }
    }
    r->targets.push_back(map[k]);
    r->sources.push_back(map[k + 1]);
    if (map[k] > r->maxTarget) r->maxTarget = map[k];
  }
  return true;
}

// Moves every source fd that is also a target number (or below the highest one) above the
// highest target, so the child's dup2s can run in any order. False with errno set.
bool LiftSources(SpawnRequest* r) {
  for (int& src : r->sources) {
    if (src > r->maxTarget) continue;
    int up = fcntl(src, F_DUPFD_CLOEXEC, r->maxTarget + 1);
    if (up < 0) return false;
    r->lifted.push_back(up);
    src = up;
  }
  return true;
}

bool IsTarget(const SpawnRequest& r, int fd) {
  for (int t : r.targets)
    if (t == fd) return true;
  return false;
}

#ifdef FDR_POSIX_SPAWN
// posix_spawn; 0 and *pid, or the errno (of the exec too: glibc reports it).
int SpawnWithPosixSpawn(const SpawnRequest& r, pid_t* pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int err = posix_spawn_file_actions_init(&fa);
  if (err != 0) return err;
  err = posix_spawnattr_init(&attr);
  if (err != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return err;
  }
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
  if (err == 0 && r.hasCwd) err = posix_spawn_file_actions_addchdir_np(&fa, r.cwd.c_str());
  for (size_t k = 0; err == 0 && k < r.targets.size(); k++)
    err = posix_spawn_file_actions_adddup2(&fa, r.sources[k], r.targets[k]);
  // Numbers below the highest target that the map leaves out: closed (glibc ignores EBADF).
  for (int fd = 0; err == 0 && fd < r.maxTarget; fd++)
    if (!IsTarget(r, fd)) err = posix_spawn_file_actions_addclose(&fa, fd);
  // Everything above: our fds are close-on-exec already; this also catches anybody else's.
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&fa, r.maxTarget + 1);
  if (err == 0) err = posix_spawn(pid, r.file.c_str(), &fa, &attr, r.argv.data(), r.envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return err;
}
#endif

// Closes fds [lo, hi] in a forked child (async-signal-safe).
void CloseRange(int lo, int hi, int openMax) {
  if (lo > hi) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0) == 0) return;
#endif
  if (hi > openMax) hi = openMax;
  for (int fd = lo; fd <= hi; fd++) close(fd);
}

// The child half of fork + exec: never returns. Reports [step, errno] on `report`.
[[noreturn]] void ExecChild(const SpawnRequest& r, int report, int openMax) {
  int step = 0;
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (r.gid >= 0) {
    gid_t g = static_cast<gid_t>(r.gid);
    step = 1;
    if (geteuid() == 0 && setgroups(1, &g) < 0) goto fail;
    if (setgid(g) < 0) goto fail;
  }
  step = 2;
  if (r.uid >= 0 && setuid(static_cast<uid_t>(r.uid)) < 0) goto fail;
  step = 3;
  if (r.hasCwd && chdir(r.cwd.c_str()) < 0) goto fail;
  step = 4;
  for (size_t k = 0; k < r.targets.size(); k++)
    if (dup2(r.sources[k], r.targets[k]) < 0) goto fail;
  for (int fd = 0; fd < r.maxTarget; fd++)
    if (!IsTarget(r, fd) && fd != report) close(fd);
  // `report` sits above every target (spawn lifts it): keep it until the exec closes it.
  CloseRange(r.maxTarget + 1, report - 1, openMax);
  CloseRange(report + 1, ~0U >> 1, openMax);
  step = 5;
  execve(r.file.c_str(), r.argv.data(), r.envp.data());
fail:
  int msg[2] = {step, errno};
  ssize_t ignored = write(report, msg, sizeof msg);
  (void)ignored;
  _exit(127);
}

const char* const kSteps[] = {"fork", "setgroups/setgid", "setuid", "chdir", "dup2", "execve"};

// fork + exec; 0 and *pid, or the errno with *step naming the call that failed.
int SpawnWithFork(SpawnRequest& r, pid_t* pid, const char** step) {
  *step = "pipe";
  int rep[2];
  if (pipe(rep) < 0) return errno;
  // The write end goes above every target and is close-on-exec, so the child's dup2s leave
  // it alone and a successful exec closes it; the read end stays out of other children.
  int report = fcntl(rep[1], F_DUPFD_CLOEXEC, r.maxTarget + 1);
  int err = errno;
  close(rep[1]);
  if (report >= 0 && fcntl(rep[0], F_SETFD, FD_CLOEXEC) < 0) {
    err = errno;
    close(report);
    report = -1;
  }
  if (report < 0) {
    close(rep[0]);
    return err;
  }
  rlimit rl;
  int openMax = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                    ? static_cast<int>(rl.rlim_cur) : 65536;
  // No handler of ours may run in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t child = fork();
  if (child == 0) ExecChild(r, report, openMax);
  err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(report);
  if (child < 0) {
    close(rep[0]);
    *step = "fork";
    return err;
  }
  int msg[2];
  ssize_t n = RetryOnEintr([&] { return read(rep[0], msg, sizeof msg); });
  close(rep[0]);
  if (n == static_cast<ssize_t>(sizeof msg)) {
    RetryOnEintr([&] { return waitpid(child, nullptr, 0); });
    *step = kSteps[msg[0] >= 0 && msg[0] <= 5 ? msg[0] : 0];
    return msg[1];
  }
  *pid = child;
  return 0;
}

// spawn(file, argv, envp, cwd | null, uid, gid, fdMap) → pid. `file` is a path (no PATH
// search); fdMap holds [childFd, parentFd] pairs; uid/gid -1 keep ours. Throws the errno of
// the step that failed (syscall "posix_spawn", "execve", "chdir", ...), naming the file.
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpawnRequest r;
  if (!ReadRequest(info, &r)) return Napi::Value();
  if (!LiftSources(&r)) {
    ThrowErrnoDetail(env, errno, "fcntl", "while starting " + r.file);
    return Napi::Value();
  }
  pid_t pid = -1;
  int err;
  const char* step = "posix_spawn";
#ifdef FDR_POSIX_SPAWN
  if (r.uid < 0 && r.gid < 0) err = SpawnWithPosixSpawn(r, &pid);
  else err = SpawnWithFork(r, &pid, &step);
#else
  err = SpawnWithFork(r, &pid, &step);
#endif
  if (err != 0) {
    ThrowErrnoDetail(env, err, step, "while starting " + r.file);
    return Napi::Value();
  }
  return Napi::Number::New(env, pid);
}

// childPipe(parentReads) → [parentEnd, childEnd], both close-on-exec; only the parent's end
// is non-blocking. The flag lives in the open file, which the child shares: a child handed
// a non-blocking stdin reads EAGAIN and most programs take that for an error.
Napi::Value ChildPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    ThrowType(env, "parentReads", "a boolean");
    return Napi::Value();
  }
  bool parentReads = info[0].As<Napi::Boolean>().Value();
  int fds[2];
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  if (pipe2(fds, O_CLOEXEC) < 0) return FailClosing(env, "pipe2", -1);
#else
  if (pipe(fds) < 0) return FailClosing(env, "pipe", -1);
  if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0)
    return FailClosing(env, "fcntl", fds[0], fds[1]);
#endif
  int parent = parentReads ? fds[0] : fds[1];
  int child = parentReads ? fds[1] : fds[0];
  int fl = fcntl(parent, F_GETFL);
  if (fl < 0 || fcntl(parent, F_SETFL, fl | O_NONBLOCK) < 0) return FailClosing(env, "fcntl", fds[0], fds[1]);
  return Pair(env, parent, child);
}

// pidfdOpen(pid) → a close-on-exec fd that becomes readable when the child exits, or -1
// where the kernel has none (not Linux, or Linux before 5.3).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int64_t pid;
  if (!ArgInt(info, 0, "pid", 1, 0x7fffffff, &pid)) return Napi::Value();
#if defined(__linux__) && defined(SYS_pidfd_open)
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd >= 0) return Napi::Number::New(info.Env(), fd);
  if (errno != ENOSYS) {
    ThrowErrno(info.Env(), errno, "pidfd_open");
    return Napi::Value();
  }
#endif
  return Napi::Number::New(info.Env(), -1);
}

// kqueueExitFd(pid) → on a kqueue build, a close-on-exec kqueue fd (EVFILT_PROC/NOTE_EXIT
// on the child) that becomes readable when the child exits; -1 where there is no kqueue or
// the kernel refuses the knote with ESRCH (the child is already gone: the caller reaps).
Napi::Value KqueueExitFd(const Napi::CallbackInfo& info) {
  int64_t pid;
  if (!ArgInt(info, 0, "pid", 1, 0x7fffffff, &pid)) return Napi::Value();
#if defined(FDR_HAVE_KQUEUE)
  int err = 0;
  int fd = OpenKqueueExitWatch(static_cast<int>(pid), &err);
  if (fd >= 0) return Napi::Number::New(info.Env(), fd);
  if (err != ESRCH) {
    ThrowErrno(info.Env(), err, "kevent");
    return Napi::Value();
  }
#endif
  return Napi::Number::New(info.Env(), -1);
}

// The SIGCHLD self-pipe, where there is no pidfd: the handler writes a byte to a
// non-blocking pipe whose read end the reactor watches, then calls the handler it
// replaced (libuv's, when Node's child_process is in use), so both keep working.
int g_sigchldWrite = -1;
int g_sigchldRead = -1;
struct sigaction g_previous;

void OnSigchld(int sig, siginfo_t* info, void* ctx) {
  int saved = errno;
  char one = 1;
  ssize_t ignored = write(g_sigchldWrite, &one, 1);  // full pipe: a wake-up is pending anyway
  (void)ignored;
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  }
  errno = saved;
}

// sigchldFd() → the read end of the SIGCHLD self-pipe (one per process, never closed;
// callers dup it). Each call puts the handler back if somebody replaced it since (libuv
// installs its own without chaining), chaining to whoever that was.
Napi::Value SigchldFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (g_sigchldRead < 0) {
    int fds[2];
    if (pipe(fds) < 0) return FailClosing(env, "pipe", -1);
    for (int fd : fds) {
      int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return FailClosing(env, "fcntl", fds[0], fds[1]);
    }
    g_sigchldRead = fds[0];
    g_sigchldWrite = fds[1];
  }
  struct sigaction current;
  if (sigaction(SIGCHLD, nullptr, &current) < 0) return FailClosing(env, "sigaction", -1);
  bool ours = (current.sa_flags & SA_SIGINFO) && current.sa_sigaction == OnSigchld;
  if (!ours) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    g_previous = current;
    if (sigaction(SIGCHLD, &sa, nullptr) < 0) return FailClosing(env, "sigaction", -1);
  }
  return Napi::Number::New(env, g_sigchldRead);
}

// reap(pid, status) → false while the child runs; true once reaped, with status[0] the
// exit code (-1 when killed) and status[1] the signal that killed it (0 when it exited).
Napi::Value Reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid;
  int32_t* status;
  size_t count;
  if (!ArgInt(info, 0, "pid", 1, 0x7fffffff, &pid) || !ArgInt32Array(info, 1, "status", &status, &count))
    return Napi::Value();
  if (count < 2) {
    ThrowRange(env, "status", "must have room for 2 numbers");
    return Napi::Value();
  }
  int st = 0;
  pid_t got = RetryOnEintr([&] { return waitpid(static_cast<pid_t>(pid), &st, WNOHANG); });
  if (got < 0) {
    ThrowErrno(env, errno, "waitpid");
    return Napi::Value();
  }
  if (got == 0 || !(WIFEXITED(st) || WIFSIGNALED(st))) return Napi::Boolean::New(env, false);
  status[0] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  status[1] = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  static const ExportEntry kEntries[] = {
      {"spawn", Spawn},
      {"childPipe", ChildPipe},
      {"pidfdOpen", PidfdOpen},
      {"kqueueExitFd", KqueueExitFd},
      {"reap", Reap},
      {"sigchldFd", SigchldFd},
  };
  ExportAll(env, exports, kEntries);
}

}  // namespace fdr
