#pragma once
// [http] address: /metrics in the Prometheus text format, and a read-only
// dashboard at / (dashboard.html, one file, no build step, nothing fetched
// from elsewhere) whose numbers come from /api/<command>: the control API
// (control/queue_api.h), read-only commands only. HTTP itself is
// cpp-httplib's (Debian's libcpp-httplib), on threads of its own.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"
#include "config/config.h"

namespace httplib {
class Server;
}

namespace tern::http {

class HttpServer {
 public:
  // `api`: one control request line to its reply (control::handle_request).
  // `metrics`: the /metrics page.
  using Api = std::function<std::string(std::string_view request)>;
  using Metrics = std::function<std::string()>;

  HttpServer(config::Http config, Api api, Metrics metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Result<void> start();
  void stop();

 private:
  void routes();

  config::Http config_;
  Api api_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::thread sampler_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
};

// The dashboard page (generated from dashboard.html at build time).
std::string_view dashboard_html();

}  // namespace tern::http
