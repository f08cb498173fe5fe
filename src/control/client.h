#pragma once
// The CLI's side of the control socket (server.h): one request, one reply.
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::control {

// The reply line to `request`. When no server listens on `path` (no
// socket, or nobody behind it) the error's `enhanced` is kNotRunning.
inline constexpr std::string_view kNotRunning = "not running";
Result<std::string> ask(const std::string& path, std::string_view request);

}  // namespace tern::control
