#pragma once
// ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 Mail-parameters):
// SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531),
// RET/ENVID (RFC 3461 4.3/4.4), NOTIFY/ORCPT (RFC 3461 4.1/4.2) and AUTH
// (RFC 4954 5).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::proto {

enum class Body { k7Bit, k8BitMime, kBinaryMime };
enum class Ret { kUnset, kFull, kHdrs };

// RFC 3461 4.1 NOTIFY values, as bits; 0 = not given (default: FAILURE,
// and DELAY at the MTA's choice).
enum Notify : unsigned {
  kNotifyNever = 1, kNotifySuccess = 2, kNotifyFailure = 4, kNotifyDelay = 8,
};

struct MailParameters {
  std::optional<std::uint64_t> size;
  Body body = Body::k7Bit;
  bool smtputf8 = false;
  Ret ret = Ret::kUnset;
  std::string envid;  // xtext-decoded
  std::string auth;   // RFC 4954 5 AUTH=, xtext-decoded ("<>" when unknown)
};

struct RcptParameters {
  unsigned notify = 0;
  std::string orcpt;  // "addr-type;address", address xtext-decoded
};

// `text` is what follows the path: empty or " KEY=VALUE KEY ...".
// Errors: 501 5.5.4 (bad value or duplicate), 555 5.5.4 (unknown parameter).
Result<MailParameters> parse_mail_parameters(std::string_view text);
Result<RcptParameters> parse_rcpt_parameters(std::string_view text);

// RFC 3461 4: xtext ("+" followed by two upper-case hex digits encodes an octet).
std::optional<std::string> decode_xtext(std::string_view text);
std::string encode_xtext(std::string_view text);

}  // namespace tern::proto
