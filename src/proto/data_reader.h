#pragma once
// The DATA phase reader, RFC 5321 4.1.1.4 and 4.5.2: finds the end of data,
// removes dot-stuffing, and checks every line, streaming (nothing is held
// whole; the caller drains `content` as it grows).
//
// Only CRLF "." CRLF ends the data. A bare CR or bare LF (RFC 5321 2.3.8) is
// never a line end: it is kept as content and flagged, so the session can
// reject the message after the real terminator (no SMTP smuggling).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::proto {

class DataReader {
 public:
  explicit DataReader(std::size_t max_line_length) : max_line_length_(max_line_length) {}

  // Consumes bytes up to and including the end-of-data marker, appending the
  // unstuffed content to `content`. Returns how many bytes of `input` were
  // consumed; after the marker `done()` is true and the rest is not touched.
  std::size_t feed(std::string_view input, std::string& content);

  bool done() const { return state_ == State::kDone; }
  bool bare_line_ending() const { return bare_line_ending_; }
  bool line_too_long() const { return line_too_long_; }

 private:
  enum class State { kLineStart, kDot, kDotCr, kText, kCr, kDone };

  void text_byte(char c, std::string& content);
  void end_line(std::string& content);

  std::size_t max_line_length_;
  std::size_t line_length_ = 0;  // octets on the wire in this line so far
  State state_ = State::kLineStart;
  bool bare_line_ending_ = false;
  bool line_too_long_ = false;
};

// Counts "Received:" header fields of a message (RFC 5321 6.3: loop
// detection), fed the content in pieces of any size.
class ReceivedCounter {
 public:
  void feed(std::string_view content);
  std::size_t count() const { return count_; }

 private:
  std::size_t matched_ = 0;  // octets of "Received" matched at the line's start
  bool line_empty_ = true;   // nothing but CR on this line so far
  bool not_received_ = false;  // this line is not a Received field
  bool in_header_ = true;
  std::size_t count_ = 0;
};

}  // namespace tern::proto
