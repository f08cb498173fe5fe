#include "proto/data_reader.h"

#include "base/text.h"

namespace tern::proto {

void DataReader::text_byte(char c, std::string& content) {
  if (c == '\r') {
    state_ = State::kCr;
    return;
  }
  if (c == '\n') bare_line_ending_ = true;  // LF without CR: content, flagged
  content += c;
  state_ = State::kText;
}

void DataReader::end_line(std::string& content) {
  content += "\r\n";
  // RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
  if (line_length_ > max_line_length_) line_too_long_ = true;
  line_length_ = 0;
  state_ = State::kLineStart;
}

std::size_t DataReader::feed(std::string_view input, std::string& content) {
  std::size_t i = 0;
  for (; i < input.size() && state_ != State::kDone; ++i) {
    char c = input[i];
    ++line_length_;
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;  // RFC 5321 4.5.2: a leading dot is removed
        } else {
          text_byte(c, content);
        }
        break;
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
        } else {
          text_byte(c, content);
        }
        break;
      case State::kDotCr:
        if (c == '\n') {
          state_ = State::kDone;  // CRLF "." CRLF
        } else {
          bare_line_ending_ = true;  // ".\r" + something: the CR is bare
          content += '\r';
          text_byte(c, content);
        }
        break;
      case State::kText:
        text_byte(c, content);
        break;
      case State::kCr:
        if (c == '\n') {
          end_line(content);
        } else {
          bare_line_ending_ = true;
          content += '\r';
          text_byte(c, content);
        }
        break;
      case State::kDone:
        break;
    }
  }
  return i;
}

// Counts "Received" WSP* ":" at the start of header lines: RFC 5322 4.5.3
// (obs-optional) allows white space before the colon, and a loop must not
// hide behind it.
void ReceivedCounter::feed(std::string_view content) {
  constexpr std::string_view kName = "Received";
  for (char c : content) {
    if (!in_header_) return;
    if (c == '\n') {
      // An empty line ends the header section (RFC 5322 2.1).
      if (line_empty_) in_header_ = false;
      matched_ = 0;
      line_empty_ = true;
      not_received_ = false;
      continue;
    }
    if (c != '\r') line_empty_ = false;
    if (not_received_) continue;
    if (matched_ < kName.size()) {
      if (ascii_lower(c) == ascii_lower(kName[matched_])) {
        ++matched_;
      } else {
        not_received_ = true;
      }
    } else if (c == ':') {
      ++count_;
      not_received_ = true;
    } else if (c != ' ' && c != '\t') {
      not_received_ = true;
    }
  }
}

}  // namespace tern::proto
