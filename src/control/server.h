#pragma once
// The control socket, data_dir/control.sock (queue_api.h): a Unix socket,
// mode 0660, served on a thread of its own so that a long answer (a list of
// 100,000 messages) never holds up an SMTP session. One request line, one
// reply line, as many as the client sends; each line at most 64 KiB, each
// read and write bounded by a timeout.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"

namespace tern::control {

class Server {
 public:
  // Answers one request line (called on the control thread).
  using Handler = std::function<std::string(std::string_view request)>;

  Server(std::string path, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (replacing a socket a crash left: the data_dir lock is ours) and
  // starts the thread.
  Result<void> start();
  void stop();

 private:
  boost::asio::awaitable<void> accept();
  boost::asio::awaitable<void> serve(boost::asio::local::stream_protocol::socket socket);

  std::string path_;
  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace tern::control
