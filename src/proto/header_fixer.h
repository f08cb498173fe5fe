#pragma once
// Adds the header fields a submission server supplies when a message lacks
// them (RFC 6409 8.2 Date, 8.3 Message-ID; Postfix's cleanup also adds
// From for local submission), while the message streams through: content
// passes on unchanged, except that the missing fields are inserted at the
// end of the header section (RFC 5322 2.1).
#include <string>
#include <string_view>
#include <vector>

namespace tern::proto {

struct HeaderField {
  std::string name;   // "Date"
  std::string value;  // "Mon, 7 Dec 2026 10:00:00 +0000" (no CRLF)
};

class HeaderFixer {
 public:
  // `add_when_missing`: each field is added unless the message has a field
  // of that name (case-insensitive).
  explicit HeaderFixer(std::vector<HeaderField> add_when_missing);

  // Passes `content` (CRLF line ends) on into `out`. A few octets at the
  // start of a header line may be held back until the line shows whether it
  // is a header field; finish() flushes them.
  void feed(std::string_view content, std::string& out);
  // The end of the message: a header section that never ended (a message
  // without a body) gets the missing fields at its end.
  void finish(std::string& out);

 private:
  void classify_line(std::string& out);
  void end_header(std::string& out, bool add_blank_line);

  std::vector<HeaderField> fields_;
  std::vector<bool> seen_;
  bool in_header_ = true;
  bool at_line_start_ = true;
  bool last_was_lf_ = true;
  std::string pending_;  // the start of a line not yet known to be a field
};

}  // namespace tern::proto
