/*
 * The C epoll reference server: one thread, level-triggered epoll, the syscalls with
 * nothing around them. It is the floor the other servers are measured against.
 *
 *   c_reference echo|http PORT [--reuseport]
 *
 * echo: every byte read is written back.
 * http: keep-alive; every "\r\n\r\n" seen (a request's end, across reads too) is answered
 *       with one fixed response carrying the 13-byte body "Hello, World!".
 * Prints "READY <port>" on stdout once listening (PORT 0 picks a free port).
 * SIGTERM/SIGINT end it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define READ_SIZE 65536

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
#define RESPONSE_LEN (sizeof(RESPONSE) - 1)

/* Bytes a peer was too slow to take: kept until EPOLLOUT says it can take more. */
typedef struct {
  char *buf;
  size_t len, cap;
  int match; /* http: how much of "\r\n\r\n" the previous read ended with */
} conn_t;

static conn_t *conns;
static int conns_cap;
static volatile sig_atomic_t stopping;
static int http_mode;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static void die(const char *what) {
  perror(what);
  exit(1);
}

static conn_t *conn_of(int fd) {
  if (fd >= conns_cap) {
    int ncap = conns_cap ? conns_cap : 1024;
    while (ncap <= fd) ncap *= 2;
    conns = realloc(conns, (size_t)ncap * sizeof(conn_t));
    if (!conns) die("realloc");
    memset(conns + conns_cap, 0, (size_t)(ncap - conns_cap) * sizeof(conn_t));
    conns_cap = ncap;
  }
  return &conns[fd];
}

static void close_conn(int ep, int fd) {
  conn_t *c = conn_of(fd);
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

static int pending_add(conn_t *c, const char *p, size_t n) {
  if (c->len + n > c->cap) {
    size_t ncap = c->cap ? c->cap : 4096;
    while (ncap < c->len + n) ncap *= 2;
    char *nb = realloc(c->buf, ncap);
    if (!nb) return -1;
    c->buf = nb;
    c->cap = ncap;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
  return 0;
}

/* Writes what it can now; the rest waits in the connection's buffer for EPOLLOUT. */
static int send_or_queue(int ep, int fd, conn_t *c, const char *p, size_t n) {
  if (c->len == 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) return -1;
      w = 0;
    }
    p += w;
    n -= (size_t)w;
    if (n == 0) return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) return -1;
  }
  return pending_add(c, p, n);
}

static int flush_pending(int ep, int fd, conn_t *c) {
  while (c->len > 0) {
    ssize_t w = write(fd, c->buf, c->len);
    if (w < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    memmove(c->buf, c->buf + w, c->len - (size_t)w);
    c->len -= (size_t)w;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Counts request ends; a "\r\n\r\n" split across reads is still found once. */
static int count_requests(conn_t *c, const char *p, size_t n) {
  static const char END[4] = {'\r', '\n', '\r', '\n'};
  int m = c->match, count = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == END[m]) {
      if (++m == 4) {
        count++;
        m = 0;
      }
    } else {
      m = p[i] == '\r' ? 1 : 0;
    }
  }
  c->match = m;
  return count;
}

static int on_readable(int ep, int fd, char *buf) {
  conn_t *c = conn_of(fd);
  for (;;) {
    ssize_t r = read(fd, buf, READ_SIZE);
    if (r == 0) return -1;
    if (r < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    if (!http_mode) {
      if (send_or_queue(ep, fd, c, buf, (size_t)r) < 0) return -1;
    } else {
      int n = count_requests(c, buf, (size_t)r);
      for (int i = 0; i < n; i++)
        if (send_or_queue(ep, fd, c, RESPONSE, RESPONSE_LEN) < 0) return -1;
    }
    if (r < READ_SIZE) return 0; /* drained: saves the read that would say EAGAIN */
  }
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) perror("accept4");
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_of(fd);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "echo") && strcmp(argv[1], "http"))) {
    fprintf(stderr, "usage: %s echo|http PORT [--reuseport]\n", argv[0]);
    return 2;
  }
  http_mode = strcmp(argv[1], "http") == 0;
  int port = atoi(argv[2]);
  int reuseport = argc > 3 && strcmp(argv[3], "--reuseport") == 0;

  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuseport && setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
    die("SO_REUSEPORT");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t alen = sizeof(addr);
  getsockname(lfd, (struct sockaddr *)&addr, &alen);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll_ctl");

  printf("READY %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  static char buf[READ_SIZE];
  struct epoll_event events[MAX_EVENTS];
  while (!stopping) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        on_accept(ep, lfd);
        continue;
      }
      int bad = 0;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bad = on_readable(ep, fd, buf) < 0;
      if (!bad && (events[i].events & EPOLLOUT)) bad = flush_pending(ep, fd, conn_of(fd)) < 0;
      if (bad) close_conn(ep, fd);
    }
  }
  return 0;
}
