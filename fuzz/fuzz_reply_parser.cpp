// Server replies as the SMTP client parses them (RFC 5321 4.2), and the
// client session fed any server bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/client/reply_parser.h"
#include "smtp/client/session.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  tern::smtp::client::ReplyParser parser;
  for (std::string_view rest = input; !rest.empty();) {
    auto used = parser.feed(rest);
    rest.remove_prefix(used);
    if (parser.ready()) (void)parser.take();
    else if (used == 0) break;
  }
  tern::smtp::client::Session session({"client.fuzz", false});
  tern::smtp::client::Message message;
  message.reverse_path.null = true;
  message.recipients.push_back({{"a", "example.test"}, {}});
  message.size = 10;
  session.send_message(message);
  session.receive(input);
  while (session.next() == tern::smtp::client::Next::kWrite) session.take_output();
  if (session.next() == tern::smtp::client::Next::kSendBody) session.send_body("Subject: x\r\n", true);
  session.connection_lost();
  return 0;
}
