// The whole server session: any client bytes, cut in two anywhere, give the
// same replies and never crash. With STARTTLS offered (the first byte's top
// bit), TLS "starts" at once and AUTH is checked ("a@b" / "pw" is right);
// what follows STARTTLS in the same piece is dropped by design, so there
// only the absence of crashes is checked.
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
  // Recipients and senders at "store" are decided by the driver (a store,
  // SPF), and so are their messages at end of data.
  bool defers(tern::smtp::server::PolicyStage, const tern::proto::Path& path) override {
    return path.mailbox.domain == "store";
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

void drive(tern::smtp::server::Session& session) {
  using tern::smtp::server::AuthVerdict;
  while (true) {
    if (session.awaiting_commit()) {
      session.committed({});
    } else if (session.wants_tls()) {
      session.tls_established({"TLSv1.3", "TLS_AES_128_GCM_SHA256", 128});
    } else if (session.awaiting_policy()) {
      bool known = session.policy_path().mailbox.local_part == "a";
      session.policy_decided(known ? tern::Result<void>() : tern::Result<void>(tern::Error{550, "5.7.1", "No", ""}));
    } else if (session.awaiting_auth()) {
      auto c = session.take_credentials();
      session.authenticated(c.login == "a@b" && c.password == "pw" ? AuthVerdict::kOk : AuthVerdict::kBadCredentials);
    } else {
      return;
    }
  }
}

std::string run(std::string_view input, std::size_t split, bool tls) {
  Host host;
  tern::smtp::server::SessionLimits limits;
  limits.max_message_size = 4096;
  limits.max_recipients = 5;
  tern::smtp::server::Session session(host, limits, "mx.fuzz", "S1", "192.0.2.1",
                                      {.starttls = tls, .auth_required = tls, .show_login = tls});
  session.start();
  for (auto piece : {input.substr(0, split), input.substr(split)}) {
    session.receive(piece);
    drive(session);
  }
  return session.take_output();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = (data[0] & 0x7f) % (input.size() + 1);
  if (data[0] & 0x80) {
    run(input, split, true);
  } else if (run(input, input.size(), false) != run(input, split, false)) {
    __builtin_trap();
  }
  return 0;
}
