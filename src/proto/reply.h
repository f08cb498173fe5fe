#pragma once
// SMTP replies, RFC 5321 4.2, with RFC 2034/3463 enhanced status codes.
#include <string>
#include <string_view>
#include <vector>

namespace tern::proto {

// "250 2.0.0 Ok\r\n". `enhanced` may be empty (greeting and EHLO replies,
// RFC 2034 3: enhanced codes are not used on those).
std::string format_reply(int code, std::string_view enhanced, std::string_view text);

// Multiline reply: "250-first\r\n250-...\r\n250 last\r\n" (RFC 5321 4.2.1).
std::string format_multiline(int code, const std::vector<std::string>& lines);

}  // namespace tern::proto
