#include "queue/bouncer.h"

#include <spdlog/spdlog.h>

#include "base/ids.h"
#include "base/log.h"

namespace tern::queue {
namespace {

const char* kind_name(DsnKind kind) {
  switch (kind) {
    case DsnKind::kFailure: return "failure";
    case DsnKind::kDelay: return "delay";
    case DsnKind::kSuccess: return "success";
  }
  return "?";
}

// The message as delivered: the header fields added at reception, then the
// queue file's message (and nothing stored after it).
MessageReader queue_file_reader(const QueuedMessage& message) {
  return [&message](std::uint64_t pos, char* data, std::size_t size) -> Result<std::size_t> {
    const auto& added = message.added_headers;
    if (pos < added.size()) {
      auto n = std::min<std::uint64_t>(size, added.size() - pos);
      std::copy_n(added.data() + pos, n, data);
      return static_cast<std::size_t>(n);
    }
    pos -= added.size();
    if (pos >= message.size) return std::size_t{0};
    return message.fs->read_at(message.fd, message.offset + pos, data,
                               static_cast<std::size_t>(std::min<std::uint64_t>(size, message.size - pos)));
  };
}

}  // namespace

Bouncer::Bouncer(Spool& spool, std::string hostname, Rng& rng)
    : spool_(spool), hostname_(std::move(hostname)), rng_(rng) {}

Result<std::optional<std::string>> Bouncer::notify(const QueuedMessage& message, DsnKind kind,
                                                   std::vector<DsnRecipient> outcomes, std::time_t now) {
  auto plan = plan_dsn(message.envelope, kind, std::move(outcomes));
  if (plan.decision == DsnDecision::kNullSender) {
    spdlog::warn("event=dsn_dropped queue_id={} kind={} reason=null_sender", message.id, kind_name(kind));
    return std::optional<std::string>();
  }
  if (plan.decision == DsnDecision::kNotRequested) return std::optional<std::string>();
  DsnRequest request{kind, hostname_, message.id, queue_id_time(message.id), now, std::move(plan.recipients),
                     rng_.next() | 1};
  auto read = queue_file_reader(message);
  // The spool writes the envelope first, and write_dsn decides it (BODY,
  // SMTPUTF8) only as it goes: a first pass with the same seed finds it.
  auto counted = write_dsn(message.envelope, request, read, [](std::string_view) { return Result<void>{}; });
  if (!counted) return counted.error();
  auto envelope = counted->envelope;
  envelope.protocol = "LOCAL";
  auto id = spool_.new_id();
  auto writer = spool_.create(id, envelope);
  if (!writer) return writer.error();
  auto& w = *writer.value();
  auto written = write_dsn(message.envelope, request, read, [&w](std::string_view piece) { return w.write(piece); });
  if (!written) return written.error();
  if (auto committed = spool_.commit_now(std::move(writer.value()), message.id); !committed) return committed.error();
  spdlog::info("event=dsn queue_id={} dsn_queue_id={} kind={} to={} rcpts={}", message.id, id, kind_name(kind),
               log_value("<" + envelope.recipients.front().mailbox.to_string() + ">"), request.recipients.size());
  return std::optional<std::string>(id);
}

}  // namespace tern::queue
