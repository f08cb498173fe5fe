#pragma once
#include <string>

#include "config/config.h"

namespace tern::app {

// Runs the server until SIGTERM or SIGINT; returns the process exit code.
// `config_path` (empty: the embedded default) is read again on a reload.
int serve(const config::Config& config, const std::string& config_path);

}  // namespace tern::app
