#include "control/queue_api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "base/log_json.h"
#include "base/metrics.h"
#include "base/text.h"

namespace tern::control {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIds = 100000;

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

bool waiting(const queue::RecipientInfo& r) { return r.status == "pending" || r.status == "deferred"; }

// A recipient not yet done is in `domain`.
bool waits_for(const queue::MessageInfo& m, std::string_view domain) {
  return std::any_of(m.recipients.begin(), m.recipients.end(),
                     [&](const auto& r) { return waiting(r) && iequals(domain_of(r.address), domain); });
}

json fail(std::string_view error) { return {{"ok", false}, {"error", error}}; }

std::string reply(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// One message as JSON, written straight into `out`: a list of 100,000
// messages is 40 MB, and a DOM of it would cost ten times that.
void append_message(std::string& out, const queue::MessageInfo& m, std::time_t now) {
  out += "{\"id\":";
  append_json_string(out, m.id);
  out += fmt::format(",\"arrival\":{},\"age\":{},\"size\":{},\"sender\":", m.arrival,
                     std::max<std::time_t>(0, now - m.arrival), m.size);
  append_json_string(out, m.sender);
  out += ",\"state\":";
  append_json_string(out, m.state);
  out += fmt::format(",\"attempts\":{},\"next_attempt\":", m.attempts);
  out += m.next_attempt ? std::to_string(m.next_attempt) : "null";
  out += ",\"recipients\":[";
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    const auto& r = m.recipients[i];
    out += i ? ",{\"address\":" : "{\"address\":";
    append_json_string(out, r.address);
    out += ",\"status\":";
    append_json_string(out, r.status);
    out += ",\"reply\":";
    if (r.reply.empty()) {
      out += "null";
    } else {
      append_json_string(out, r.reply);
    }
    out += '}';
  }
  out += "]}";
}

// The reply itself, not a DOM ("ok" first: the CLI looks at it alone).
std::string list(const json& request, QueueAccess& queue, std::time_t now) {
  auto domain = request.value("domain", std::string());
  auto state = request.value("state", std::string());
  if (!state.empty() && state != "active" && state != "deferred" && state != "held") {
    return reply(fail("state must be active, deferred or held"));
  }
  std::string out = "{\"ok\":true,\"source\":";
  append_json_string(out, queue.source());
  out += ",\"messages\":[";
  bool first = true;
  for (const auto& m : queue.messages()) {
    if (!state.empty() && m.state != state) continue;
    if (!domain.empty() && !waits_for(m, domain)) continue;
    if (!first) out += ',';
    first = false;
    append_message(out, m, now);
  }
  out += "]}";
  return out;
}

json nullable(std::string_view text) { return text.empty() ? json(nullptr) : json(text); }

// RFC 3461 NOTIFY, as the client gave it; null when it gave none.
json notify_of(unsigned notify) {
  if (notify == 0) return nullptr;
  if (notify & proto::kNotifyNever) return json::array({"NEVER"});
  json out = json::array();
  if (notify & proto::kNotifySuccess) out.push_back("SUCCESS");
  if (notify & proto::kNotifyFailure) out.push_back("FAILURE");
  if (notify & proto::kNotifyDelay) out.push_back("DELAY");
  return out;
}

// What show says of the envelope beyond the list entry: its parameters
// (RFC 1870, 6152, 3030, 3461, 6531, 4954) and where it came from.
json envelope_json(const proto::Envelope& e) {
  const auto& p = e.params;
  json recipients = json::array();
  for (const auto& r : e.recipients) {
    recipients.push_back({{"address", r.mailbox.to_string()},
                          {"notify", notify_of(r.params.notify)},
                          {"orcpt", nullable(r.params.orcpt)},
                          {"alias", nullable(r.alias)}});
  }
  return {{"client_address", e.client_address},
          {"helo", e.helo},
          {"protocol", e.protocol},
          {"size", p.size ? json(*p.size) : json(nullptr)},
          {"body", p.body == proto::Body::kBinaryMime ? "BINARYMIME" : p.body == proto::Body::k8BitMime ? "8BITMIME" : "7BIT"},
          {"smtputf8", p.smtputf8},
          {"ret", p.ret == proto::Ret::kFull ? json("FULL") : p.ret == proto::Ret::kHdrs ? json("HDRS") : json(nullptr)},
          {"envid", nullable(p.envid)},
          {"auth", nullable(p.auth)},
          {"recipients", std::move(recipients)}};
}

json show(const json& request, QueueAccess& queue, std::time_t now) {
  auto id = request.value("id", std::string());
  if (!queue::valid_queue_id(id)) return fail("no such message in the queue: " + id);
  auto message = queue.message(id);
  if (!message) return fail(message.error().text);
  std::string text;
  append_message(text, *message, now);
  auto out = json::parse(text);
  auto headers = queue.headers(id);
  out["headers"] = headers ? *headers : "";
  auto envelope = queue.envelope(id);
  out["envelope"] = envelope ? envelope_json(*envelope) : json(nullptr);
  json history = json::array();
  history.push_back({{"time", message->arrival}, {"text", "received"}});
  if (auto text = queue.state_text(id)) {
    for (const auto& record : queue::reply_history(*text)) {
      for (auto index : record.indexes) {
        if (index >= message->recipients.size()) continue;
        history.push_back({{"time", record.time},
                           {"recipient", message->recipients[index].address},
                           {"text", message->recipients[index].address + ": " + record.text}});
      }
    }
  }
  out["history"] = std::move(history);
  return {{"ok", true}, {"source", queue.source()}, {"message", std::move(out)}};
}

std::size_t bucket_of(std::time_t age) {
  std::size_t i = 0;
  while (i < std::size(kBucketMinutes) && age >= kBucketMinutes[i] * 60) ++i;
  return i;
}

// Like qshape: per destination domain of the recipients not yet done,
// messages by age.
json summary(QueueAccess& queue, std::time_t now) {
  constexpr std::size_t kBuckets = std::size(kBucketMinutes) + 1;
  std::map<std::string, std::vector<long>> domains;
  std::vector<long> total(kBuckets, 0);
  for (const auto& m : queue.messages()) {
    auto bucket = bucket_of(now - m.arrival);
    ++total[bucket];
    std::set<std::string> seen;
    for (const auto& r : m.recipients) {
      if (!waiting(r)) continue;
      auto domain = to_lower(domain_of(r.address));
      if (!seen.insert(domain).second) continue;
      auto& counts = domains[domain];
      counts.resize(kBuckets, 0);
      ++counts[bucket];
    }
  }
  auto row = [](const std::vector<long>& counts) {
    long sum = 0;
    for (auto c : counts) sum += c;
    return std::pair{sum, counts};
  };
  json buckets = json::array();
  int low = 0;
  for (auto minutes : kBucketMinutes) {
    buckets.push_back(std::to_string(low) + "-" + std::to_string(minutes) + "m");
    low = minutes;
  }
  buckets.push_back(std::to_string(low) + "m+");
  std::vector<std::pair<std::string, std::pair<long, std::vector<long>>>> rows;
  for (auto& [domain, counts] : domains) rows.emplace_back(domain, row(counts));
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  json list = json::array();
  for (auto& [domain, counted] : rows) list.push_back({{"domain", domain}, {"total", counted.first}, {"counts", counted.second}});
  auto [sum, counts] = row(total);
  return {{"ok", true},
          {"source", queue.source()},
          {"buckets", std::move(buckets)},
          {"domains", std::move(list)},
          {"total", {{"total", sum}, {"counts", counts}}}};
}

// The ids a command names: "ids", or every message waiting for "domain",
// or with "all" every message (held ones for release, the others else).
Result<std::vector<std::string>> ids_of(const json& request, std::string_view command, QueueAccess& queue) {
  std::vector<std::string> ids;
  if (request.contains("ids")) {
    if (!request["ids"].is_array() || request["ids"].size() > kMaxIds) return Error{0, "", "ids must be a list", ""};
    for (const auto& id : request["ids"]) {
      if (!id.is_string()) return Error{0, "", "ids must be strings", ""};
      ids.push_back(id.get<std::string>());
    }
    if (ids.empty()) return Error{0, "", "no queue id given", ""};
    return ids;
  }
  auto domain = request.value("domain", std::string());
  bool all = request.value("all", false);
  if (domain.empty() && !all) return Error{0, "", "give queue ids, a domain or all", ""};
  if (all && command != "flush" && command != "release") return Error{0, "", std::string(command) + " takes no all", ""};
  if (!domain.empty() && (command == "delete" || command == "bounce")) {
    return Error{0, "", std::string(command) + " takes queue ids only", ""};
  }
  for (const auto& m : queue.messages()) {
    if (!domain.empty() && !waits_for(m, domain)) continue;
    if (command == "release" ? m.state != "held" : m.state == "held") continue;
    ids.push_back(m.id);
  }
  return ids;
}

json act(const json& request, std::string_view command, QueueAccess& queue) {
  auto ids = ids_of(request, command, queue);
  if (!ids) return fail(ids.error().text);
  for (const auto& id : *ids) {
    if (!queue::valid_queue_id(id)) return fail("not a queue id: " + id);
  }
  auto acted = queue.act(command, *ids);
  if (!acted) return fail(acted.error().text);
  json out = {{"ok", acted->errors.empty()}, {"done", acted->done}, {"errors", acted->errors}};
  if (!acted->errors.empty()) out["error"] = acted->errors.front();
  return out;
}

json recent(QueueAccess& queue) {
  json events = json::array();
  for (const auto& e : queue.recent()) {
    events.push_back({{"time", e.time}, {"id", e.id}, {"recipient", e.recipient}, {"outcome", e.outcome}, {"reply", e.reply}});
  }
  return {{"ok", true}, {"source", queue.source()}, {"events", std::move(events)}};
}

// The counters, and messages per second in and out between the samples of
// the last minutes (metrics::History).
json stats(QueueAccess& queue, std::time_t now) {
  const auto& m = metrics::metrics();
  auto messages = queue.messages();
  std::time_t oldest = now;
  for (const auto& message : messages) oldest = std::min(oldest, message.arrival);
  std::uint64_t delivered = 0, bounced = 0;
  for (std::size_t i = 0; i < metrics::kKinds.size(); ++i) {
    delivered += m.delivered[i].value();
    bounced += m.bounced[i].value() + m.expired[i].value();
  }
  json rates = json::array();
  auto samples = metrics::history().samples();
  for (std::size_t i = 1; i < samples.size(); ++i) {
    auto seconds = static_cast<double>(std::max<std::int64_t>(1, samples[i].time - samples[i - 1].time));
    rates.push_back({{"time", samples[i].time},
                     {"in", static_cast<double>(samples[i].received - samples[i - 1].received) / seconds},
                     {"out", static_cast<double>(samples[i].delivered - samples[i - 1].delivered) / seconds}});
  }
  return {{"ok", true},
          {"source", queue.source()},
          {"queue", messages.size()},
          {"oldest_age", now - oldest},
          {"received", m.messages_received.value()},
          {"delivered", delivered},
          {"bounced", bounced},
          {"rates", std::move(rates)}};
}

}  // namespace

bool is_command(std::string_view line, std::string_view command) {
  auto request = json::parse(line, nullptr, false);
  if (!request.is_object()) return false;
  auto found = request.find("command");
  return found != request.end() && found->is_string() && found->get<std::string>() == command;
}

std::string reload_reply(const Result<std::string>& result) {
  if (!result) return reply(fail(result.error().text));
  return reply({{"ok", true}, {"result", *result}});
}

std::string handle_request(std::string_view line, QueueAccess& queue, std::time_t now) {
  try {
    auto request = json::parse(line);
    if (!request.is_object()) return reply(fail("a request is a JSON object"));
    auto command = request.value("command", std::string());
    if (command == "list") return list(request, queue, now);
    if (command == "show") return reply(show(request, queue, now));
    if (command == "summary") return reply(summary(queue, now));
    if (command == "recent") return reply(recent(queue));
    if (command == "stats") return reply(stats(queue, now));
    if (command == "flush" || command == "hold" || command == "release" || command == "delete" || command == "bounce") {
      return reply(act(request, command, queue));
    }
    return reply(fail("unknown command: " + command));
  } catch (const json::exception& e) {
    return reply(fail(std::string("bad request: ") + e.what()));
  }
}

}  // namespace tern::control
