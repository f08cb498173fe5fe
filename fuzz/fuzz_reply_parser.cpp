// Server replies as the SMTP client parses them (RFC 5321 4.2), and the
// client session fed any server bytes: the first byte picks the session's
// options (STARTTLS, required or implicit TLS, AUTH), the rest comes in
// pieces, and the driver does what next() asks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/client/reply_parser.h"
#include "smtp/client/session.h"

namespace {

using tern::smtp::client::Next;

// Does what the session asks until it waits for the server; at kReady a
// second message (`more`), then QUIT.
void drive(tern::smtp::client::Session& session, const tern::smtp::client::Message& message, int& more) {
  for (int steps = 0; steps < 64; ++steps) {
    switch (session.next()) {
      case Next::kWrite: session.take_output(); break;
      case Next::kStartTls: session.tls_established(); break;
      case Next::kSendBody: session.send_body("Subject: x\r\n\r\n.body\r\n", true); break;
      case Next::kDowngrade: session.reject_8bit(); break;
      case Next::kReady:
        if (more-- > 0) {
          session.send_message(message);
        } else {
          session.quit();
        }
        break;
      case Next::kRead:
      case Next::kDone: return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  tern::smtp::client::ReplyParser parser;
  for (std::string_view rest = input; !rest.empty();) {
    auto used = parser.feed(rest);
    rest.remove_prefix(used);
    if (parser.ready()) (void)parser.take();
    else if (used == 0) break;
  }
  if (input.empty()) return 0;
  auto flags = static_cast<unsigned char>(input.front());
  input.remove_prefix(1);
  tern::smtp::client::SessionOptions options;
  options.helo_name = "client.fuzz";
  options.starttls = flags & 1;
  options.require_tls = flags & 2;
  options.tls_on_connect = flags & 4;
  if (flags & 8) {
    options.auth_username = "user";
    options.auth_password = "password";
  }
  tern::smtp::client::Session session(options);
  tern::smtp::client::Message message;
  message.reverse_path.null = true;
  message.recipients.push_back({{"a", "example.test"}, {}});
  message.recipients.push_back({{"b", "example.test"}, {}});
  message.size = 10;
  if (flags & 16) message.body = tern::proto::Body::k8BitMime;
  session.send_message(message);
  int more = (flags & 32) ? 1 : 0;
  // Cut where the input says: a piece per line feed.
  while (!input.empty()) {
    auto end = input.find('\n');
    auto piece = input.substr(0, end == std::string_view::npos ? input.size() : end + 1);
    input.remove_prefix(piece.size());
    session.receive(piece);
    drive(session, message, more);
  }
  session.connection_lost();
  return 0;
}
