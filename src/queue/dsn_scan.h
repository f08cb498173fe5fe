#pragma once
// The first pass over a message to be returned in a DSN. The MIME labels are
// written before the message is copied, so what they claim is learnt first:
// RFC 2045 6 (a 7bit or 8bit label must be true), RFC 2046 5.1.1 (the
// boundary must not occur in an enclosed part), RFC 5322 2.1.1 (no line over
// 998 octets). The message is read in pieces; nothing is held whole.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "queue/dsn.h"

namespace tern::queue {

struct OriginalShape {
  std::uint64_t header_size = 0;  // octets of the header fields, before the empty line
  std::uint64_t size = 0;         // octets scanned: the whole message, or through the empty line
  bool header_8bit = false;
  bool body_8bit = false;
  bool header_long = false;  // a line over 998 octets
  bool body_long = false;
  bool boundary_seen = false;  // a line starts with "--" boundary
  std::string message_id;      // "<...>" of the first usable Message-ID field; empty if none
};

// Feeds a message in pieces of any size.
class OriginalScanner {
 public:
  // `whole`: scan the body too; otherwise stop after the header section.
  OriginalScanner(std::string_view boundary, bool whole);

  // Returns false once no more input is needed.
  bool feed(std::string_view piece);
  OriginalShape finish();

 private:
  void add(char c);
  void end_line(std::size_t length);
  void header_line(std::string_view line);
  void end_header(std::uint64_t header_size);

  std::string delimiter_;
  bool whole_;
  OriginalShape shape_;
  bool in_header_ = true;
  bool done_ = false;
  bool cr_ = false;         // the last octet was CR
  std::size_t length_ = 0;  // octets of the current line so far, a pending CR included
  std::string line_;        // its first octets: a whole header line, a body line's start
  std::string message_id_field_;
  bool in_message_id_ = false;
  std::uint64_t offset_ = 0;
};

// Reads the message through `read` (whole, or the header section) and scans it.
Result<OriginalShape> scan_original(const MessageReader& read, std::string_view boundary, bool whole);

}  // namespace tern::queue
