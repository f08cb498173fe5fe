#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "config/config.h"

namespace tern::net {

class Server;

// Serves one SMTP connection from greeting to close.
boost::asio::awaitable<void> serve_connection(Server& server, boost::asio::ip::tcp::socket socket,
                                              config::ListenerRole role);

}  // namespace tern::net
