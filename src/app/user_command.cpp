#include "app/user_command.h"

#include <CLI/CLI.hpp>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <variant>

#include "auth/password.h"
#include "auth/user_db.h"

namespace tern::app {
namespace {

// A password held in memory: wiped when it goes.
struct Secret {
  std::string text;
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { ::explicit_bzero(text.data(), text.size()); }
};

// Thrown-free failure: the one line for stderr.
struct Failure {
  std::string message;
};

// -- reading the password --------------------------------------------------

// Reads one line from fd 0 (without its line end: LF or CRLF). Byte by byte,
// so that nothing past the line is taken. False when it is longer than a
// password may be.
bool read_line(Secret& out) {
  char c = 0;
  while (true) {
    auto n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (out.text.size() > auth::kMaxPasswordLength) return false;  // room for a CR
    out.text += c;
  }
  if (!out.text.empty() && out.text.back() == '\r') out.text.pop_back();
  return out.text.size() <= auth::kMaxPasswordLength;
}

termios saved_terminal;
volatile std::sig_atomic_t terminal_changed = 0;

// A signal while echo is off must not leave the terminal without echo.
extern "C" void restore_terminal_and_die(int sig) {
  if (terminal_changed) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Echo off (the newline still echoes) for the time of one prompt.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_terminal) != 0) return;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, restore_terminal_and_die);
    termios quiet = saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    terminal_changed = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (terminal_changed) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
    terminal_changed = 0;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, SIG_DFL);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;
};

std::optional<Failure> prompt(const std::string& text, Secret& out) {
  NoEcho quiet;
  std::cerr << text << std::flush;
  if (!read_line(out)) return Failure{"the password is too long (at most " + std::to_string(auth::kMaxPasswordLength) + " octets)"};
  return std::nullopt;
}

// The password: the first line of standard input, or typed twice at a
// terminal. Refuses an empty one.
std::optional<Failure> read_password(const std::string& address, Secret& out) {
  if (::isatty(STDIN_FILENO)) {
    if (auto failed = prompt("Password for " + address + ": ", out)) return failed;
    Secret again;
    if (auto failed = prompt("Password again: ", again)) return failed;
    if (out.text != again.text) return Failure{"the passwords do not match"};
  } else if (!read_line(out)) {
    return Failure{"the password is too long (at most " + std::to_string(auth::kMaxPasswordLength) + " octets)"};
  }
  if (out.text.empty()) return Failure{"empty password refused"};
  if (out.text.find('\0') != std::string::npos) return Failure{"the password holds a NUL octet"};
  return std::nullopt;
}

// -- the users file ----------------------------------------------------------

constexpr std::string_view kNewFileHeader =
    "# tern users: one 'address:hash' per line (docs/operations.md, \"Users (SMTP AUTH)\").\n"
    "# Change it with `tern user`; the server sees changes without a restart.\n";

// The file parsed (empty when missing); malformed lines get a warning each.
// A new file starts with a comment saying what it is.
std::variant<auth::UsersFile, Failure> load(const std::string& path, bool warn) {
  auto text = auth::read_users_text(path);
  if (!text) return Failure{"users file " + text.error().detail};
  auto file = auth::parse_users(text->value_or(std::string(kNewFileHeader)));
  for (const auto& problem : file.problems) {
    if (warn) std::cerr << "tern: warning: " << path << ":" << problem.line << ": " << problem.message << " (line kept)\n";
  }
  return file;
}

// The read-modify-write under the lock, so that concurrent runs do not
// lose each other's changes.
std::optional<Failure> update(const std::string& path, bool warn,
                              const std::function<Result<void>(auth::UsersFile&)>& edit) {
  auto lock = auth::UsersFileLock::acquire(path);
  if (!lock) return Failure{"users file " + lock.error().detail};
  auto loaded = load(path, warn);
  if (auto* failed = std::get_if<Failure>(&loaded)) return *failed;
  auto& file = std::get<auth::UsersFile>(loaded);
  if (auto edited = edit(file); !edited) return Failure{edited.error().detail};
  if (auto written = auth::write_users_file(path, auth::format_users(file)); !written) {
    return Failure{"users file " + written.error().detail};
  }
  return std::nullopt;
}

std::optional<Failure> list(const std::string& path) {
  auto loaded = load(path, true);
  if (auto* failed = std::get_if<Failure>(&loaded)) return *failed;
  for (const auto& address : std::get<auth::UsersFile>(loaded).addresses()) std::cout << address << "\n";
  return std::nullopt;
}

// add and passwd: the password is asked for only when the change can be
// made, and hashed before the lock is taken (it takes a while); the check
// is made again under the lock.
std::optional<Failure> set(const std::string& path, const std::string& address, bool add) {
  auto loaded = load(path, true);
  if (auto* failed = std::get_if<Failure>(&loaded)) return *failed;
  bool exists = std::get<auth::UsersFile>(loaded).find(address) != nullptr;
  if (add && exists) return Failure{address + " exists already"};
  if (!add && !exists) return Failure{"no user " + address};
  Secret password;
  if (auto failed = read_password(address, password)) return failed;
  auto hash = auth::hash_password(password.text);
  if (!hash) return Failure{hash.error().detail};
  return update(path, false, [&](auth::UsersFile& file) {
    return add ? auth::add_user(file, address, *hash) : auth::set_password(file, address, *hash);
  });
}

std::optional<Failure> run(const UserArgs& args, const std::string& path) {
  if (args.action == "list") return list(path);
  if (args.address.empty()) return Failure{"an address is required: tern user " + args.action + " ADDRESS"};
  auto login = auth::normalize_login(args.address);
  if (!login) return Failure{"'" + args.address + "': " + login.error().detail};
  if (args.action == "add" || args.action == "passwd") return set(path, *login, args.action == "add");
  if (args.action == "del") {
    return update(path, false, [&](auth::UsersFile& file) { return auth::remove_user(file, *login); });
  }
  return Failure{"unknown action " + args.action};
}

}  // namespace

void add_user_command(CLI::App& app, UserArgs& args, std::string& config_path) {
  auto* user = app.add_subcommand("user", "Manage the users of SMTP AUTH (the users file)");
  user->require_subcommand(1);
  struct Action {
    const char* name;
    const char* help;
  };
  const Action actions[] = {
      {"add", "Add a user; the password comes from stdin or is prompted for twice"},
      {"passwd", "Change a user's password (stdin or prompted for twice)"},
      {"del", "Remove a user"},
      {"list", "List the users"},
  };
  for (const auto& action : actions) {
    auto* sub = user->add_subcommand(action.name, action.help);
    sub->add_option("--config,-c", config_path, "Configuration file (TOML); default: the embedded default");
    if (std::string_view(action.name) != "list") {
      // Checked by run_user_command rather than CLI11: a missing address
      // exits 1 like every other error of `tern user`.
      sub->add_option("address", args.address, "The login: the user's full address (alice@example.test)");
    }
    sub->callback([&args, name = std::string(action.name)] { args.action = name; });
  }
}

int run_user_command(const UserArgs& args, const config::Config& config) {
  auto failed = run(args, config.auth.users_file);
  if (!failed) return 0;
  std::cerr << "tern: user " << args.action << ": " << failed->message << "\n";
  return 1;
}

}  // namespace tern::app
