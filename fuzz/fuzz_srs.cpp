// SRS addresses as a bounce's forward-path could hold them (srs/srs.h):
// reverse() on arbitrary input, and forward() on arbitrary senders. Besides
// crashes it checks that every refusal carries a whole reply, and that
// whatever forward() rewrites reverses again, also with its case changed
// (mail systems may do that) and is left alone when forwarded once more.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "srs/srs.h"

namespace {

const tern::srs::Srs kSrs{.secret = "fuzz-srs-secret-0123", .domain = "srs.example.net"};
constexpr std::time_t kNow = 1700000000;

std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

void check_reverse(std::string_view address) {
  auto out = tern::srs::reverse(kSrs, address, kNow);
  if (out) {
    if (out->find('@') == std::string::npos) __builtin_trap();
    return;
  }
  const auto& e = out.error();
  if (e.code != 550 && e.code != 451) __builtin_trap();
  if (e.enhanced.empty() || e.text.empty() || e.detail.empty()) __builtin_trap();
}

void check_forward(std::string_view sender) {
  auto rewritten = tern::srs::forward(kSrs, sender, kNow);
  if (rewritten == sender) return;
  auto at = rewritten.rfind('@');
  if (at == std::string::npos || !tern::srs::is_srs(std::string_view(rewritten).substr(0, at))) __builtin_trap();
  if (!tern::srs::reverse(kSrs, rewritten, kNow)) __builtin_trap();
  if (!tern::srs::reverse(kSrs, ascii_upper(rewritten), kNow)) __builtin_trap();
  if (tern::srs::forward(kSrs, rewritten, kNow) != rewritten) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_reverse(text);
  (void)tern::srs::is_srs(text);
  check_forward(text);
  // Most inputs lack a domain: try them as local parts of a sender too.
  check_forward(std::string(text) + "@example.org");
  return 0;
}
