// The client session (SMTP and LMTP) reads what a remote server or a mail
// store sends: a trust boundary. The first byte picks LMTP and where the
// input is cut; the rest is the server's bytes. Besides crashes: the
// session always ends, and once a message is finished every recipient has
// a final result (none left pending: RFC 2033's per-recipient replies
// included).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/client/session.h"

using namespace tern::smtp::client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  SessionOptions options;
  options.helo_name = "client.test";
  options.lmtp = data[0] & 1;
  std::size_t step = 1 + (data[0] >> 1) % 16;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Session session(options);
  Message message;
  message.reverse_path.mailbox = {"a", "client.test"};
  for (const char* r : {"b", "c", "d"}) message.recipients.push_back({{r, "x.test"}, {}});
  message.size = 10;
  session.send_message(message);
  for (int guard = 0; guard < 100000; ++guard) {
    switch (session.next()) {
      case Next::kWrite: session.take_output(); break;
      case Next::kRead:
        if (input.empty()) {
          session.connection_lost();
          break;
        }
        session.receive(input.substr(0, step));
        input.remove_prefix(std::min(step, input.size()));
        break;
      case Next::kStartTls: session.tls_established(); break;
      case Next::kSendBody: session.send_body("Subject: x\r\n", true); break;
      case Next::kDowngrade: session.reject_8bit(); break;
      case Next::kReady:
      case Next::kDone:
        if (session.message_finished()) {
          for (const auto& r : session.results()) {
            if (r.pending()) std::abort();
          }
        }
        return 0;
    }
  }
  std::abort();  // never ended
}
