#include "queue/envelope_file.h"

#include <fmt/format.h>

#include <vector>

#include "base/text.h"

namespace tern::queue {
namespace {

constexpr std::string_view kMagic = "tern-queue 1";

std::string body_name(proto::Body body) {
  switch (body) {
    case proto::Body::k8BitMime: return "8BITMIME";
    case proto::Body::kBinaryMime: return "BINARYMIME";
    case proto::Body::k7Bit: break;
  }
  return "7BIT";
}

std::string ret_name(proto::Ret ret) {
  switch (ret) {
    case proto::Ret::kFull: return "FULL";
    case proto::Ret::kHdrs: return "HDRS";
    case proto::Ret::kUnset: break;
  }
  return "-";
}

std::string encode(std::string_view value) { return value.empty() ? "-" : proto::encode_xtext(value); }

std::optional<std::string> decode(std::string_view value) {
  if (value == "-") return std::string();
  return proto::decode_xtext(value);
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start <= line.size()) {
    auto space = line.find(' ', start);
    words.push_back(line.substr(start, space == std::string_view::npos ? line.npos : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return words;
}

Error corrupt(std::string detail) { return Error{451, "4.3.0", std::string(kQueueFileCorrupt), std::move(detail)}; }

// "local@domain" → Mailbox; the local part may hold "@" when quoted, so the
// split is at the last "@".
proto::Mailbox split_mailbox(const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos) return {address, ""};
  return {address.substr(0, at), address.substr(at + 1)};
}

}  // namespace

std::string size_field(std::uint64_t size) { return fmt::format("{:0{}}", size, kSizeFieldDigits); }

std::string serialize_envelope(const proto::Envelope& e) {
  std::string out = std::string(kMagic) + "\n";
  // Unknown yet: all nines, which no file matches (the commit fills it in).
  static_assert(kSizeFieldOffset == kMagic.size() + 1 + 5);
  out += "size " + std::string(kSizeFieldDigits, '9') + "\n";
  out += fmt::format("from {}\n", e.reverse_path.null ? "-" : encode(e.reverse_path.mailbox.to_string()));
  out += fmt::format("body {}\nsmtputf8 {}\nret {}\nenvid {}\n", body_name(e.params.body),
                     e.params.smtputf8 ? 1 : 0, ret_name(e.params.ret), encode(e.params.envid));
  out += fmt::format("helo {}\nclient {}\nprotocol {}\n", encode(e.helo), encode(e.client_address),
                     encode(e.protocol));
  for (const auto& r : e.recipients) {
    out += fmt::format("rcpt {} {} {}", r.params.notify, encode(r.params.orcpt), encode(r.mailbox.to_string()));
    out += r.alias.empty() ? "\n" : fmt::format(" {}\n", encode(r.alias));
  }
  return out + "\n";
}

Result<ParsedEnvelope> parse_envelope(std::string_view head) {
  ParsedEnvelope parsed;
  auto& e = parsed.envelope;
  auto end = head.find("\n\n");
  if (end == std::string_view::npos) return corrupt("no end of envelope");
  parsed.header_size = end + 2;
  auto lines = head.substr(0, end + 1);
  std::size_t pos = 0;
  bool first = true;
  while (pos < lines.size()) {
    auto nl = lines.find('\n', pos);
    auto line = lines.substr(pos, nl - pos);
    pos = nl + 1;
    if (first) {
      if (line != kMagic) return corrupt("bad magic line");
      first = false;
      continue;
    }
    auto words = split_words(line);
    auto key = words[0];
    if (key == "rcpt") {
      if (words.size() != 4 && words.size() != 5) return corrupt("bad rcpt line");
      auto notify = parse_decimal(words[1]);
      auto orcpt = decode(words[2]);
      auto mailbox = decode(words[3]);
      auto alias = words.size() == 5 ? decode(words[4]) : std::string();
      if (!notify || !orcpt || !mailbox || !alias) return corrupt("bad rcpt values");
      proto::Recipient r;
      r.mailbox = split_mailbox(*mailbox);
      r.params.notify = static_cast<unsigned>(*notify);
      r.params.orcpt = *orcpt;
      r.alias = *alias;
      e.recipients.push_back(std::move(r));
      continue;
    }
    if (words.size() != 2) return corrupt(fmt::format("bad line for {}", key));
    auto value = decode(words[1]);
    if (!value) return corrupt(fmt::format("bad value for {}", key));
    if (key == "from") {
      e.reverse_path.null = value->empty();
      e.reverse_path.mailbox = split_mailbox(*value);
    } else if (key == "body") {
      e.params.body = *value == "8BITMIME" ? proto::Body::k8BitMime
                      : *value == "BINARYMIME" ? proto::Body::kBinaryMime : proto::Body::k7Bit;
    } else if (key == "smtputf8") {
      e.params.smtputf8 = *value == "1";
    } else if (key == "ret") {
      e.params.ret = *value == "FULL" ? proto::Ret::kFull : *value == "HDRS" ? proto::Ret::kHdrs : proto::Ret::kUnset;
    } else if (key == "size") {
      auto size = parse_decimal(*value);
      if (!size) return corrupt("bad size");
      parsed.message_size = *size;
    } else if (key == "envid") {
      e.params.envid = *value;
    } else if (key == "helo") {
      e.helo = *value;
    } else if (key == "client") {
      e.client_address = *value;
    } else if (key == "protocol") {
      e.protocol = *value;
    }
    // Unknown keys are skipped: a newer tern may add fields.
  }
  if (e.recipients.empty()) return corrupt("no recipients");
  return parsed;
}

std::string added_headers_record(std::string_view fields) {
  return fmt::format("{}tern-added {:019} #{:08x}\n", fields, fields.size(), fnv1a(fields));
}

std::optional<std::string> parse_added_headers(std::string_view trailer) {
  if (trailer.size() < kAddedFooterSize) return std::nullopt;
  auto fields = trailer.substr(0, trailer.size() - kAddedFooterSize);
  if (trailer.substr(fields.size()) != added_headers_record(fields).substr(fields.size())) return std::nullopt;
  return std::string(fields);
}

}  // namespace tern::queue
