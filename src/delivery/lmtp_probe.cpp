#include "delivery/lmtp_probe.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"
#include "delivery/lmtp.h"
#include "smtp/client/reply_parser.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Socket = asio::generic::stream_protocol::socket;
constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

Error unavailable(std::string detail) {
  return Error{451, "4.4.3", "Recipient verification unavailable, try again later", std::move(detail)};
}

// One command and its reply (or the greeting, for an empty command).
asio::awaitable<Result<smtp::client::Reply>> exchange(Socket& socket, std::string_view command,
                                                      smtp::client::ReplyParser& parser, std::string& input) {
  if (!command.empty()) {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(command.data(), command.size()), kUseAwaitable);
    if (ec) co_return unavailable("write: " + ec.message());
  }
  char buffer[1024];
  while (true) {
    input.erase(0, parser.feed(input));
    if (parser.ready()) co_return parser.take();
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kUseAwaitable);
    if (ec) co_return unavailable("read: " + ec.message());
    input.append(buffer, n);
  }
}

}  // namespace

asio::awaitable<Result<void>> RecipientProbe::verify(const config::MailStore& store, const proto::Mailbox& recipient) {
  auto address = to_lower(recipient.to_string());
  auto key = store.text + " " + address;
  auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > now) co_return it->second.verdict;
    cache_.erase(it);
  }
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, options_.timeout);
  auto result = co_await (ask(store, recipient.to_string()) || timer.async_wait(kUseAwaitable));
  Result<void> verdict = result.index() == 1 ? Result<void>(unavailable("the store did not answer in time"))
                                             : std::get<0>(result);
  spdlog::info("event=verify_recipient store={} rcpt={} result={}", log_value(store.text), log_value(address),
               verdict ? "250" : fmt::format("{} {}", verdict.error().code, verdict.error().enhanced));
  if (!verdict && verdict.error().code < 500) co_return verdict;  // not cached: the store may be back soon
  if (cache_.size() >= options_.max_cached) cache_.clear();
  cache_[key] = {now + options_.cache_time, verdict};
  co_return verdict;
}

asio::awaitable<Result<void>> RecipientProbe::ask(const config::MailStore& store, const std::string& address) {
  Socket socket(co_await asio::this_coro::executor);
  auto error = co_await connect_store(socket, store, options_.timeout);
  if (!error.empty()) co_return unavailable(fmt::format("cannot connect to {}: {}", store.text, error));
  smtp::client::ReplyParser parser;
  std::string input;
  const std::string steps[] = {"", fmt::format("LHLO {}\r\n", options_.helo_name), "MAIL FROM:<>\r\n",
                               fmt::format("RCPT TO:<{}>\r\n", address)};
  Result<void> verdict;
  for (const auto& command : steps) {
    auto reply = co_await exchange(socket, command, parser, input);
    if (!reply) co_return reply.error().code == 451 && reply.error().enhanced == "4.4.3"
                              ? reply.error()
                              : unavailable(reply.error().text);
    if (reply->code / 100 == 2) continue;
    if (!command.starts_with("RCPT") || reply->code < 500) {
      co_return unavailable(fmt::format("{} said {} {}", store.text, reply->code, reply->text()));
    }
    // The store's refusal: its codes (550 5.1.1 no such user, 552 5.2.2
    // mailbox full), our words (its text only goes to the log).
    auto enhanced = reply->enhanced.empty() ? std::string("5.1.1") : reply->enhanced;
    verdict = Error{reply->code, enhanced,
                    enhanced.starts_with("5.1.") ? "Recipient address rejected: User unknown"
                                                 : "Recipient address rejected by the mail store",
                    fmt::format("{} said {} {}", store.text, reply->code, reply->text())};
    break;
  }
  // RFC 5321 4.1.1.5, 4.1.1.10: nothing was sent; leave politely.
  std::string bye = "RSET\r\nQUIT\r\n";
  co_await asio::async_write(socket, asio::buffer(bye), kUseAwaitable);
  co_return verdict;
}

}  // namespace tern::delivery
