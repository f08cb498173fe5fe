#include "sim/simulation.h"

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <mutex>

#include <algorithm>
#include <memory>
#include <optional>

#include "base/text.h"
#include "delivery/maildir.h"
#include "queue/delivery_state.h"
#include "queue/scheduler.h"
#include "queue/queue_index.h"
#include "queue/spool.h"
#include "sim/clients.h"
#include "sim/oracle.h"
#include "sim/scripted_mx.h"
#include "sim/sim_fs.h"
#include "smtp/server/session.h"

namespace tern::sim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kQueueDir = "/data/queue";
constexpr const char* kMailRoot = "/data/mail";
constexpr const char* kHostname = "mx.local.test";
// The remote MX always defers this one (it expires after max_lifetime and
// bounces) and always refuses that one (it bounces at once).
const std::string kAlwaysDeferred = "r8@remote.test";
const std::string kAlwaysRefused = "r9@remote.test";

class SimClock : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance_to(TimePoint t) { now_ = std::max(now_, t); }
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_ = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01
};

// One remote transaction in flight: the MX answers at `due`.
struct RemoteAttempt {
  TimePoint due;
  queue::Delivery::Part part;
  std::vector<std::size_t> positions;  // into the delivery's pending()
  std::weak_ptr<queue::Delivery> delivery;
};

// A remote 250 that tern may not have recorded yet.
struct RemoteCopy {
  std::size_t sim_id;
  std::string queue_id;
  std::size_t index;
  std::string rcpt;
  std::weak_ptr<queue::Delivery> delivery;
  std::uint64_t faults_before;
};

// One tern process: it lives from a start to the next crash.
struct Node {
  Node(SimFs& fs, SimClock& clock, Rng& rng, queue::DeliverFn deliver, queue::RetryPolicy retry)
      : spool(kQueueDir, fs, clock),
        maildir(kMailRoot, kHostname, fs),
        scheduler(spool, std::move(deliver), retry, kHostname, rng) {}

  queue::Spool spool;
  delivery::Maildir maildir;
  queue::Scheduler scheduler;
};

class World {
 public:
  World(std::uint64_t seed, const SimOptions& options)
      : options_(options), rng_(seed), fs_(rng_, history_) {
    retry_.retry_interval = 5min;
    retry_.max_retry_interval = 1h;
    retry_.max_lifetime = std::chrono::hours(24 * 5);
    retry_.delay_warning = 4h;
  }

  SimResult run();

 private:
  void note(const std::string& text) {
    auto t = std::chrono::system_clock::to_time_t(clock_.now()) - 1767225600;
    history_.push_back(fmt::format("[{}s] {}", t, text));
  }
  bool start_node();
  void crash();
  void restart_cleanly();
  void administer();
  void release_all();
  void confirm_recorded();
  bool act();
  bool settle_step();
  void start_client();
  void feed(Client& client);
  void on_committed(Client& client, const Result<void>& result);
  void deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch);
  void answer(RemoteAttempt& attempt);
  std::optional<std::string> read_message(const queue::QueuedMessage& message);
  std::optional<TimePoint> next_due();
  bool fire_due_remote();
  void drain();
  void capture_log();
  std::string queue_left();

  SimOptions options_;
  SeededRng rng_;
  std::vector<std::string> history_;
  SimFs fs_;
  SimClock clock_;
  queue::RetryPolicy retry_;
  std::unique_ptr<Node> node_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<RemoteAttempt> remote_;
  std::vector<RemoteCopy> unconfirmed_;
  Oracle oracle_;
  std::size_t started_ = 0;
  std::size_t crashes_ = 0;
  bool settling_ = false;
  std::string failure_;
};

bool World::start_node() {
  for (int tries = 0; tries < 100; ++tries) {
    node_ = std::make_unique<Node>(fs_, clock_, rng_, [this](queue::Delivery& d, queue::DeliveryBatch& b) { deliver(d, b); },
                                   retry_);
    auto recovered = node_->spool.open(0);
    if (recovered) {
      note(fmt::format("tern starts, {} messages in the queue", recovered->size()));
      for (auto& id : *recovered) node_->scheduler.enqueue(std::move(id));
      return true;
    }
    note("tern fails to start: " + recovered.error().detail);
    node_.reset();
    clock_.advance(1s);
  }
  failure_ = "tern cannot start";
  return false;
}

// The process is gone (power cut or kill -9): drop all it held in memory,
// then let the disk come back as the crash left it.
void World::crash() {
  bool power_cut = !fs_.killed();
  ++crashes_;
  note(power_cut ? "power cut" : "kill -9");
  // The remote copies not yet recorded: the window in which a crash
  // repeats a delivery.
  for (const auto& copy : unconfirmed_) oracle_.may_duplicate(copy.sim_id, copy.rcpt);
  unconfirmed_.clear();
  clients_.clear();
  remote_.clear();
  node_.reset();
  fs_.restart();
  start_node();
}

// SIGTERM, then a start: the process finishes its writes and leaves the
// mark of a clean stop (queue/spool.h); the page cache stays.
void World::restart_cleanly() {
  note("tern stops (SIGTERM) and starts again");
  while (node_->spool.commit_pending()) {
  }  // what was handed to the spool is committed and answered (app/serve.cpp)
  for (const auto& copy : unconfirmed_) oracle_.may_duplicate(copy.sim_id, copy.rcpt);
  unconfirmed_.clear();
  clients_.clear();
  remote_.clear();
  node_->scheduler.stop();
  node_->spool.stop();
  node_.reset();
  fs_.kill();  // the process is gone: only its descriptors go with it
  fs_.restart();
  start_node();
}

// A remote recipient's 250 that tern has recorded (its Delivery is over)
// must be on stable storage by the next step: the state file's done record,
// or the message gone from the queue. Called between steps.
void World::confirm_recorded() {
  std::erase_if(unconfirmed_, [this](const RemoteCopy& copy) {
    if (!copy.delivery.expired()) return false;
    auto active = std::string(kQueueDir) + "/active/" + copy.queue_id;
    auto state = fs_.durable_contents(std::string(kQueueDir) + "/state/" + copy.queue_id);
    bool done = queue::parse_state(state.value_or(""), copy.index + 1).done[copy.index];
    if (!fs_.durable_name(active) || done) return true;
    if (fs_.faults_injected() > copy.faults_before) {
      oracle_.may_duplicate(copy.sim_id, copy.rcpt);  // a disk error in between: a copy more is allowed
    } else if (failure_.empty()) {
      failure_ = fmt::format("recorded delivery not durable: message {} to <{}> (queue id {}) was recorded, "
                             "and a power cut now would lose that",
                             copy.sim_id, copy.rcpt, copy.queue_id);
    }
    return true;
  });
}

void World::start_client() {
  auto client = std::make_unique<Client>();
  client->sim_id = ++started_;
  client->host = std::make_unique<SimHost>(node_->spool, clock_);
  client->session = std::make_unique<smtp::server::Session>(*client->host, smtp::server::SessionLimits{}, kHostname,
                                                            fmt::format("S{}", client->sim_id), "127.0.0.1");
  client->session->start();
  note(write_script(*client, rng_));
  clients_.push_back(std::move(client));
}

void World::feed(Client& client) {
  auto& session = *client.session;
  if (session.awaiting_commit()) return;
  if (client.next < client.chunks.size()) session.receive(client.chunks[client.next++]);
  (void)session.take_output();
  if (session.awaiting_commit() && client.host->writer_) {
    // Half the messages carry header fields added at end of data (as
    // Authentication-Results is): stored after the message, they must
    // survive the same crashes and faults (spool.h add_headers).
    if (client.sim_id % 2 == 1) {
      auto added = client.host->writer_->add_headers("Authentication-Results: mx.sim; spf=pass\r\n");
      if (!added) {
        client.host->writer_.reset();
        session.committed(added);
        return;
      }
    }
    auto* c = &client;
    node_->spool.commit(std::move(client.host->writer_), [this, c](Result<void> r) { on_committed(*c, r); });
  }
}

void World::on_committed(Client& client, const Result<void>& result) {
  const auto& id = client.session->queue_id();
  if (result) {
    std::vector<std::string> rcpts;
    for (const auto& r : client.host->envelope_.recipients) rcpts.push_back(r.mailbox.to_string());
    oracle_.acknowledged(client.sim_id, rcpts);
    note(fmt::format("message {} acknowledged: 250, queue id {}", client.sim_id, id));
    node_->scheduler.enqueue(id, true);
  } else {
    note(fmt::format("message {} refused: {} {}", client.sim_id, result.error().code, result.error().detail));
  }
  client.session->committed(result);
  (void)client.session->take_output();
}

// The router: local.test to Maildir, remote.test to the scripted MX.
void World::deliver(queue::Delivery& delivery, queue::DeliveryBatch& batch) {
  const auto& m = delivery.message();
  RemoteAttempt remote{clock_.now() + std::chrono::milliseconds(rng_.below(rng_.one_in(5) ? 300000 : 2000)),
                       delivery.part(), {}, delivery.weak_from_this()};
  for (std::size_t k = 0; k < delivery.pending().size(); ++k) {
    auto index = delivery.pending()[k];
    const auto& rcpt = m.envelope.recipients[index].mailbox;
    if (rcpt.domain != "local.test") {
      remote.positions.push_back(k);
      continue;
    }
    delivery::MaildirMessage message{.queue_id = m.id,
                                     .recipient_index = index,
                                     .return_path = m.envelope.reverse_path.mailbox.to_string(),
                                     .fd = m.fd,
                                     .offset = m.offset,
                                     .maybe_delivered = m.maybe_delivered,
                                     .size = m.size,
                                     .added_headers = m.added_headers};
    auto delivered = node_->maildir.deliver(message, rcpt, batch);
    note(fmt::format("{} to <{}>: Maildir {}", m.id, rcpt.to_string(), delivered ? "ok" : delivered.error().detail));
    delivery.set(k, {std::move(delivered), ""});
  }
  if (remote.positions.empty()) {
    remote.part.done();
    return;
  }
  remote_.push_back(std::move(remote));
}

// The message as the queue holds it; none when it cannot be read.
std::optional<std::string> World::read_message(const queue::QueuedMessage& m) {
  std::string text = m.added_headers + std::string(m.size, '\0');
  std::size_t got = m.added_headers.size();
  while (got < text.size()) {
    auto n = m.fs->read_at(m.fd, m.offset + got - m.added_headers.size(), text.data() + got, text.size() - got);
    if (!n || *n == 0) return std::nullopt;
    got += *n;
  }
  return text;
}

// The X-Sim-Id of what the MX stored; 0 when it is not one of our messages
// (its data was lost on tern's disk).
std::size_t sim_id_of(const std::string& text) {
  auto at = text.find("X-Sim-Id: ");
  if (at == std::string::npos) return 0;
  auto end = text.find('\r', at);
  return parse_decimal(std::string_view(text).substr(at + 10, end - at - 10)).value_or(0);
}

// The scripted MX answers one transaction (scripted_mx.h): tern's client
// session against a scripted server, byte for byte.
void World::answer(RemoteAttempt& attempt) {
  const auto& m = attempt.part.message();
  auto delivery = attempt.delivery.lock();
  smtp::client::Message message;
  message.reverse_path = m.envelope.reverse_path;
  for (auto k : attempt.positions) message.recipients.push_back(m.envelope.recipients[delivery->pending()[k]]);
  message.size = m.size;
  MxScript script;
  script.lost_after_data = !settling_ && rng_.one_in(20);
  script.unreachable = !settling_ && rng_.one_in(20);
  script.rcpt_reply = [this](const std::string& rcpt) {
    auto roll = rng_.below(100);
    if (rcpt == kAlwaysRefused || (!settling_ && roll < 5)) return 550;
    if (rcpt == kAlwaysDeferred || (!settling_ && roll < 20)) return 451;
    return 250;
  };
  auto content = read_message(m);
  if (!content) script.unreachable = true;  // tern could not read its queue file: nothing is sent
  auto transcript = converse(message, content.value_or(""), script);
  auto sim_id = transcript.stored ? sim_id_of(*transcript.stored) : 0;
  // Odd messages had header fields added at end of data: a copy without
  // them is not the message that was acknowledged.
  if (sim_id % 2 == 1 && transcript.stored->find("Authentication-Results: mx.sim") == std::string::npos) sim_id = 0;
  for (const auto& rcpt : transcript.accepted) {
    oracle_.remote_copy(sim_id, rcpt);
    // RFC 1047: the MX has it, tern cannot know.
    if (script.lost_after_data) oracle_.may_duplicate(sim_id, rcpt);
  }
  for (std::size_t j = 0; j < attempt.positions.size(); ++j) {
    auto k = attempt.positions[j];
    auto index = delivery->pending()[k];
    auto rcpt = m.envelope.recipients[index].mailbox.to_string();
    const auto& r = transcript.results[j];
    note(fmt::format("{} to <{}>: MX says {} {}{}", m.id, rcpt, r.code, r.text,
                     transcript.stored && script.lost_after_data ? " (the MX stored it)" : ""));
    if (r.delivered()) {
      attempt.part.set(k, {std::string("smtp:mx.remote.test"), "mx.remote.test"});
      unconfirmed_.push_back({sim_id, m.id, index, rcpt, attempt.delivery, fs_.faults_injected()});
    } else {
      queue::RecipientOutcome failed{Error{r.code, r.status(), r.text, "sim"}, "mx.remote.test"};
      failed.own_words = r.in_reply_to.empty();
      attempt.part.set(k, std::move(failed));
    }
  }
  delivery.reset();
  attempt.part.done();
}

bool World::fire_due_remote() {
  auto due = std::min_element(remote_.begin(), remote_.end(),
                              [](const auto& a, const auto& b) { return a.due < b.due; });
  if (due == remote_.end() || due->due > clock_.now()) return false;
  auto attempt = std::move(*due);
  remote_.erase(due);
  answer(attempt);
  return true;
}

std::optional<TimePoint> World::next_due() {
  std::optional<TimePoint> next = node_->scheduler.next_due();
  for (const auto& r : remote_) {
    if (!next || r.due < *next) next = r.due;
  }
  return next;
}

// One random action of the world; false when nothing was left to do now.
bool World::act() {
  confirm_recorded();
  if (options_.crashes && rng_.one_in(400)) fs_.cut_power_at(fs_.calls() + 1 + rng_.below(300));
  if (options_.crashes && rng_.one_in(1500)) fs_.kill();
  if (options_.faults && rng_.one_in(300)) fs_.writeback_error();
  if (options_.faults && rng_.one_in(300)) fs_.other_program_syncs();
  if (fs_.frozen()) return true;
  if (options_.crashes && rng_.one_in(1500)) {
    restart_cleanly();
    return true;
  }
  if (!settling_ && rng_.one_in(400)) {
    administer();
    return true;
  }
  switch (rng_.below(5)) {
    case 0:
      if (started_ < options_.messages && rng_.one_in(3)) {
        start_client();
        return true;
      }
      break;
    case 1:
      if (!clients_.empty()) {
        auto i = rng_.below(clients_.size());
        feed(*clients_[i]);
        auto& c = *clients_[i];
        bool finished = c.next == c.chunks.size() && !c.session->awaiting_commit();
        if (finished || c.session->closed()) {
          if (!c.session->closed()) c.session->abort();
          clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return true;
      }
      break;
    case 2:
      if (node_->spool.commit_pending()) return true;
      break;
    case 3:
      if (node_->scheduler.step()) return true;
      break;
    case 4:
      if (fire_due_remote()) return true;
      break;
  }
  clock_.advance(std::chrono::milliseconds(rng_.below(50)));
  if (!clients_.empty() || started_ < options_.messages) return true;
  if (node_->spool.commit_pending() || node_->scheduler.step() || fire_due_remote()) return true;
  auto next = next_due();
  if (!next) return false;
  clock_.advance_to(*next);
  return true;
}

// What an administrator does with `tern queue`: hold a message, release
// one, or bounce one (every recipient not yet done gets a bounce: the
// oracle takes a bounce for a copy). Held messages are all released before
// the queue drains.
void World::administer() {
  auto ids = fs_.names(std::string(kQueueDir) + "/active");
  if (ids.empty()) return;
  const auto& id = ids[rng_.below(ids.size())];
  auto& scheduler = node_->scheduler;
  switch (rng_.below(4)) {
    case 0:
    case 1: {
      auto held = scheduler.hold({id});
      note(fmt::format("tern queue hold {}: {}", id, held.errors.empty() ? "held" : held.errors.front()));
      break;
    }
    case 2: {
      auto released = scheduler.release({id});
      note(fmt::format("tern queue release {}: {}", id, released.errors.empty() ? "released" : released.errors.front()));
      break;
    }
    case 3: {
      // Not a bounce of tern's own: bouncing one drops it (a bounce is never
      // bounced), and the notice it carries with it, as an administrator
      // who does that means to.
      auto info = queue::read_message_info(fs_, kQueueDir, id, 0);
      auto headers = queue::read_headers(fs_, kQueueDir, id);
      if (!info || info->sender.empty() || !headers) break;
      auto at = headers->find("X-Sim-Id: ");
      if (at == std::string::npos) break;
      oracle_.bounced_by_admin(std::strtoul(headers->c_str() + at + 10, nullptr, 10));
      auto bounced = scheduler.bounce({id});
      note(fmt::format("tern queue bounce {}: {}", id, bounced.errors.empty() ? "to bounce" : bounced.errors.front()));
      break;
    }
  }
}

void World::release_all() {
  auto ids = fs_.names(std::string(kQueueDir) + "/active");
  auto released = node_->scheduler.release(ids);
  if (!released.done.empty()) note(fmt::format("tern queue release: {} released", released.done.size()));
}

void World::drain() {
  note("faults stop; the queue drains");
  release_all();
  auto deadline = clock_.now() + retry_.max_lifetime + 24h;
  for (std::size_t steps = 0; steps < 2000000 && failure_.empty() && clock_.now() < deadline; ++steps) {
    if (!act()) break;
  }
}

std::string World::queue_left() {
  std::size_t left = 0;
  for (const auto* sub : {"/active", "/state", "/corrupt"}) left += fs_.names(std::string(kQueueDir) + sub).size();
  if (left == 0) return {};
  return fmt::format("stuck: {} files left in active/, state/ and corrupt/ (active: {})", left,
                     fmt::join(fs_.names(std::string(kQueueDir) + "/active"), " "));
}

// tern's log lines, in the history of the run (slow: for replaying a seed).
class HistorySink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit HistorySink(std::function<void(std::string_view)> note) : note_(std::move(note)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { note_({msg.payload.data(), msg.payload.size()}); }
  void flush_() override {}

 private:
  std::function<void(std::string_view)> note_;
};

void World::capture_log() {
  auto sink = std::make_shared<HistorySink>([this](std::string_view text) { note(fmt::format("log: {}", text)); });
  auto logger = std::make_shared<spdlog::logger>("sim", sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

SimResult World::run() {
  if (options_.log) {
    capture_log();
  } else {
    spdlog::set_level(spdlog::level::off);
  }
  fs_.set_faults(options_.faults ? FaultRates{200, 400, 200, 60, 400} : FaultRates{});
  SimResult result;
  if (start_node()) {
    // The busy part: clients, faults and crashes, then a while of retries
    // under faults.
    std::size_t after_clients = 3000;
    for (std::size_t steps = 0; steps < 200000 && failure_.empty(); ++steps) {
      if (started_ == options_.messages && clients_.empty() && after_clients-- == 0) break;
      if (!act()) break;
      if (fs_.frozen()) crash();
    }
    // Then the faults stop and the queue drains on simulated time; a last
    // power cut (what was recorded must be durable), and it drains again.
    settling_ = true;
    fs_.set_faults({});
    fs_.cut_power_at(0);  // one planned in the busy part must not come during the drain
    options_.crashes = options_.faults = false;
    if (failure_.empty()) drain();
    if (failure_.empty()) {
      fs_.cut_power();
      crash();
    }
    if (failure_.empty()) drain();
    if (failure_.empty()) failure_ = queue_left();
    if (failure_.empty()) failure_ = oracle_.check(fs_, kMailRoot, history_);
  }
  if (options_.log) spdlog::set_default_logger(std::make_shared<spdlog::logger>("off"));
  result.ok = failure_.empty();
  result.failure = failure_;
  result.history = std::move(history_);
  result.acknowledged = oracle_.acknowledged_count();
  result.crashes = crashes_;
  result.faults = fs_.faults_injected();
  return result;
}

}  // namespace

SimResult run_seed(std::uint64_t seed, const SimOptions& options) {
  World world(seed, options);
  return world.run();
}

}  // namespace tern::sim
