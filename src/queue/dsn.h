#pragma once
// Delivery status notifications: bounces and delay warnings as RFC 3464
// multipart/report messages, with the RFC 3461 rules on who asked for one
// and what it returns. Pure: the original message comes in through a reader
// and the notification goes out through a sink, both in pieces, so that a
// 25 MB message is never held whole; time and randomness come in as values.
//
// The caller (the scheduler) works in two steps:
//   auto plan = plan_dsn(envelope, DsnKind::kFailure, outcomes);
//   if (plan.decision == DsnDecision::kSend) write_dsn(envelope, request, read, sink);
// and spools what the sink received with the envelope write_dsn returns.
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/envelope.h"

namespace tern::queue {

// What one notification reports. RFC 3461 4.1 lets a recipient ask for each
// separately (NOTIFY=SUCCESS,FAILURE,DELAY).
enum class DsnKind { kFailure, kDelay, kSuccess };

// RFC 3464 2.3.3 action-value ("expanded" is not used: aliases are expanded
// when a message is queued, and each final recipient reports for itself).
enum class DsnAction { kFailed, kDelayed, kDelivered, kRelayed };

// One recipient's outcome, as the scheduler knows it.
struct DsnRecipient {
  std::size_t index = 0;  // into the original envelope's recipients
  DsnAction action = DsnAction::kFailed;
  std::string status;      // RFC 3463 code, "5.1.1"; empty or malformed: X.0.0 from the action
  std::string remote_mta;  // host name (or [address]) that gave the reply; empty: none did
  // The reply that decided it, "550 5.1.1 User unknown"; the lines of a
  // multiline reply may be joined with CRLF. Goes out as "<type>; <reply>".
  std::string diagnostic;
  // RFC 3464 2.3.6 diagnostic-type: "smtp" for a reply (ours or a peer's);
  // an "x-" name for other text ("x-tern" for "connection refused").
  std::string diagnostic_type = "smtp";
  std::time_t last_attempt = 0;      // 0: not known
  std::time_t will_retry_until = 0;  // delayed only; 0: not known
};

// RFC 3461 4.1: whether `recipient` asked for a notification of `kind`.
// NOTIFY unset: failure yes, delay yes (the MTA's choice), success no.
bool wants_dsn(const proto::Recipient& recipient, DsnKind kind);

// Whether a recipient with `action` belongs in a notification of `kind`.
bool dsn_reports(DsnKind kind, DsnAction action);

enum class DsnDecision {
  kSend,          // send one notification for plan.recipients
  kNullSender,    // the reverse-path is <>: never bounce a bounce; log it (postmaster later)
  kNotRequested,  // nobody of this kind asked for one (NOTIFY), or nobody has this kind
};

struct DsnPlan {
  DsnDecision decision = DsnDecision::kNotRequested;
  std::vector<DsnRecipient> recipients;  // for kSend: in the order given
};

// Picks, from the outcomes of one message, the recipients that go into one
// notification of `kind`: all whose action `kind` reports and who want it.
DsnPlan plan_dsn(const proto::Envelope& original, DsnKind kind, std::vector<DsnRecipient> outcomes);

// Reads the original message as stored (CRLF lines, no dot-stuffing) the way
// pread(2) does: up to `size` octets at `offset` into `data`; returns how
// many, 0 at the end. It may be called twice over the same range (a first
// pass decides the MIME labels and checks the boundary, a second copies).
using MessageReader = std::function<Result<std::size_t>(std::uint64_t offset, char* data, std::size_t size)>;

// Receives the notification in order: the generated parts in one piece (a
// few hundred octets per recipient), the original in pieces of 64 KB.
using DsnSink = std::function<Result<void>(std::string_view)>;

// A reader over a message held in memory (tests, small messages); the
// text must outlive the reader.
MessageReader string_reader(std::string_view message);

struct DsnRequest {
  DsnKind kind = DsnKind::kFailure;
  std::string reporting_mta;  // our host name: From, Message-ID, Reporting-MTA
  std::string queue_id;       // the original's queue id, for the reader of the DSN; may be empty
  std::time_t arrival_date = 0;
  std::time_t now = 0;  // Date of the notification
  std::vector<DsnRecipient> recipients;  // from plan_dsn
  std::uint64_t seed = 0;  // boundary and Message-ID; 0: from std::random_device
};

// What part 3 of the notification holds.
enum class DsnReturned { kNothing, kHeaders, kFull };

struct DsnResult {
  // MAIL FROM:<> (RFC 5321 4.5.5) and one recipient, the original
  // reverse-path (RFC 3464 2). BODY=8BITMIME / SMTPUTF8 when the content needs
  // them. helo, client_address and protocol are left for the caller.
  proto::Envelope envelope;
  std::string message_id;  // without <>
  std::string boundary;
  DsnReturned returned = DsnReturned::kNothing;
  std::uint64_t size = 0;  // octets given to the sink
};

// Writes the notification to `sink`. Errors: the reader's or the sink's
// (nothing usable was written then), or 451 4.3.0 when the request cannot
// make a DSN (null reverse-path, no recipients, an index out of range).
Result<DsnResult> write_dsn(const proto::Envelope& original, const DsnRequest& request,
                            const MessageReader& read, const DsnSink& sink);

}  // namespace tern::queue
