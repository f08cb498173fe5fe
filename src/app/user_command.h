#pragma once
// `tern user add|passwd|del|list`: the users of SMTP AUTH, kept in the
// users file ([auth] users_file; format in src/auth/user_db.h). The password
// is read from standard input (its first line) when that is not a terminal,
// else prompted for twice without echo; never from the command line, so it
// never shows in a process list or a shell history.
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace tern::app {

struct UserArgs {
  std::string action;   // "add", "passwd", "del", "list"; empty: `user` was not given
  std::string address;  // the login, as typed
};

// Adds `user` and its four subcommands to `app`; each takes --config,-c
// into `config_path`, as `serve` does. After parsing, `args.action` names
// the subcommand given.
void add_user_command(CLI::App& app, UserArgs& args, std::string& config_path);

// Runs one action on config.auth.users_file. Returns the exit status: 0, or
// 1 after one line on stderr saying what went wrong.
int run_user_command(const UserArgs& args, const config::Config& config);

}  // namespace tern::app
