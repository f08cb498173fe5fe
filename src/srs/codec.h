#pragma once
// The pieces of an SRS address as libsrs2 computes them (srs2.c in libsrs2
// and postsrsd): the hash HHHH and the timestamp TT.
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace tern::srs {

// libsrs2's default hash length, the one postsrsd uses. Forged addresses
// need the secret; the short hash only limits how hard guessing is.
inline constexpr std::size_t kHashLength = 4;

// libsrs2: two base32 characters of the day number, so timestamps repeat
// every 1024 days.
inline constexpr int kTimestampSlots = 1024;
inline constexpr std::int64_t kSecondsPerDay = 86400;

// The first kHashLength characters of URL-safe base64 (RFC 4648 5) of
// HMAC-SHA1(secret, the fields concatenated, each ASCII-lowercased), as
// libsrs2's srs_hash_create(). nullopt only when OpenSSL fails.
std::optional<std::string> make_hash(std::string_view secret, std::initializer_list<std::string_view> fields);

// libsrs2's srs_hash_check() and base64_equivalent(): `given` must have at
// least kHashLength characters, and only that many are compared, without
// regard to case (mail systems may change it) and taking "+" and "/" (plain
// base64, older postsrsd) as "-" and "_". Runs in the same time whichever
// character differs.
bool hash_matches(std::string_view given, std::string_view expected);

// The day of `now` (days since the epoch, modulo 1024) as two characters of
// "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".
std::string make_timestamp(std::time_t now);

// The day a timestamp stands for (0..1023); either case is accepted, as in
// libsrs2. nullopt unless exactly two base32 characters.
std::optional<int> parse_timestamp(std::string_view text);

// Days from timestamp day `day` to `now`, 0..1023: a timestamp "from the
// future" counts as nearly 1024 days old, as in libsrs2's
// srs_timestamp_check().
int timestamp_age(int day, std::time_t now);

}  // namespace tern::srs
