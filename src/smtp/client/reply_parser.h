#pragma once
// SMTP replies as the client reads them, RFC 5321 4.2: lines "code-text"
// ending with a line "code text", with the RFC 3463 enhanced status code that
// RFC 2034 puts at the start of each line's text; and the EHLO keywords
// (RFC 5321 4.1.1.1) that the first reply to EHLO announces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tern::smtp::client {

struct Reply {
  int code = 0;
  std::string enhanced;            // "5.1.1"; empty when the text carries none
  std::vector<std::string> lines;  // each line's text, without code and enhanced code

  std::string text() const;  // the lines joined by a space
};

struct ReplyLimits {
  // RFC 5321 4.5.3.1.5 allows 512 octets per reply line, but servers send
  // longer ones: we read more, and cut (not reject) what exceeds it.
  std::size_t max_line_length = 2048;
  // EHLO replies run to a dozen lines; a server that sends endless
  // continuation lines costs us no memory past this many.
  std::size_t max_lines = 100;
};

// Streaming: bytes may be fed cut anywhere. Only the current line is held.
class ReplyParser {
 public:
  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  // Consumes `input` up to and including the end of one reply; returns how
  // many bytes it took. When a reply is complete, ready() is true and
  // nothing more is consumed until take().
  std::size_t feed(std::string_view input);
  bool ready() const { return ready_; }
  // The complete reply, or 451 4.5.0 when it was malformed (the caller
  // cannot find the next reply's start and should close the connection).
  Result<Reply> take();
  // Forgets any partial reply.
  void reset();

 private:
  void end_line();
  bool parse_line(std::string_view line);

  ReplyLimits limits_;
  std::string line_;  // the current line, at most max_line_length octets
  Reply reply_;
  bool ready_ = false;
  std::string malformed_;  // why, when the reply was malformed
};

// What the server announced in its EHLO reply.
struct Capabilities {
  bool esmtp = false;                  // EHLO was accepted (else HELO)
  bool pipelining = false;             // RFC 2920
  bool size = false;                   // RFC 1870
  std::uint64_t max_size = 0;          // SIZE's value; 0: no fixed limit (RFC 1870 4)
  bool eight_bit_mime = false;         // RFC 6152
  bool smtputf8 = false;               // RFC 6531
  bool chunking = false;               // RFC 3030
  bool binary_mime = false;            // RFC 3030
  bool dsn = false;                    // RFC 3461
  bool starttls = false;               // RFC 3207
  bool auth_plain = false;             // RFC 4954 AUTH, mechanism PLAIN (RFC 4616)
  bool auth_login = false;             // AUTH LOGIN (draft-murchison-sasl-login)
  bool enhanced_status_codes = false;  // RFC 2034

  bool operator==(const Capabilities&) const = default;
};

// Reads the keywords of a positive EHLO reply: every line after the first
// is "keyword [parameters]" (RFC 5321 4.1.1.1), case-insensitive.
Capabilities parse_capabilities(const Reply& ehlo_reply);

}  // namespace tern::smtp::client
