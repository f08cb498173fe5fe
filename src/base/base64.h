#pragma once
// Base64 (RFC 4648 4), as SMTP AUTH carries its exchanges (RFC 4954 4).
#include <optional>
#include <string>
#include <string_view>

namespace tern {

std::string base64_encode(std::string_view data);
// Padded, no whitespace; nullopt when not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tern
