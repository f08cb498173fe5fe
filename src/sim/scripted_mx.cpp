#include "sim/scripted_mx.h"

#include "smtp/server/session.h"

namespace tern::sim {
namespace {

constexpr const char* kMxName = "mx.remote.test";
constexpr const char* kOurName = "mx.local.test";

class MxHost : public smtp::server::SessionHost {
 public:
  explicit MxHost(const MxScript& script) : script_(script) {}

  Result<void> check_recipient(const proto::Path& recipient, std::string_view) override {
    auto address = recipient.mailbox.to_string();
    switch (script_.rcpt_reply(address)) {
      case 250: accepted.push_back(address); return {};
      case 550: return Error{550, "5.1.1", "No such user", ""};
      default: return Error{451, "4.4.0", "Try again later", ""};
    }
  }
  Result<std::string> begin_message(const proto::Envelope&) override {
    content.clear();
    return std::string("MX1");
  }
  Result<void> write_message(std::string_view piece) override {
    content.append(piece);
    return {};
  }
  void discard_message() override { content.clear(); }
  std::time_t now() override { return 0; }

  std::vector<std::string> accepted;
  std::string content;

 private:
  const MxScript& script_;
};

}  // namespace

MxTranscript converse(const smtp::client::Message& message, const std::string& content, const MxScript& script) {
  MxHost host(script);
  smtp::server::Session server(host, smtp::server::SessionLimits{}, kMxName, "mx", "127.0.0.1");
  smtp::client::SessionOptions options;
  options.helo_name = kOurName;
  smtp::client::Session client(options);
  MxTranscript transcript;
  client.send_message(message);
  if (script.unreachable) {
    client.connection_lost();
    transcript.results = client.results();
    return transcript;
  }
  server.start();
  using smtp::client::Next;
  for (int steps = 0; steps < 10000 && client.next() != Next::kDone; ++steps) {
    switch (client.next()) {
      case Next::kWrite: server.receive(client.take_output()); break;
      case Next::kSendBody: client.send_body(content, true); break;
      case Next::kReady: client.quit(); break;
      case Next::kRead: {
        if (server.awaiting_commit()) {
          transcript.stored = host.content;
          transcript.accepted = host.accepted;
          if (script.lost_after_data) {
            client.connection_lost();
            break;
          }
          server.committed({});
        }
        auto replies = server.take_output();
        if (replies.empty()) {
          client.connection_lost();  // the server has nothing more to say: it is gone
        } else {
          client.receive(replies);
        }
        break;
      }
      default: client.connection_lost(); break;  // no STARTTLS, no downgrade here
    }
  }
  transcript.results = client.results();
  return transcript;
}

}  // namespace tern::sim
