// The control API (control/queue_api.h): any request line gets one JSON
// reply, never a crash or an exception; the reply always parses.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/queue_api.h"

namespace {

using namespace tern;

queue::MessageInfo make_message(std::string id, std::string address, std::string status) {
  queue::MessageInfo m;
  m.id = std::move(id);
  m.arrival = 1800000000;
  m.sender = "a\xff@example.test";
  m.state = status == "pending" ? "held" : "deferred";
  m.recipients.push_back({std::move(address), std::move(status), "451 4.4.0 \x01later"});
  return m;
}

class Queue : public control::QueueAccess {
 public:
  std::string_view source() const override { return "server"; }
  std::vector<queue::MessageInfo> messages() override {
    return {make_message("0A1", "bob@remote.test", "deferred"), make_message("0A2", "\xc3(@x.test", "pending")};
  }
  Result<queue::MessageInfo> message(const std::string& id) override {
    for (auto& m : messages()) {
      if (m.id == id) return m;
    }
    return Error{0, "", "no such message", ""};
  }
  Result<std::string> headers(const std::string&) override { return std::string("Subject: \xfe\r\n\r\n"); }
  Result<std::string> state_text(const std::string&) override { return std::string("reply 1 0 x #00000000\n"); }
  std::vector<queue::RecentEvent> recent() override { return {{1, "0A1", "b@x", "deferred", "\xff"}}; }
  Result<queue::Acted> act(std::string_view, const std::vector<std::string>& ids) override {
    return queue::Acted{ids, {}};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Queue queue;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto reply = control::handle_request(line, queue, 1800000100);
  if (!nlohmann::json::accept(reply)) std::abort();
  (void)control::is_command(line, "reload");
  return 0;
}
