/*
 * UDP load generator for bench/udp's "many" mode: SOCKETS client sockets on 127.0.0.1,
 * each keeping WINDOW datagrams of SIZE bytes in flight to 127.0.0.1:PORT and sending one
 * more for each echo it gets back, with recvmmsg/sendmmsg so that the generator stays far
 * cheaper per datagram than the server it loads (the server, not the client, is then the
 * bottleneck, and datagrams queue up at the server as they do at a busy UDP server).
 *
 *   udp_load PORT COUNT SOCKETS WINDOW SIZE
 *
 * Each echo is checked: it must be SIZE bytes and carry the socket's own byte pattern.
 * Datagrams lost on loopback shrink a window for good, so a stall of 100 ms with nothing
 * received refills every window (counted as "refills"). Bounded: stops after COUNT echoes
 * or 60 s. Prints one JSON line: {received, sent, refills, bad, seconds}. Exit status 0,
 * 1 when an echo was wrong, 2 on bad arguments or setup failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 256
#define BATCH 64
#define MAX_SIZE 2048

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fds[MAX_SOCKETS];
static unsigned char patterns[MAX_SOCKETS][MAX_SIZE];
static unsigned char rbuf[BATCH][MAX_SIZE];
static long count, sent, received, bad, refills;
static int size;

/* Sends n datagrams on socket s (its pattern, connected destination); returns those sent. */
static int send_n(int s, int n) {
  struct mmsghdr m[BATCH];
  struct iovec iov[BATCH];
  int total = 0;
  while (n > 0) {
    int k = n < BATCH ? n : BATCH;
    memset(m, 0, sizeof(m[0]) * k);
    for (int i = 0; i < k; i++) {
      iov[i].iov_base = patterns[s];
      iov[i].iov_len = (size_t)size;
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fds[s], m, (unsigned)k, 0);
    if (r <= 0) break; /* EAGAIN or an ICMP error: the stall refill sends again */
    total += r;
    n -= r;
  }
  sent += total;
  return total;
}

/* Reads what socket s has; returns the echoes received. */
static int drain(int s) {
  struct mmsghdr m[BATCH];
  struct iovec iov[BATCH];
  int got = 0;
  for (;;) {
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = rbuf[i];
      iov[i].iov_len = MAX_SIZE;
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(fds[s], m, BATCH, MSG_DONTWAIT, NULL);
    if (r <= 0) break;
    for (int i = 0; i < r; i++) {
      if ((int)m[i].msg_len != size || memcmp(rbuf[i], patterns[s], (size_t)size) != 0) bad++;
    }
    got += r;
    if (r < BATCH) break;
  }
  return got;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s PORT COUNT SOCKETS WINDOW SIZE\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  count = atol(argv[2]);
  int sockets = atoi(argv[3]);
  int window = atoi(argv[4]);
  size = atoi(argv[5]);
  if (port < 1 || port > 65535 || count < 1 || sockets < 1 || sockets > MAX_SOCKETS || window < 1 ||
      window > 4096 || size < 1 || size > MAX_SIZE) {
    fprintf(stderr, "udp_load: argument out of range\n");
    return 2;
  }
  int ep = epoll_create1(0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  for (int s = 0; s < sockets; s++) {
    for (int i = 0; i < size; i++) patterns[s][i] = (unsigned char)(s * 31 + i);
    fds[s] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fds[s] < 0 || connect(fds[s], (struct sockaddr *)&to, sizeof to) != 0) {
      perror("udp_load: socket/connect");
      return 2;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)s};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[s], &ev);
  }
  uint64_t start = now_ns();
  uint64_t last_seen = start;
  for (int s = 0; s < sockets; s++) send_n(s, window);
  struct epoll_event evs[MAX_SOCKETS];
  while (received < count) {
    uint64_t now = now_ns();
    if (now - start > 60ull * 1000000000ull) break;
    int n = epoll_wait(ep, evs, MAX_SOCKETS, 100);
    if (n <= 0) {
      if (now_ns() - last_seen >= 100000000ull) {
        refills++;
        for (int s = 0; s < sockets; s++) send_n(s, window);
        last_seen = now_ns();
      }
      continue;
    }
    for (int i = 0; i < n; i++) {
      int s = (int)evs[i].data.u32;
      int got = drain(s);
      if (got == 0) continue;
      received += got;
      last_seen = now_ns();
      long room = count + (long)sockets * window - sent;
      send_n(s, got < room ? got : (int)(room > 0 ? room : 0));
    }
  }
  double seconds = (double)(now_ns() - start) / 1e9;
  printf("{\"received\":%ld,\"sent\":%ld,\"refills\":%ld,\"bad\":%ld,\"seconds\":%.6f}\n", received, sent, refills,
         bad, seconds);
  return bad > 0 ? 1 : 0;
}
