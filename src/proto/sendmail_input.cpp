#include "proto/sendmail_input.h"

#include <algorithm>
#include <utility>

#include "base/text.h"

namespace tern::proto {
namespace {

// RFC 5322 2.2 / 3.6.8: "name:" with printable US-ASCII names; the name
// or an empty view when the line does not start a field.
std::string_view field_name(std::string_view line) {
  auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return {};
  auto name = line.substr(0, colon);
  for (char c : name) {
    if (c < 33 || c > 126) return {};
  }
  return name;
}

}  // namespace

bool SendmailInput::feed(std::string_view input) {
  while (!input.empty() && !done_) {
    auto lf = input.find('\n');
    if (lf == std::string_view::npos) {
      partial_.append(input);
      if (size_ + partial_.size() > options_.max_size) {
        fail(Error{552, "5.3.4", "Message too big", "message larger than limits.max_message_size"});
      }
      break;
    }
    partial_.append(input.substr(0, lf));
    input.remove_prefix(lf + 1);
    std::string text = std::move(partial_);
    partial_.clear();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    line(text);
  }
  return !done_;
}

Result<void> SendmailInput::finish() {
  if (!done_ && !partial_.empty()) {
    std::string text = std::move(partial_);
    partial_.clear();
    if (text.back() == '\r') text.pop_back();
    line(text);
  }
  if (!error_ && in_header_) end_header();
  done_ = true;
  if (error_) return *error_;
  return {};
}

bool SendmailInput::eight_bit() const {
  return std::any_of(message_.begin(), message_.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

void SendmailInput::line(std::string_view text) {
  if (options_.dot_ends && text == ".") {
    if (in_header_) end_header();
    done_ = true;
    return;
  }
  size_ += text.size() + 2;
  if (size_ > options_.max_size) {
    return fail(Error{552, "5.3.4", "Message too big", "message larger than limits.max_message_size"});
  }
  if (in_header_) return header_line(text);
  message_.append(text);
  message_ += "\r\n";
}

void SendmailInput::header_line(std::string_view text) {
  if (!text.empty() && (text.front() == ' ' || text.front() == '\t') && !fields_.empty()) {
    fields_.back() += "\r\n";  // RFC 5322 2.2.3: a folded field goes on
    fields_.back() += text;
    return;
  }
  if (!text.empty() && !field_name(text).empty()) {
    fields_.emplace_back(text);
    return;
  }
  // The empty line, or a body that begins without one.
  end_header();
  if (done_) return;
  message_.append(text);
  message_ += "\r\n";
}

void SendmailInput::end_header() {
  in_header_ = false;
  for (const auto& field : fields_) {
    auto name = field_name(field);
    bool bcc = iequals(name, "Bcc");
    if (options_.extract_recipients && (bcc || iequals(name, "To") || iequals(name, "Cc"))) {
      take_recipients(std::string_view(field).substr(name.size() + 1));
      if (done_) return;
    }
    if (bcc || iequals(name, "Resent-Bcc")) continue;
    message_ += field;
    message_ += "\r\n";
  }
  fields_.clear();
}

void SendmailInput::take_recipients(std::string_view body) {
  auto left = options_.max_recipients - std::min(options_.max_recipients, recipients_.size());
  auto parsed = parse_address_list(body, {.allow_local_only = true, .max_addresses = left});
  if (!parsed) return fail(parsed.error());
  for (auto& address : *parsed) recipients_.push_back(std::move(address));
}

void SendmailInput::fail(Error error) {
  error_ = std::move(error);
  done_ = true;
}

}  // namespace tern::proto
