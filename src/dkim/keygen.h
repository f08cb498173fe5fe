#pragma once
// New DKIM keys for `tern dkim keygen`: the private key to keep and the TXT
// record to publish at selector._domainkey.domain (RFC 6376 3.6.1, RFC 8463 4).
#include <string>

#include "base/result.h"
#include "dkim/crypto.h"

namespace tern::dkim {

struct GeneratedKey {
  std::string private_pem;  // PKCS#8 PEM, not encrypted
  std::string dns_record;   // "v=DKIM1; k=rsa; p=..." (longer than 255 octets: split it in DNS)
};

// RSA keys are `rsa_bits` long (RFC 8301 3.2: at least 1024, 2048 advised).
Result<GeneratedKey> generate_key(KeyType type, int rsa_bits = 2048);

}  // namespace tern::dkim
