// The JS class `TlsContext`: one SSL_CTX built from PEM text and plain options (the
// TypeScript CertificateOptions / optionsForClientTLS normalise user input first; this file
// still checks every option it reads and names it when it is wrong). A server context
// carries the per-host-name contexts of SNI and the ALPN preference list; a client context
// caches the newest resumable session per session key (TLS 1.3 tickets arrive after the
// handshake, through the new-session callback).
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "checked_method.h"
#include "errors.h"
#include "tls.h"

namespace fdr {

namespace {

int StateIndex() {
  // Registered once per process; OpenSSL frees the state with the SSL_CTX's last reference.
  static int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* p, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<ContextState*>(p); });
  return index;
}

// Where Linux and BSD distributions keep their CA bundle, for a Node whose own OPENSSLDIR
// (the default verify paths) points into its build tree.
const char* const kBundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem", "/usr/local/etc/ssl/cert.pem"};

std::string LastReason() {
  unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : "unknown OpenSSL error";
}

// Throws a TypeError naming the option, with OpenSSL's reason when it gave one.
void ThrowOption(Napi::Env env, const char* name, const std::string& why) {
  Napi::TypeError e = Napi::TypeError::New(env, std::string("The \"") + name + "\" option " + why);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  e.ThrowAsJavaScriptException();
}

// PEM text from a string or Buffer option; false (nothing thrown) when absent.
bool PemOption(Napi::Env env, Napi::Object o, const char* name, std::string* out, bool* bad) {
  Napi::Value v = o.Get(name);
  *bad = false;
  if (v.IsUndefined() || v.IsNull()) return false;
  if (v.IsString()) {
    *out = v.As<Napi::String>().Utf8Value();
  } else if (v.IsBuffer()) {
    Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
    out->assign(b.Data(), b.Length());
  } else {
    ThrowOption(env, name, "must be PEM text (a string or Buffer)");
    *bad = true;
    return false;
  }
  return true;
}

// Every certificate in PEM text (at least one), or an empty vector after throwing.
std::vector<X509*> ReadCerts(Napi::Env env, const std::string& pem, const char* name) {
  std::vector<X509*> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.push_back(x);
  BIO_free(bio);
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) ThrowOption(env, name, "holds no PEM certificate");
  return certs;
}

void FreeCerts(std::vector<X509*>* certs) {
  for (X509* x : *certs) X509_free(x);
  certs->clear();
}

// A list option of PEM texts: each element a string or Buffer.
bool PemList(Napi::Env env, Napi::Value v, const char* name, std::vector<std::string>* out) {
  if (!v.IsArray()) {
    ThrowOption(env, name, "must be an Array of PEM texts");
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (e.IsString()) {
      out->push_back(e.As<Napi::String>().Utf8Value());
    } else if (e.IsBuffer()) {
      Napi::Buffer<char> b = e.As<Napi::Buffer<char>>();
      out->emplace_back(b.Data(), b.Length());
    } else {
      ThrowOption(env, name, "must be an Array of PEM texts (strings or Buffers)");
      return false;
    }
  }
  return true;
}

bool BoolOption(Napi::Env env, Napi::Object o, const char* name, bool dflt, bool* out) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) {
    *out = dflt;
    return true;
  }
  if (!v.IsBoolean()) {
    ThrowOption(env, name, "must be a boolean");
    return false;
  }
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

bool StringOption(Napi::Env env, Napi::Object o, const char* name, std::string* out) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return true;
  if (!v.IsString()) {
    ThrowOption(env, name, "must be a string");
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool VersionOption(Napi::Env env, Napi::Object o, const char* name, int* out) {
  std::string s;
  if (!StringOption(env, o, name, &s)) return false;
  if (s.empty()) return true;
  if (s == "TLSv1.2") {
    *out = TLS1_2_VERSION;
  } else if (s == "TLSv1.3") {
    *out = TLS1_3_VERSION;
  } else {
    ThrowOption(env, name, "must be \"TLSv1.2\" or \"TLSv1.3\"");
    return false;
  }
  return true;
}

// ALPN names into the wire format (each 1..255 bytes, length-prefixed).
bool AlpnOption(Napi::Env env, Napi::Object o, std::vector<uint8_t>* wire) {
  Napi::Value v = o.Get("acceptableProtocols");
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) {
    ThrowOption(env, "acceptableProtocols", "must be an Array of protocol names");
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    std::string name = e.IsString() ? e.As<Napi::String>().Utf8Value() : "";
    if (name.empty() || name.size() > 255) {
      ThrowOption(env, "acceptableProtocols", "must hold names of 1 to 255 bytes");
      return false;
    }
    wire->push_back(static_cast<uint8_t>(name.size()));
    wire->insert(wire->end(), name.begin(), name.end());
  }
  return true;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

// Server: the client's ALPN list against ours, in our order of preference. No common
// protocol is a no_application_protocol alert (RFC 7301, section 3.2).
int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  // The preference list of the context SNI chose, else the listening context's.
  const ContextState* st = StateOf(SSL_get_SSL_CTX(ssl));
  auto* c = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
  if ((st == nullptr || st->alpn.empty()) && c != nullptr) st = c->origin;
  if (st == nullptr || st->alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, st->alpn.data(), static_cast<unsigned>(st->alpn.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// Server: switches to the context registered for the requested host name (exact, then
// "*.rest" for the first label); an unknown name keeps the default context.
int SelectServerName(SSL* ssl, int* alert, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  ContextState* st = static_cast<ContextState*>(arg);
  if (name == nullptr || st->sni.empty()) return SSL_TLSEXT_ERR_OK;
  std::string host = Lower(name);
  auto it = st->sni.find(host);
  if (it == st->sni.end()) {
    size_t dot = host.find('.');
    if (dot != std::string::npos) it = st->sni.find("*" + host.substr(dot));
  }
  if (it != st->sni.end()) {
    SSL_set_SSL_CTX(ssl, it->second);
    // SSL_set_SSL_CTX takes the certificate; the client-certificate policy too.
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(it->second), nullptr);
  }
  return SSL_TLSEXT_ERR_OK;
}

// Client: keeps the newest resumable session under the connection's session key.
int KeepSession(SSL* ssl, SSL_SESSION* session) {
  auto* c = static_cast<TlsConnection*>(SSL_get_app_data(ssl));
  ContextState* st = StateOf(SSL_get_SSL_CTX(ssl));
  if (c == nullptr || st == nullptr || c->sessionKey.empty() || !SSL_SESSION_is_resumable(session)) return 0;
  auto it = st->resumable.find(c->sessionKey);
  if (it != st->resumable.end()) {
    SSL_SESSION_free(it->second);
    it->second = session;
  } else {
    constexpr size_t kMaxKeys = 1024;  // a long-running client talks to a bounded set of hosts
    if (st->resumable.size() >= kMaxKeys) {
      SSL_SESSION_free(st->resumable.begin()->second);
      st->resumable.erase(st->resumable.begin());
    }
    st->resumable.emplace(c->sessionKey, session);
  }
  return 1;  // we hold the reference now
}

bool LoadSystemTrust(SSL_CTX* ctx) {
  bool ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
  ERR_clear_error();
  // SSL_CERT_FILE / SSL_CERT_DIR, when set, are the user's choice of trust: nothing more.
  if (getenv("SSL_CERT_FILE") != nullptr || getenv("SSL_CERT_DIR") != nullptr) return ok;
  for (const char* f : kBundles) {
    if (access(f, R_OK) == 0) {
      ok = SSL_CTX_load_verify_locations(ctx, f, nullptr) == 1 || ok;
      ERR_clear_error();
      break;
    }
  }
  return ok;
}

class TlsContextWrap : public Napi::ObjectWrap<TlsContextWrap> {
 public:
  static const napi_type_tag kTypeTag;
  static constexpr const char* kWhat = "a TlsContext";

  static Napi::Function Define(Napi::Env env) {
    using W = TlsContextWrap;
    return DefineClass(env, "TlsContext",
                       {CheckedGetter<W, &W::Server>("server"), CheckedMethod<W, &W::AddServerName>("addServerName")});
  }

  explicit TlsContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsContextWrap>(info) {
    Napi::Env env = info.Env();
    napi_type_tag_object(env, info.This(), &kTypeTag);
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowType(env, "options", "an object");
      return;
    }
    ERR_clear_error();
    Configure(env, info[0].As<Napi::Object>());
    ERR_clear_error();
  }

  ~TlsContextWrap() override { SSL_CTX_free(ctx_); }

  SSL_CTX* ctx() const { return ctx_; }

 private:
  void Configure(Napi::Env env, Napi::Object o) {
    bool server, verify, require;
    if (!BoolOption(env, o, "server", false, &server)) return;
    if (!BoolOption(env, o, "verify", !server, &verify)) return;
    if (!BoolOption(env, o, "requireCertificate", false, &require)) return;
    if (require && !verify) {
      ThrowOption(env, "requireCertificate", "needs verify: true (a certificate nobody checks proves nothing)");
      return;
    }
    ctx_ = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx_ == nullptr) {
      Napi::Error::New(env, "SSL_CTX_new failed: " + LastReason()).ThrowAsJavaScriptException();
      return;
    }
    auto* st = new ContextState();
    st->server = server;
    SSL_CTX_set_ex_data(ctx_, StateIndex(), st);

    // Memory: OpenSSL's record buffers are freed while a connection is idle.
    SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx_, 1);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    int minVersion = TLS1_2_VERSION, maxVersion = 0;
    if (!VersionOption(env, o, "minimumVersion", &minVersion)) return;
    if (!VersionOption(env, o, "maximumVersion", &maxVersion)) return;
    SSL_CTX_set_min_proto_version(ctx_, minVersion);
    SSL_CTX_set_max_proto_version(ctx_, maxVersion);

    std::string ciphers;
    if (!StringOption(env, o, "cipherList", &ciphers)) return;
    if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx_, ciphers.c_str()) != 1)
      return ThrowOption(env, "cipherList", "selects no TLS 1.2 cipher: " + LastReason());
    std::string suites;
    if (!StringOption(env, o, "cipherSuites", &suites)) return;
    if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx_, suites.c_str()) != 1)
      return ThrowOption(env, "cipherSuites", "selects no TLS 1.3 cipher suite: " + LastReason());

    if (!LoadIdentity(env, o)) return;
    if (!LoadTrust(env, o, server, verify)) return;
    int mode = verify ? SSL_VERIFY_PEER | (require ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0) : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(ctx_, mode, nullptr);

    if (!AlpnOption(env, o, &st->alpn)) return;
    if (!BoolOption(env, o, "kernelTls", false, &st->kernelTls)) return;
    if (server && st->kernelTls) KernelTlsWatch(ctx_);
    if (server) {
      // Resumption and client certificates together need a session id context.
      static const unsigned char kSid[] = "fdreactor";
      SSL_CTX_set_session_id_context(ctx_, kSid, sizeof kSid - 1);
      SSL_CTX_set_alpn_select_cb(ctx_, SelectAlpn, nullptr);
      SSL_CTX_set_tlsext_servername_callback(ctx_, SelectServerName);
      SSL_CTX_set_tlsext_servername_arg(ctx_, st);
    } else {
      if (!st->alpn.empty() &&
          SSL_CTX_set_alpn_protos(ctx_, st->alpn.data(), static_cast<unsigned>(st->alpn.size())) != 0)
        return ThrowOption(env, "acceptableProtocols", "was refused: " + LastReason());
      SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx_, KeepSession);
    }
  }

  // privateKey + certificate (+ extraCertChain): the identity this side presents.
  bool LoadIdentity(Napi::Env env, Napi::Object o) {
    std::string keyPem, certPem;
    bool bad;
    bool hasKey = PemOption(env, o, "privateKey", &keyPem, &bad);
    if (bad) return false;
    bool hasCert = PemOption(env, o, "certificate", &certPem, &bad);
    if (bad) return false;
    if (hasKey != hasCert) {
      ThrowOption(env, hasKey ? "certificate" : "privateKey", "is required with the other half of the identity");
      return false;
    }
    if (!hasKey) {
      if (StateOf(ctx_)->server) {
        ThrowOption(env, "certificate", "is required for a server context");
        return false;
      }
      return true;
    }
    BIO* bio = BIO_new_mem_buf(keyPem.data(), static_cast<int>(keyPem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (key == nullptr) {
      ThrowOption(env, "privateKey", "is not a PEM private key: " + LastReason());
      return false;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx_, key);
    EVP_PKEY_free(key);
    if (ok != 1) {
      ThrowOption(env, "privateKey", "was refused: " + LastReason());
      return false;
    }
    std::vector<X509*> certs = ReadCerts(env, certPem, "certificate");
    if (certs.empty()) return false;
    ok = SSL_CTX_use_certificate(ctx_, certs[0]);
    // Further certificates in the same PEM are its chain, as in Twisted's loadPEM.
    for (size_t i = 1; ok == 1 && i < certs.size(); i++) ok = static_cast<int>(SSL_CTX_add1_chain_cert(ctx_, certs[i]));
    FreeCerts(&certs);
    if (ok != 1) {
      ThrowOption(env, "certificate", "was refused: " + LastReason());
      return false;
    }
    if (SSL_CTX_check_private_key(ctx_) != 1) {
      ThrowOption(env, "privateKey", "does not match the certificate: " + LastReason());
      return false;
    }
    Napi::Value chain = o.Get("extraCertChain");
    if (chain.IsUndefined()) return true;
    std::vector<std::string> pems;
    if (!PemList(env, chain, "extraCertChain", &pems)) return false;
    for (const std::string& pem : pems) {
      std::vector<X509*> more = ReadCerts(env, pem, "extraCertChain");
      if (more.empty()) return false;
      for (X509* x : more) ok = ok == 1 ? static_cast<int>(SSL_CTX_add1_chain_cert(ctx_, x)) : ok;
      FreeCerts(&more);
      if (ok != 1) {
        ThrowOption(env, "extraCertChain", "was refused: " + LastReason());
        return false;
      }
    }
    return true;
  }

  // trustRoot: "system" or PEM texts of the certificate authorities this side trusts. A
  // verifying client that names none trusts the system's (Twisted's optionsForClientTLS).
  bool LoadTrust(Napi::Env env, Napi::Object o, bool server, bool verify) {
    Napi::Value v = o.Get("trustRoot");
    if (v.IsUndefined()) {
      if (!server && verify) LoadSystemTrust(ctx_);  // none found: every peer is untrusted
      return true;
    }
    if (v.IsString() && v.As<Napi::String>().Utf8Value() == "system") {
      if (!LoadSystemTrust(ctx_)) ThrowOption(env, "trustRoot", "\"system\" found no trust store on this machine");
      return !env.IsExceptionPending();
    }
    std::vector<std::string> pems;
    if (!PemList(env, v, "trustRoot", &pems)) return false;
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    for (const std::string& pem : pems) {
      std::vector<X509*> certs = ReadCerts(env, pem, "trustRoot");
      if (certs.empty()) return false;
      for (X509* x : certs) {
        X509_STORE_add_cert(store, x);
        // A server asks for certificates issued by the authorities it trusts.
        if (server) SSL_CTX_add_client_CA(ctx_, x);
      }
      FreeCerts(&certs);
      ERR_clear_error();  // a duplicate certificate in the store is not an error
    }
    return true;
  }

  Napi::Value Server(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), ctx_ != nullptr && StateOf(ctx_)->server);
  }

  // addServerName(hostname, context): SNI — `context` serves clients asking for `hostname`
  // ("*.example.com" matches one label).
  Napi::Value AddServerName(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string host;
    if (!ArgString(info, 0, "hostname", &host)) return Napi::Value();
    SSL_CTX* other = ArgTlsContext(info, 1, "context");
    if (other == nullptr) return Napi::Value();
    ContextState* st = ctx_ ? StateOf(ctx_) : nullptr;
    if (st == nullptr || !st->server || !StateOf(other)->server) {
      ThrowType(env, "context", "a server TlsContext (added to a server TlsContext)");
      return Napi::Value();
    }
    if (host.empty() || other == ctx_) {
      ThrowRange(env, host.empty() ? "hostname" : "context", host.empty() ? "must not be empty" : "must be another context");
      return Napi::Value();
    }
    // The context SNI picks is the one whose key-log callback runs.
    if (st->kernelTls) KernelTlsWatch(other);
    SSL_CTX_up_ref(other);
    auto [it, added] = st->sni.emplace(Lower(host), other);
    if (!added) {
      SSL_CTX_free(it->second);
      it->second = other;
    }
    return env.Undefined();
  }

  SSL_CTX* ctx_ = nullptr;
};

const napi_type_tag TlsContextWrap::kTypeTag = {0x5d2c8b1e7a934f60ULL, 0x9e3b21c44d7f0a18ULL};

// Kernel TLS: can this kernel take the record layer (setsockopt TCP_ULP "tls")? Asked on a
// fresh, unconnected socket: ENOENT means no tls module; ENOTCONN means the module is there
// (it only attaches to an established connection). Returns "available" or the errno name.
Napi::Value KernelTls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__linux__) && defined(TCP_ULP)
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::String::New(env, ErrnoName(errno));
  int r = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls");
  int err = r == 0 ? 0 : errno;
  close(fd);
  return Napi::String::New(env, r == 0 || err == ENOTCONN ? "available" : ErrnoName(err));
#else
  return Napi::String::New(env, ErrnoName(ENOSYS));
#endif
}

Napi::Value LibraryVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("headers", Napi::String::New(env, OPENSSL_VERSION_TEXT));
  o.Set("runtime", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return o;
}

}  // namespace

ContextState::~ContextState() {
  for (auto& [name, ctx] : sni) SSL_CTX_free(ctx);
  for (auto& [key, session] : resumable) SSL_SESSION_free(session);
}

ContextState* StateOf(SSL_CTX* ctx) { return static_cast<ContextState*>(SSL_CTX_get_ex_data(ctx, StateIndex())); }

SSL_CTX* ArgTlsContext(const Napi::CallbackInfo& info, size_t i, const char* name) {
  napi_env env = info.Env();
  bool tagged = false;
  void* p = nullptr;
  if (i >= info.Length() || !info[i].IsObject() ||
      napi_check_object_type_tag(env, info[i], &TlsContextWrap::kTypeTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, info[i], &p) != napi_ok || p == nullptr) {
    ThrowType(info.Env(), name, "a TlsContext");
    return nullptr;
  }
  auto* w = static_cast<TlsContextWrap*>(static_cast<Napi::ObjectWrap<TlsContextWrap>*>(p));
  if (w->ctx() == nullptr) ThrowType(info.Env(), name, "a TlsContext that was built without error");
  return w->ctx();
}

void InitTlsContext(Napi::Env env, Napi::Object exports) {
  exports.Set("TlsContext", TlsContextWrap::Define(env));
  exports.Set("tlsLibrary", Napi::Function::New(env, LibraryVersion, "tlsLibrary"));
  exports.Set("kernelTls", Napi::Function::New(env, KernelTls, "kernelTls"));
  exports.Set("kernelTlsStats", Napi::Function::New(env, KernelTlsStats, "kernelTlsStats"));
  exports.Set("tls13TrafficKeys", Napi::Function::New(env, Tls13TrafficKeys, "tls13TrafficKeys"));
}

}  // namespace fdr
