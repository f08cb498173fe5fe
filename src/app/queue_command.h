#pragma once
// `tern queue list|show|summary|flush|hold|release|delete|bounce`: the
// administrator's view of the queue, through the control socket of the
// running server (control/queue_api.h). With no server running, list, show
// and summary read the spool directly (and say so on stderr); the others
// need the server.
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace tern::app {

struct QueueArgs {
  std::string action;  // empty: `queue` was not given
  std::vector<std::string> ids;
  std::string domain;
  std::string state;
  bool all = false;
  bool json = false;
};

void add_queue_command(CLI::App& app, QueueArgs& args, std::string& config_path);

// Exit status: 0, or 1 after saying on stderr what went wrong.
int run_queue_command(const QueueArgs& args, const config::Config& config);

// `tern reload`: the running server reads its configuration again
// (app/reload.h) and says what it did.
int run_reload_command(const config::Config& config);

}  // namespace tern::app
