#include "queue/bouncer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <future>
#include <random>

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

MessageReader queue_file_reader(const QueuedMessage& message) {
  return [fd = message.fd, offset = message.offset](std::uint64_t pos, char* data,
                                                    std::size_t size) -> Result<std::size_t> {
    auto n = ::pread(fd, data, size, static_cast<off_t>(offset + pos));
    if (n < 0) return Error{451, "4.3.0", "Local error in processing", "read queue file for DSN"};
    return static_cast<std::size_t>(n);
  };
}

}  // namespace

Bouncer::Bouncer(Spool& spool, std::string hostname, Enqueue enqueue)
    : spool_(spool), hostname_(std::move(hostname)), enqueue_(std::move(enqueue)) {}

Result<void> Bouncer::notify(const QueuedMessage& message, DsnKind kind, std::vector<DsnRecipient> outcomes,
                             std::time_t now) {
  auto plan = plan_dsn(message.envelope, kind, std::move(outcomes));
  if (plan.decision == DsnDecision::kNullSender) {
    spdlog::warn("event=dsn_dropped queue_id={} kind={} reason=null_sender", message.id, kind_name(kind));
    return {};
  }
  if (plan.decision == DsnDecision::kNotRequested) return {};
  DsnRequest request{kind, hostname_, message.id, queue_id_time(message.id), now, std::move(plan.recipients),
                     std::random_device{}() | 1};
  auto read = queue_file_reader(message);
  // The spool writes the envelope first, and write_dsn decides it (BODY,
  // SMTPUTF8) only as it goes: a first pass with the same seed finds it.
  auto counted = write_dsn(message.envelope, request, read, [](std::string_view) { return Result<void>{}; });
  if (!counted) return counted.error();
  auto envelope = counted->envelope;
  envelope.protocol = "LOCAL";
  auto id = make_queue_id();
  auto writer = spool_.create(id, envelope);
  if (!writer) return writer.error();
  auto& w = *writer.value();
  auto written = write_dsn(message.envelope, request, read, [&w](std::string_view piece) { return w.write(piece); });
  if (!written) return written.error();
  std::promise<Result<void>> committed;
  spool_.commit(std::move(writer.value()), [&committed](Result<void> r) { committed.set_value(std::move(r)); });
  auto result = committed.get_future().get();
  if (!result) return result;
  spdlog::info("event=dsn queue_id={} dsn_queue_id={} kind={} to={} rcpts={}", message.id, id, kind_name(kind),
               log_value("<" + envelope.recipients.front().mailbox.to_string() + ">"), request.recipients.size());
  enqueue_(id);
  return {};
}

}  // namespace tern::queue
