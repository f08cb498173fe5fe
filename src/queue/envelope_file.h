#pragma once
// The envelope as stored at the head of each queue file: one "key value"
// line per field (values xtext-encoded, RFC 3461 4, so that they hold no
// spaces or line ends), ended by an empty line; the message follows.
//
//   tern-queue 1
//   from <xtext reverse-path>      ("" for <>)
//   ...
//   rcpt <notify bits> <xtext orcpt or -> <xtext mailbox>
//   <empty line>
//   <message octets>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/envelope.h"

namespace tern::queue {

std::string serialize_envelope(const proto::Envelope& envelope);

struct ParsedEnvelope {
  proto::Envelope envelope;
  std::size_t header_size = 0;  // octets before the message
};

// `head` holds at least the envelope part of a queue file.
Result<ParsedEnvelope> parse_envelope(std::string_view head);

}  // namespace tern::queue
