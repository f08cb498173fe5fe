// The maildrop file (proto/maildrop.h): any local user can write one, so the
// server's parser is a trust boundary. Besides crashes: what parses
// serializes to the same envelope part (the format is strict: one spelling
// per envelope), and the CRLF normalizer's output does not depend on where
// the message is cut.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/maildrop.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = tern::proto::parse_maildrop_envelope(text);
  if (parsed) {
    if (parsed->envelope_size > text.size() || parsed->envelope.recipients.empty()) std::abort();
    if (tern::proto::serialize_maildrop_envelope(parsed->envelope) != text.substr(0, parsed->envelope_size)) {
      std::abort();
    }
  }
  std::string whole, cut;
  tern::proto::CrlfNormalizer a, b;
  a.feed(text, whole);
  a.finish(whole);
  auto at = size == 0 ? 0 : data[0] % (size + 1);
  b.feed(text.substr(0, at), cut);
  b.feed(text.substr(at), cut);
  b.finish(cut);
  if (whole != cut) std::abort();
  return 0;
}
