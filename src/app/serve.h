#pragma once
#include "config/config.h"

namespace tern::app {

// Runs the server until SIGTERM or SIGINT; returns the process exit code.
int serve(const config::Config& config);

}  // namespace tern::app
