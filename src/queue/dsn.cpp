#include "queue/dsn.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <random>

#include "base/text.h"
#include "queue/dsn_format.h"
#include "queue/dsn_scan.h"

namespace tern::queue {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
// A boundary is 96 random bits; a collision means the original was made to
// collide (with a boundary it cannot have seen), so a few tries are plenty.
constexpr int kBoundaryTries = 4;

Error dsn_error(std::string detail) {
  return Error{451, "4.3.0", "Delivery status notification not generated", std::move(detail)};
}

const char* action_name(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed: return "failed";
    case DsnAction::kDelayed: return "delayed";
    case DsnAction::kDelivered: return "delivered";
    case DsnAction::kRelayed: return "relayed";
  }
  return "failed";
}

// RFC 3464 2.3.4: status-code = DIGIT "." 1*3DIGIT "." 1*3DIGIT.
bool is_status_code(std::string_view code) {
  auto digits = [&](std::size_t& i, std::size_t max) {
    std::size_t start = i;
    while (i < code.size() && i - start < max && code[i] >= '0' && code[i] <= '9') ++i;
    return i > start;
  };
  std::size_t i = 0;
  if (!digits(i, 1) || i >= code.size() || code[i++] != '.') return false;
  if (!digits(i, 3) || i >= code.size() || code[i++] != '.') return false;
  return digits(i, 3) && i == code.size();
}

// The class must agree with the action (RFC 3463 2): 2 for delivered and
// relayed, 4 for delayed, 4 or 5 for failed (4.x.x when a temporary
// condition outlasted the queue lifetime). Otherwise X.0.0 is used.
std::string status_of(const DsnRecipient& r) {
  char expected = r.action == DsnAction::kFailed ? '5' : r.action == DsnAction::kDelayed ? '4' : '2';
  bool agrees = !r.status.empty() &&
                (r.status[0] == expected || (r.action == DsnAction::kFailed && r.status[0] == '4'));
  if (agrees && is_status_code(r.status)) return r.status;
  return std::string(1, expected) + ".0.0";
}

// RFC 3464 2.1.2: address-type, diagnostic-type and MTA-name-type are atoms
// (in practice letters, digits and hyphens).
bool is_type_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "smtp" (RFC 3461 9.2) unless the caller named another type.
std::string diagnostic_type_of(const DsnRecipient& r) {
  return is_type_name(r.diagnostic_type) ? r.diagnostic_type : "smtp";
}

// RFC 3464 2.3.2 address-type "rfc822"; RFC 6533 3 adds "utf-8" for
// addresses that are not ASCII.
std::string typed_address(const proto::Mailbox& mailbox) {
  auto address = mailbox.to_string();
  return (has_8bit(address) ? "utf-8;" : "rfc822;") + address;
}

bool is_printable(std::string_view text, bool utf8) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || (u >= 0x80 && !utf8)) return false;
  }
  return !text.empty() && (!utf8 || proto::is_valid_utf8(text));
}

// RFC 3464 2.3.1: ORCPT is echoed as "addr-type;address", decoded from
// xtext. It came from the network: when it cannot be one line of text in
// this report (controls, or UTF-8 in an ASCII one) it is left out.
std::optional<std::string> original_recipient(std::string_view orcpt, bool utf8) {
  auto semi = orcpt.find(';');
  if (semi == std::string_view::npos || !is_type_name(orcpt.substr(0, semi))) return std::nullopt;
  if (!is_printable(orcpt.substr(semi + 1), utf8)) return std::nullopt;
  return std::string(orcpt);
}

// A host is named by a domain or an address literal (RFC 5321 4.1.2);
// anything else from the caller is not a "dns" MTA name (RFC 3461 9.3).
bool is_mta_name(std::string_view name, bool utf8) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    return is_printable(name, false) && name.find(' ') == std::string_view::npos;
  }
  return proto::is_domain(name, utf8);
}

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::string random_hex(std::mt19937_64& random, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) out += fmt::format("{:08x}", static_cast<std::uint32_t>(random()));
  return out;
}

// Everything the parts are written from, decided before the first octet.
struct Composition {
  const proto::Envelope& original;
  const DsnRequest& request;
  const OriginalShape& shape;
  std::string boundary;
  std::string message_id;
  DsnReturned returned = DsnReturned::kNothing;
  bool utf8 = false;  // RFC 6533 media types
};

// RFC 6533 is needed only when something shown is UTF-8: an address, or the
// returned header section of an SMTPUTF8 message.
bool needs_utf8(const proto::Envelope& original, const DsnRequest& request, const OriginalShape& shape) {
  if (!original.params.smtputf8) return false;
  if (shape.header_8bit || has_8bit(original.reverse_path.mailbox.to_string())) return true;
  for (const auto& r : request.recipients) {
    const auto& recipient = original.recipients[r.index];
    if (has_8bit(recipient.mailbox.to_string()) || has_8bit(recipient.params.orcpt)) return true;
  }
  return false;
}

std::string_view subject_of(DsnKind kind) {
  switch (kind) {
    case DsnKind::kFailure: return "Undelivered Mail Returned to Sender";
    case DsnKind::kDelay: return "Delayed Mail (still being retried)";
    case DsnKind::kSuccess: return "Successful Mail Delivery Report";
  }
  return "";
}

std::string_view summary_of(DsnKind kind) {
  switch (kind) {
    case DsnKind::kFailure:
      return "Your message could not be delivered to the recipients below. The mail system has "
             "given up on them and will not try again.";
    case DsnKind::kDelay:
      return "Your message has not yet been delivered to the recipients below. The mail system "
             "will keep trying; you do not need to send it again.";
    case DsnKind::kSuccess:
      return "Your message was delivered to the recipients below, or passed on to a mail system "
             "that does not report delivery.";
  }
  return "";
}

std::string_view returned_note(const Composition& c) {
  bool full_wanted = c.request.kind == DsnKind::kFailure && c.original.params.ret == proto::Ret::kFull;
  switch (c.returned) {
    case DsnReturned::kFull: return "Your message is attached.";
    case DsnReturned::kHeaders:
      return full_wanted ? "Only the header section of your message is attached: the message cannot "
                           "be returned whole (binary content or lines over 998 octets)."
                         : "The header section of your message is attached.";
    case DsnReturned::kNothing:
      return "Your message is not attached: its header section has lines over 998 octets.";
  }
  return "";
}

// Part 1 (RFC 3464 2, RFC 6522): for people. Every line that carries
// outside text is indented, so none can start with the boundary.
std::string human_text(const Composition& c) {
  std::string out;
  append_wrapped(out, "This is the mail delivery system at " + c.request.reporting_mta + ".", "");
  out += "\r\n";
  append_wrapped(out, summary_of(c.request.kind), "");
  out += "\r\n";
  for (const auto& r : c.request.recipients) {
    out += "<" + c.original.recipients[r.index].mailbox.to_string() + ">\r\n";
    std::string reason = clean_text(r.diagnostic, c.utf8);
    if (reason.empty()) reason = "status " + status_of(r);
    auto host = clean_text(r.remote_mta, c.utf8);
    if (!host.empty()) {
      // Whose words: the server's reply, or tern's verdict on the session.
      reason = r.diagnostic_type == "smtp" ? "host " + host + " said: " + reason : reason + " (host " + host + ")";
    }
    append_wrapped(out, reason, "    ");
    if (r.action == DsnAction::kDelayed && r.will_retry_until != 0) {
      append_wrapped(out, "will retry until " + format_date(r.will_retry_until), "    ");
    }
    out += "\r\n";
  }
  if (!c.request.queue_id.empty()) append_wrapped(out, "Queue ID: " + c.request.queue_id, "");
  append_wrapped(out, returned_note(c), "");
  return out;
}

// RFC 3464 2.2: per-message fields.
void append_message_fields(std::string& out, const Composition& c) {
  const auto& envid = c.original.params.envid;
  if (!envid.empty() && is_printable(envid, false)) append_field(out, "Original-Envelope-Id", envid);
  append_field(out, "Reporting-MTA", "dns; " + c.request.reporting_mta);
  if (!c.request.queue_id.empty()) append_field(out, "X-Tern-Queue-ID", c.request.queue_id);
  if (c.request.arrival_date != 0) append_field(out, "Arrival-Date", format_date(c.request.arrival_date));
}

// RFC 3464 2.3: per-recipient fields, in the RFC's order.
void append_recipient_fields(std::string& out, const Composition& c, const DsnRecipient& r) {
  const auto& recipient = c.original.recipients[r.index];
  if (auto orcpt = original_recipient(recipient.params.orcpt, c.utf8)) {
    append_field(out, "Original-Recipient", *orcpt);
  }
  append_field(out, "Final-Recipient", typed_address(recipient.mailbox));
  append_field(out, "Action", action_name(r.action));
  append_field(out, "Status", status_of(r));
  if (is_mta_name(r.remote_mta, c.utf8)) append_field(out, "Remote-MTA", "dns; " + r.remote_mta);
  auto diagnostic = clean_text(r.diagnostic, c.utf8);
  if (!diagnostic.empty()) append_field(out, "Diagnostic-Code", diagnostic_type_of(r) + "; " + diagnostic);
  if (r.last_attempt != 0) append_field(out, "Last-Attempt-Date", format_date(r.last_attempt));
  if (r.action == DsnAction::kDelayed && r.will_retry_until != 0) {
    append_field(out, "Will-Retry-Until", format_date(r.will_retry_until));
  }
}

// RFC 3464 2.1: delivery-status-content = per-message-fields
// 1*( CRLF per-recipient-fields ).
std::string status_text(const Composition& c) {
  std::string out;
  append_message_fields(out, c);
  for (const auto& r : c.request.recipients) {
    out += "\r\n";
    append_recipient_fields(out, c, r);
  }
  return out;
}

// RFC 2045 6: 7bit or 8bit, whichever is true of the part.
void append_part_header(std::string& out, std::string_view type, std::string_view description, bool eight_bit) {
  append_field(out, "Content-Type", type);
  append_field(out, "Content-Description", description);
  append_field(out, "Content-Transfer-Encoding", eight_bit ? "8bit" : "7bit");
  out += "\r\n";
}

void append_returned_part_header(std::string& out, const Composition& c) {
  bool eight_bit = c.shape.header_8bit;
  // A success notice returns a message that did arrive.
  std::string description = c.request.kind == DsnKind::kSuccess ? "Delivered Message" : "Undelivered Message";
  if (c.returned == DsnReturned::kFull) {
    // RFC 2046 5.2.1 / RFC 6532 3.7: the message itself, 7bit or 8bit.
    eight_bit = eight_bit || c.shape.body_8bit;
    append_part_header(out, c.utf8 ? "message/global" : "message/rfc822", description, eight_bit);
  } else {
    // RFC 6522 text/rfc822-headers; RFC 6533 message/global-headers.
    append_part_header(out, c.utf8 ? "message/global-headers" : "text/rfc822-headers", description + " Headers",
                       eight_bit);
  }
}

std::string message_header(const Composition& c, bool eight_bit) {
  std::string out;
  append_field(out, "Date", format_date(c.request.now));
  // RFC 3464 2: a reply to the DSN should reach the people who run this system.
  append_field(out, "From", "Mail Delivery System <MAILER-DAEMON@" + c.request.reporting_mta + ">");
  // RFC 3464 2: addressed to the original reverse-path, header and envelope alike.
  append_field(out, "To", "<" + c.original.reverse_path.mailbox.to_string() + ">");
  append_field(out, "Subject", subject_of(c.request.kind));
  append_field(out, "Message-ID", "<" + c.message_id + ">");
  // Lets mail readers show the report beside the message it is about.
  if (!c.shape.message_id.empty()) append_field(out, "References", c.shape.message_id);
  // RFC 3834 5: an automatic response, so that responders do not answer it.
  append_field(out, "Auto-Submitted", "auto-replied");
  append_field(out, "MIME-Version", "1.0");
  // RFC 6522: report-type names the subtype of the second part.
  append_field(out, "Content-Type",
               fmt::format("multipart/report; report-type={}delivery-status; boundary=\"{}\"",
                           c.utf8 ? "global-" : "", c.boundary));
  // RFC 2045 6.4: a multipart is labelled with its widest part.
  if (eight_bit) append_field(out, "Content-Transfer-Encoding", "8bit");
  out += "\r\n";
  return out;
}

// Everything up to the returned message (or to the end, when none is).
std::string compose_head(const Composition& c, bool& eight_bit) {
  auto text = human_text(c);
  auto status = status_text(c);
  bool text_8bit = has_8bit(text), status_8bit = has_8bit(status);
  bool returned_8bit = c.returned != DsnReturned::kNothing &&
                       (c.shape.header_8bit || (c.returned == DsnReturned::kFull && c.shape.body_8bit));
  eight_bit = text_8bit || status_8bit || returned_8bit;
  std::string delimiter = "--" + c.boundary + "\r\n";
  std::string out = message_header(c, eight_bit);
  out += "This is a MIME-encapsulated message: a delivery status notification.\r\n\r\n";
  out += delimiter;
  append_part_header(out, text_8bit ? "text/plain; charset=utf-8" : "text/plain; charset=us-ascii",
                     "Notification", text_8bit);
  out += text;
  out += "\r\n" + delimiter;
  append_part_header(out, c.utf8 ? "message/global-delivery-status" : "message/delivery-status",
                     "Delivery report", status_8bit);
  out += status;
  if (c.returned != DsnReturned::kNothing) {
    out += "\r\n" + delimiter;
    append_returned_part_header(out, c);
  }
  return out;
}

// The first pass, retried with a new boundary in the unlikely case that the
// original holds a line that starts with it (RFC 2046 5.1.1).
Result<OriginalShape> shape_original(const MessageReader& read, bool whole, std::mt19937_64& random,
                                     std::string& boundary) {
  for (int i = 0; i < kBoundaryTries; ++i) {
    boundary = "tern-dsn-" + random_hex(random, 3);
    auto shape = scan_original(read, boundary, whole);
    if (!shape || !shape->boundary_seen) return shape;
  }
  return dsn_error("no boundary found that the original message does not contain");
}

// The second pass: copies [0, size) and ends it with CRLF so that the
// delimiter that follows starts a line.
Result<std::uint64_t> copy_original(const MessageReader& read, std::uint64_t size, const DsnSink& sink) {
  std::string buffer(kChunk, '\0');
  std::uint64_t done = 0;
  char last[2] = {'\r', '\n'};
  while (done < size) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - done));
    auto got = read(done, buffer.data(), want);
    if (!got) return got.error();
    if (*got == 0) return dsn_error("the original message ended early");
    std::string_view piece(buffer.data(), std::min(*got, want));
    if (auto r = sink(piece); !r) return r.error();
    last[0] = piece.size() >= 2 ? piece[piece.size() - 2] : last[1];
    last[1] = piece.back();
    done += piece.size();
  }
  if (last[0] == '\r' && last[1] == '\n') return done;
  if (auto r = sink("\r\n"); !r) return r.error();
  return done + 2;
}

Result<void> check_request(const proto::Envelope& original, const DsnRequest& request) {
  if (original.reverse_path.null) return dsn_error("null reverse-path: never bounce a bounce");
  if (request.recipients.empty()) return dsn_error("no recipients to report");
  for (const auto& r : request.recipients) {
    if (r.index >= original.recipients.size()) return dsn_error("recipient index out of range");
  }
  return {};
}

DsnReturned returned_of(const OriginalShape& shape, bool whole) {
  if (shape.header_long) return DsnReturned::kNothing;
  return whole && !shape.body_long ? DsnReturned::kFull : DsnReturned::kHeaders;
}

proto::Envelope dsn_envelope(const proto::Envelope& original, bool eight_bit) {
  proto::Envelope envelope;
  envelope.reverse_path.null = true;
  envelope.params.body = eight_bit ? proto::Body::k8BitMime : proto::Body::k7Bit;
  // SMTPUTF8 only for a UTF-8 address in the envelope (and so in To:); the
  // message/global* parts are body content and travel as 8BITMIME (RFC 6532 3.7).
  envelope.params.smtputf8 = has_8bit(original.reverse_path.mailbox.to_string());
  envelope.recipients.push_back({original.reverse_path.mailbox, {}});
  return envelope;
}

}  // namespace

bool wants_dsn(const proto::Recipient& recipient, DsnKind kind) {
  unsigned notify = recipient.params.notify;
  if (notify & proto::kNotifyNever) return false;
  switch (kind) {
    case DsnKind::kFailure: return notify == 0 || (notify & proto::kNotifyFailure);
    case DsnKind::kDelay: return notify == 0 || (notify & proto::kNotifyDelay);
    case DsnKind::kSuccess: return (notify & proto::kNotifySuccess) != 0;
  }
  return false;
}

bool dsn_reports(DsnKind kind, DsnAction action) {
  switch (kind) {
    case DsnKind::kFailure: return action == DsnAction::kFailed;
    case DsnKind::kDelay: return action == DsnAction::kDelayed;
    // RFC 3461 5.2.2: "relayed" answers SUCCESS when the next hop cannot.
    case DsnKind::kSuccess: return action == DsnAction::kDelivered || action == DsnAction::kRelayed;
  }
  return false;
}

DsnPlan plan_dsn(const proto::Envelope& original, DsnKind kind, std::vector<DsnRecipient> outcomes) {
  DsnPlan plan;
  // RFC 5321 4.5.5: notifications are sent from <>, and a message from <>
  // gets none, or two MTAs could bounce bounces at each other forever.
  if (original.reverse_path.null) {
    plan.decision = DsnDecision::kNullSender;
    return plan;
  }
  for (auto& outcome : outcomes) {
    if (outcome.index >= original.recipients.size() || !dsn_reports(kind, outcome.action)) continue;
    if (wants_dsn(original.recipients[outcome.index], kind)) plan.recipients.push_back(std::move(outcome));
  }
  plan.decision = plan.recipients.empty() ? DsnDecision::kNotRequested : DsnDecision::kSend;
  return plan;
}

MessageReader string_reader(std::string_view message) {
  return [message](std::uint64_t offset, char* data, std::size_t size) -> Result<std::size_t> {
    if (offset >= message.size()) return std::size_t{0};
    auto n = std::min<std::size_t>(size, message.size() - static_cast<std::size_t>(offset));
    std::memcpy(data, message.data() + offset, n);
    return n;
  };
}

Result<DsnResult> write_dsn(const proto::Envelope& original, const DsnRequest& request,
                            const MessageReader& read, const DsnSink& sink) {
  if (auto r = check_request(original, request); !r) return r.error();
  std::mt19937_64 random(request.seed != 0 ? request.seed : random_seed());
  // RFC 3461 4.3: RET asks for the full message in a *failure* DSN; delay
  // and success reports carry the header section. Binary content cannot
  // travel in an 8BITMIME message, so it is not returned whole.
  bool whole = request.kind == DsnKind::kFailure && original.params.ret == proto::Ret::kFull &&
               original.params.body != proto::Body::kBinaryMime;
  DsnResult result;
  auto shape = shape_original(read, whole, random, result.boundary);
  if (!shape) return shape.error();
  result.message_id = fmt::format("dsn.{}.{}@{}", request.now, random_hex(random, 2), request.reporting_mta);
  result.returned = returned_of(*shape, whole);
  Composition c{original, request, *shape, result.boundary, result.message_id, result.returned,
                needs_utf8(original, request, *shape)};
  bool eight_bit = false;
  auto head = compose_head(c, eight_bit);
  if (auto r = sink(head); !r) return r.error();
  result.size = head.size();
  if (c.returned != DsnReturned::kNothing) {
    auto size = c.returned == DsnReturned::kFull ? shape->size : shape->header_size;
    auto copied = copy_original(read, size, sink);
    if (!copied) return copied.error();
    result.size += *copied;
  }
  std::string tail = "\r\n--" + result.boundary + "--\r\n";
  if (auto r = sink(tail); !r) return r.error();
  result.size += tail.size();
  result.envelope = dsn_envelope(original, eight_bit);
  return result;
}

}  // namespace tern::queue
