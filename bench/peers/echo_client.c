/*
 * The reference echo load generator: one thread, epoll, N connections to 127.0.0.1:PORT.
 * Each connection sends one SIZE-byte message, waits for exactly those bytes back
 * (every byte checked), then sends the next. The bytes differ from message to message
 * and connection to connection, so a server that mixes up buffers is caught.
 *
 *   echo_client --port P [--conns N] [--size BYTES] [--warmup S] [--duration S]
 *               [--connect-timeout S]
 *
 * Phases: connect all, warm up for --warmup seconds, then print "MEASURE_START" on
 * stdout, count for --duration seconds, print "MEASURE_END", then one JSON line with the
 * figures of the measured interval only. Exit status 0 when no error was seen, 1 when
 * some were (they are in the JSON), 2 on bad arguments or setup failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency histogram: 1 µs buckets up to 1 s; longer round trips land in the last one. */
#define HIST_BUCKETS 1000000

typedef struct {
  int fd;
  int connected;
  int closed;
  uint32_t seq;      /* message number on this connection, part of the byte pattern */
  size_t sent;       /* bytes of the current message written so far */
  size_t received;   /* bytes of the current message read back so far */
  uint64_t sent_at;  /* ns, when the current message's first byte was written */
  unsigned char *msg;
} conn_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t *hist;
static uint64_t hist_count, max_ns, sum_ns;
static int counting;
static uint64_t messages, bytes_verified;
static uint64_t err_mismatch, err_closed, err_reset, err_connect, err_extra;

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --port P [--conns N] [--size BYTES] [--warmup S] [--duration S] "
          "[--connect-timeout S]\n",
          argv0);
  exit(2);
}

static void fill_message(conn_t *c, int index, size_t size) {
  uint32_t seed = c->seq * 2654435761u + (uint32_t)index * 40503u;
  for (size_t i = 0; i < size; i++) c->msg[i] = (unsigned char)(seed + i * 31u + (seed >> 13));
}

static void record_latency(uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us >= HIST_BUCKETS) us = HIST_BUCKETS - 1;
  hist[us]++;
  hist_count++;
  sum_ns += ns;
  if (ns > max_ns) max_ns = ns;
}

static double percentile_us(double p) {
  if (hist_count == 0) return 0;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)hist_count + 0.999999);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return i + 0.5; /* bucket middle: the value is in [i, i+1) µs */
  }
  return HIST_BUCKETS;
}

static void close_conn(int ep, conn_t *c) {
  if (c->closed) return;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->closed = 1;
}

/* Writes the rest of the current message; EPOLLOUT is asked for only when it did not fit. */
static int send_message(int ep, conn_t *c, size_t size) {
  while (c->sent < size) {
    ssize_t w = write(c->fd, c->msg + c->sent, size - c->sent);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return 0;
      }
      return -1;
    }
    c->sent += (size_t)w;
  }
  return 0;
}

static void start_message(int ep, conn_t *c, int index, size_t size) {
  c->seq++;
  fill_message(c, index, size);
  c->sent = 0;
  c->received = 0;
  c->sent_at = now_ns();
  if (send_message(ep, c, size) < 0) {
    if (counting) err_reset++;
    close_conn(ep, c);
  }
}

int main(int argc, char **argv) {
  int port = -1, nconns = 100;
  size_t size = 64;
  double warmup = 1.0, duration = 5.0, connect_timeout = 10.0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage(argv[0]);
    if (!strcmp(argv[i], "--port")) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--conns")) nconns = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--size")) size = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--warmup")) warmup = atof(argv[++i]);
    else if (!strcmp(argv[i], "--duration")) duration = atof(argv[++i]);
    else if (!strcmp(argv[i], "--connect-timeout")) connect_timeout = atof(argv[++i]);
    else usage(argv[0]);
  }
  if (port <= 0 || port > 65535 || nconns <= 0 || size == 0 || size > (1 << 20) ||
      warmup < 0 || duration <= 0 || connect_timeout <= 0)
    usage(argv[0]);

  signal(SIGPIPE, SIG_IGN);
  hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
  conn_t *conns = calloc((size_t)nconns, sizeof(conn_t));
  struct epoll_event *events = calloc((size_t)nconns, sizeof(struct epoll_event));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!hist || !conns || !events || ep < 0) {
    perror("setup");
    return 2;
  }

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->msg = malloc(size);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!c->msg || c->fd < 0) {
      perror("socket");
      return 2;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
      err_connect++;
      close(c->fd);
      c->closed = 1;
      continue;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }

  /* Connect phase: every socket reports writable (connected) or an error, or time runs out. */
  int pending = nconns - (int)err_connect;
  uint64_t connect_deadline = now_ns() + (uint64_t)(connect_timeout * 1e9);
  while (pending > 0 && now_ns() < connect_deadline) {
    int n = epoll_wait(ep, events, nconns, 10);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c->connected || c->closed) continue;
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      pending--;
      if (soerr != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
        err_connect++;
        close_conn(ep, c);
        continue;
      }
      c->connected = 1;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
  }
  for (int i = 0; i < nconns; i++)
    if (!conns[i].connected && !conns[i].closed) {
      err_connect++;
      close_conn(ep, &conns[i]);
    }
  uint64_t connected = (uint64_t)nconns - err_connect;

  for (int i = 0; i < nconns; i++)
    if (conns[i].connected) start_message(ep, &conns[i], i, size);

  uint64_t t0 = now_ns();
  uint64_t measure_start = t0 + (uint64_t)(warmup * 1e9);
  uint64_t measure_end = measure_start + (uint64_t)(duration * 1e9);
  uint64_t measured_from = 0;
  if (warmup == 0) {
    counting = 1;
    measured_from = t0;
    printf("MEASURE_START\n");
    fflush(stdout);
  }
  unsigned char *rbuf = malloc(size + 1);
  for (;;) {
    uint64_t t = now_ns();
    if (!counting && t >= measure_start) {
      counting = 1;
      measured_from = t;
      printf("MEASURE_START\n");
      fflush(stdout);
    }
    if (t >= measure_end) break;
    int n = epoll_wait(ep, events, nconns, 5);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 2;
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c->closed) continue;
      if (events[i].events & EPOLLOUT) {
        if (send_message(ep, c, size) < 0) {
          if (counting) err_reset++;
          close_conn(ep, c);
          continue;
        }
        if (c->sent == size) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      /* One byte more than expected is asked for, so a server that sends extra is caught. */
      ssize_t r = read(c->fd, rbuf, size - c->received + 1);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        err_reset++;
        close_conn(ep, c);
        continue;
      }
      if (r == 0) {
        err_closed++;
        close_conn(ep, c);
        continue;
      }
      if (c->received + (size_t)r > c->sent) {
        err_extra++;
        close_conn(ep, c);
        continue;
      }
      if (memcmp(rbuf, c->msg + c->received, (size_t)r) != 0) {
        err_mismatch++;
        close_conn(ep, c);
        continue;
      }
      c->received += (size_t)r;
      if (c->received == size) {
        if (counting) {
          messages++;
          bytes_verified += size;
          record_latency(now_ns() - c->sent_at);
        }
        start_message(ep, c, (int)(c - conns), size);
      }
    }
  }
  uint64_t measured_to = now_ns();
  printf("MEASURE_END\n");
  fflush(stdout);

  int open_at_end = 0;
  for (int i = 0; i < nconns; i++) {
    if (!conns[i].closed) open_at_end++;
    close_conn(ep, &conns[i]);
  }
  double seconds = (double)(measured_to - measured_from) / 1e9;
  uint64_t errors = err_mismatch + err_closed + err_reset + err_connect + err_extra;
  printf("{\"connections\":%d,\"connected\":%llu,\"open_at_end\":%d,\"size\":%zu,"
         "\"seconds\":%.6f,\"messages\":%llu,\"bytes_verified\":%llu,\"rate\":%.1f,"
         "\"latency_us\":{\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
         "\"p999\":%.1f,\"max\":%.1f},"
         "\"errors\":{\"total\":%llu,\"mismatch\":%llu,\"closed\":%llu,\"reset\":%llu,"
         "\"connect\":%llu,\"extra\":%llu}}\n",
         nconns, (unsigned long long)connected, open_at_end, size, seconds,
         (unsigned long long)messages, (unsigned long long)bytes_verified,
         seconds > 0 ? (double)messages / seconds : 0.0,
         hist_count ? (double)sum_ns / (double)hist_count / 1000.0 : 0.0, percentile_us(50),
         percentile_us(90), percentile_us(99), percentile_us(99.9), (double)max_ns / 1000.0,
         (unsigned long long)errors, (unsigned long long)err_mismatch,
         (unsigned long long)err_closed, (unsigned long long)err_reset,
         (unsigned long long)err_connect, (unsigned long long)err_extra);
  return errors ? 1 : 0;
}
