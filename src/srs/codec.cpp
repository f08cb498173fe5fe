#include "srs/codec.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/base64.h"
#include "base/text.h"

namespace tern::srs {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// The day number modulo 1024, also for times before the epoch.
int day_slot(std::time_t now) {
  auto day = static_cast<std::int64_t>(now) / kSecondsPerDay;
  if (static_cast<std::int64_t>(now) % kSecondsPerDay < 0) --day;  // round toward -infinity
  auto slot = day % kTimestampSlots;
  return static_cast<int>(slot < 0 ? slot + kTimestampSlots : slot);
}

// libsrs2's base64_equivalent() classes: letters without case, "+" as "-",
// "/" as "_"; 0 for a character that is no base64 at all.
char hash_class(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') return c;
  if (c >= 'A' && c <= 'Z') return ascii_lower(c);
  if (c == '+') return '-';
  if (c == '/') return '_';
  return 0;
}

}  // namespace

std::optional<std::string> make_hash(std::string_view secret, std::initializer_list<std::string_view> fields) {
  std::string data;
  for (auto field : fields) data += to_lower(field);
  // A non-null key even when empty: HMAC() takes a null key as "no key given".
  static const unsigned char kEmpty = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&kEmpty) : secret.data();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha1(), key, static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest, &length) == nullptr ||
      length < 3) {
    return std::nullopt;
  }
  // Three octets are exactly the first four base64 characters.
  std::string text = base64_encode(std::string_view(reinterpret_cast<const char*>(digest), 3));
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text.substr(0, kHashLength);
}

bool hash_matches(std::string_view given, std::string_view expected) {
  if (given.size() < kHashLength || expected.size() < kHashLength) return false;
  unsigned differ = 0;
  for (std::size_t i = 0; i < kHashLength; ++i) {
    char a = hash_class(given[i]);
    char b = hash_class(expected[i]);
    differ |= static_cast<unsigned char>(a ^ b) | (a == 0) | (b == 0);
  }
  return differ == 0;
}

std::string make_timestamp(std::time_t now) {
  int slot = day_slot(now);
  return {kBase32[slot >> 5], kBase32[slot & 31]};
}

std::optional<int> parse_timestamp(std::string_view text) {
  if (text.size() != 2) return std::nullopt;
  int day = 0;
  for (char c : text) {
    auto at = kBase32.find(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    if (at == std::string_view::npos) return std::nullopt;
    day = day * 32 + static_cast<int>(at);
  }
  return day;
}

int timestamp_age(int day, std::time_t now) {
  int age = (day_slot(now) - day) % kTimestampSlots;
  return age < 0 ? age + kTimestampSlots : age;
}

}  // namespace tern::srs
