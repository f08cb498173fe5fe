#pragma once
// The envelope as stored at the head of each queue file: one "key value"
// line per field (values xtext-encoded, RFC 3461 4, so that they hold no
// spaces or line ends), ended by an empty line; the message follows.
//
//   tern-queue 1
//   size <19 digits>               the message's length, written at commit
//   from <xtext reverse-path>      ("" for <>)
//   ...
//   rcpt <notify bits> <xtext orcpt or -> <xtext mailbox> [<xtext alias>]
//   <empty line>
//   <message octets>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/envelope.h"

namespace tern::queue {

// The "size" field sits at a fixed place, so that the length can be filled
// in once the message has been received (a queue file cut short, by a disk
// error or by hand, is then found out rather than delivered truncated).
constexpr std::size_t kSizeFieldOffset = 18;  // after "tern-queue 1\nsize "
constexpr std::size_t kSizeFieldDigits = 19;
std::string size_field(std::uint64_t size);

std::string serialize_envelope(const proto::Envelope& envelope);

// The text of the error for a queue file that cannot be a message.
inline constexpr std::string_view kQueueFileCorrupt = "Queue file corrupt";

struct ParsedEnvelope {
  proto::Envelope envelope;
  std::size_t header_size = 0;  // octets before the message
  // The message's length; none in files written before the field existed.
  std::optional<std::uint64_t> message_size;
};

// `head` holds at least the envelope part of a queue file.
Result<ParsedEnvelope> parse_envelope(std::string_view head);

// Header fields added at end of data (spool.h add_headers) follow the
// message, closed by a footer of fixed length that proves them whole:
//   <fields, CRLF line ends>tern-added <19-digit length> #<fnv1a hex>\n
constexpr std::size_t kAddedFooterSize = 41;
std::string added_headers_record(std::string_view fields);
// What follows the message in a queue file: the fields, or none when it is
// not one whole record (bytes appended or cut off).
std::optional<std::string> parse_added_headers(std::string_view trailer);

}  // namespace tern::queue
