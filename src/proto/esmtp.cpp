#include "proto/esmtp.h"

#include <fmt/format.h>

#include <functional>

#include "base/text.h"

namespace tern::proto {
namespace {

Error bad_value(std::string_view keyword) {
  return Error{501, "5.5.4", fmt::format("Invalid {} parameter", keyword), ""};
}

Error unknown(std::string_view keyword) {
  return Error{555, "5.5.4", "Unsupported parameter", fmt::format("unknown parameter {}", keyword)};
}

// Calls `handle(keyword, value, has_value)` for each "keyword[=value]";
// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
using ParamHandler = std::function<Result<void>(std::string_view, std::string_view, bool)>;

Result<void> for_each_parameter(std::string_view text, const ParamHandler& handle) {
  if (!text.empty() && text.front() != ' ') {
    return Error{501, "5.5.4", "Syntax error after path", "junk directly after >"};
  }
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    auto end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    auto param = text.substr(i, end - i);
    i = end;
    auto eq = param.find('=');
    auto keyword = param.substr(0, eq);
    bool has_value = eq != std::string_view::npos;
    auto value = has_value ? param.substr(eq + 1) : std::string_view{};
    if (keyword.empty() || (has_value && value.empty())) return bad_value(param);
    for (char c : keyword) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return bad_value(param);
    }
    auto result = handle(keyword, value, has_value);
    if (!result) return result;
  }
  return {};
}

// Marks a keyword as seen; a second occurrence is a syntax error.
Result<void> once(bool& seen, std::string_view keyword) {
  if (seen) return Error{501, "5.5.4", fmt::format("Duplicate {} parameter", keyword), ""};
  seen = true;
  return {};
}

std::optional<Body> parse_body(std::string_view value) {
  if (iequals(value, "7BIT")) return Body::k7Bit;
  if (iequals(value, "8BITMIME")) return Body::k8BitMime;
  if (iequals(value, "BINARYMIME")) return Body::kBinaryMime;
  return std::nullopt;
}

// NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )
std::optional<unsigned> parse_notify(std::string_view value) {
  unsigned bits = 0;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    auto item = value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
    unsigned bit = iequals(item, "NEVER") ? kNotifyNever
                   : iequals(item, "SUCCESS") ? kNotifySuccess
                   : iequals(item, "FAILURE") ? kNotifyFailure
                   : iequals(item, "DELAY") ? kNotifyDelay : 0u;
    if (bit == 0 || (bits & bit)) return std::nullopt;
    bits |= bit;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if ((bits & kNotifyNever) && bits != kNotifyNever) return std::nullopt;
  return bits;
}

}  // namespace

std::optional<std::string> decode_xtext(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string encode_xtext(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out += ch;
    } else {
      out += fmt::format("+{:02X}", c);
    }
  }
  return out;
}

Result<MailParameters> parse_mail_parameters(std::string_view text) {
  MailParameters params;
  bool seen_size = false, seen_body = false, seen_utf8 = false, seen_ret = false, seen_envid = false,
       seen_auth = false;
  auto result = for_each_parameter(text, [&](std::string_view key, std::string_view value,
                                             bool has_value) -> Result<void> {
    if (iequals(key, "SIZE")) {
      if (auto r = once(seen_size, key); !r) return r;
      // RFC 1870 6: size-value ::= 1*20DIGIT; larger than we count is just "too big".
      bool digits = has_value && value.size() <= 20 &&
                    value.find_first_not_of("0123456789") == std::string_view::npos;
      if (!digits) return bad_value(key);
      auto size = parse_decimal(value);
      params.size = size ? *size : UINT64_MAX;
    } else if (iequals(key, "BODY")) {
      if (auto r = once(seen_body, key); !r) return r;
      auto body = parse_body(value);
      if (!body) return bad_value(key);
      params.body = *body;
    } else if (iequals(key, "SMTPUTF8")) {
      if (auto r = once(seen_utf8, key); !r) return r;
      if (has_value) return bad_value(key);
      params.smtputf8 = true;
    } else if (iequals(key, "RET")) {
      if (auto r = once(seen_ret, key); !r) return r;
      if (iequals(value, "FULL")) params.ret = Ret::kFull;
      else if (iequals(value, "HDRS")) params.ret = Ret::kHdrs;
      else return bad_value(key);
    } else if (iequals(key, "ENVID")) {
      if (auto r = once(seen_envid, key); !r) return r;
      auto envid = decode_xtext(value);
      // RFC 3461 4.4: at most 100 characters.
      if (!has_value || !envid || value.size() > 100) return bad_value(key);
      params.envid = *envid;
    } else if (iequals(key, "AUTH")) {
      // RFC 4954 5: AUTH=<> or AUTH=xtext(mailbox), the identity that
      // submitted the message to the client. tern takes it and, as the RFC
      // allows for a client it does not trust, uses none of it.
      if (auto r = once(seen_auth, key); !r) return r;
      auto auth = decode_xtext(value);
      if (!has_value || !auth || value.size() > 500) return bad_value(key);
      params.auth = *auth;
    } else {
      return unknown(key);
    }
    return {};
  });
  if (!result) return result.error();
  return params;
}

Result<RcptParameters> parse_rcpt_parameters(std::string_view text) {
  RcptParameters params;
  bool seen_notify = false, seen_orcpt = false;
  auto result = for_each_parameter(text, [&](std::string_view key, std::string_view value,
                                             bool) -> Result<void> {
    if (iequals(key, "NOTIFY")) {
      if (auto r = once(seen_notify, key); !r) return r;
      auto notify = parse_notify(value);
      if (!notify) return bad_value(key);
      params.notify = *notify;
    } else if (iequals(key, "ORCPT")) {
      if (auto r = once(seen_orcpt, key); !r) return r;
      // RFC 3461 4.2: ORCPT=addr-type ";" xtext, at most 500 characters.
      auto semi = value.find(';');
      if (semi == std::string_view::npos || semi == 0 || value.size() > 500) return bad_value(key);
      auto address = decode_xtext(value.substr(semi + 1));
      if (!address || address->empty()) return bad_value(key);
      params.orcpt = std::string(value.substr(0, semi)) + ";" + *address;
    } else {
      return unknown(key);
    }
    return {};
  });
  if (!result) return result.error();
  return params;
}

}  // namespace tern::proto
