#pragma once
// The two sides the control API reads (queue_api.h): the running server's
// scheduler, and the spool on disk when no server runs.
#include <string>

#include "control/queue_api.h"
#include "queue/scheduler.h"

namespace tern::control {

class ServerQueue : public QueueAccess {
 public:
  ServerQueue(queue::Scheduler& scheduler, std::string queue_dir)
      : scheduler_(scheduler), queue_dir_(std::move(queue_dir)) {}
  std::string_view source() const override { return "server"; }
  std::vector<queue::MessageInfo> messages() override;
  Result<queue::MessageInfo> message(const std::string& id) override;
  Result<std::string> headers(const std::string& id) override;
  Result<std::string> state_text(const std::string& id) override;
  Result<proto::Envelope> envelope(const std::string& id) override;
  Result<queue::Acted> act(std::string_view command, const std::vector<std::string>& ids) override;
  std::vector<queue::RecentEvent> recent() override { return scheduler_.index().recent(); }

 private:
  queue::Scheduler& scheduler_;
  std::string queue_dir_;
};

// Read-only: every command that changes the queue needs the server.
class SpoolAccess : public QueueAccess {
 public:
  SpoolAccess(std::string queue_dir, std::time_t now) : queue_dir_(std::move(queue_dir)), now_(now) {}
  std::string_view source() const override { return "spool"; }
  std::vector<queue::MessageInfo> messages() override;
  Result<queue::MessageInfo> message(const std::string& id) override;
  Result<std::string> headers(const std::string& id) override;
  Result<std::string> state_text(const std::string& id) override;
  Result<proto::Envelope> envelope(const std::string& id) override;
  Result<queue::Acted> act(std::string_view command, const std::vector<std::string>& ids) override;
  std::vector<queue::RecentEvent> recent() override { return {}; }  // only the server knows

 private:
  std::string queue_dir_;
  std::time_t now_;
};

}  // namespace tern::control
