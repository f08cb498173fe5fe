#include "proto/maildrop.h"

#include <utility>

#include "base/base64.h"
#include "base/text.h"

namespace tern::proto {
namespace {

Error bad_file(std::string detail) { return Error{554, "5.6.0", "Bad maildrop file", std::move(detail)}; }

// RFC 5321 paths, UTF-8 allowed (RFC 6531): the server decides SMTPUTF8
// from what it finds.
Result<Path> parse_address(std::string_view text, bool sender) {
  auto parsed = parse_path("<" + std::string(text) + ">", {.smtputf8 = true, .reverse_path = sender,
                                                           .forward_path = !sender});
  if (!parsed) return bad_file(std::string(sender ? "bad sender: " : "bad recipient: ") + parsed.error().detail);
  if (!parsed->rest.empty()) return bad_file(sender ? "bad sender" : "bad recipient");
  return parsed->path;
}

bool is_phrase_text(std::string_view name) {
  if (name.empty() || name.front() == ' ' || name.back() == ' ') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
              std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// RFC 2047 2: encoded words of at most 75 characters, cut between UTF-8
// characters (RFC 2047 5: each word must decode on its own).
std::string encoded_words(std::string_view text) {
  constexpr std::size_t kChunk = 45;  // 60 base64 characters + 12 of syntax
  std::string out;
  while (!text.empty()) {
    auto n = std::min(kChunk, text.size());
    while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?" + base64_encode(text.substr(0, n)) + "?=";
    text.remove_prefix(n);
  }
  return out;
}

}  // namespace

std::string serialize_maildrop_envelope(const MaildropEnvelope& envelope) {
  std::string out = std::string(kMaildropMagic) + "\n";
  out += "sender " + (envelope.sender.null ? std::string() : envelope.sender.mailbox.to_string()) + "\n";
  for (const auto& r : envelope.recipients) out += "recipient " + r.to_string() + "\n";
  if (!envelope.full_name.empty()) out += "fullname " + envelope.full_name + "\n";
  return out + "\n";
}

Result<ParsedMaildrop> parse_maildrop_envelope(std::string_view head) {
  auto end = head.substr(0, kMaxMaildropEnvelope).find("\n\n");
  if (end == std::string_view::npos) return bad_file("no end of envelope");
  ParsedMaildrop parsed;
  parsed.envelope_size = end + 2;
  auto& e = parsed.envelope;
  auto lines = head.substr(0, end + 1);
  std::size_t pos = 0;
  auto next_line = [&] {
    auto nl = lines.find('\n', pos);
    auto line = lines.substr(pos, nl - pos);
    pos = nl + 1;
    return line;
  };
  if (next_line() != kMaildropMagic) return bad_file("bad first line");
  auto sender = next_line();
  if (!sender.starts_with("sender ")) return bad_file("no sender line");
  auto path = parse_address(sender.substr(7), true);
  if (!path) return path.error();
  e.sender = std::move(*path);
  bool have_full_name = false;
  while (pos < lines.size()) {
    auto line = next_line();
    if (have_full_name) return bad_file("a line after fullname");
    if (line.starts_with("recipient ")) {
      if (e.recipients.size() == kMaxMaildropRecipients) return bad_file("too many recipients");
      auto recipient = parse_address(line.substr(10), false);
      if (!recipient) return recipient.error();
      e.recipients.push_back(std::move(recipient->mailbox));
    } else if (line.starts_with("fullname ") && !e.recipients.empty()) {
      e.full_name = line.substr(9);
      if (!is_valid_full_name(e.full_name)) return bad_file("bad fullname");
      have_full_name = true;
    } else {
      return bad_file("unexpected line");
    }
  }
  if (e.recipients.empty()) return bad_file("no recipients");
  return parsed;
}

bool is_valid_full_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxFullName || !is_valid_utf8(name)) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

std::string from_field_value(std::string_view full_name, std::string_view address) {
  if (full_name.empty()) return std::string(address);
  std::string name;
  if (is_phrase_text(full_name)) {
    name = full_name;
  } else if (is_ascii(full_name)) {
    name = "\"";
    for (char c : full_name) {
      if (c == '"' || c == '\\') name += '\\';
      name += c;
    }
    name += '"';
  } else {
    name = encoded_words(full_name);
  }
  return name + " <" + std::string(address) + ">";
}

void CrlfNormalizer::feed(std::string_view input, std::string& out) {
  while (!input.empty()) {
    auto lf = input.find('\n');
    auto piece = input.substr(0, lf);
    out.append(piece);
    if (!piece.empty()) after_cr_ = piece.back() == '\r';
    if (lf == std::string_view::npos) {
      at_line_start_ = false;
      return;
    }
    out += after_cr_ ? "\n" : "\r\n";
    after_cr_ = false;
    at_line_start_ = true;
    input.remove_prefix(lf + 1);
  }
}

void CrlfNormalizer::finish(std::string& out) {
  if (at_line_start_) return;
  out += after_cr_ ? "\n" : "\r\n";
  at_line_start_ = true;
  after_cr_ = false;
}

}  // namespace tern::proto
