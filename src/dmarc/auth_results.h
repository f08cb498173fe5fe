#pragma once
// The Authentication-Results header field (RFC 8601): the writer that
// records our SPF, DKIM, DMARC and ARC verdicts, and the small reader the
// server needs to drop incoming fields that claim to be ours (RFC 8601 5).
// Pure. Every value may come from the network: the writer quotes or
// escapes it and never emits CR, LF or another control character except
// its own folding.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dmarc {

// propspec (RFC 8601 2.2): ptype "." property "=" pvalue.
struct Property {
  std::string ptype;     // "smtp", "header", "body", "policy"
  std::string property;  // "mailfrom", "d", "dmarc", ...
  std::string value;     // raw; written as a token, an address or a quoted-string
};

// resinfo (RFC 8601 2.2).
struct MethodResult {
  std::string method;   // "spf", "dkim", "dmarc", "arc" (RFC 8601 Keyword)
  std::string result;   // "pass", "fail", ... (RFC 8601 2.7)
  std::string reason;   // reason= text; empty: no reasonspec
  std::string comment;  // a comment after the result, e.g. "p=reject dis=none"; empty: none
  std::vector<Property> properties;  // empty values are left out
};

// Longest value or comment written, in octets; longer ones are cut (at a
// UTF-8 character boundary). Domains are at most 253, local parts 64.
inline constexpr std::size_t kMaxValueLength = 256;

// The whole field, "Authentication-Results: " to the final CRLF, folded
// with each resinfo on its own continuation line and lines kept under 78
// characters where a break is allowed (RFC 5322 2.1.1). No results:
// "Authentication-Results: <authserv-id>; none" (RFC 8601 2.2 no-result).
std::string format_authentication_results(std::string_view authserv_id, const std::vector<MethodResult>& results);

// RFC 7208 9.1 / RFC 8601 2.7.2: smtp.mailfrom (the MAIL FROM address or
// domain) and smtp.helo, each left out when empty.
MethodResult spf_result(std::string_view result, std::string_view mailfrom, std::string_view helo,
                        std::string_view reason = {});

// The tags of one DKIM-Signature (RFC 6376 3.5) that RFC 8601 2.7.1 and
// RFC 6008 put in the header: d, i, s, a and the start of b.
struct DkimSignatureTags {
  std::string_view d, i, s, a, b;
};
// header.b gets the first 8 characters of b= (RFC 6008 2: enough to tell
// two signatures of one message apart).
MethodResult dkim_result(std::string_view result, const DkimSignatureTags& tags, std::string_view reason = {});

// RFC 7489 11.2: header.from; policy.dmarc is the policy that applied
// (p or sp), as authheaders and the big receivers write it.
MethodResult dmarc_result(std::string_view result, std::string_view header_from, std::string_view policy,
                          std::string_view comment = {});

// RFC 8617 10.2: smtp.remote-ip and header.oldest-pass where relevant
// (empty: left out).
MethodResult arc_result(std::string_view result, std::string_view remote_ip, std::string_view oldest_pass,
                        std::string_view reason = {});

// The authserv-id of a field body (the text after "Authentication-
// Results:"): the first value, after any CFWS and comments, unquoted.
// Nothing when there is none or it is malformed.
std::optional<std::string> authserv_id(std::string_view field_body);

// RFC 8601 5: the field claims our authserv-id (compared without regard to
// case, as host names are). A field whose id cannot be read does not.
bool claims_authserv_id(std::string_view field_body, std::string_view our_id);

// The field name is Authentication-Results, in any case (RFC 5322 1.2.2),
// white space before the colon (RFC 5322 4.5 obs-optional) allowed.
bool is_authentication_results(std::string_view field_name);

}  // namespace tern::dmarc
