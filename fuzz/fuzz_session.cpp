// The whole server session: any client bytes, cut in two anywhere, give the
// same replies and never crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/server/session.h"

namespace {

class Host : public tern::smtp::server::SessionHost {
 public:
  tern::Result<void> check_recipient(const tern::proto::Path& rcpt, std::string_view) override {
    if (rcpt.mailbox.local_part == "nobody") return tern::Error{550, "5.1.1", "User unknown", ""};
    return {};
  }
  tern::Result<std::string> begin_message(const tern::proto::Envelope&) override { return std::string("ID"); }
  tern::Result<void> write_message(std::string_view content) override {
    size_ += content.size();
    return {};
  }
  void discard_message() override {}
  std::time_t now() override { return 0; }
  std::size_t size_ = 0;
};

std::string run(std::string_view input, std::size_t split) {
  Host host;
  tern::smtp::server::SessionLimits limits;
  limits.max_message_size = 4096;
  limits.max_recipients = 5;
  tern::smtp::server::Session session(host, limits, "mx.fuzz", "S1", "192.0.2.1");
  session.start();
  for (auto piece : {input.substr(0, split), input.substr(split)}) {
    session.receive(piece);
    while (session.awaiting_commit()) session.committed({});
  }
  return session.take_output();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = data[0] % (input.size() + 1);
  if (run(input, input.size()) != run(input, split)) __builtin_trap();
  return 0;
}
