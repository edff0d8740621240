// The JS class `TlsSession` and the batched TLS calls (lib/native.ts, "TLS").
//
// A session is one SSL object bound to the connection's fd through a BIO of ours that only
// moves bytes between OpenSSL and two queues (the peer's ciphertext in, ours out). The
// syscalls are made here, once per connection per call: one read() before decrypting, one
// send() after encrypting. Sessions have small integer ids so that `tlsReadBatch` and
// `tlsWriteBatch` take an Int32Array of ids, as readBatch/writevBatch take fds, and do
// many connections in one N-API call without touching a JS object per connection.
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "batch_io.h"
#include "checked_method.h"
#include "errors.h"
#include "tls.h"

namespace fdr {

namespace {

// Plaintext per record (RFC 8446 section 5.1): the size small writes are gathered to.
constexpr size_t kRecordPlaintext = 16384;
// The largest record on the wire: header, plaintext and TLS 1.2's allowed expansion.
constexpr size_t kMaxRecord = 5 + kRecordPlaintext + 2048;
// Ciphertext a connection may hold beyond what the kernel took before it stops accepting
// plaintext: the rest stays in the caller's queue, where its water marks see it.
constexpr size_t kOutBacklog = 64 * 1024;

thread_local std::vector<TlsConnection*> table;
thread_local std::vector<int32_t> freeIds;

// ---- the BIO between OpenSSL and the queues ----------------------------------------

int BioWrite(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  auto* c = static_cast<TlsConnection*>(BIO_get_data(b));
  c->out.insert(c->out.end(), data, data + len);
  return len;
}

int BioRead(BIO* b, char* buf, int len) {
  BIO_clear_retry_flags(b);
  auto* c = static_cast<TlsConnection*>(BIO_get_data(b));
  if (c->inLen == 0) {
    if (c->eof) return 0;
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = std::min(static_cast<size_t>(len), c->inLen);
  memcpy(buf, c->in, n);
  c->in += n;
  c->inLen -= n;
  return static_cast<int>(n);
}

long BioCtrl(BIO* b, int cmd, long num, void* ptr) {
  auto* c = static_cast<TlsConnection*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // flushing is our send(), after OpenSSL returns
    case BIO_CTRL_PENDING:
      return static_cast<long>(c->inLen);
    case BIO_CTRL_WPENDING:
      return static_cast<long>(c->pendingOut());
    case BIO_CTRL_EOF:
      return c->eof && c->inLen == 0;
    default:
      return 0;
  }
}

BIO_METHOD* ConnectionBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fdreactor connection");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// ---- one connection's steps ----------------------------------------------------------

// The peer's ciphertext for this call: what was left last time, then one read() of the fd.
// Returns 0, or -errno when the read failed (EAGAIN is not a failure).
int32_t TakeInput(TlsConnection* c, size_t per, std::vector<uint8_t>* scratch, bool* gotNew) {
  // Up to `per` bytes of plaintext plus one whole record: a call always has a complete
  // record to decrypt when the peer sent one, whatever was left over from the last call.
  const size_t want = per + kMaxRecord;
  size_t keep = c->inKeep.size();
  if (scratch->size() < want) scratch->resize(want);
  if (keep > 0) memcpy(scratch->data(), c->inKeep.data(), keep);
  size_t len = keep;
  *gotNew = false;
  // What is left over already holds this call's plaintext: no syscall.
  if (!c->eof && keep < want) {
    ssize_t n = RetryOnEintr([&] { return read(c->fd, scratch->data() + keep, want - keep); });
    if (n < 0 && !IsAgain(errno)) return -errno;
    if (n == 0) c->eof = true;
    if (n > 0) {
      c->TrackRecords(scratch->data() + keep, static_cast<size_t>(n));
      len += static_cast<size_t>(n);
    }
    *gotNew = n >= 0;
  }
  c->in = scratch->data();
  c->inLen = len;
  return 0;
}

void KeepInput(TlsConnection* c) {
  if (c->inLen > 0) {
    c->inKeep.assign(c->in, c->in + c->inLen);
  } else if (!c->inKeep.empty()) {
    std::vector<uint8_t>().swap(c->inKeep);
  }
  c->in = nullptr;
  c->inLen = 0;
}

// Reads and decrypts into dst (at most `per` bytes of plaintext); the handshake advances on
// the way. Returns plaintext bytes (>= 0), -errno or kTlsError; ORs status bits into *flags.
int32_t ReadConnection(TlsConnection* c, uint8_t* dst, size_t per, std::vector<uint8_t>* scratch, int32_t* flags) {
  if (c->pendingError != 0) {
    int32_t e = c->pendingError;
    c->pendingError = 0;
    *flags |= c->Status();
    return e;
  }
  bool gotNew = false;
  int32_t r = TakeInput(c, per, scratch, &gotNew);
  if (r < 0) {
    KeepInput(c);
    *flags |= c->Status();
    return r;
  }
  if (c->inLen == 0 && !gotNew && SSL_has_pending(c->ssl) == 0) {
    *flags |= c->Status();  // a wake-up with nothing to read: no OpenSSL call
    return 0;
  }
  ERR_clear_error();
  size_t got = 0;
  int err = SSL_ERROR_NONE;
  // Asked before the failure: a fatal error leaves the SSL "not finished" afterwards.
  bool established = SSL_is_init_finished(c->ssl);
  while (got < per) {
    int n = SSL_read(c->ssl, dst + got, static_cast<int>(per - got));
    if (n > 0) {
      got += static_cast<size_t>(n);
      established = true;
      // No ciphertext left, in our queue or OpenSSL's: another SSL_read could only say
      // WANT_READ, after allocating and freeing a record buffer (SSL_MODE_RELEASE_BUFFERS)
      // to do so. At the end of the stream it must still run, to tell EOF apart.
      if (c->inLen == 0 && !c->eof && SSL_has_pending(c->ssl) == 0) {
        err = SSL_ERROR_WANT_READ;
        break;
      }
      continue;
    }
    err = SSL_get_error(c->ssl, n);
    break;
  }
  int32_t result = static_cast<int32_t>(got);
  if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL) {
    if (c->eof && established && !c->InsideRecord()) {
      ERR_clear_error();  // the peer closed between records without close_notify: Eof says so
    } else {
      if (c->eof && established) {
        ERR_clear_error();
        c->verifyResult = X509_V_OK;
        c->errorCode = "ERR_TLS_TRUNCATED_RECORD";
        c->errorMessage = "the peer's stream ended inside a TLS record";
      } else {
        CaptureError(c, "the TLS connection failed");
      }
      if (got > 0) {
        c->pendingError = kTlsError;  // deliver the plaintext first; the error next call
      } else {
        result = kTlsError;
      }
    }
  } else if (got == per && (SSL_has_pending(c->ssl) || c->inLen > 0)) {
    *flags |= kTlsBuffered;
  }
  KeepInput(c);
  // Handshake messages, tickets, alerts (also the one telling the peer why we failed).
  int32_t sent = c->Flush();
  if (sent < 0 && result >= 0) {
    if (got > 0) {
      c->pendingError = sent;
    } else {
      result = sent;
    }
  }
  if (c->pendingError != 0) *flags |= kTlsBuffered;
  *flags |= c->Status();
  return result;
}

// Encrypts plaintext from iov into the out-queue (gathered into full records) and sends;
// stops taking plaintext while kOutBacklog bytes of ciphertext wait. Returns plaintext
// bytes taken, -errno or kTlsError.
int32_t WriteConnection(TlsConnection* c, const iovec* iov, int n, int32_t* flags) {
  static thread_local uint8_t gather[kRecordPlaintext];
  size_t taken = 0, fill = 0;
  bool stopped = false;
  int32_t failure = 0;
  bool open = SSL_is_init_finished(c->ssl) && !c->closeNotifySent;
  ERR_clear_error();
  auto emit = [&](const uint8_t* p, size_t len) {
    if (c->pendingOut() >= kOutBacklog) {
      int32_t s = c->Flush();
      if (s < 0) failure = s;
      if (s < 0 || c->pendingOut() >= kOutBacklog) return false;
    }
    if (SSL_write(c->ssl, p, static_cast<int>(len)) != static_cast<int>(len)) {
      CaptureError(c, "encrypting failed");
      failure = kTlsError;
      return false;
    }
    taken += len;
    return true;
  };
  for (int j = 0; open && j < n && !stopped; j++) {
    auto* p = static_cast<const uint8_t*>(iov[j].iov_base);
    size_t len = iov[j].iov_len;
    while (len > 0) {
      size_t step;
      if (fill == 0 && len >= kRecordPlaintext) {
        step = kRecordPlaintext;
        if (!emit(p, step)) {
          stopped = true;
          break;
        }
      } else {
        step = std::min(len, kRecordPlaintext - fill);
        memcpy(gather + fill, p, step);
        fill += step;
        if (fill == kRecordPlaintext) {
          fill = 0;
          if (!emit(gather, kRecordPlaintext)) {
            stopped = true;
            break;
          }
        }
      }
      p += step;
      len -= step;
    }
  }
  if (!stopped && fill > 0) emit(gather, fill);
  if (failure == 0) failure = c->Flush();
  *flags |= c->Status();
  return failure < 0 ? failure : static_cast<int32_t>(taken);
}

// ---- the JS class ----------------------------------------------------------------------

class TlsSessionWrap : public Napi::ObjectWrap<TlsSessionWrap> {
 public:
  static const napi_type_tag kTypeTag;
  static constexpr const char* kWhat = "a TlsSession";

  static Napi::Function Define(Napi::Env env) {
    using W = TlsSessionWrap;
    return DefineClass(env, "TlsSession",
                       {CheckedGetter<W, &W::Id>("id"),
                        CheckedMethod<W, &W::Handshake>("handshake"),
                        CheckedMethod<W, &W::FlushMethod>("flush"),
                        CheckedMethod<W, &W::Shutdown>("shutdown"),
                        CheckedMethod<W, &W::Close>("close"),
                        CheckedMethod<W, &W::PeerCertificate>("peerCertificate"),
                        CheckedMethod<W, &W::AlpnProtocol>("alpnProtocol"),
                        CheckedMethod<W, &W::Protocol>("protocol"),
                        CheckedMethod<W, &W::Cipher>("cipher"),
                        CheckedMethod<W, &W::SessionReused>("sessionReused"),
                        CheckedMethod<W, &W::ServerName>("serverName"),
                        CheckedMethod<W, &W::Error>("error"),
                        CheckedMethod<W, &W::KernelHandOff>("kernelHandOff"),
                        CheckedMethod<W, &W::KernelKeys>("kernelKeys"),
                        CheckedMethod<W, &W::KernelControlRecord>("kernelControlRecord")});
  }

  // new TlsSession(context, fd, { serverName?, sessionKey? })
  explicit TlsSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsSessionWrap>(info) {
    Napi::Env env = info.Env();
    napi_type_tag_object(env, info.This(), &kTypeTag);
    SSL_CTX* ctx = ArgTlsContext(info, 0, "context");
    if (ctx == nullptr) return;
    int fd;
    if (!ArgFd(info, 1, "fd", &fd)) return;
    std::string serverName, sessionKey;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      if (!info[2].IsObject()) {
        ThrowType(env, "options", "an object");
        return;
      }
      Napi::Object o = info[2].As<Napi::Object>();
      for (auto [key, out] : {std::pair<const char*, std::string*>{"serverName", &serverName}, {"sessionKey", &sessionKey}}) {
        Napi::Value v = o.Get(key);
        if (v.IsUndefined()) continue;
        if (!v.IsString()) {
          ThrowType(env, key, "a string");
          return;
        }
        *out = v.As<Napi::String>().Utf8Value();
      }
    }
    bool server = StateOf(ctx)->server;
    if (server && !serverName.empty()) {
      ThrowType(env, "serverName", "absent for a server session (the client names the server)");
      return;
    }
    ERR_clear_error();
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) {
      Napi::Error::New(env, "SSL_new failed").ThrowAsJavaScriptException();
      return;
    }
    c_ = new TlsConnection();
    c_->ssl = ssl;
    c_->fd = fd;
    c_->sessionKey = sessionKey;
    c_->origin = StateOf(ctx);
    SSL_set_app_data(ssl, c_);
    c_->kernelWanted = server && StateOf(ctx)->kernelTls;
    if (c_->kernelWanted) KernelTlsCount(ssl);
    BIO* bio = BIO_new(ConnectionBioMethod());
    BIO_set_data(bio, c_);
    SSL_set_bio(ssl, bio, bio);  // one BIO both ways: the SSL owns it
    if (server) {
      SSL_set_accept_state(ssl);
    } else {
      SSL_set_connect_state(ssl);
      if (!serverName.empty() && !SetServerName(env, serverName)) return;
      ContextState* st = StateOf(ctx);
      auto it = sessionKey.empty() ? st->resumable.end() : st->resumable.find(sessionKey);
      if (it != st->resumable.end()) SSL_set_session(ssl, it->second);
    }
    ERR_clear_error();
    if (freeIds.empty()) {
      c_->id = static_cast<int32_t>(table.size());
      table.push_back(c_);
    } else {
      c_->id = freeIds.back();
      freeIds.pop_back();
      table[static_cast<size_t>(c_->id)] = c_;
    }
  }

  ~TlsSessionWrap() override { Release(); }

 private:
  // SNI and the name the certificate must carry; an IP literal is checked as an address
  // and not sent (RFC 6066 section 3 forbids literal addresses in SNI).
  bool SetServerName(Napi::Env env, const std::string& name) {
    X509_VERIFY_PARAM* param = SSL_get0_param(c_->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1) return true;
    ERR_clear_error();
    if (SSL_set_tlsext_host_name(c_->ssl, name.c_str()) != 1 || SSL_set1_host(c_->ssl, name.c_str()) != 1) {
      ERR_clear_error();
      ThrowRange(env, "serverName", "is not a usable host name");
      return false;
    }
    return true;
  }

  void Release() {
    if (c_ == nullptr) return;
    if (c_->id >= 0) {
      table[static_cast<size_t>(c_->id)] = nullptr;
      freeIds.push_back(c_->id);
    }
    SSL_free(c_->ssl);  // frees the BIO
    KernelTlsForget(c_);
    delete c_;
    c_ = nullptr;
  }

  bool Live(Napi::Env env) {
    if (c_ != nullptr) return true;
    Napi::Error e = Napi::Error::New(env, "the TlsSession is closed");
    e.Set("code", Napi::String::New(env, "ERR_TLS_SESSION_CLOSED"));
    e.ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Id(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), c_ ? c_->id : -1);
  }

  // Starts (client) or continues the handshake with what has been read so far and sends what
  // it produced; returns the status bits, -errno or TLS_ERROR.
  Napi::Value Handshake(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    int32_t r = 0;
    ERR_clear_error();
    if (!SSL_is_init_finished(c_->ssl)) {
      int n = SSL_do_handshake(c_->ssl);
      int err = n == 1 ? SSL_ERROR_NONE : SSL_get_error(c_->ssl, n);
      if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL) {
        CaptureError(c_, "the handshake failed");
        r = kTlsError;
      }
    }
    int32_t s = c_->Flush();
    return Napi::Number::New(info.Env(), r < 0 ? r : s < 0 ? s : c_->Status());
  }

  // Sends queued ciphertext: the status bits (kTlsWantWrite while some is left) or -errno.
  Napi::Value FlushMethod(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    int32_t s = c_->Flush();
    return Napi::Number::New(info.Env(), s < 0 ? s : c_->Status());
  }

  // Queues close_notify (once, after the handshake) and sends; as flush().
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    if (c_->kernel) {
      // The kernel has the record layer: close_notify is an alert record it encrypts.
      int32_t r = c_->closeNotifySent ? 0 : KernelTlsCloseNotify(c_);
      c_->closeNotifySent = true;
      return Napi::Number::New(info.Env(), r < 0 ? r : c_->Status());
    }
    if (!c_->closeNotifySent && SSL_is_init_finished(c_->ssl)) {
      ERR_clear_error();
      SSL_shutdown(c_->ssl);  // 0: sent, the peer's not seen yet (we do not wait for it)
      ERR_clear_error();
      c_->closeNotifySent = true;
    }
    int32_t s = c_->Flush();
    return Napi::Number::New(info.Env(), s < 0 ? s : c_->Status());
  }

  // Frees the SSL object now (the fd is the caller's to close); idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value PeerCertificate(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    return PeerCertificateObject(info.Env(), c_->ssl);
  }

  Napi::Value AlpnProtocol(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(c_->ssl, &p, &n);
    if (n == 0) return info.Env().Null();
    return Napi::String::New(info.Env(), reinterpret_cast<const char*>(p), n);
  }

  Napi::Value Protocol(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    if (!SSL_is_init_finished(c_->ssl)) return info.Env().Null();
    return Napi::String::New(info.Env(), SSL_get_version(c_->ssl));
  }

  Napi::Value Cipher(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    const SSL_CIPHER* cipher = SSL_get_current_cipher(c_->ssl);
    if (cipher == nullptr) return info.Env().Null();
    return Napi::String::New(info.Env(), SSL_CIPHER_get_name(cipher));
  }

  Napi::Value SessionReused(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    return Napi::Boolean::New(info.Env(), SSL_session_reused(c_->ssl) == 1);
  }

  Napi::Value ServerName(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    const char* name = SSL_get_servername(c_->ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return info.Env().Null();
    return Napi::String::New(info.Env(), name);
  }

  Napi::Value Error(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    return ErrorObject(info.Env(), *c_);
  }

  // Hands the record layer to the kernel (docs/tls.md, "Kernel TLS"): "kernel", "error"
  // (error() says why; the connection is unusable), or why it stayed in userspace.
  Napi::Value KernelHandOff(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    return Napi::String::New(info.Env(), KernelTlsHandOff(c_));
  }

  // What the handoff would give the kernel now, without doing it: { suite, txKey, txIv,
  // txSeq, rxKey, rxIv, rxSeq }, or why there is nothing to give (a string). Like Node's
  // keylog event it exposes traffic keys: it is for tests and debugging.
  Napi::Value KernelKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Live(env)) return Napi::Value();
    fdr::KernelKeys k;
    std::string why = KernelTlsPrepare(c_, &k);
    if (!why.empty() || c_->kernel) return Napi::String::New(env, c_->kernel ? "kernel" : why);
    Napi::Object o = Napi::Object::New(env);
    o.Set("suite", Napi::Number::New(env, k.suite));
    o.Set("txKey", Napi::Buffer<uint8_t>::Copy(env, k.txKey, k.keyLen));
    o.Set("txIv", Napi::Buffer<uint8_t>::Copy(env, k.txIv, sizeof k.txIv));
    o.Set("txSeq", Napi::Number::New(env, static_cast<double>(k.txSeq)));
    o.Set("rxKey", Napi::Buffer<uint8_t>::Copy(env, k.rxKey, k.keyLen));
    o.Set("rxIv", Napi::Buffer<uint8_t>::Copy(env, k.rxIv, sizeof k.rxIv));
    o.Set("rxSeq", Napi::Number::New(env, static_cast<double>(k.rxSeq)));
    OPENSSL_cleanse(&k, sizeof k);
    return o;
  }

  // After the handoff, a read that failed with EIO: the non-data record behind it.
  Napi::Value KernelControlRecord(const Napi::CallbackInfo& info) {
    if (!Live(info.Env())) return Napi::Value();
    return Napi::String::New(info.Env(), c_->kernel ? KernelTlsControlRecord(c_) : "userspace");
  }

  TlsConnection* c_ = nullptr;
};

const napi_type_tag TlsSessionWrap::kTypeTag = {0x2f6a1c9d83b54e07ULL, 0xa41d7e6b05c9f238ULL};

// ---- the batched calls ---------------------------------------------------------------

// tlsReadBatch(ids, count, slab, offset, maxPerFd, out) -> processed
Napi::Value TlsReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadBatchArgs a;
  if (!ArgReadBatch(info, "ids", 4, &a)) return Napi::Value();
  const int32_t* ids = a.keys;
  int32_t* out = a.out;
  uint8_t* slab = a.slab;
  const size_t slabSize = a.slabSize;
  const int64_t count = a.count;
  static thread_local std::vector<uint8_t> scratch;
  size_t pos = a.offset;
  const size_t per = a.maxPerFd;
  int64_t i = 0;
  for (; i < count; i++) {
    if (slabSize - pos < per) break;  // the caller starts a new slab and passes the rest again
    int32_t* quad = out + 4 * i;
    quad[0] = ids[i];
    quad[1] = static_cast<int32_t>(pos);
    quad[3] = 0;
    TlsConnection* c = ConnectionById(ids[i]);
    if (c == nullptr || c->kernel) {  // a kernel session's bytes go through the plain batch
      quad[2] = -EBADF;
      continue;
    }
    int32_t r = ReadConnection(c, slab + pos, per, &scratch, &quad[3]);
    quad[2] = r;
    if (r > 0) pos += static_cast<size_t>(r);
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

// tlsWriteBatch(ids, count, counts, bufs, out): session ids[i] encrypts the next counts[i]
// buffers of bufs; out[2i] = plaintext bytes taken, -errno or TLS_ERROR, out[2i+1] = status.
Napi::Value TlsWriteBatch(const Napi::CallbackInfo& info) {
  WriteBatchArgs a;
  if (!ArgWriteBatch(info, "ids", 2, &a)) return Napi::Value();
  const int32_t* ids = a.keys;
  const int32_t* counts = a.counts;
  int32_t* out = a.out;
  const int64_t count = a.count;
  size_t k = 0;
  for (int64_t i = 0; i < count; i++) {
    const iovec* iov = a.iov + k;
    k += static_cast<size_t>(counts[i]);
    out[2 * i + 1] = 0;
    TlsConnection* c = ConnectionById(ids[i]);
    if (c == nullptr || c->kernel) {
      out[2 * i] = -EBADF;
      continue;
    }
    out[2 * i] = WriteConnection(c, iov, counts[i], &out[2 * i + 1]);
  }
  return info.Env().Undefined();
}

}  // namespace

void TlsConnection::TrackRecords(const uint8_t* p, size_t n) {
  while (n > 0) {
    if (recordLeft > 0) {
      size_t step = std::min(n, recordLeft);
      recordLeft -= step;
      p += step;
      n -= step;
      continue;
    }
    header[headerHave++] = *p++;
    n--;
    if (headerHave == sizeof header) {
      recordLeft = static_cast<size_t>(header[3]) << 8 | header[4];
      headerHave = 0;
    }
  }
}

int32_t TlsConnection::Status() const {
  int32_t s = 0;
  if (SSL_is_init_finished(ssl)) s |= kTlsHandshakeDone;
  if (pendingOut() > 0) s |= kTlsWantWrite;
  if (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) s |= kTlsPeerClosed;
  if (eof) s |= kTlsEof;
  return s;
}

int32_t TlsConnection::Flush() {
  if (pendingOut() > 0) {
    // One send: a partial one means the kernel's buffer is full (retrying costs an EAGAIN).
    ssize_t n = WriteNoSignal(fd, out.data() + outOff, pendingOut());
    if (n < 0 && !IsAgain(errno)) return -errno;
    if (n > 0) outOff += static_cast<size_t>(n);
  }
  if (outOff == out.size()) {
    // A drained queue gives its memory back, as OpenSSL's own write buffer does under
    // SSL_MODE_RELEASE_BUFFERS: keeping the capacity would leave every idle connection
    // holding what its largest flight needed (the handshake's, 1-2 KiB), for one small
    // allocation per flush on a busy one.
    outOff = 0;
    std::vector<uint8_t>().swap(out);
  } else if (outOff > out.size() / 2) {
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(outOff));
    outOff = 0;
  }
  return 0;
}

TlsConnection* ConnectionById(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= table.size()) return nullptr;
  return table[static_cast<size_t>(id)];
}

// How many sessions hold OpenSSL objects now (tests prove none leaks; operators count).
Napi::Value TlsSessionCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(table.size() - freeIds.size()));
}

// Gives the heap's free pages back to the kernel (glibc's malloc_trim): under
// SSL_MODE_RELEASE_BUFFERS each handshake frees its ~16 KiB record buffers, and glibc keeps
// those holes between live objects resident, ~14 KiB per connection that stays idle after
// a burst of handshakes. True when pages were released; false elsewhere (not glibc).
Napi::Value TlsReleaseFreedMemory(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

void InitTlsContext(Napi::Env env, Napi::Object exports);

void InitTls(Napi::Env env, Napi::Object exports) {
  InitTlsContext(env, exports);
  exports.Set("TlsSession", TlsSessionWrap::Define(env));
  exports.Set("tlsReadBatch", Napi::Function::New(env, TlsReadBatch, "tlsReadBatch"));
  exports.Set("tlsWriteBatch", Napi::Function::New(env, TlsWriteBatch, "tlsWriteBatch"));
  exports.Set("tlsSessionCount", Napi::Function::New(env, TlsSessionCount, "tlsSessionCount"));
  exports.Set("tlsReleaseFreedMemory", Napi::Function::New(env, TlsReleaseFreedMemory, "tlsReleaseFreedMemory"));
}

}  // namespace fdr
