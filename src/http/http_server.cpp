#include "http/http_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/log.h"
#include "base/metrics.h"

namespace tern::http {
namespace {

// cpp-httplib gives each connection a thread until it closes: a browser
// keeps up to six open, a scraper one. Idle ones are closed after
// kKeepAlive, so that they do not hold the threads others wait for.
constexpr std::size_t kThreads = 8;
constexpr auto kKeepAlive = std::chrono::seconds(1);
constexpr auto kSampleEvery = std::chrono::seconds(2);

}  // namespace

HttpServer::HttpServer(config::Http config, Api api, Metrics metrics)
    : config_(std::move(config)), api_(std::move(api)), metrics_(std::move(metrics)), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::routes() {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
    res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
  });
  // Read-only commands of the control API; list takes ?domain= and ?state=.
  server_->Get(R"(/api/(list|summary|recent|stats))", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json request = {{"command", req.matches[1].str()}};
    for (const char* key : {"domain", "state"}) {
      if (req.has_param(key)) request[key] = req.get_param_value(key);
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(api_(request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), "application/json");
  });
}

Result<void> HttpServer::start() {
  routes();
  server_->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server_->set_keep_alive_timeout(kKeepAlive.count());
  server_->set_read_timeout(std::chrono::seconds(5));
  server_->set_write_timeout(std::chrono::seconds(10));
  server_->set_payload_max_length(64 * 1024);
  if (!server_->bind_to_port(config_.host, config_.port)) {
    return Error{0, "", "http: cannot listen on " + config_.address, ""};
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  sampler_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      metrics::history().sample(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
      wake_.wait_for(lock, kSampleEvery);
    }
  });
  spdlog::info("event=http_listen address={}", log_value(config_.address));
  return {};
}

void HttpServer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace tern::http
