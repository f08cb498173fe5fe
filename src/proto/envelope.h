#pragma once
// The SMTP envelope of one mail transaction (RFC 5321 2.3.1): what the queue
// stores beside the message and what delivery works from.
#include <string>
#include <vector>

#include "proto/address.h"
#include "proto/esmtp.h"

namespace tern::proto {

struct Recipient {
  Mailbox mailbox;
  RcptParameters params;
  // Set when an alias of a local address led here: that address, as the
  // client gave it. A copy forwarded elsewhere carries it in Delivered-To
  // (a forward loop is then seen when the copy comes back).
  std::string alias = {};
};

struct Envelope {
  Path reverse_path;
  MailParameters params;
  std::vector<Recipient> recipients;
  // Where the message came from, for Received and the log.
  std::string helo;
  std::string client_address;  // IP as text
  std::string protocol;        // RFC 3848 with-type: SMTP, ESMTP, UTF8SMTP...
};

}  // namespace tern::proto
