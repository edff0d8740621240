// The resolver's answer check (dns_codec.h). Mirrors lib/names/packet.ts's decodeResponse
// rule for rule, so a datagram is accepted here exactly when it is there; where the two
// could differ (a name whose text length depends on how its UTF-8 decodes, names that are
// not plain ASCII) the datagram goes to JavaScript whole (kDnsDecode) instead of being
// judged here.
#include "dns_codec.h"

#include <cstring>

namespace fdr {

namespace {

constexpr size_t kHeader = 12;
// Labels and pointers followed in one name at most (packet.ts MAX_LABELS).
constexpr int kMaxLabels = 128;
// Longest name text packet.ts accepts.
constexpr size_t kMaxNameText = 1024;
constexpr uint16_t kTypeA = 1, kTypeNS = 2, kTypeCNAME = 5, kTypeSOA = 6, kTypePTR = 12,
                   kTypeAAAA = 28;
constexpr uint16_t kClassIN = 1;

inline uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t U32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint8_t Fold(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c | 0x20) : c; }

enum NameResult { kNameBad, kNameOk, kNameUndecided };

// One name of the datagram, as packet.ts's readName walks it.
struct NameWalk {
  size_t end = 0;          // where the name ended (after its first pointer, if any)
  bool plain = true;       // every label byte ASCII and no '.' inside a label
  bool isQuestion = false; // equal to the question's name (ASCII case folded)
};

// Walks the name at `at`; [question, qend) is the query's name (wire form, ending at its 0 byte).
NameResult ReadName(const uint8_t* d, size_t len, size_t at, const uint8_t* question,
                    const uint8_t* qend, NameWalk* w) {
  // packet.ts takes a pointer to the question (offset 12) as the name asked without walking
  // it: that name matched the query's already.
  if (at + 1 < len && d[at] == 0xc0 && d[at + 1] == kHeader) {
    w->end = at + 2;
    w->plain = true;
    w->isQuestion = true;
    return kNameOk;
  }
  size_t pos = at, end = 0, limit = at, text = 0;
  bool haveEnd = false, first = true, same = true;
  const uint8_t* q = question;
  w->plain = true;
  for (int labels = 0; labels < kMaxLabels; labels++) {
    if (pos >= len) return kNameBad;
    const uint8_t n = d[pos];
    if (n == 0) {
      w->end = haveEnd ? end : pos + 1;
      w->isQuestion = same && q < qend && *q == 0;
      if (text > kMaxNameText) return w->plain ? kNameBad : kNameUndecided;
      return kNameOk;
    }
    if ((n & 0xc0) == 0xc0) {
      if (pos + 1 >= len) return kNameBad;
      const size_t target = (static_cast<size_t>(n & 0x3f) << 8) | d[pos + 1];
      if (target >= limit) return kNameBad;
      if (!haveEnd) {
        end = pos + 2;
        haveEnd = true;
      }
      limit = target;
      pos = target;
      continue;
    }
    if ((n & 0xc0) != 0 || pos + 1 + n > len) return kNameBad;
    const uint8_t* label = d + pos + 1;
    for (size_t i = 0; i < n; i++) {
      if (label[i] >= 0x80 || label[i] == '.') w->plain = false;
    }
    if (same) {
      if (q + 1 + n > qend || *q != n) {
        same = false;
      } else {
        for (size_t i = 0; i < n && same; i++) same = Fold(label[i]) == Fold(q[1 + i]);
        if (same) q += 1 + n;
      }
    }
    // The text as packet.ts builds it: labels joined by dots. Counted in bytes, which is
    // its length exactly for ASCII and at least its length otherwise.
    text += (first ? 0 : 1) + n;
    first = false;
    // packet.ts gives up as soon as the text passes the limit; for ASCII so do we.
    if (text > kMaxNameText && w->plain) return kNameBad;
    pos += 1 + n;
  }
  return kNameBad;
}

}  // namespace

DnsSummary ParseDnsAnswer(const uint8_t* d, size_t len, const uint8_t* query, size_t qlen,
                          uint8_t* out, size_t outSize) {
  DnsSummary s{kDnsRejected, 0, false, 0, 0, 0, 4};
  if (len < kHeader || qlen < kHeader + 5) return s;
  if (d[0] != query[0] || d[1] != query[1] || (d[2] & 0x80) == 0) return s;
  if (U16(d + 4) != 1) return s;
  // The question: byte for byte the query's, letters of either case (a length byte never
  // matches a letter of the other case: they differ by 0x20 across 0x40).
  if (len < qlen) return s;
  bool asciiQuestion = true;
  for (size_t i = kHeader; i < qlen; i++) {
    const uint8_t x = d[i], y = query[i];
    if (x != y && !((x | 0x20) == (y | 0x20) && (x | 0x20) >= 'a' && (x | 0x20) <= 'z')) return s;
  }
  const uint8_t* qname = query + kHeader;
  const size_t qnameEnd = qlen - 4;
  for (size_t i = kHeader; i < qnameEnd; i++) {
    if (query[i] >= 0x80) asciiQuestion = false;
  }
  const uint16_t qtype = U16(query + qlen - 4);
  const size_t addrBytes = qtype == kTypeAAAA ? 16 : 4;
  s.addressBytes = static_cast<int32_t>(addrBytes);
  const size_t counts[2] = {U16(d + 6), U16(d + 8)};
  size_t cursor = qlen;
  bool decode = !asciiQuestion;  // true: JavaScript must read it (still checked whole here)
  bool haveAddress = false, cnameFromQuestion = false, haveSoa = false;
  uint32_t ttlMin = 0, negative = 0;
  int32_t written = 0;
  for (int section = 0; section < 2; section++) {
    for (size_t r = 0; r < counts[section]; r++) {
      NameWalk owner;
      const NameResult nr = ReadName(d, len, cursor, qname, query + qnameEnd, &owner);
      if (nr == kNameBad) return s;
      if (nr == kNameUndecided) decode = true;
      const size_t at = owner.end;
      if (at + 10 > len) return s;
      const uint16_t type = U16(d + at), klass = U16(d + at + 2);
      const uint32_t ttl = U32(d + at + 4);
      const size_t rdlength = U16(d + at + 8);
      const size_t start = at + 10, end = start + rdlength;
      if (end > len) return s;
      if (type == kTypeA) {
        if (rdlength != 4) return s;
      } else if (type == kTypeAAAA) {
        if (rdlength != 16) return s;
      } else if (type == kTypeCNAME || type == kTypeNS || type == kTypePTR) {
        NameWalk target;
        const NameResult tr = ReadName(d, len, start, qname, query + qnameEnd, &target);
        if (tr == kNameBad || target.end != end) return s;
        if (tr == kNameUndecided) decode = true;
      } else if (type == kTypeSOA) {
        if (rdlength < 22) return s;
        if (section == 1 && !haveSoa) {
          const uint32_t minimum = U32(d + end - 4);
          negative = ttl < minimum ? ttl : minimum;
          haveSoa = true;
        }
      }
      cursor = end;
      if (section != 0 || klass != kClassIN) continue;
      const bool wanted = type == qtype || type == kTypeCNAME;
      if (!wanted) continue;
      // A name packet.ts would compare as text (non-ASCII, or a dot inside a label): its verdict.
      if (!owner.plain) {
        decode = true;
        continue;
      }
      if (!owner.isQuestion) continue;
      if (type == kTypeCNAME) {
        cnameFromQuestion = true;
        continue;
      }
      ttlMin = haveAddress && ttlMin < ttl ? ttlMin : ttl;
      haveAddress = true;
      bool seen = false;
      for (int32_t k = 0; k < written && !seen; k++) {
        seen = memcmp(out + k * addrBytes, d + start, addrBytes) == 0;
      }
      if (seen) continue;
      if ((static_cast<size_t>(written) + 1) * addrBytes > outSize) {
        decode = true;
        continue;
      }
      memcpy(out + written * addrBytes, d + start, addrBytes);
      written++;
    }
  }
  s.rcode = d[3] & 0x0f;
  s.truncated = (d[2] & 0x02) != 0;
  if (decode || s.truncated || (s.rcode != 0 && s.rcode != 3)) {
    s.kind = kDnsDecode;
  } else if (s.rcode == 3 || (!haveAddress && !cnameFromQuestion)) {
    s.kind = kDnsNegative;
    s.negativeTtl = haveSoa ? negative : 0;
  } else if (haveAddress) {
    s.kind = kDnsAddresses;
    s.ttl = ttlMin;
    s.addresses = written;
  } else {
    s.kind = kDnsDecode;  // a CNAME chain: JavaScript follows it
  }
  return s;
}

}  // namespace fdr
