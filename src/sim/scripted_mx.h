#pragma once
// The simulator's remote MX, byte for byte: tern's own SMTP client session
// (smtp::client::Session, what remote delivery drives) talks to a scripted
// server: tern's server session with a host that accepts or refuses each
// recipient and, at the end of the data, keeps the message and answers, or
// keeps it and loses the connection before its reply (RFC 1047).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "smtp/client/session.h"

namespace tern::sim {

struct MxScript {
  bool unreachable = false;      // no connection at all
  bool lost_after_data = false;  // the MX stores the message, the reply never comes
  // The reply to RCPT TO for a recipient: 250, 451 or 550.
  std::function<int(const std::string& recipient)> rcpt_reply;
};

struct MxTranscript {
  std::vector<smtp::client::RecipientResult> results;  // the client's, per recipient
  std::optional<std::string> stored;                   // what the MX stored, if it did
  std::vector<std::string> accepted;                   // recipients the MX took at RCPT
};

MxTranscript converse(const smtp::client::Message& message, const std::string& content, const MxScript& script);

}  // namespace tern::sim
