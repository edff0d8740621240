// The resolver's answer check in C++ (lib/names/channels.ts, docs/names.md "What a lookup
// costs"): a datagram is accepted only under exactly the rules of lib/names/packet.ts's
// decodeResponse (the same id, QR set, one question equal to the query's, every answer and
// authority record within the datagram, compression pointers strictly backwards), and an
// accepted one is summed up for the common cases so that no record object is made for it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fdr {

// What ParseDnsAnswer made of a datagram.
enum DnsKind : int32_t {
  kDnsRejected = 0,   // not an answer to the query: ignore it, the query waits on
  kDnsAddresses = 1,  // NOERROR with addresses of the question's type for the name asked
  kDnsNegative = 2,   // NXDOMAIN, or NOERROR with neither such an address nor a CNAME
  kDnsDecode = 3,     // accepted, but JavaScript must decode it (TC, another rcode, a CNAME, ...)
};

struct DnsSummary {
  DnsKind kind;
  int32_t rcode;       // header RCODE (low 4 bits)
  bool truncated;      // TC
  uint32_t ttl;        // kDnsAddresses: the smallest TTL of the address records
  uint32_t negativeTtl;  // kDnsNegative: min(SOA TTL, SOA MINIMUM) of the first SOA, else 0
  int32_t addresses;   // kDnsAddresses: how many (distinct) were written to `out`
  int32_t addressBytes;  // bytes of one address in `out`: 4 for a query of type A, 16 for AAAA
};

// Checks `d` (len bytes) against `query` (qlen bytes, as the resolver sent it) and sums it
// up; address bytes go to out[0..outSize), distinct, in answer order (kDnsDecode when they
// do not fit). Never reads outside the two buffers.
DnsSummary ParseDnsAnswer(const uint8_t* d, size_t len, const uint8_t* query, size_t qlen,
                          uint8_t* out, size_t outSize);

}  // namespace fdr
