// What a TLS connection tells JavaScript about its peer and its failures: the peer
// certificate as a plain object, and errors with a code that names the reason (the
// certificate check's own name for a chain or host name failure, as Node does; ERR_SSL_ and
// OpenSSL's reason for everything else).
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>

#include "tls.h"

namespace fdr {

namespace {

struct VerifyName {
  long code;
  const char* name;
  const char* reason;  // the category lib/net's typed errors are named after
};

const VerifyName kVerifyNames[] = {
    {X509_V_ERR_HOSTNAME_MISMATCH, "HOSTNAME_MISMATCH", "hostname-mismatch"},
    {X509_V_ERR_IP_ADDRESS_MISMATCH, "IP_ADDRESS_MISMATCH", "hostname-mismatch"},
    {X509_V_ERR_CERT_HAS_EXPIRED, "CERT_HAS_EXPIRED", "expired"},
    {X509_V_ERR_CERT_NOT_YET_VALID, "CERT_NOT_YET_VALID", "not-yet-valid"},
    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed"},
    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "SELF_SIGNED_CERT_IN_CHAIN", "untrusted"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "untrusted"},
    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "UNABLE_TO_GET_ISSUER_CERT", "untrusted"},
    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "untrusted"},
    {X509_V_ERR_CERT_UNTRUSTED, "CERT_UNTRUSTED", "untrusted"},
    {X509_V_ERR_CERT_REJECTED, "CERT_REJECTED", "untrusted"},
    {X509_V_ERR_INVALID_CA, "INVALID_CA", "untrusted"},
    {X509_V_ERR_CERT_REVOKED, "CERT_REVOKED", "invalid"},
    {X509_V_ERR_CERT_SIGNATURE_FAILURE, "CERT_SIGNATURE_FAILURE", "invalid"},
    {X509_V_ERR_CERT_CHAIN_TOO_LONG, "CERT_CHAIN_TOO_LONG", "invalid"},
    {X509_V_ERR_INVALID_PURPOSE, "INVALID_PURPOSE", "invalid"},
};

std::string NameText(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  std::string s(p ? p : "", n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return s;
}

// "2026-12-05T14:16:27Z"
std::string TimeText(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Hex(const unsigned char* p, size_t n, bool colons) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    if (colons && i > 0) s += ':';
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

Napi::Array AltNames(Napi::Env env, X509* cert) {
  Napi::Array out = Napi::Array::New(env);
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  uint32_t k = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
    GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.Set(k++, "DNS:" + std::string(reinterpret_cast<const char*>(s->data), static_cast<size_t>(s->length)));
    } else if (g->type == GEN_IPADD) {
      char* text = i2s_ASN1_OCTET_STRING(nullptr, g->d.iPAddress);
      if (text != nullptr) {
        // OpenSSL prints IPv4 as 7F:00:00:01; the dotted form is what users compare with.
        std::string ip;
        if (g->d.iPAddress->length == 4) {
          const unsigned char* b = g->d.iPAddress->data;
          ip = std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + "." +
               std::to_string(b[3]);
        } else {
          ip = text;
        }
        OPENSSL_free(text);
        out.Set(k++, "IP Address:" + ip);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

Napi::Value PeerCertificateObject(Napi::Env env, SSL* ssl) {
  X509* cert = ssl ? SSL_get1_peer_certificate(ssl) : nullptr;
  if (cert == nullptr) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("subject", NameText(X509_get_subject_name(cert)));
  o.Set("issuer", NameText(X509_get_issuer_name(cert)));
  o.Set("subjectAltNames", AltNames(env, cert));
  o.Set("validFrom", TimeText(X509_get0_notBefore(cert)));
  o.Set("validTo", TimeText(X509_get0_notAfter(cert)));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  o.Set("serialNumber", Hex(serial->data, static_cast<size_t>(serial->length), false));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  X509_digest(cert, EVP_sha256(), md, &mdLen);
  o.Set("fingerprint256", Hex(md, mdLen, true));
  int derLen = i2d_X509(cert, nullptr);
  Napi::Buffer<uint8_t> der = Napi::Buffer<uint8_t>::New(env, derLen > 0 ? static_cast<size_t>(derLen) : 0);
  unsigned char* p = der.Data();
  if (derLen > 0) i2d_X509(cert, &p);
  o.Set("raw", der);
  X509_free(cert);
  ERR_clear_error();
  return o;
}

void CaptureError(TlsConnection* c, const char* fallback) {
  c->verifyResult = SSL_get_verify_result(c->ssl);
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
      c->verifyResult != X509_V_OK) {
    c->errorCode = "CERT_VERIFY_FAILED";
    for (const VerifyName& v : kVerifyNames)
      if (v.code == c->verifyResult) c->errorCode = v.name;
    c->errorMessage = std::string("certificate verify failed: ") + X509_verify_cert_error_string(c->verifyResult);
    return;
  }
  c->verifyResult = X509_V_OK;  // the chain was fine; something else failed
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  if (reason == nullptr) {
    c->errorCode = "ERR_TLS_FAILED";
    c->errorMessage = fallback;
    return;
  }
  std::string code = "ERR_SSL_";
  for (const char* p = reason; *p; p++) code += std::isalnum(static_cast<unsigned char>(*p)) ? std::toupper(static_cast<unsigned char>(*p)) : '_';
  c->errorCode = code;
  c->errorMessage = reason;
}

Napi::Value ErrorObject(Napi::Env env, const TlsConnection& c) {
  if (c.errorCode.empty()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("code", c.errorCode);
  o.Set("message", c.errorMessage);
  if (c.verifyResult != X509_V_OK) {
    o.Set("verifyCode", Napi::Number::New(env, static_cast<double>(c.verifyResult)));
    const char* reason = "invalid";
    for (const VerifyName& v : kVerifyNames)
      if (v.code == c.verifyResult) reason = v.reason;
    o.Set("reason", reason);
  }
  return o;
}

}  // namespace fdr
