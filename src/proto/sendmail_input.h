#pragma once
// What `tern sendmail` makes of the message a program writes on its
// standard input, as /usr/sbin/sendmail does (Postfix's sendmail, postdrop
// and cleanup):
//  - lines end in LF or CRLF; the message comes out with CRLF;
//  - without -i, a line holding only "." ends the message (nothing is
//    unstuffed: this is not SMTP, a line ".." stays "..");
//  - Bcc and Resent-Bcc fields are removed from the header (Postfix's
//    cleanup removes them for every message);
//  - with -t, the addresses in To, Cc and Bcc are recipients;
//  - the message may not grow past max_size (limits.max_message_size).
// Lines of any length are kept whole (Postfix's sendmail accepts them too).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/address_list.h"

namespace tern::proto {

struct SendmailInputOptions {
  bool dot_ends = true;             // off with -i / -oi
  bool extract_recipients = false;  // -t
  std::uint64_t max_size = 26214400;
  std::size_t max_recipients = 2000;
};

class SendmailInput {
 public:
  explicit SendmailInput(SendmailInputOptions options) : options_(options) {}

  // Returns false once no more input is wanted: the "." line came, or an error.
  bool feed(std::string_view input);
  // The end of the input (or of the message). The error says what was wrong:
  // 552 5.3.4 too big, 501 5.1.3 an address field that cannot be read.
  Result<void> finish();

  const std::string& message() const { return message_; }
  // With -t: the addresses of To, Cc and Bcc, in order (duplicates kept).
  const std::vector<HeaderAddress>& recipients() const { return recipients_; }
  bool eight_bit() const;

 private:
  void line(std::string_view text);
  void header_line(std::string_view text);
  void end_header();
  void take_recipients(std::string_view field);
  void fail(Error error);

  SendmailInputOptions options_;
  std::string partial_;              // the line being read
  std::vector<std::string> fields_;  // header fields so far, folds kept
  std::string message_;
  std::uint64_t size_ = 0;  // octets of the message as it will be stored (CRLF)
  std::vector<HeaderAddress> recipients_;
  std::optional<Error> error_;
  bool in_header_ = true;
  bool done_ = false;
};

}  // namespace tern::proto
