#include "control/queue_api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

namespace tern::control {
namespace {

using nlohmann::json;

constexpr std::time_t kNow = 1800000000;

queue::MessageInfo make_message(std::string id, std::time_t age, std::string state,
                           std::vector<std::pair<std::string, std::string>> recipients) {
  queue::MessageInfo m;
  m.id = std::move(id);
  m.arrival = kNow - age;
  m.size = 100;
  m.sender = "alice@example.test";
  m.state = std::move(state);
  for (auto& [address, status] : recipients) m.recipients.push_back({address, status, status == "deferred" ? "451 4.4.0 later" : ""});
  return m;
}

class FakeQueue : public QueueAccess {
 public:
  std::string_view source() const override { return "server"; }
  std::vector<queue::MessageInfo> messages() override { return list; }
  Result<queue::MessageInfo> message(const std::string& id) override {
    for (const auto& m : list) {
      if (m.id == id) return m;
    }
    return Error{0, "", "no such message in the queue: " + id, ""};
  }
  Result<proto::Envelope> envelope(const std::string&) override {
    proto::Envelope e;
    e.client_address = "192.0.2.1";
    e.params.body = proto::Body::k8BitMime;
    e.params.envid = "env-1";
    e.recipients.push_back({{"fred", "other.test"}, {proto::kNotifySuccess | proto::kNotifyFailure, "rfc822;f@x.test"}});
    return e;
  }
  Result<std::string> headers(const std::string&) override { return std::string("Subject: hi\xff\r\n\r\n"); }
  Result<std::string> state_text(const std::string&) override {
    return queue::reply_record(kNow - 60, {1}, "451 4.4.0 later");
  }
  std::vector<queue::RecentEvent> recent() override { return {{kNow, "0A1", "bob@remote.test", "deferred", "451 x"}}; }
  Result<queue::Acted> act(std::string_view command, const std::vector<std::string>& ids) override {
    acted[std::string(command)] = ids;
    queue::Acted out;
    for (const auto& id : ids) (id == "0UNKNOWN" ? out.errors : out.done).push_back(id == "0UNKNOWN" ? id + ": no such" : id);
    return out;
  }

  std::vector<queue::MessageInfo> list = {
      make_message("0A1", 60, "deferred", {{"bob@remote.test", "deferred"}, {"carol@other.test", "delivered"}}),
      make_message("0A2", 3600, "held", {{"dave@REMOTE.test", "pending"}}),
      make_message("0A3", 100000, "active", {{"erin@other.test", "deferred"}, {"fred@other.test", "pending"}}),
  };
  std::map<std::string, std::vector<std::string>> acted;
};

json ask(FakeQueue& queue, std::string_view request) { return json::parse(handle_request(request, queue, kNow)); }

std::vector<std::string> ids(const json& reply) {
  std::vector<std::string> out;
  for (const auto& m : reply["messages"]) out.push_back(m["id"]);
  return out;
}

TEST(QueueApi, ListsAndFilters) {
  FakeQueue queue;
  auto all = ask(queue, R"({"command":"list"})");
  EXPECT_TRUE(all["ok"]);
  EXPECT_EQ(all["source"], "server");
  EXPECT_EQ(ids(all), (std::vector<std::string>{"0A1", "0A2", "0A3"}));
  EXPECT_EQ(all["messages"][0]["age"], 60);
  EXPECT_EQ(all["messages"][0]["recipients"][0]["reply"], "451 4.4.0 later");
  EXPECT_TRUE(all["messages"][0]["recipients"][1]["reply"].is_null());
  EXPECT_TRUE(all["messages"][0]["next_attempt"].is_null());
  // A delivered recipient does not put its domain in: only waiting ones.
  EXPECT_EQ(ids(ask(queue, R"({"command":"list","domain":"other.test"})")), (std::vector<std::string>{"0A3"}));
  EXPECT_EQ(ids(ask(queue, R"({"command":"list","domain":"remote.TEST"})")), (std::vector<std::string>{"0A1", "0A2"}));
  EXPECT_EQ(ids(ask(queue, R"({"command":"list","state":"held"})")), (std::vector<std::string>{"0A2"}));
  EXPECT_FALSE(ask(queue, R"({"command":"list","state":"frozen"})")["ok"]);
}

TEST(QueueApi, SummaryCountsMessagesByDomainAndAge) {
  FakeQueue queue;
  auto summary = ask(queue, R"({"command":"summary"})");
  EXPECT_EQ(summary["buckets"].size(), 10u);
  EXPECT_EQ(summary["buckets"][0], "0-5m");
  EXPECT_EQ(summary["buckets"][9], "1280m+");
  EXPECT_EQ(summary["total"]["total"], 3);
  EXPECT_EQ(summary["total"]["counts"], json({1, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  ASSERT_EQ(summary["domains"].size(), 2u);
  EXPECT_EQ(summary["domains"][0]["domain"], "remote.test");  // both spellings, one row
  EXPECT_EQ(summary["domains"][0]["total"], 2);
  EXPECT_EQ(summary["domains"][1]["domain"], "other.test");  // one message, though two recipients
  EXPECT_EQ(summary["domains"][1]["counts"], json({0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
}

TEST(QueueApi, ShowsHeadersAndHistory) {
  FakeQueue queue;
  auto shown = ask(queue, R"({"command":"show","id":"0A3"})");
  ASSERT_TRUE(shown["ok"]) << shown.dump();
  EXPECT_EQ(shown["message"]["headers"], "Subject: hi\xef\xbf\xbd\r\n\r\n");  // not UTF-8: replaced, still JSON
  const auto& envelope = shown["message"]["envelope"];
  EXPECT_EQ(envelope["client_address"], "192.0.2.1");
  EXPECT_EQ(envelope["body"], "8BITMIME");
  EXPECT_EQ(envelope["envid"], "env-1");
  EXPECT_TRUE(envelope["ret"].is_null());
  EXPECT_EQ(envelope["recipients"][0]["notify"], json({"SUCCESS", "FAILURE"}));
  EXPECT_EQ(envelope["recipients"][0]["orcpt"], "rfc822;f@x.test");
  ASSERT_EQ(shown["message"]["history"].size(), 2u);
  EXPECT_EQ(shown["message"]["history"][1]["text"], "fred@other.test: 451 4.4.0 later");
  EXPECT_FALSE(ask(queue, R"({"command":"show","id":"0NOPE"})")["ok"]);
  EXPECT_FALSE(ask(queue, R"({"command":"show","id":"../../etc/passwd"})")["ok"]);
}

TEST(QueueApi, CommandsNameTheirMessages) {
  FakeQueue queue;
  auto held = ask(queue, R"({"command":"hold","ids":["0A1","0UNKNOWN"]})");
  EXPECT_FALSE(held["ok"]);
  EXPECT_EQ(held["done"], json({"0A1"}));
  EXPECT_EQ(held["errors"][0], "0UNKNOWN: no such");
  EXPECT_TRUE(ask(queue, R"({"command":"flush","domain":"remote.test"})")["ok"]);
  EXPECT_EQ(queue.acted["flush"], (std::vector<std::string>{"0A1"}));  // not the held one
  EXPECT_TRUE(ask(queue, R"({"command":"release","all":true})")["ok"]);
  EXPECT_EQ(queue.acted["release"], (std::vector<std::string>{"0A2"}));  // only held ones
  EXPECT_FALSE(ask(queue, R"({"command":"delete","all":true})")["ok"]);
  EXPECT_FALSE(ask(queue, R"({"command":"bounce","domain":"remote.test"})")["ok"]);
  EXPECT_FALSE(ask(queue, R"({"command":"delete","ids":["a/b"]})")["ok"]);
  EXPECT_FALSE(ask(queue, R"({"command":"delete","ids":[]})")["ok"]);
  EXPECT_EQ(queue.acted.count("delete"), 0u);
}

TEST(QueueApi, BadRequestsGetAnError) {
  FakeQueue queue;
  for (std::string_view bad : {"", "{", "[]", "{\"command\":3}", "{\"command\":\"explode\"}", "{\"command\":\"hold\",\"ids\":[1]}",
                               "{\"command\":\"hold\",\"ids\":\"0A1\"}", "\xff\xfe"}) {
    auto reply = ask(queue, bad);
    EXPECT_FALSE(reply["ok"]) << bad;
    EXPECT_TRUE(reply["error"].is_string()) << bad;
  }
}

}  // namespace
}  // namespace tern::control
