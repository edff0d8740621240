// Kernel TLS (docs/tls.md, "Kernel TLS"): after a TLS 1.3 server handshake, the record layer
// can be handed to Linux (setsockopt TCP_ULP "tls", then SOL_TLS TLS_TX / TLS_RX with the
// traffic keys), so that the connection's bytes go through the plain batched path.
//
// What the kernel needs and where it comes from:
// - the traffic secrets: OpenSSL 3.0 has no call that returns them, but its key-log callback
//   gives CLIENT_/SERVER_TRAFFIC_SECRET_0 as they are derived (set only on contexts with
//   kernelTls on); key and iv follow with HKDF-Expand-Label (RFC 8446 section 7.3);
// - the record sequence numbers: OpenSSL has no public call for them either, so the
//   message callback counts the records each way and notes where each side's Finished
//   went; every record after it is under the application key, numbered from 0.
// The handoff happens only when that count is exact: nothing read and not yet consumed by
// OpenSSL, no ciphertext waiting, no key update seen. Otherwise the session stays in the
// userspace engine and says why.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/tls1.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#if defined(__linux__)
#include <linux/tls.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "batch_io.h"
#include "errors.h"
#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace fdr {

namespace {

// The TLS 1.3 cipher suites the kernel takes (RFC 8446 appendix B.4: 0x1301..0x1303).
struct Suite {
  uint16_t id;
  const char* digest;
  size_t keyLen;
};
constexpr Suite kSuites[] = {{0x1301, "SHA256", 16}, {0x1302, "SHA384", 32}, {0x1303, "SHA256", 32}};
constexpr size_t kIvLen = 12;

const Suite* SuiteOf(uint16_t id) {
  for (const Suite& s : kSuites)
    if (s.id == id) return &s;
  return nullptr;
}

// A TCP_ULP errno meaning "this kernel has no TLS ULP" (not something about one socket).
bool MeansUnavailable(int err) { return err == ENOENT || err == ENOPROTOOPT || err == EOPNOTSUPP; }

// Per process: the errno of the first TCP_ULP that said the kernel has no TLS ULP (0: not
// seen), so later connections fall back without a syscall; and what happened so far.
std::atomic<int> unavailable{0};
std::atomic<uint64_t> ulpCalls{0}, handedOff{0}, fallbacks{0};

void Bump(std::atomic<uint64_t>& n) { n.fetch_add(1); }

// The key-log line "CLIENT_TRAFFIC_SECRET_0 <client random hex> <secret hex>" of a session
// that wants the kernel: the secret goes to the connection, the line nowhere else.
void KeepSecret(const SSL* ssl, const char* line) {
  auto* c = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
  if (c == nullptr || !c->kernelWanted) return;
  std::vector<uint8_t>* dst = nullptr;
  const char* rest = nullptr;
  if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
    dst = &c->clientSecret;
    rest = line + 24;
  } else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
    dst = &c->serverSecret;
    rest = line + 24;
  } else {
    return;
  }
  const char* hex = strchr(rest, ' ');
  if (hex == nullptr) return;
  hex++;
  dst->clear();
  for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
    char pair[3] = {hex[i], hex[i + 1], '\0'};
    dst->push_back(static_cast<uint8_t>(strtoul(pair, nullptr, 16)));
  }
}

// Counts records both ways and notes where each side's Finished is (see the top).
void CountRecords(int writeP, int version, int contentType, const void* buf, size_t len, SSL* ssl, void* arg) {
  auto* c = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
  if (c == nullptr) return;
  if (contentType == SSL3_RT_HEADER) {
    (writeP ? c->recordsOut : c->recordsIn)++;
    return;
  }
  if (contentType != SSL3_RT_HANDSHAKE || len == 0) return;
  uint8_t type = static_cast<const uint8_t*>(buf)[0];
  if (type == SSL3_MT_FINISHED) {
    if (writeP) {
      c->appOutBase = static_cast<int64_t>(c->recordsOut);
    } else {
      c->appInBase = static_cast<int64_t>(c->recordsIn);
    }
  } else if (type == SSL3_MT_KEY_UPDATE) {
    c->rekeyed = true;
  }
}

}  // namespace

bool Tls13ExpandLabel(const char* digest, const uint8_t* secret, size_t secretLen, const char* label, uint8_t* out,
                      size_t outLen) {
  // HkdfLabel: uint16 length, opaque label<7..255> = "tls13 " + label, opaque context<0..255> = "".
  std::string full = std::string("tls13 ") + label;
  std::vector<uint8_t> info = {static_cast<uint8_t>(outLen >> 8), static_cast<uint8_t>(outLen),
                               static_cast<uint8_t>(full.size())};
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(0);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (kctx == nullptr) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret), secretLen),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_KDF_derive(kctx, out, outLen, params) == 1;
  EVP_KDF_CTX_free(kctx);
  return ok;
}

void KernelTlsWatch(SSL_CTX* ctx) { SSL_CTX_set_keylog_callback(ctx, KeepSecret); }

void KernelTlsCount(SSL* ssl) { SSL_set_msg_callback(ssl, CountRecords); }

void KernelTlsForget(TlsConnection* c) {
  OPENSSL_cleanse(c->clientSecret.data(), c->clientSecret.size());
  OPENSSL_cleanse(c->serverSecret.data(), c->serverSecret.size());
  std::vector<uint8_t>().swap(c->clientSecret);
  std::vector<uint8_t>().swap(c->serverSecret);
}

std::string KernelTlsPrepare(TlsConnection* c, KernelKeys* keys) {
  if (!c->kernelWanted) return c->origin != nullptr && c->origin->server ? "off" : "client";
  if (c->kernel) return "";
  if (!SSL_is_init_finished(c->ssl)) return "handshaking";
  if (SSL_version(c->ssl) != TLS1_3_VERSION) return "version";
  const SSL_CIPHER* cipher = SSL_get_current_cipher(c->ssl);
  const Suite* suite = cipher ? SuiteOf(static_cast<uint16_t>(SSL_CIPHER_get_id(cipher) & 0xFFFF)) : nullptr;
  if (suite == nullptr) return "cipher";
  if (c->closeNotifySent || SSL_get_shutdown(c->ssl) != 0) return "closing";
  if (c->rekeyed) return "key-update";
  if (c->appOutBase < 0 || c->appInBase < 0 || c->clientSecret.empty() || c->serverSecret.empty()) return "no-secrets";
  // Every byte read from the fd consumed by OpenSSL, whole records only; nothing waiting to leave.
  if (SSL_has_pending(c->ssl) || c->inLen > 0 || !c->inKeep.empty() || c->InsideRecord() || c->eof) return "buffered";
  if (c->pendingOut() > 0) return "pending";
  keys->suite = suite->id;
  keys->keyLen = suite->keyLen;
  // A server writes with the server's secret and reads with the client's.
  const std::vector<uint8_t>& tx = c->serverSecret;
  const std::vector<uint8_t>& rx = c->clientSecret;
  if (!Tls13ExpandLabel(suite->digest, tx.data(), tx.size(), "key", keys->txKey, suite->keyLen) ||
      !Tls13ExpandLabel(suite->digest, tx.data(), tx.size(), "iv", keys->txIv, kIvLen) ||
      !Tls13ExpandLabel(suite->digest, rx.data(), rx.size(), "key", keys->rxKey, suite->keyLen) ||
      !Tls13ExpandLabel(suite->digest, rx.data(), rx.size(), "iv", keys->rxIv, kIvLen))
    return "derivation";
  keys->txSeq = c->recordsOut - static_cast<uint64_t>(c->appOutBase);
  keys->rxSeq = c->recordsIn - static_cast<uint64_t>(c->appInBase);
  return "";
}

#if defined(__linux__) && defined(TCP_ULP) && defined(TLS_1_3_VERSION)
namespace {

void PutSeq(unsigned char* dst, uint64_t seq) {
  for (int i = 7; i >= 0; i--, seq >>= 8) dst[i] = static_cast<unsigned char>(seq);
}

// One direction's setsockopt(SOL_TLS, TLS_TX / TLS_RX) with the kernel's struct for the
// suite: the TLS 1.3 iv is split into `salt` (its first 4 bytes for AES-GCM, none for
// ChaCha20) and `iv` (the rest). 0 or errno.
template <typename Info>
int InstallAs(int fd, int which, uint16_t cipherType, const uint8_t* key, const uint8_t* iv, uint64_t seq) {
  static_assert(sizeof(Info::salt) + sizeof(Info::iv) == kIvLen, "a TLS 1.3 iv is 12 bytes");
  Info info{};
  info.info.version = TLS_1_3_VERSION;
  info.info.cipher_type = cipherType;
  memcpy(info.salt, iv, sizeof info.salt);
  memcpy(info.iv, iv + sizeof info.salt, sizeof info.iv);
  memcpy(info.key, key, sizeof info.key);
  PutSeq(info.rec_seq, seq);
  int r = setsockopt(fd, SOL_TLS, which, &info, sizeof info);
  int err = r == 0 ? 0 : errno;
  OPENSSL_cleanse(&info, sizeof info);
  return err;
}

int Install(int fd, int which, uint16_t suite, const uint8_t* key, const uint8_t* iv, uint64_t seq) {
  switch (suite) {
    case 0x1301:
      return InstallAs<tls12_crypto_info_aes_gcm_128>(fd, which, TLS_CIPHER_AES_GCM_128, key, iv, seq);
    case 0x1302:
      return InstallAs<tls12_crypto_info_aes_gcm_256>(fd, which, TLS_CIPHER_AES_GCM_256, key, iv, seq);
    default:
      return InstallAs<tls12_crypto_info_chacha20_poly1305>(fd, which, TLS_CIPHER_CHACHA20_POLY1305, key, iv, seq);
  }
}

}  // namespace
#endif

std::string KernelTlsHandOff(TlsConnection* c) {
  if (c->kernel) return "kernel";
  int cached = unavailable.load();
  if (c->kernelWanted && cached != 0) {
    Bump(fallbacks);
    KernelTlsForget(c);
    return ErrnoName(cached);
  }
  KernelKeys keys;
  std::string why = KernelTlsPrepare(c, &keys);
  if (!why.empty()) {
    OPENSSL_cleanse(&keys, sizeof keys);
    if (c->kernelWanted && why != "handshaking") {
      Bump(fallbacks);
      KernelTlsForget(c);
    }
    return why;
  }
#if defined(__linux__) && defined(TCP_ULP) && defined(TLS_1_3_VERSION)
  Bump(ulpCalls);
  int err = setsockopt(c->fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls") == 0 ? 0 : errno;
  if (err == 0) {
    // With the ULP on and no direction set up the socket still passes bytes as they are, so
    // a refused first direction leaves the userspace engine in charge. Once RX is the
    // kernel's, a refused TX cannot be undone: the connection fails (the caller closes it).
    err = Install(c->fd, TLS_RX, keys.suite, keys.rxKey, keys.rxIv, keys.rxSeq);
    if (err == 0) {
      int txErr = Install(c->fd, TLS_TX, keys.suite, keys.txKey, keys.txIv, keys.txSeq);
      OPENSSL_cleanse(&keys, sizeof keys);
      KernelTlsForget(c);
      if (txErr != 0) {
        c->verifyResult = 0;
        c->errorCode = "ERR_TLS_KERNEL_HANDOFF";
        c->errorMessage = std::string("the kernel took TLS_RX but refused TLS_TX: ") + ErrnoName(txErr);
        return "error";
      }
      c->kernel = true;
      Bump(handedOff);
      return "kernel";
    }
    OPENSSL_cleanse(&keys, sizeof keys);
    KernelTlsForget(c);
    Bump(fallbacks);
    return std::string("TLS_RX ") + ErrnoName(err);
  }
  OPENSSL_cleanse(&keys, sizeof keys);
  KernelTlsForget(c);
  if (MeansUnavailable(err)) {
    int expected = 0;
    unavailable.compare_exchange_strong(expected, err);
  }
  Bump(fallbacks);
  return ErrnoName(err);
#else
  OPENSSL_cleanse(&keys, sizeof keys);
  KernelTlsForget(c);
  Bump(fallbacks);
  return ErrnoName(ENOSYS);
#endif
}

#if defined(__linux__) && defined(TLS_SET_RECORD_TYPE)
namespace {

// A sendmsg/recvmsg of one record with room for its record type (SOL_TLS control message).
struct RecordMessage {
  iovec iov;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(unsigned char))] = {};
  msghdr msg{};

  RecordMessage(unsigned char* buf, size_t len) : iov{buf, len} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  void SetType(unsigned char type) {
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_TLS;
    cm->cmsg_type = TLS_SET_RECORD_TYPE;
    cm->cmsg_len = CMSG_LEN(sizeof type);
    *CMSG_DATA(cm) = type;
  }
  int Type() {
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm))
      if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE) return *CMSG_DATA(cm);
    return -1;
  }
};

}  // namespace
#endif

int32_t KernelTlsCloseNotify(TlsConnection* c) {
#if defined(__linux__) && defined(TLS_SET_RECORD_TYPE)
  // An alert record (type 21): warning (1), close_notify (0), sent through the kernel's TX.
  unsigned char alert[2] = {1, 0};
  RecordMessage m(alert, sizeof alert);
  m.SetType(21);
  ssize_t n = RetryOnEintr([&] { return sendmsg(c->fd, &m.msg, MSG_NOSIGNAL); });
  if (n < 0 && !IsAgain(errno)) return -errno;
  return 0;
#else
  return -ENOSYS;
#endif
}

std::string KernelTlsControlRecord(TlsConnection* c) {
#if defined(__linux__) && defined(TLS_SET_RECORD_TYPE)
  unsigned char body[64];
  RecordMessage m(body, sizeof body);
  ssize_t n = RetryOnEintr([&] { return recvmsg(c->fd, &m.msg, MSG_DONTWAIT); });
  if (n < 0) return IsAgain(errno) ? "again" : ErrnoName(errno);
  int type = m.Type();
  if (type == 21 && n >= 2 && body[1] == 0) return "close_notify";
  c->verifyResult = 0;
  c->errorCode = "ERR_TLS_KERNEL_RECORD";
  c->errorMessage = type == 21 && n >= 2 ? "the peer sent TLS alert " + std::to_string(body[1])
                                         : "the peer sent a TLS record of type " + std::to_string(type) +
                                               " that the kernel's record layer cannot pass on (a key update?)";
  return "error";
#else
  return "ENOSYS";
#endif
}

Napi::Value KernelTlsStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int cached = unavailable.load();
  o.Set("unavailable", cached == 0 ? env.Null() : Napi::String::New(env, ErrnoName(cached)));
  o.Set("ulpCalls", Napi::Number::New(env, static_cast<double>(ulpCalls.load())));
  o.Set("handedOff", Napi::Number::New(env, static_cast<double>(handedOff.load())));
  o.Set("fallbacks", Napi::Number::New(env, static_cast<double>(fallbacks.load())));
  return o;
}

// tls13TrafficKeys(suite, secret) -> { key, iv }: HKDF-Expand-Label of a TLS 1.3 traffic
// secret, as handed to the kernel (suite: "TLS_AES_128_GCM_SHA256", ...).
Napi::Value Tls13TrafficKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgString(info, 0, "suite", &name)) return Napi::Value();
  const Suite* suite = name == "TLS_AES_128_GCM_SHA256"         ? SuiteOf(0x1301)
                       : name == "TLS_AES_256_GCM_SHA384"       ? SuiteOf(0x1302)
                       : name == "TLS_CHACHA20_POLY1305_SHA256" ? SuiteOf(0x1303)
                                                                : nullptr;
  if (suite == nullptr) {
    ThrowRange(env, "suite", "must be TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256");
    return Napi::Value();
  }
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    ThrowType(env, "secret", "a Buffer");
    return Napi::Value();
  }
  Napi::Buffer<uint8_t> secret = info[1].As<Napi::Buffer<uint8_t>>();
  uint8_t key[32], iv[kIvLen];
  if (!Tls13ExpandLabel(suite->digest, secret.Data(), secret.Length(), "key", key, suite->keyLen) ||
      !Tls13ExpandLabel(suite->digest, secret.Data(), secret.Length(), "iv", iv, kIvLen)) {
    Napi::Error::New(env, "HKDF-Expand-Label failed").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("key", Napi::Buffer<uint8_t>::Copy(env, key, suite->keyLen));
  o.Set("iv", Napi::Buffer<uint8_t>::Copy(env, iv, kIvLen));
  return o;
}

}  // namespace fdr
