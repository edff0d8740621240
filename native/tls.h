// The TLS engine (lib/native.ts, "TLS"): OpenSSL record layer over the raw non-blocking fds
// the reactor already polls. docs/design.md ("TLS") says why it looks like this:
// - OpenSSL is the one Node itself carries. Its headers come from Node's include directory
//   and nothing is linked: the symbols resolve against the node binary when the addon loads,
//   so no second OpenSSL ever enters the process.
// - Every SSL object talks to an in-memory BIO of ours, never to the fd: the engine does the
//   syscalls itself, one read per fd and one send per connection per batch call, and the
//   record layer never sees EAGAIN.
#pragma once

#include <napi.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "fdreactor's TLS needs the OpenSSL 3 headers that ship with Node >= 18 (include/node/openssl)"
#endif

namespace fdr {

// Status bits of a session after a call (lib/native.ts TLS_* constants).
constexpr int32_t kTlsHandshakeDone = 1;  // the handshake has completed
constexpr int32_t kTlsWantWrite = 2;      // ciphertext is waiting: flush() when writable
constexpr int32_t kTlsPeerClosed = 4;     // the peer's close_notify arrived
constexpr int32_t kTlsEof = 8;            // the peer's TCP stream ended (FIN)
constexpr int32_t kTlsBuffered = 16;      // more is ready inside the engine: read again
// Result word for "the TLS layer failed": the session's error() says why. Far below any -errno.
constexpr int32_t kTlsError = -0x10000;

// What a TlsContext knows beyond its SSL_CTX; owned by the SSL_CTX (freed with its last
// reference), because sessions keep the SSL_CTX alive after the JS context object is gone.
struct ContextState {
  bool server = false;
  std::vector<uint8_t> alpn;                 // wire format: length-prefixed names
  std::map<std::string, SSL_CTX*> sni;       // server: host name (lower case) -> context
  std::map<std::string, SSL_SESSION*> resumable;  // client: session key -> newest session
  bool kernelTls = false;                    // server: sessions may hand records to the kernel
  ~ContextState();
};

ContextState* StateOf(SSL_CTX* ctx);
// The SSL_CTX of a JS TlsContext (TypeError naming `name` otherwise).
SSL_CTX* ArgTlsContext(const Napi::CallbackInfo& info, size_t i, const char* name);

// One connection: an SSL object bound to a pair of byte queues instead of the fd.
struct TlsConnection {
  SSL* ssl = nullptr;
  int fd = -1;
  int32_t id = -1;
  std::string sessionKey;       // client: where its resumable session is cached
  const ContextState* origin = nullptr;  // server: the listening context, whatever SNI picks
  // Ciphertext from the peer not yet consumed by OpenSSL (a window into the per-thread read
  // buffer during a batch call, its leftover copied to `inKeep` afterwards).
  const uint8_t* in = nullptr;
  size_t inLen = 0;
  std::vector<uint8_t> inKeep;
  bool eof = false;             // the fd reported end of stream
  // Where the peer's byte stream is in its records (header bytes seen, body bytes left),
  // so that an end of stream inside a record is told apart from one between records.
  uint8_t header[5] = {};
  uint8_t headerHave = 0;
  size_t recordLeft = 0;
  // Ciphertext for the peer that the kernel has not taken yet: out[outOff, out.size()).
  std::vector<uint8_t> out;
  size_t outOff = 0;
  bool closeNotifySent = false;
  int32_t pendingError = 0;     // an error found after plaintext that was delivered first
  // The reason of the last kTlsError, captured when it happened (error() reads it).
  std::string errorCode;
  std::string errorMessage;
  long verifyResult = 0;        // X509_V_OK or the chain/hostname check's failure
  // Kernel TLS (tls_kernel.cc): wanted (server session on a kernelTls context), done, and
  // what the handoff needs: the traffic secrets, records counted each way and the count at
  // each side's Finished (-1 until seen), and whether a key update happened.
  bool kernelWanted = false;
  bool kernel = false;
  bool rekeyed = false;
  std::vector<uint8_t> clientSecret, serverSecret;
  uint64_t recordsOut = 0, recordsIn = 0;
  int64_t appOutBase = -1, appInBase = -1;

  size_t pendingOut() const { return out.size() - outOff; }
  int32_t Status() const;
  // Sends queued ciphertext: 0 when done or AGAIN (kernel full), else -errno.
  int32_t Flush();
  void TrackRecords(const uint8_t* p, size_t n);
  bool InsideRecord() const { return headerHave > 0 || recordLeft > 0; }
};

TlsConnection* ConnectionById(int32_t id);

// JS values describing a connection (tls_peer.cc).
Napi::Value PeerCertificateObject(Napi::Env env, SSL* ssl);
Napi::Value ErrorObject(Napi::Env env, const TlsConnection& c);
// Records the reason of a failed OpenSSL call in `c` (the thread's error queue is emptied).
void CaptureError(TlsConnection* c, const char* fallback);

// Kernel TLS (tls_kernel.cc). What goes into setsockopt(SOL_TLS, TLS_TX / TLS_RX).
struct KernelKeys {
  uint16_t suite = 0;  // 0x1301 AES-128-GCM, 0x1302 AES-256-GCM, 0x1303 ChaCha20-Poly1305
  size_t keyLen = 0;
  uint8_t txKey[32] = {}, txIv[12] = {}, rxKey[32] = {}, rxIv[12] = {};
  uint64_t txSeq = 0, rxSeq = 0;
};
// HKDF-Expand-Label(secret, label, "", outLen) of RFC 8446 section 7.1 with `digest`.
bool Tls13ExpandLabel(const char* digest, const uint8_t* secret, size_t secretLen, const char* label, uint8_t* out,
                      size_t outLen);
// A kernelTls context: its sessions' traffic secrets are kept (key-log callback).
void KernelTlsWatch(SSL_CTX* ctx);
// A session that may hand off: its records are counted (message callback).
void KernelTlsCount(SSL* ssl);
// The keys and sequence numbers the kernel would get, or why not ("" when ready).
std::string KernelTlsPrepare(TlsConnection* c, KernelKeys* keys);
// Hands the record layer to the kernel: "kernel", "error" (the connection is unusable:
// c's error says why), or why it stayed in userspace. The secrets are wiped either way.
std::string KernelTlsHandOff(TlsConnection* c);
// After the handoff: close_notify through the kernel (0 or -errno), and the record behind
// a read's EIO ("close_notify", "again", "error" with c's error set, or an errno name).
int32_t KernelTlsCloseNotify(TlsConnection* c);
std::string KernelTlsControlRecord(TlsConnection* c);
void KernelTlsForget(TlsConnection* c);
Napi::Value KernelTlsStats(const Napi::CallbackInfo& info);
Napi::Value Tls13TrafficKeys(const Napi::CallbackInfo& info);

}  // namespace fdr
