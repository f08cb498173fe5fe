#include "queue/dsn_scan.h"

#include "base/text.h"
#include "queue/dsn_format.h"

namespace tern::queue {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxMessageId = 250;  // longer ones are not worth threading by

// RFC 5322 3.6.4 msg-id = "<" id-left "@" id-right ">": taken only when it
// is plainly that (printable ASCII, no spaces), since it goes into our header.
std::string message_id_of(std::string_view field) {
  auto open = field.find('<');
  auto close = field.find('>', open);
  if (open == std::string_view::npos || close == std::string_view::npos) return {};
  auto id = field.substr(open, close - open + 1);
  if (id.size() > kMaxMessageId || id.find('@') == std::string_view::npos) return {};
  for (char c : id.substr(1, id.size() - 2)) {
    if (c <= ' ' || c >= 0x7F || c == '<') return {};
  }
  return std::string(id);
}

}  // namespace

OriginalScanner::OriginalScanner(std::string_view boundary, bool whole)
    : delimiter_("--" + std::string(boundary)), whole_(whole) {}

bool OriginalScanner::feed(std::string_view piece) {
  for (char c : piece) {
    if (done_) return false;
    add(c);
  }
  return !done_;
}

void OriginalScanner::add(char c) {
  ++offset_;
  if (c == '\n' && cr_) {
    end_line(length_ - 1);
    return;
  }
  cr_ = c == '\r';
  ++length_;
  // Header lines are kept whole (to find Message-ID); body lines only as far
  // as the delimiter could reach.
  std::size_t keep = in_header_ ? kHardLineLimit + 1 : delimiter_.size();
  if (line_.size() < keep) line_ += c;
  if (static_cast<unsigned char>(c) >= 0x80) (in_header_ ? shape_.header_8bit : shape_.body_8bit) = true;
}

// A line of `length` octets (CRLF not counted) has ended.
void OriginalScanner::end_line(std::size_t length) {
  std::string_view line(line_);
  if (line.size() > length) line = line.substr(0, length);  // without the CR
  if (length > kHardLineLimit) (in_header_ ? shape_.header_long : shape_.body_long) = true;
  if (line.substr(0, delimiter_.size()) == delimiter_) shape_.boundary_seen = true;
  if (in_header_) {
    if (length == 0) {
      end_header(offset_ - 2);  // the empty line is not part of the header section
    } else {
      header_line(line);
    }
  }
  line_.clear();
  length_ = 0;
  cr_ = false;
}

// Collects the first Message-ID field, continuation lines included
// (RFC 5322 2.2.3: a line starting with white space continues the field).
void OriginalScanner::header_line(std::string_view line) {
  bool continuation = line.front() == ' ' || line.front() == '\t';
  if (continuation) {
    if (in_message_id_ && message_id_field_.size() < 2 * kHardLineLimit) message_id_field_ += line;
    return;
  }
  in_message_id_ = false;
  if (message_id_field_.empty() && istarts_with(line, "message-id:")) {
    in_message_id_ = true;
    message_id_field_ = std::string(line.substr(11)) + " ";
  }
}

void OriginalScanner::end_header(std::uint64_t header_size) {
  shape_.header_size = header_size;
  in_header_ = false;
  in_message_id_ = false;
  shape_.message_id = message_id_of(message_id_field_);
  if (!whole_) done_ = true;
}

OriginalShape OriginalScanner::finish() {
  // A last line without CRLF: the message ends inside it.
  if (length_ > 0 && !done_) end_line(length_);
  // No empty line: the whole message is its header section.
  if (in_header_) end_header(offset_);
  shape_.size = offset_;
  return shape_;
}

Result<OriginalShape> scan_original(const MessageReader& read, std::string_view boundary, bool whole) {
  OriginalScanner scanner(boundary, whole);
  std::string buffer(kChunk, '\0');
  std::uint64_t offset = 0;
  for (;;) {
    auto got = read(offset, buffer.data(), buffer.size());
    if (!got) return got.error();
    if (*got == 0) break;
    offset += *got;
    if (!scanner.feed(std::string_view(buffer.data(), std::min(*got, buffer.size())))) break;
  }
  return scanner.finish();
}

}  // namespace tern::queue
