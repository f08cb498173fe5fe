#include "control/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tern::control {
namespace {

constexpr std::size_t kMaxReply = std::size_t{1} << 30;

Error failed(const std::string& what) { return Error{0, "", what + ": " + std::strerror(errno), ""}; }

}  // namespace

Result<std::string> ask(const std::string& path, std::string_view request) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return Error{0, "", "control socket path too long: " + path, ""};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed("socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return Error{0, std::string(kNotRunning), path, ""};
    return failed("connect " + path);
  }
  timeval timeout{120, 0};  // a list of 100,000 messages takes a second or two
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string line(request);
  line += '\n';
  for (std::size_t sent = 0; sent < line.size();) {
    auto n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("send to " + path);
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char block[65536];
  while (reply.empty() || reply.back() != '\n') {
    auto n = ::recv(fd, block, sizeof block, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("read from " + path);
    if (n == 0) return Error{0, "", "the server closed the control connection without a reply", ""};
    reply.append(block, static_cast<std::size_t>(n));
    if (reply.size() > kMaxReply) return Error{0, "", "reply too long", ""};
  }
  reply.pop_back();
  return reply;
}

}  // namespace tern::control
