// DKIM tag lists (RFC 6376 3.2), DKIM-Signature values, key records and the
// RSA public key DER inside them: no crash, and what parses is consistent.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/canon.h"
#include "dkim/der.h"
#include "dkim/key.h"
#include "dkim/signature.h"
#include "dkim/tags.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto tags = tern::dkim::parse_tag_list(text)) {
    for (std::size_t i = 0; i < tags->size(); ++i) {
      const auto& tag = (*tags)[i];
      if (tag.name.empty() || tern::dkim::trim_fws(tag.value) != tag.value) __builtin_trap();
      for (std::size_t j = 0; j < i; ++j) {
        if ((*tags)[j].name == tag.name) __builtin_trap();  // duplicates make the list invalid
      }
    }
  }
  if (auto sig = tern::dkim::parse_signature(text)) {
    if (!tern::dkim::valid_domain(sig->domain) || sig->signed_headers.empty()) __builtin_trap();
    (void)sig->key_name();
  }
  (void)tern::dkim::parse_key_record(text);
  (void)tern::dkim::parse_rsa_public_key(text);
  auto field = "DKIM-Signature:" + std::string(text);
  auto without_b = tern::dkim::remove_b_value(field);
  // Emptying b= again changes nothing (the CRLF stands for the one it strips).
  if (tern::dkim::remove_b_value(without_b + "\r\n") != without_b) __builtin_trap();
  std::string canonical;
  tern::dkim::canonicalize_header(tern::dkim::Canonicalization::kRelaxed, field, canonical);
  return 0;
}
