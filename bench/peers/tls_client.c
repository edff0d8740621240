/*
 * TLS load client for bench/tls (OpenSSL 3, epoll, one thread). Every connection offers
 * TLS 1.3 only, the one cipher suite and group of bench/tls/certs.js, no session to resume.
 *
 *   tls_client handshakes PORT CONNS SECONDS MAX
 *     CONNS connections at a time, each: connect, full handshake, GET /, read the whole
 *     answer, close with RST (SO_LINGER 0: no TIME_WAIT on either side, so a long run
 *     does not run out of ports), then a new one. Stops after SECONDS or MAX answers.
 *     Prints: RESULT {"handshakes":N,"seconds":S,"errors":E,"version":"...","cipher":"..."}
 *   tls_client hold PORT CONNS SECONDS
 *     Opens CONNS connections (at most 256 handshakes in flight), one keep-alive GET / on
 *     each, then holds them idle. Prints "HELD N ERRORS E" once all are up, then waits
 *     until stdin closes or SECONDS pass, and closes them all.
 *
 * Build: cc -O2 -o tls_client tls_client.c -lssl -lcrypto (bench/lib/build.js does it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SUITE "TLS_AES_128_GCM_SHA256"
#define GROUP "X25519"
#define MAX_CONNS 19000
#define HOLD_IN_FLIGHT 256

enum state { IDLE, CONNECTING, HANDSHAKE, WRITING, READING, DONE };

struct conn {
  int fd;
  SSL *ssl;
  enum state st;
  size_t sent;
  size_t got;
  char buf[1024];
};

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fdreactor-bench\r\n\r\n";
static SSL_CTX *ctx;
static int ep;
static struct sockaddr_in addr;
static long answers, errors;
static char version[32], cipher[64];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "tls_client: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(2);
}

static void watch(struct conn *c, int op, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

/* Closes with RST: the handshake benchmark opens tens of thousands of connections. */
static void drop(struct conn *c) {
  struct linger lg = {1, 0};
  if (c->fd >= 0) {
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd); /* also leaves the epoll set */
  }
  if (c->ssl) SSL_free(c->ssl);
  c->fd = -1;
  c->ssl = NULL;
  c->st = IDLE;
}

static void start(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->ssl = SSL_new(ctx);
  if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) die("SSL_new");
  SSL_set_connect_state(c->ssl);
  c->sent = c->got = 0;
  c->st = CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    errors++;
    drop(c);
    return;
  }
  watch(c, EPOLL_CTL_ADD, EPOLLOUT);
}

/* The answer is complete once its head and Content-Length bytes of body are in. */
static int answer_complete(struct conn *c) {
  c->buf[c->got] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return 0;
  char *len = strcasestr(c->buf, "\r\ncontent-length:");
  long body = len && len < end ? strtol(len + 17, NULL, 10) : 0;
  return (long)c->got >= (end + 4 - c->buf) + body;
}

/* Advances one connection as far as it can go; returns 1 when its answer is complete. */
static int step(struct conn *c) {
  for (;;) {
    int r, e;
    switch (c->st) {
      case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) goto fail;
        c->st = HANDSHAKE;
        break;
      }
      case HANDSHAKE:
        r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          if (!cipher[0]) {
            snprintf(version, sizeof version, "%s", SSL_get_version(c->ssl));
            snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(c->ssl));
          }
          c->st = WRITING;
          break;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLL_CTL_MOD, EPOLLIN), 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLL_CTL_MOD, EPOLLOUT), 0;
        goto fail;
      case WRITING:
        r = SSL_write(c->ssl, REQUEST + c->sent, (int)(sizeof REQUEST - 1 - c->sent));
        if (r > 0) {
          c->sent += (size_t)r;
          if (c->sent == sizeof REQUEST - 1) c->st = READING;
          break;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLL_CTL_MOD, EPOLLIN), 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLL_CTL_MOD, EPOLLOUT), 0;
        goto fail;
      case READING:
        if (c->got >= sizeof c->buf - 1) goto fail;
        r = SSL_read(c->ssl, c->buf + c->got, (int)(sizeof c->buf - 1 - c->got));
        if (r > 0) {
          c->got += (size_t)r;
          if (answer_complete(c)) {
            if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) goto fail;
            c->st = DONE;
            answers++;
            return 1;
          }
          break;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return watch(c, EPOLL_CTL_MOD, EPOLLIN), 0;
        if (e == SSL_ERROR_WANT_WRITE) return watch(c, EPOLL_CTL_MOD, EPOLLOUT), 0;
        goto fail;
      default:
        return 0;
    }
  }
fail:
  ERR_clear_error();
  errors++;
  drop(c);
  return 0;
}

static void setup(int port) {
  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) die("TLS 1.3");
  if (!SSL_CTX_set_ciphersuites(ctx, SUITE)) die("ciphersuites");
  if (!SSL_CTX_set1_groups_list(ctx, GROUP)) die("groups");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* the server's cost is measured, not ours */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int handshakes(struct conn *cs, int n, double seconds, long max) {
  double t0 = now(), end = t0 + seconds;
  for (int i = 0; i < n; i++) start(&cs[i]);
  struct epoll_event evs[256];
  while (now() < end && answers < max) {
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->st == IDLE) continue;
      if (step(c)) drop(c);
      if (c->st == IDLE && now() < end && answers < max) start(c);
    }
  }
  double t = now() - t0;
  printf("RESULT {\"handshakes\":%ld,\"seconds\":%.6f,\"errors\":%ld,\"version\":\"%s\",\"cipher\":\"%s\"}\n", answers, t, errors, version, cipher);
  for (int i = 0; i < n; i++) drop(&cs[i]);
  return 0;
}

static int hold(struct conn *cs, int n, double seconds) {
  double end = now() + seconds;
  int opened = 0, in_flight = 0;
  struct epoll_event evs[256];
  while (answers + errors < n && now() < end) {
    while (in_flight < HOLD_IN_FLIGHT && opened < n) {
      start(&cs[opened++]);
      in_flight++;
    }
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->st == IDLE || c->st == DONE) continue;
      if (step(c)) {
        struct epoll_event none = {0};
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, &none);
      }
      if (c->st == IDLE || c->st == DONE) in_flight--;
    }
  }
  printf("HELD %ld ERRORS %ld\n", answers, errors);
  fflush(stdout);
  struct pollfd in = {.fd = 0, .events = POLLIN};
  char b[64];
  while (now() < end) {
    int r = poll(&in, 1, 200);
    if (r > 0 && read(0, b, sizeof b) <= 0) break;
  }
  for (int i = 0; i < n; i++) drop(&cs[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: tls_client handshakes PORT CONNS SECONDS MAX | hold PORT CONNS SECONDS\n");
    return 2;
  }
  int port = atoi(argv[2]), n = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (port <= 0 || port > 65535) die("PORT must be 1..65535");
  if (n <= 0 || n > MAX_CONNS) die("CONNS must be 1..19000 (one process holds at most 20,000 fds here)");
  if (!(seconds > 0 && seconds <= 3600)) die("SECONDS must be in (0, 3600]");
  struct conn *cs = calloc((size_t)n, sizeof *cs);
  if (!cs) die("calloc");
  for (int i = 0; i < n; i++) cs[i].fd = -1;
  setup(port);
  if (strcmp(argv[1], "handshakes") == 0) {
    long max = argc > 5 ? atol(argv[5]) : 0;
    if (max <= 0) die("MAX must be a positive count");
    return handshakes(cs, n, seconds, max);
  }
  if (strcmp(argv[1], "hold") == 0) return hold(cs, n, seconds);
  die("mode must be handshakes or hold");
  return 2;
}
