#include "smtp/client/reply_parser.h"

#include <fmt/format.h>

#include "base/text.h"

namespace tern::smtp::client {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the digits at `text[i]`, when there are 1 to 3 of them.
std::size_t digits_at(std::string_view text, std::size_t i) {
  std::size_t n = 0;
  while (i + n < text.size() && is_digit(text[i + n])) ++n;
  return n >= 1 && n <= 3 ? n : 0;
}

// RFC 3463 2: status-code = class "." subject "." detail, class one of 2, 4
// and 5, subject and detail 1*3digit. RFC 2034 4: followed by a space (or
// nothing). Returns its length at the start of `text`, or 0.
std::size_t enhanced_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') return 0;
  std::size_t subject = digits_at(text, 2);
  if (subject == 0 || 2 + subject >= text.size() || text[2 + subject] != '.') return 0;
  std::size_t detail = digits_at(text, 3 + subject);
  std::size_t end = 3 + subject + detail;
  if (detail == 0 || (end < text.size() && text[end] != ' ')) return 0;
  return end;
}

}  // namespace

std::string Reply::text() const {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty() && !line.empty()) out += ' ';
    out += line;
  }
  return out;
}

std::size_t ReplyParser::feed(std::string_view input) {
  std::size_t i = 0;
  while (i < input.size() && !ready_) {
    auto lf = input.find('\n', i);
    auto end = lf == std::string_view::npos ? input.size() : lf;
    auto room = limits_.max_line_length - std::min(line_.size(), limits_.max_line_length);
    line_.append(input.substr(i, std::min(end - i, room)));  // the excess is dropped
    i = end;
    if (lf == std::string_view::npos) break;
    ++i;
    end_line();
  }
  return i;
}

// A line ends at LF; the CR before it is optional (leniency towards broken
// servers costs nothing here: a reply cannot smuggle anything).
void ReplyParser::end_line() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!parse_line(line)) ready_ = true;
  line_.clear();
}

// RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//                            Reply-code [ SP textstring ] CRLF
// Returns false when the reply is complete (or malformed).
bool ReplyParser::parse_line(std::string_view line) {
  bool digits = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && is_digit(line[1]) && is_digit(line[2]);
  if (!digits || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    malformed_ = fmt::format("not a reply line: {:.40}", line);
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool first = reply_.code == 0;
  if (!first && code != reply_.code) {
    // RFC 5321 4.2.1: every line of a multiline reply has the same code.
    malformed_ = fmt::format("reply code changed from {} to {}", reply_.code, code);
    return false;
  }
  reply_.code = code;
  auto text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (first) {
    // RFC 3463 3.1: the class must agree with the reply code's first digit.
    auto length = enhanced_length(text);
    if (length > 0 && text[0] == line[0]) reply_.enhanced = std::string(text.substr(0, length));
  }
  auto& enhanced = reply_.enhanced;
  if (!enhanced.empty() && text.starts_with(enhanced) &&
      (text.size() == enhanced.size() || text[enhanced.size()] == ' ')) {
    text.remove_prefix(std::min(text.size(), enhanced.size() + 1));
  }
  if (reply_.lines.size() < limits_.max_lines) reply_.lines.emplace_back(text);
  return line.size() > 3 && line[3] == '-';
}

Result<Reply> ReplyParser::take() {
  ready_ = false;
  Reply reply = std::exchange(reply_, {});
  if (malformed_.empty()) return reply;
  auto detail = std::exchange(malformed_, {});
  return Error{451, "4.5.0", "Malformed reply from server", detail};
}

void ReplyParser::reset() {
  line_.clear();
  reply_ = {};
  ready_ = false;
  malformed_.clear();
}

namespace {

void read_auth_mechanisms(std::string_view list, Capabilities& caps) {
  while (!list.empty()) {
    auto space = list.find(' ');
    auto mechanism = list.substr(0, space);
    if (iequals(mechanism, "PLAIN")) caps.auth_plain = true;
    if (iequals(mechanism, "LOGIN")) caps.auth_login = true;
    list = space == std::string_view::npos ? std::string_view{} : list.substr(space + 1);
  }
}

}  // namespace

Capabilities parse_capabilities(const Reply& ehlo_reply) {
  Capabilities caps;
  caps.esmtp = true;
  for (std::size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
    std::string_view line = ehlo_reply.lines[i];
    auto space = line.find(' ');
    auto keyword = line.substr(0, space);
    auto params = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if (iequals(keyword, "PIPELINING")) caps.pipelining = true;
    else if (iequals(keyword, "8BITMIME")) caps.eight_bit_mime = true;
    else if (iequals(keyword, "SMTPUTF8")) caps.smtputf8 = true;
    else if (iequals(keyword, "CHUNKING")) caps.chunking = true;
    else if (iequals(keyword, "BINARYMIME")) caps.binary_mime = true;
    else if (iequals(keyword, "DSN")) caps.dsn = true;
    else if (iequals(keyword, "STARTTLS")) caps.starttls = true;
    else if (iequals(keyword, "ENHANCEDSTATUSCODES")) caps.enhanced_status_codes = true;
    else if (iequals(keyword, "AUTH")) read_auth_mechanisms(params, caps);
    // Servers from before RFC 4954 announce "AUTH=LOGIN PLAIN" as well.
    else if (istarts_with(line, "AUTH=")) read_auth_mechanisms(line.substr(5), caps);
    else if (iequals(keyword, "SIZE")) {
      caps.size = true;
      // RFC 1870 4: no value, or 0, means no fixed limit; so does a number
      // too large for us to count.
      caps.max_size = parse_decimal(params).value_or(0);
    }
  }
  return caps;
}

}  // namespace tern::smtp::client
