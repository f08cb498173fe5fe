#pragma once
// The maildrop file: how `tern sendmail` hands a message to the server
// (data_dir/maildrop/, see app/pickup.h). Any local user may write one, so
// the server reads it as untrusted input: strict, versioned, bounded.
//
//   tern-maildrop 1\n
//   sender <address>\n             empty after the space for the null sender <>
//   recipient <address>\n          one per recipient, 1 to kMaxMaildropRecipients
//   fullname <text>\n              optional (sendmail -F): UTF-8, no control characters
//   \n
//   <message>                      lines end in CRLF (LF is accepted and made CRLF)
//
// Addresses are RFC 5321 mailboxes without the angle brackets
// ("local@domain", UTF-8 allowed as with SMTPUTF8); lines end in LF only and
// the fields come in exactly this order.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/address.h"

namespace tern::proto {

inline constexpr std::string_view kMaildropMagic = "tern-maildrop 1";
inline constexpr std::size_t kMaxMaildropRecipients = 2000;
inline constexpr std::size_t kMaxFullName = 256;  // octets
// No valid envelope part is longer (each line is bounded, and so is their count).
inline constexpr std::size_t kMaxMaildropEnvelope =
    kMaildropMagic.size() + 1 + (10 + kMaxPath) * (kMaxMaildropRecipients + 1) + 10 + kMaxFullName + 1;

struct MaildropEnvelope {
  Path sender;  // sender.null for <>
  std::vector<Mailbox> recipients;
  std::string full_name;
};

std::string serialize_maildrop_envelope(const MaildropEnvelope& envelope);

struct ParsedMaildrop {
  MaildropEnvelope envelope;
  std::size_t envelope_size = 0;  // octets before the message
};

// `head`: the start of the file, at least min(file size, kMaxMaildropEnvelope)
// octets. Errors are 554 5.6.0 with the reason in `detail`.
Result<ParsedMaildrop> parse_maildrop_envelope(std::string_view head);

// What sendmail -F may carry: valid UTF-8, no control characters, at most
// kMaxFullName octets.
bool is_valid_full_name(std::string_view name);

// RFC 5322 3.6.2 From field body for a local sender: `Full Name <addr>`,
// the name quoted (3.2.4) or, when not ASCII, as RFC 2047 encoded words.
std::string from_field_value(std::string_view full_name, std::string_view address);

// Makes every line end CRLF: LF alone becomes CRLF, CRLF stays, a CR
// that no LF follows stays as it is. Streaming: a CR at the end of one
// piece is matched with an LF at the start of the next.
class CrlfNormalizer {
 public:
  void feed(std::string_view input, std::string& out);
  // The end of the message: a last line without a line end gets CRLF.
  void finish(std::string& out);

 private:
  bool after_cr_ = false;
  bool at_line_start_ = true;
};

}  // namespace tern::proto
