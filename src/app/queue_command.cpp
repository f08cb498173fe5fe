#include "app/queue_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "control/access.h"
#include "control/client.h"
#include "control/queue_api.h"
#include "queue/fs.h"

namespace tern::app {
namespace {

using nlohmann::json;

// What came from the network or the disk, made safe for a terminal.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  auto found = j.find(key);
  return found != j.end() && found->is_string() ? found->get<std::string>() : "";
}

std::string duration(long seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m", seconds / 60);
  if (seconds < 86400) return fmt::format("{}h{}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d{}h", seconds / 86400, seconds % 86400 / 3600);
}

std::time_t now_t() { return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()); }

void print_recipients(const json& message) {
  for (const auto& r : message["recipients"]) {
    auto reply = r["reply"].is_string() ? r["reply"].get<std::string>() : "";
    std::cout << fmt::format("    {:<40} {:<9} {}\n", printable(str(r, "address")), str(r, "status"), printable(reply));
  }
}

void print_list(const json& reply) {
  auto now = now_t();
  const auto& messages = reply["messages"];
  std::cout << fmt::format("{:<18} {:>7} {:>9} {:<8} {:>5} {:>8}  {}\n", "QUEUE ID", "AGE", "SIZE", "STATE", "TRIES",
                           "NEXT", "SENDER");
  for (const auto& m : messages) {
    auto next = m["next_attempt"].is_number() ? "in " + duration(m["next_attempt"].get<long>() - now) : "-";
    auto sender = str(m, "sender");
    std::cout << fmt::format("{:<18} {:>7} {:>9} {:<8} {:>5} {:>8}  {}\n", str(m, "id"),
                             duration(m["age"].get<long>()), m["size"].get<std::uint64_t>(), str(m, "state"),
                             m["attempts"].get<unsigned>(), next, sender.empty() ? "<>" : printable(sender));
    print_recipients(m);
  }
  std::cout << fmt::format("-- {} message{}\n", messages.size(), messages.size() == 1 ? "" : "s");
}

void print_show(const json& reply) {
  const auto& m = reply["message"];
  auto sender = str(m, "sender");
  std::cout << fmt::format("queue id:  {}\nstate:     {}\nage:       {}\nsize:      {}\nattempts:  {}\nsender:    {}\n",
                           str(m, "id"), str(m, "state"), duration(m["age"].get<long>()),
                           m["size"].get<std::uint64_t>(), m["attempts"].get<unsigned>(),
                           sender.empty() ? "<>" : printable(sender));
  if (m.contains("envelope") && m["envelope"].is_object()) {
    const auto& e = m["envelope"];
    std::cout << fmt::format("client:    {} (HELO {}) with {}\n", printable(str(e, "client_address")),
                             printable(str(e, "helo")), printable(str(e, "protocol")));
    std::string params = "BODY=" + str(e, "body");
    if (e["size"].is_number()) params += fmt::format(" SIZE={}", e["size"].get<std::uint64_t>());
    if (e["smtputf8"].get<bool>()) params += " SMTPUTF8";
    if (e["ret"].is_string()) params += " RET=" + str(e, "ret");
    if (e["envid"].is_string()) params += " ENVID=" + printable(str(e, "envid"));
    std::cout << "params:    " << params << "\n";
  }
  std::cout << "recipients:\n";
  print_recipients(m);
  std::cout << "history:\n";
  for (const auto& h : m["history"]) {
    auto when = h["time"].get<std::time_t>();
    char text[32] = "";
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::gmtime(&when));
    std::cout << fmt::format("    {}Z  {}\n", text, printable(str(h, "text")));
  }
  std::cout << "headers:\n";
  auto header_text = str(m, "headers");
  std::string_view headers = header_text;
  while (!headers.empty()) {
    auto end = headers.find('\n');
    auto line = headers.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::cout << "    " << printable(line) << "\n";
    headers.remove_prefix(end == std::string_view::npos ? headers.size() : end + 1);
  }
}

// Like qshape: a row per domain, a column per age bucket.
void print_summary(const json& reply) {
  auto row = [&](std::string_view name, const json& r) {
    std::cout << fmt::format("{:>30} {:>6}", printable(name), r["total"].get<long>());
    for (const auto& c : r["counts"]) std::cout << fmt::format(" {:>9}", c.get<long>());
    std::cout << "\n";
  };
  std::cout << fmt::format("{:>30} {:>6}", "", "T");
  for (const auto& b : reply["buckets"]) std::cout << fmt::format(" {:>9}", b.get<std::string>());
  std::cout << "\n";
  row("TOTAL", reply["total"]);
  for (const auto& d : reply["domains"]) row(str(d, "domain"), d);
}

json request_of(const QueueArgs& args) {
  json request = {{"command", args.action}};
  if (args.action == "show") request["id"] = args.ids.empty() ? "" : args.ids.front();
  if (args.action == "list") {
    if (!args.domain.empty()) request["domain"] = args.domain;
    if (!args.state.empty()) request["state"] = args.state;
  }
  if (args.action != "list" && args.action != "show" && args.action != "summary") {
    if (!args.ids.empty()) request["ids"] = args.ids;
    if (!args.domain.empty()) request["domain"] = args.domain;
    // `tern queue flush` alone flushes everything, as `postqueue -f` does.
    bool everything = args.action == "flush" && args.ids.empty() && args.domain.empty();
    if (args.all || everything) request["all"] = true;
  }
  return request;
}

bool read_only(std::string_view action) { return action == "list" || action == "show" || action == "summary"; }

}  // namespace

void add_queue_command(CLI::App& app, QueueArgs& args, std::string& config_path) {
  auto* queue = app.add_subcommand("queue", "Look at and manage the mail queue");
  queue->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    auto* sub = queue->add_subcommand(name, help);
    sub->add_option("--config,-c", config_path, "Configuration file (TOML); default: the embedded default");
    sub->callback([&args, action = std::string(name)] { args.action = action; });
    return sub;
  };
  auto* list = add("list", "List the queued messages");
  list->add_flag("--json", args.json, "One JSON document");
  list->add_option("--domain", args.domain, "Only messages waiting for a recipient in this domain");
  list->add_option("--state", args.state, "Only messages in this state")
      ->check(CLI::IsMember({"active", "deferred", "held"}));
  auto* show = add("show", "Show one message: envelope, headers, recipients and their history");
  show->add_option("id", args.ids, "Queue id")->required()->expected(1);
  show->add_flag("--json", args.json, "One JSON document");
  auto* summary = add("summary", "Queued messages by destination domain and age (like qshape)");
  summary->add_flag("--json", args.json, "One JSON document");
  struct Command {
    const char* name;
    const char* help;
    bool domain, all;
  };
  const Command commands[] = {
      {"flush", "Try deferred messages now (all of them when none is named)", true, true},
      {"hold", "Keep messages from delivery and expiry until released", true, false},
      {"release", "Release held messages (tried now)", true, true},
      {"delete", "Remove messages from the queue, without a DSN", false, false},
      {"bounce", "Fail every recipient not yet done, with a DSN to the sender", false, false},
  };
  for (const auto& c : commands) {
    auto* sub = add(c.name, c.help);
    sub->add_option("ids", args.ids, "Queue ids");
    if (c.domain) sub->add_option("--domain", args.domain, "Every message waiting for a recipient in this domain");
    if (c.all) sub->add_flag("--all", args.all, "Every message");
  }
}

int run_queue_command(const QueueArgs& args, const config::Config& config) {
  auto fail = [&](std::string_view why) {
    std::cerr << "tern: queue " << args.action << ": " << printable(why) << "\n";
    return 1;
  };
  auto request = request_of(args).dump();
  auto answer = control::ask(config.data_dir + "/control.sock", request);
  std::string line;
  if (answer) {
    line = std::move(*answer);
  } else if (answer.error().enhanced == control::kNotRunning) {
    if (!read_only(args.action)) return fail("the server is not running (no one answers on " + answer.error().text + ")");
    std::cerr << "tern: the server is not running: reading the spool directly\n";
    // A spool this user may not read is an error, not an empty queue.
    auto readable = queue::posix_fs().list(config.data_dir + "/queue/active");
    if (!readable && ::access((config.data_dir + "/queue").c_str(), F_OK) == 0) {
      return fail("cannot read the spool: " + readable.error().detail);
    }
    control::SpoolAccess spool(config.data_dir + "/queue", now_t());
    line = control::handle_request(request, spool, now_t());
  } else {
    return fail(answer.error().text);
  }
  // The server's line as it is, when it says "ok" (its first key): a list
  // of 100,000 messages is not parsed and written again.
  if (args.json && line.starts_with(R"({"ok":true,)")) {
    std::cout << line << "\n";
    return 0;
  }
  json reply = json::parse(line, nullptr, false);
  if (!reply.is_object()) return fail("the server's reply is not JSON");
  int status = reply.value("ok", false) ? 0 : 1;
  if (args.json) {
    std::cout << line << "\n";
  } else if (reply.contains("messages")) {
    print_list(reply);
  } else if (reply.contains("message")) {
    print_show(reply);
  } else if (reply.contains("buckets")) {
    print_summary(reply);
  } else if (reply.contains("done")) {
    auto done = reply["done"].size();
    std::cout << fmt::format("{}: {} message{}\n", args.action, done, done == 1 ? "" : "s");
  }
  if (reply.contains("errors")) {
    for (const auto& e : reply["errors"]) std::cerr << "tern: queue " << args.action << ": " << printable(e.get<std::string>()) << "\n";
  } else if (status != 0) {
    return fail(str(reply, "error"));
  }
  return status;
}

int run_reload_command(const config::Config& config) {
  auto answer = control::ask(config.data_dir + "/control.sock", R"({"command":"reload"})");
  if (!answer) {
    std::cerr << "tern: reload: "
              << (answer.error().enhanced == control::kNotRunning ? "the server is not running (no one answers on " +
                                                                        answer.error().text + ")"
                                                                  : answer.error().text)
              << "\n";
    return 1;
  }
  json reply = json::parse(*answer, nullptr, false);
  if (!reply.is_object()) {
    std::cerr << "tern: reload: the server's reply is not JSON\n";
    return 1;
  }
  if (!reply.value("ok", false)) {
    std::cerr << "tern: reload refused: " << printable(str(reply, "error")) << "\n";
    return 1;
  }
  std::cout << printable(str(reply, "result")) << "\n";
  return 0;
}

}  // namespace tern::app
