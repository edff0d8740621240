// Batched datagrams (lib/native.ts, "datagram batches"): many datagrams of one UDP or Unix
// datagram socket per N-API call and, where the kernel has them, per syscall
// (recvmmsg/sendmmsg). Payloads live in caller-owned slabs, addresses in caller-owned
// Int32Arrays as ADDRESS_WORDS blocks [family 4|6 (0: none), port, w0, w1, w2, w3, scope
// id], wk the k-th 32-bit word of the IP in host order (IPv4: w0 only). A Unix address is
// the block [1, offset, length, 0...] naming its sun_path bytes in a caller-owned `names`
// array (an abstract name keeps its leading NUL; length 0: an unbound sender). Nothing is
// allocated per datagram.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <cstddef>

#include <cerrno>
#include <cstring>
#include <string>

#include "batch_io.h"
#include "dns_codec.h"
#include "errors.h"
#include "sockaddr.h"

namespace fdr {

namespace {

// Datagrams per syscall at most; lib/net/udp.ts asks for no more.
constexpr int kMaxBatch = 64;
constexpr int kAddrWords = 7;
// Receive record: [offset, bytes, size, flags, address block].
constexpr int kRecvStride = 4 + kAddrWords;
// Send record: [offset, length, result, address block].
constexpr int kSendStride = 3 + kAddrWords;
constexpr int32_t kTruncated = 1;
constexpr int32_t kUnixFamily = 1;
// Bytes of one Unix name in a `names` array: a whole sun_path.
constexpr size_t kNameBytes = sizeof(sockaddr_un::sun_path);

// The Unix name of `ss` (len bytes long) into names[at..], as block [1, at, length].
void UnixWords(const sockaddr_storage& ss, socklen_t len, uint8_t* names, size_t at, int32_t* a) {
  memset(a, 0, kAddrWords * sizeof(int32_t));
  const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
  const size_t base = offsetof(sockaddr_un, sun_path);
  size_t n = len > base ? static_cast<size_t>(len) - base : 0;
  if (n > kNameBytes) n = kNameBytes;
  // A path name may arrive with its terminating NUL counted: the name stops before it.
  if (n > 0 && un->sun_path[0] != '\0') n = strnlen(un->sun_path, n);
  memcpy(names + at, un->sun_path, n);
  a[0] = kUnixFamily;
  a[1] = static_cast<int32_t>(at);
  a[2] = static_cast<int32_t>(n);
}

// The sockaddr_un of block a (family 1) from `names`; false after throwing a RangeError.
bool UnixFromWords(Napi::Env env, const int32_t* a, const uint8_t* names, size_t namesSize,
                   sockaddr_storage* ss, socklen_t* len) {
  const size_t at = static_cast<size_t>(a[1]), n = static_cast<size_t>(a[2]);
  if (names == nullptr || a[1] < 0 || a[2] <= 0 || at + n > namesSize || n > kNameBytes ||
      (names[at] != 0 && n >= kNameBytes)) {
    ThrowRange(env, "records", "name a Unix address outside names, empty, or longer than sun_path");
    return false;
  }
  memset(ss, 0, sizeof *ss);
  auto* un = reinterpret_cast<sockaddr_un*>(ss);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, names + at, n);
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  return true;
}

// Optional `names` argument i: a Uint8Array of at least `need` bytes, or nullptr when absent.
bool ArgNames(const Napi::CallbackInfo& info, size_t i, size_t need, uint8_t** names, size_t* size) {
  *names = nullptr;
  *size = 0;
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  if (!ArgBytes(info, i, "names", names, size)) return false;
  if (*size < need) {
    ThrowRange(info.Env(), "names", "is too short: it needs UNIX_NAME_BYTES per datagram");
    return false;
  }
  return true;
}

void WordsFromSockAddr(const sockaddr_storage& ss, int32_t* a) {
  memset(a, 0, kAddrWords * sizeof(int32_t));
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    a[0] = 4;
    a[1] = ntohs(s4->sin_port);
    a[2] = static_cast<int32_t>(ntohl(s4->sin_addr.s_addr));
  } else if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    uint32_t w[4];
    memcpy(w, &s6->sin6_addr, sizeof w);
    a[0] = 6;
    a[1] = ntohs(s6->sin6_port);
    for (int k = 0; k < 4; k++) a[2 + k] = static_cast<int32_t>(ntohl(w[k]));
    a[6] = static_cast<int32_t>(s6->sin6_scope_id);
  }
}

// The sockaddr of an address block; false when its family is neither 4 nor 6.
bool SockAddrFromWords(const int32_t* a, sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (a[0] == 4) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(a[1]));
    s4->sin_addr.s_addr = htonl(static_cast<uint32_t>(a[2]));
    *len = sizeof *s4;
    return true;
  }
  if (a[0] == 6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(a[1]));
    uint32_t w[4];
    for (int k = 0; k < 4; k++) w[k] = htonl(static_cast<uint32_t>(a[2 + k]));
    memcpy(&s6->sin6_addr, w, sizeof w);
    s6->sin6_scope_id = static_cast<uint32_t>(a[6]);
    *len = sizeof *s6;
    return true;
  }
  return false;
}

// An Int32Array argument holding at least `words` words after `index` (RangeError otherwise).
bool ArgRecords(const Napi::CallbackInfo& info, size_t i, const char* name, size_t words,
                int32_t** data) {
  size_t count;
  if (!ArgInt32Array(info, i, name, data, &count)) return false;
  if (count < words) {
    ThrowRange(info.Env(), name, "is too short for the records asked for");
    return false;
  }
  return true;
}

struct Scratch {
#ifdef FDR_HAVE_MMSG
  mmsghdr msgs[kMaxBatch];
#else
  msghdr msgs[kMaxBatch];
#endif
  iovec iov[kMaxBatch];
  sockaddr_storage addrs[kMaxBatch];
};
thread_local Scratch scratch;

msghdr& Header(int i) {
#ifdef FDR_HAVE_MMSG
  return scratch.msgs[i].msg_hdr;
#else
  return scratch.msgs[i];
#endif
}

// Header i with its one iovec over [data, data + len) and no address yet.
msghdr& PrepareHeader(int i, uint8_t* data, size_t len) {
  msghdr& h = Header(i);
  memset(&h, 0, sizeof h);
  scratch.iov[i].iov_base = data;
  scratch.iov[i].iov_len = len;
  h.msg_iov = &scratch.iov[i];
  h.msg_iovlen = 1;
  return h;
}

// Receives up to `want` datagrams into the prepared headers; -1 with errno on failure.
// MSG_TRUNC makes Linux report a cut datagram's full size (elsewhere: the bytes kept).
int ReceiveMany(int fd, int want, size_t* sizes) {
#ifdef FDR_HAVE_MMSG
  int n = RetryOnEintr([&] { return recvmmsg(fd, scratch.msgs, want, MSG_TRUNC, nullptr); });
  for (int i = 0; i < n; i++) sizes[i] = scratch.msgs[i].msg_len;
  return n;
#else
  int n = 0;
  for (; n < want; n++) {
    ssize_t r = RetryOnEintr([&] { return recvmsg(fd, &scratch.msgs[n], 0); });
    if (r < 0) return n > 0 ? n : -1;  // a later error is seen again by the next call
    sizes[n] = static_cast<size_t>(r);
  }
  return n;
#endif
}

// recvBatch(fd, slab, offset, maxPerDatagram, max, records, names?) -> datagrams received
// (0: EAGAIN). With `names`, the source of datagram i on a Unix socket is written at
// names[i * UNIX_NAME_BYTES].
Napi::Value RecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* slab;
  size_t slabSize;
  int64_t offset, per, max;
  int32_t* rec;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "slab", &slab, &slabSize) ||
      !ArgInt(info, 2, "offset", 0, static_cast<int64_t>(slabSize), &offset) ||
      !ArgInt(info, 3, "maxPerDatagram", 1, 65536, &per) ||
      !ArgInt(info, 4, "max", 1, kMaxBatch, &max) ||
      !ArgRecords(info, 5, "records", static_cast<size_t>(max) * kRecvStride, &rec))
    return Napi::Value();
  uint8_t* names;
  size_t namesSize;
  if (!ArgNames(info, 6, static_cast<size_t>(max) * kNameBytes, &names, &namesSize)) return Napi::Value();
  // Each datagram gets a full slot, then is moved down next to the previous one (8-byte
  // aligned), so small datagrams do not waste the slab.
  const size_t slot = (static_cast<size_t>(per) + 7) & ~size_t{7};
  const size_t room = slabSize - static_cast<size_t>(offset);
  int want = static_cast<int>(room / slot < static_cast<size_t>(max) ? room / slot : max);
  if (want < 1) {
    ThrowRange(env, "slab", "must have room for one datagram of maxPerDatagram bytes after offset");
    return Napi::Value();
  }
  for (int i = 0; i < want; i++) {
    msghdr& h = PrepareHeader(i, slab + offset + i * slot, static_cast<size_t>(per));
    h.msg_name = &scratch.addrs[i];
    h.msg_namelen = sizeof(sockaddr_storage);
  }
  size_t sizes[kMaxBatch];
  int n = ReceiveMany(fd, want, sizes);
  if (n < 0) {
    if (IsAgain(errno)) return Napi::Number::New(env, 0);
    ThrowErrno(env, errno, "recvmmsg");
    return Napi::Value();
  }
  size_t pos = static_cast<size_t>(offset);
  for (int i = 0; i < n; i++) {
    const msghdr& h = Header(i);
    size_t kept = sizes[i] < static_cast<size_t>(per) ? sizes[i] : static_cast<size_t>(per);
    uint8_t* from = static_cast<uint8_t*>(scratch.iov[i].iov_base);
    if (slab + pos != from) memmove(slab + pos, from, kept);
    int32_t* r = rec + i * kRecvStride;
    r[0] = static_cast<int32_t>(pos);
    r[1] = static_cast<int32_t>(kept);
    r[2] = static_cast<int32_t>(sizes[i] > kept ? sizes[i] : kept);
    r[3] = (h.msg_flags & MSG_TRUNC) != 0 ? kTruncated : 0;
    if (h.msg_namelen == 0) scratch.addrs[i].ss_family = AF_UNSPEC;
    // On a Unix socket (names given) an unbound sender has no name at all: length 0.
    if (names != nullptr && (h.msg_namelen == 0 || scratch.addrs[i].ss_family == AF_UNIX)) {
      UnixWords(scratch.addrs[i], h.msg_namelen, names, static_cast<size_t>(i) * kNameBytes, r + 4);
    } else {
      WordsFromSockAddr(scratch.addrs[i], r + 4);
    }
    pos = (pos + kept + 7) & ~size_t{7};
  }
  return Napi::Number::New(env, n);
}

// Sends the prepared headers [from, count); -1 with errno when the first fails.
int SendMany(int fd, int from, int count) {
#ifdef FDR_HAVE_MMSG
  return RetryOnEintr([&] { return sendmmsg(fd, scratch.msgs + from, count - from, kNoSignal); });
#else
  int n = 0;
  for (; from + n < count; n++) {
    ssize_t r = RetryOnEintr([&] { return sendmsg(fd, &scratch.msgs[from + n], kNoSignal); });
    if (r < 0) return n > 0 ? n : -1;
  }
  return n;
#endif
}

// Sends the `total` prepared headers; result word i (results[i * stride]) gets the bytes
// sent, AGAIN (the rest of the batch is dropped with it) or -errno (that one datagram
// failed; the others are still sent). Returns how many were sent.
int SendPrepared(int fd, int total, int32_t* results, int stride) {
  int sent = 0;
  int i = 0;
  while (i < total) {
    int n = SendMany(fd, i, total);
    if (n < 0) {
      int err = errno;
      if (IsAgain(err)) {
        for (; i < total; i++) results[i * stride] = kAgain;
        break;
      }
      results[i * stride] = -err;  // this datagram failed: skip it, send the rest
      i++;
      continue;
    }
    for (int k = 0; k < n; k++, i++) results[i * stride] = static_cast<int32_t>(scratch.iov[i].iov_len);
    sent += n;
  }
  return sent;
}

// sendBatch(fd, slab, records, count, names?) -> datagrams sent. A Unix destination (family
// 1) names its bytes in `names`. Each record's result word gets
// the bytes sent, AGAIN (the rest of the batch is dropped with it), or -errno (that one
// datagram failed; the others are still sent).
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* slab;
  size_t slabSize;
  int64_t count;
  int32_t* rec;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "slab", &slab, &slabSize) ||
      !ArgInt(info, 3, "count", 0, kMaxBatch, &count) ||
      !ArgRecords(info, 2, "records", static_cast<size_t>(count) * kSendStride, &rec))
    return Napi::Value();
  uint8_t* names;
  size_t namesSize;
  if (!ArgNames(info, 4, 0, &names, &namesSize)) return Napi::Value();
  const int total = static_cast<int>(count);
  for (int i = 0; i < total; i++) {
    int32_t* r = rec + i * kSendStride;
    if (r[0] < 0 || r[1] < 0 || static_cast<size_t>(r[0]) + static_cast<size_t>(r[1]) > slabSize) {
      ThrowRange(env, "records", "name bytes outside the slab");
      return Napi::Value();
    }
    msghdr& h = PrepareHeader(i, slab + r[0], static_cast<size_t>(r[1]));
    socklen_t len = 0;
    if (r[3] == kUnixFamily) {
      if (!UnixFromWords(env, r + 3, names, namesSize, &scratch.addrs[i], &len)) return Napi::Value();
      h.msg_name = &scratch.addrs[i];
      h.msg_namelen = len;
    } else if (SockAddrFromWords(r + 3, &scratch.addrs[i], &len)) {
      h.msg_name = &scratch.addrs[i];
      h.msg_namelen = len;
    } else if (r[3] != 0) {
      ThrowRange(env, "records", "hold an address family that is not 0, 1, 4 or 6");
      return Napi::Value();
    }
  }
  return Napi::Number::New(env, SendPrepared(fd, total, rec + 2, kSendStride));
}

// addressWords(host, port, words, index): the address block of an IP literal (TypeError
// naming host when it is not one). Called once per destination host, then cached.
Napi::Value AddressWords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host;
  int64_t port, index;
  int32_t* words;
  size_t count;
  if (!ArgString(info, 0, "host", &host) || !ArgInt(info, 1, "port", 0, 65535, &port) ||
      !ArgInt32Array(info, 2, "words", &words, &count) ||
      !ArgInt(info, 3, "index", 0, static_cast<int64_t>(count) - kAddrWords, &index))
    return Napi::Value();
  sockaddr_storage ss;
  socklen_t len;
  if (!ParseInet(env, host, static_cast<int>(port), AF_UNSPEC, "host", &ss, &len)) return Napi::Value();
  WordsFromSockAddr(ss, words + index);
  return env.Undefined();
}

// -- the resolver's channels (lib/names/channels.ts) --------------------------------------

// Words of the channel table before its slots: the server's address block, the slot
// count, and the bytes of `queries` in use.
constexpr int kDnsSlotCount = kAddrWords;
constexpr int kDnsQueriesUsed = kAddrWords + 1;
constexpr int kDnsTableHead = kAddrWords + 2;
// Words of one dnsSendQueries record: [slot, type code, result].
constexpr int kDnsSendWords = 3;
// Longest name dnsSendQueries writes, in UTF-8 bytes (a name's text is at most 1,024
// UTF-16 units in lib/names: three bytes each at most).
constexpr size_t kDnsMaxName = 3 * 1024;
// Words of one table slot: [id (-1: none in flight), offset, length] of its query in `queries`.
constexpr int kDnsSlotWords = 3;
// Words of one answer record: [slot, kind, offset, length, rcode | TC << 4, ttl, negative
// ttl, addresses offset, address count].
constexpr int kDnsRecordWords = 9;

// The table's slot count, checked against its length (RangeError naming `table`); -1 after throwing.
int32_t DnsSlots(Napi::Env env, const int32_t* table, size_t tableWords) {
  if (tableWords < kDnsTableHead || table[kDnsSlotCount] < 0 ||
      tableWords < kDnsTableHead + static_cast<size_t>(table[kDnsSlotCount]) * kDnsSlotWords) {
    ThrowRange(env, "table", "is shorter than its slot count says");
    return -1;
  }
  return table[kDnsSlotCount];
}

// The summary `s` of the datagram at [offset, offset + length) as answer record r.
void DnsRecordWords(const DnsSummary& s, int32_t slot, size_t offset, size_t length,
                    size_t addrOffset, int32_t* r) {
  r[0] = slot;
  r[1] = s.kind;
  r[2] = static_cast<int32_t>(offset);
  r[3] = static_cast<int32_t>(length);
  r[4] = s.rcode | (s.truncated ? 16 : 0);
  r[5] = static_cast<int32_t>(s.ttl);
  r[6] = static_cast<int32_t>(s.negativeTtl);
  r[7] = static_cast<int32_t>(addrOffset);
  r[8] = s.addresses;
}

// dnsRecvBatch(fd, slab, maxPerDatagram, max, table, queries, records, addresses) ->
// datagrams received (0: EAGAIN). Receives up to `max` datagrams on a resolver channel (a
// connected UDP socket) and keeps the answers: a datagram from the server's address whose
// id is a slot's in flight and that answers that slot's query (ParseDnsAnswer). records[0]
// is how many were kept, their records follow; the address bytes of all of them go to
// `addresses`. Everything else (another source, an unknown id, a cut or malformed
// datagram) is dropped here, as channels.ts dropped it. The table's address block, when
// its family is 0, is filled from getpeername once.
Napi::Value DnsRecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t *slab, *queries, *addrs;
  size_t slabSize, queriesSize, addrsSize, tableWords, recordWords;
  int64_t per, max;
  int32_t *table, *rec;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "slab", &slab, &slabSize) ||
      !ArgInt(info, 2, "maxPerDatagram", 12, 65536, &per) ||
      !ArgInt(info, 3, "max", 1, kMaxBatch, &max) ||
      !ArgInt32Array(info, 4, "table", &table, &tableWords) ||
      !ArgBytes(info, 5, "queries", &queries, &queriesSize) ||
      !ArgInt32Array(info, 6, "records", &rec, &recordWords) ||
      !ArgBytes(info, 7, "addresses", &addrs, &addrsSize))
    return Napi::Value();
  const size_t slot = (static_cast<size_t>(per) + 7) & ~size_t{7};
  const int32_t slots = DnsSlots(env, table, tableWords);
  if (slots < 0) return Napi::Value();
  if (recordWords < 1 + static_cast<size_t>(max) * kDnsRecordWords) {
    ThrowRange(env, "records", "is too short for the records asked for");
    return Napi::Value();
  }
  const int want = static_cast<int>(slabSize / slot < static_cast<size_t>(max) ? slabSize / slot : max);
  if (want < 1) {
    ThrowRange(env, "slab", "must have room for one datagram of maxPerDatagram bytes");
    return Napi::Value();
  }
  if (table[0] == 0) {
    sockaddr_storage peer;
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      ThrowErrno(env, errno, "getpeername");
      return Napi::Value();
    }
    WordsFromSockAddr(peer, table);
  }
  for (int i = 0; i < want; i++) {
    msghdr& h = PrepareHeader(i, slab + i * slot, static_cast<size_t>(per));
    h.msg_name = &scratch.addrs[i];
    h.msg_namelen = sizeof(sockaddr_storage);
  }
  size_t sizes[kMaxBatch];
  const int n = ReceiveMany(fd, want, sizes);
  if (n < 0) {
    if (IsAgain(errno)) return Napi::Number::New(env, 0);
    ThrowErrno(env, errno, "recvmmsg");
    return Napi::Value();
  }
  int32_t kept = 0;
  size_t addrAt = 0;
  for (int i = 0; i < n; i++) {
    // A cut datagram is no answer (a server sends TC instead); the query waits on.
    if (sizes[i] > static_cast<size_t>(per) || (Header(i).msg_flags & MSG_TRUNC) != 0) continue;
    int32_t from[kAddrWords];
    WordsFromSockAddr(scratch.addrs[i], from);
    if (memcmp(from, table, 6 * sizeof(int32_t)) != 0) continue;
    const uint8_t* d = slab + i * slot;
    if (sizes[i] < 2) continue;
    const int32_t id = (d[0] << 8) | d[1];
    int32_t k = 0;
    const int32_t* s = table + kDnsTableHead;
    while (k < slots && s[k * kDnsSlotWords] != id) k++;
    if (k == slots) continue;
    const size_t qOffset = static_cast<size_t>(s[k * kDnsSlotWords + 1]);
    const size_t qLength = static_cast<size_t>(s[k * kDnsSlotWords + 2]);
    if (s[k * kDnsSlotWords + 1] < 0 || s[k * kDnsSlotWords + 2] < 0 || qOffset + qLength > queriesSize) {
      ThrowRange(env, "table", "names a query outside `queries`");
      return Napi::Value();
    }
    const DnsSummary sum = ParseDnsAnswer(d, sizes[i], queries + qOffset, qLength, addrs + addrAt, addrsSize - addrAt);
    if (sum.kind == kDnsRejected) continue;
    DnsRecordWords(sum, k, i * slot, sizes[i], addrAt, rec + 1 + kept * kDnsRecordWords);
    addrAt += static_cast<size_t>(sum.addresses) * static_cast<size_t>(sum.addressBytes);
    kept++;
  }
  rec[0] = kept;
  return Napi::Number::New(env, n);
}

// Writes the recursive query of slot `slot` (its id from the table) for the UTF-8 name
// [name, name + len) and type `type` at q; returns its length. The bytes are those of
// lib/names/packet.ts's writeQueryAt: one trailing dot dropped, every other dot the next
// label's length byte (kept to 8 bits, as a Uint8Array store keeps it).
size_t WriteDnsQuery(uint8_t* q, int32_t id, const char* name, size_t len, uint16_t type) {
  if (len > 0 && name[len - 1] == '.') len--;
  q[0] = static_cast<uint8_t>((id >> 8) & 0xff);
  q[1] = static_cast<uint8_t>(id & 0xff);
  q[2] = 0x01;  // RD
  q[3] = 0;
  q[4] = 0;
  q[5] = 1;  // QDCOUNT 1
  memset(q + 6, 0, 6);
  size_t at = 12;
  if (len > 0) {
    memcpy(q + at + 1, name, len);
    size_t lengthAt = at;
    for (size_t i = at + 1; i <= at + len; i++) {
      if (q[i] != '.') continue;
      q[lengthAt] = static_cast<uint8_t>(i - lengthAt - 1);
      lengthAt = i;
    }
    q[lengthAt] = static_cast<uint8_t>(at + len - lengthAt);
    at += len + 1;
  }
  q[at] = 0;
  q[at + 1] = static_cast<uint8_t>(type >> 8);
  q[at + 2] = static_cast<uint8_t>(type & 0xff);
  q[at + 3] = 0;
  q[at + 4] = 1;  // class IN
  return at + 5;
}

// dnsSendQueries(fd, table, queries, names, records, from, count) -> the record reached.
// Writes the queries of records [from, count) ([slot, type code 1|28, result]; names[i]
// the name of record i) into `queries` after the table's used bytes, records each one's
// offset and length in its slot (whose id the table holds), and sends them on the
// connected socket with as few syscalls as the kernel allows; result words as sendBatch's.
// Stops early when `queries` is full: the caller gives a larger one and calls again from
// the record returned.
Napi::Value DnsSendQueries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* queries;
  size_t queriesSize, tableWords, recordWords;
  int32_t *table, *rec;
  int64_t from, count;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt32Array(info, 1, "table", &table, &tableWords) ||
      !ArgBytes(info, 2, "queries", &queries, &queriesSize) ||
      !ArgInt32Array(info, 4, "records", &rec, &recordWords) ||
      !ArgInt(info, 6, "count", 0, static_cast<int64_t>(recordWords / kDnsSendWords), &count) ||
      !ArgInt(info, 5, "from", 0, count, &from))
    return Napi::Value();
  if (!info[3].IsArray()) {
    ThrowType(env, "names", "an Array of strings");
    return Napi::Value();
  }
  Napi::Array names = info[3].As<Napi::Array>();
  const int32_t slots = DnsSlots(env, table, tableWords);
  if (slots < 0) return Napi::Value();
  if (count - from > kMaxBatch) {
    ThrowRange(env, "count", "asks for more queries than one batch sends");
    return Napi::Value();
  }
  size_t used = static_cast<size_t>(table[kDnsQueriesUsed]);
  if (table[kDnsQueriesUsed] < 0 || used > queriesSize) {
    ThrowRange(env, "table", "says more bytes of queries are used than `queries` has");
    return Napi::Value();
  }
  // The names are read first (reading an array element can run JavaScript); then the bytes.
  thread_local std::string text;
  int total = 0;
  int64_t i = from;
  for (; i < count; i++) {
    int32_t* r = rec + i * kDnsSendWords;
    if (r[0] < 0 || r[0] >= slots || (r[1] != 1 && r[1] != 28)) {
      ThrowRange(env, "records", "name a slot outside the table or a type that is not 1 or 28");
      return Napi::Value();
    }
    Napi::Value v = names.Get(static_cast<uint32_t>(i));
    if (!v.IsString()) {
      ThrowType(env, "names", "an Array of strings");
      return Napi::Value();
    }
    size_t len = 0;
    napi_get_value_string_utf8(env, v, nullptr, 0, &len);
    if (len > kDnsMaxName) {
      ThrowRange(env, "names", "hold a name longer than a DNS query can carry");
      return Napi::Value();
    }
    // Header, length byte, name, terminator, type and class: at most len + 18 bytes.
    if (queriesSize - used < len + 18) break;
    text.resize(len + 1);
    napi_get_value_string_utf8(env, v, &text[0], len + 1, &len);
    uint8_t* q = queries + used;
    int32_t* slot = table + kDnsTableHead + r[0] * kDnsSlotWords;
    const size_t size = WriteDnsQuery(q, slot[0], text.data(), len, static_cast<uint16_t>(r[1]));
    slot[1] = static_cast<int32_t>(used);
    slot[2] = static_cast<int32_t>(size);
    PrepareHeader(total++, q, size);
    used += size;
  }
  table[kDnsQueriesUsed] = static_cast<int32_t>(used);
  if (total > 0) SendPrepared(fd, total, rec + from * kDnsSendWords + 2, kDnsSendWords);
  return Napi::Number::New(env, static_cast<double>(i));
}

// dnsParse(datagram, query, record, addresses) -> kind: ParseDnsAnswer of one datagram
// against one query, its answer record (as dnsRecvBatch's, slot 0) written to `record`.
Napi::Value DnsParse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *d, *q, *addrs;
  size_t len, qlen, addrsSize, recordWords;
  int32_t* rec;
  if (!ArgBytes(info, 0, "datagram", &d, &len) || !ArgBytes(info, 1, "query", &q, &qlen) ||
      !ArgInt32Array(info, 2, "record", &rec, &recordWords) ||
      !ArgBytes(info, 3, "addresses", &addrs, &addrsSize))
    return Napi::Value();
  if (recordWords < kDnsRecordWords) {
    ThrowRange(env, "record", "is too short for one record");
    return Napi::Value();
  }
  const DnsSummary sum = ParseDnsAnswer(d, len, q, qlen, addrs, addrsSize);
  DnsRecordWords(sum, 0, 0, len, 0, rec);
  return Napi::Number::New(env, sum.kind);
}

// addressText(words, index): the text of an address block, as getsockname would give it.
Napi::Value AddressText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* words;
  size_t count;
  int64_t index;
  if (!ArgInt32Array(info, 0, "words", &words, &count) ||
      !ArgInt(info, 1, "index", 0, static_cast<int64_t>(count) - kAddrWords, &index))
    return Napi::Value();
  sockaddr_storage ss;
  socklen_t len;
  if (!SockAddrFromWords(words + index, &ss, &len)) {
    ThrowRange(env, "words", "hold an address family that is not 4 or 6");
    return Napi::Value();
  }
  return FormatSockAddr(env, ss, len).Get("address");
}

}  // namespace

void InitDatagramBatch(Napi::Env env, Napi::Object exports) {
  exports.Set("recvBatch", Napi::Function::New(env, RecvBatch, "recvBatch"));
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch, "sendBatch"));
  exports.Set("addressWords", Napi::Function::New(env, AddressWords, "addressWords"));
  exports.Set("addressText", Napi::Function::New(env, AddressText, "addressText"));
  exports.Set("dnsRecvBatch", Napi::Function::New(env, DnsRecvBatch, "dnsRecvBatch"));
  exports.Set("dnsSendQueries", Napi::Function::New(env, DnsSendQueries, "dnsSendQueries"));
  exports.Set("dnsParse", Napi::Function::New(env, DnsParse, "dnsParse"));
  exports.Set("DATAGRAM_BATCH", Napi::Number::New(env, kMaxBatch));
  exports.Set("UNIX_NAME_BYTES", Napi::Number::New(env, static_cast<double>(kNameBytes)));
}

}  // namespace fdr
