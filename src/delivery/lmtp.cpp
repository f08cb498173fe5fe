#include "delivery/lmtp.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/log.h"
#include "base/text.h"
#include "delivery/converse.h"
#include "delivery/loop_check.h"

namespace tern::delivery {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Socket = asio::generic::stream_protocol::socket;
using smtp::client::RecipientResult;

constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

}  // namespace

asio::awaitable<std::string> connect_store(Socket& socket, const config::MailStore& where, std::chrono::seconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<asio::generic::stream_protocol::endpoint> endpoints;
  if (where.kind == config::MailStore::Kind::kLmtpUnix) {
    endpoints.emplace_back(asio::local::stream_protocol::endpoint(where.path));
  } else {
    asio::ip::tcp::resolver resolver(executor);
    auto [ec, found] = co_await resolver.async_resolve(where.host, std::to_string(where.port), kUseAwaitable);
    if (ec) co_return fmt::format("cannot resolve {}: {}", where.host, ec.message());
    for (const auto& entry : found) endpoints.emplace_back(entry.endpoint());
  }
  std::string error = "no address";
  for (const auto& endpoint : endpoints) {
    Socket attempt(executor);
    asio::steady_timer timer(executor, timeout);
    auto result = co_await (attempt.async_connect(endpoint, kUseAwaitable) || timer.async_wait(kUseAwaitable));
    if (result.index() == 1) {
      error = "connection timed out";
      continue;
    }
    if (auto [ec] = std::get<0>(result); ec) {
      error = ec.message();
      continue;
    }
    socket = std::move(attempt);
    co_return "";
  }
  co_return error;
}

LmtpDelivery::LmtpDelivery(asio::any_io_executor executor, LmtpConfig config)
    : executor_(std::move(executor)), config_(std::move(config)) {}

void LmtpDelivery::deliver(Job job, queue::DeliveryBatch&, Done done) {
  const auto& m = *job.message;
  const auto& envelope = m.envelope;
  Pending pending;
  pending.outcomes.resize(job.recipients.size(), Outcome{});
  pending.done = std::move(done);
  auto seen = delivered_to(m);
  auto& message = pending.message;
  for (std::size_t j = 0; j < job.recipients.size(); ++j) {
    const auto& recipient = envelope.recipients[job.recipients[j]];
    auto address = to_lower(recipient.mailbox.to_string());
    if (!seen) {
      pending.outcomes[j] = {seen.error(), ""};
    } else if (seen->count(address)) {  // the store's own Delivered-To, or ours
      pending.outcomes[j] = {loop_detected(address), ""};
      pending.outcomes[j].own_words = true;
    } else {
      // RFC 2033 4.2: the address as given (alice+tag@): the store files it.
      message.message.recipients.push_back(recipient);
      pending.positions.push_back(j);
    }
  }
  if (pending.positions.empty()) return pending.done(std::move(pending.outcomes));
  message.message.reverse_path = envelope.reverse_path;
  message.prefix = m.added_headers;
  message.message.size = m.size + message.prefix.size();
  message.message.body = envelope.params.body;
  // RFC 6531 3.4 keeps SMTPUTF8 from servers that do not offer it, and a
  // store may not (Dovecot 2.3). Needed it is only for UTF-8 addresses; a
  // UTF-8 header is only stored.
  bool utf8_addresses = !is_ascii(envelope.reverse_path.mailbox.to_string());
  for (const auto& r : message.message.recipients) utf8_addresses = utf8_addresses || !is_ascii(r.mailbox.to_string());
  message.message.smtputf8 = envelope.params.smtputf8 && utf8_addresses;
  message.fd = m.fd;
  message.offset = m.offset;
  asio::post(executor_, [this, where = *job.store, pending = std::move(pending)]() mutable {
    enqueue(std::move(where), std::move(pending));
  });
}

void LmtpDelivery::close() {
  asio::post(executor_, [this] {
    closing_ = true;
    for (auto& [text, store] : stores_) {
      for (auto* timer : store.idle) timer->cancel();
      store.idle.clear();
    }
  });
}

void LmtpDelivery::enqueue(config::MailStore where, Pending pending) {
  auto& store = stores_[where.text];
  store.where = std::move(where);
  if (store.jobs.size() >= config_.max_waiting) {
    auto text = fmt::format("Too many messages waiting for {}", store.where.text);
    std::vector<RecipientResult> busy(pending.positions.size(), {451, "4.4.5", text, {}});
    return finish(pending, busy, store, true);
  }
  store.jobs.push_back(std::move(pending));
  if (!store.idle.empty()) {
    store.idle.back()->cancel();  // an open connection takes it
    store.idle.pop_back();
    return;
  }
  if (closing_ || store.connections >= config_.max_connections) return;
  ++store.connections;
  ++open_connections_;
  asio::co_spawn(executor_, connection(store), asio::detached);
}

asio::awaitable<bool> LmtpDelivery::wait_for_job(Store& store) {
  if (!store.jobs.empty()) co_return true;
  if (closing_) co_return false;
  asio::steady_timer timer(executor_, config_.idle_time);
  store.idle.push_back(&timer);
  co_await timer.async_wait(kUseAwaitable);
  std::erase(store.idle, &timer);
  co_return !store.jobs.empty() && !closing_;
}

// One connection: takes the store's jobs one after another while there are
// any, then waits idle_time for more before QUIT.
asio::awaitable<void> LmtpDelivery::connection(Store& store) {
  Socket socket(executor_);
  std::optional<smtp::client::Session> session;
  while (co_await wait_for_job(store)) {
    auto pending = std::move(store.jobs.front());
    store.jobs.pop_front();
    bool reused = session && session->next() == smtp::client::Next::kReady;
    if (!reused) {
      session.reset();
      boost::system::error_code ignored;
      socket.close(ignored);
      auto error = co_await connect_store(socket, store.where, config_.session.connect_timeout);
      if (!error.empty()) {
        spdlog::warn("event=lmtp_connect_failed store={} detail={}", log_value(store.where.text), log_value(error));
        auto text = fmt::format("Cannot connect to the mail store {}: {}", store.where.text, error);
        finish(pending, std::vector<RecipientResult>(pending.positions.size(), {451, "4.4.1", text, {}}), store);
        continue;
      }
      smtp::client::SessionOptions options;
      options.helo_name = config_.session.helo_name;
      options.lmtp = true;
      session.emplace(options);
    }
    session->send_message(pending.message.message);
    std::uint64_t sent = 0;
    co_await converse(socket, *session, &pending.message, config_.session, sent);
    // The store closed a connection we kept open: once more on a new one.
    if (reused && sent == 0 && !pending.retried && session->next() == smtp::client::Next::kDone) {
      pending.retried = true;
      session.reset();
      store.jobs.push_front(std::move(pending));
      continue;
    }
    finish(pending, session->results(), store);
  }
  if (session && session->next() == smtp::client::Next::kReady) {
    session->quit();
    std::uint64_t sent = 0;
    co_await converse(socket, *session, nullptr, config_.session, sent);
  }
  --store.connections;
  --open_connections_;
  // A job that came while this one was closing.
  if (!store.jobs.empty() && !closing_ && store.connections == 0) {
    ++store.connections;
    ++open_connections_;
    asio::co_spawn(executor_, connection(store), asio::detached);
  }
}

void LmtpDelivery::finish(Pending& pending, const std::vector<RecipientResult>& results, const Store& store,
                          bool not_attempted) {
  for (std::size_t k = 0; k < pending.positions.size(); ++k) {
    auto& outcome = pending.outcomes[pending.positions[k]];
    RecipientResult r = k < results.size() ? results[k] : RecipientResult{451, "4.3.0", "No result", {}};
    if (r.delivered()) {
      outcome = {store.where.text, ""};  // "lmtp:unix:/run/dovecot/lmtp"
      continue;
    }
    auto detail = r.in_reply_to.empty() ? r.text
                                        : fmt::format("{} said: {} {}", store.where.text, r.code, r.text);
    outcome = {Error{r.code, r.status(), r.text, detail}, ""};
    outcome.own_words = r.in_reply_to.empty();
    outcome.not_attempted = not_attempted;
  }
  auto done = std::move(pending.done);
  done(std::move(pending.outcomes));
}

}  // namespace tern::delivery
