#include "app/sendmail.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/text.h"
#include "config/config.h"
#include "proto/address_list.h"
#include "proto/maildrop.h"
#include "proto/sendmail_input.h"

namespace tern::app {
namespace {

constexpr const char* kDefaultConfig = "/etc/tern/tern.toml";

// A failure: the exit status and its one line for standard error.
struct Failure {
  int status;
  std::string reason;
};

struct Options {
  bool extract = false;      // -t
  bool ignore_dots = false;  // -i, -oi
  std::optional<std::string> sender;  // -f, -r
  std::string full_name;              // -F
  std::string config_path;            // -C
  std::vector<std::string> recipients;
};

// Options that take a value: attached (-fADDR) or the next argument (-f ADDR).
bool takes_value(char c) { return std::string_view("fFrCBNRVhLOXbo").find(c) != std::string_view::npos; }

std::optional<Failure> apply_value(Options& options, char c, const std::string& value) {
  switch (c) {
    case 'f': case 'r': options.sender = value; break;
    case 'F': options.full_name = value; break;
    case 'C': options.config_path = value; break;
    case 'o':
      // -oi: dots do not end the message; -oem, -odi, -odb, -oQ...: sendmail's
      // own settings, which mean nothing here.
      if (value == "i") options.ignore_dots = true;
      break;
    case 'b':
      if (value != "m") return Failure{EX_USAGE, "mode -b" + value + " is not supported (only -bm)"};
      break;
    case 'B':
      if (!iequals(value, "7BIT") && !iequals(value, "8BITMIME")) {
        return Failure{EX_USAGE, "-B takes 7BIT or 8BITMIME"};
      }
      break;  // the pickup looks at the octets itself
    default: break;  // -N -R -V (DSN), -h, -L, -O, -X: accepted and ignored
  }
  return std::nullopt;
}

// sendmail's command line: flags may be grouped (-ti), options anywhere
// before "--", the rest are recipients (each may be a list: "a, b").
std::optional<Failure> parse_options(int argc, char** argv, Options& options) {
  bool options_ended = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      options.recipients.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    for (std::size_t j = 1; j < arg.size(); ++j) {
      char c = arg[j];
      if (takes_value(c)) {
        std::string value;
        if (j + 1 < arg.size()) {
          value = arg.substr(j + 1);
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          return Failure{EX_USAGE, std::string("option -") + c + " needs a value"};
        }
        if (auto failed = apply_value(options, c, value)) return failed;
        break;
      }
      if (c == 't') {
        options.extract = true;
      } else if (c == 'i') {
        options.ignore_dots = true;
      } else if (std::string_view("vmnUG").find(c) == std::string_view::npos) {
        return Failure{EX_USAGE, std::string("unknown option -") + c};
      }
    }
  }
  return std::nullopt;
}

// An address as the envelope will carry it: a local name without a domain
// gets "@hostname" (as sendmail and Postfix's myorigin do).
Result<proto::Mailbox> envelope_address(std::string address, const std::string& hostname, bool sender) {
  if (address.find('@') == std::string::npos) address += "@" + hostname;
  auto parsed = proto::parse_path("<" + address + ">", {.smtputf8 = true, .reverse_path = sender});
  if (!parsed || !parsed->rest.empty()) return Error{501, "5.1.3", "Bad address syntax", address};
  return parsed->path.mailbox;
}

std::optional<Failure> add_recipients(std::vector<proto::HeaderAddress> addresses, const std::string& hostname,
                                      std::vector<proto::Mailbox>& out, std::set<std::string>& seen) {
  for (auto& address : addresses) {
    auto mailbox = envelope_address(address.address(), hostname, false);
    if (!mailbox) return Failure{EX_USAGE, "bad recipient address: " + mailbox.error().detail};
    // One copy per recipient (Postfix's cleanup drops duplicates too).
    if (!seen.insert(mailbox->local_part + "@" + to_lower(mailbox->domain)).second) continue;
    if (out.size() == proto::kMaxMaildropRecipients) {
      return Failure{EX_USAGE, "too many recipients (at most " + std::to_string(proto::kMaxMaildropRecipients) + ")"};
    }
    out.push_back(std::move(*mailbox));
  }
  return std::nullopt;
}

Result<proto::Path> sender_path(const Options& options, const std::string& hostname) {
  proto::Path path;
  if (options.sender) {
    std::string text = *options.sender;
    if (text.size() >= 2 && text.front() == '<' && text.back() == '>') text = text.substr(1, text.size() - 2);
    if (text.empty()) {
      path.null = true;  // -f '<>' or -f '': bounces go nowhere
      return path;
    }
    auto mailbox = envelope_address(text, hostname, true);
    if (!mailbox) return Error{501, "5.1.7", "", "bad sender address: " + mailbox.error().detail};
    path.mailbox = std::move(*mailbox);
    return path;
  }
  auto* pw = ::getpwuid(::getuid());
  if (pw == nullptr) return Error{451, "4.3.0", "", "no user name for uid " + std::to_string(::getuid()) + ": use -f"};
  auto mailbox = envelope_address(pw->pw_name, hostname, true);
  if (!mailbox) return Error{501, "5.1.7", "", "bad sender address: " + mailbox.error().detail};
  path.mailbox = std::move(*mailbox);
  return path;
}

Result<config::Config> load_config(const Options& options) {
  std::string path = options.config_path;
  if (path.empty()) {
    const char* env = std::getenv("TERN_CONFIG");
    path = env != nullptr && *env != '\0' ? env : kDefaultConfig;
  }
  auto config = config::load_file(path);
  if (!config) return Error{451, "4.3.0", "", "config " + config.error().text};
  if (config->data_dir.empty() || config->data_dir.front() != '/') {
    return Error{451, "4.3.0", "", "config " + path + ": data_dir must be an absolute path"};
  }
  return config;
}

Result<void> read_message(proto::SendmailInput& input) {
  char buffer[65536];
  while (true) {
    auto n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{451, "4.3.0", "", std::string("cannot read standard input: ") + std::strerror(errno)};
    if (n == 0 || !input.feed(std::string_view(buffer, static_cast<std::size_t>(n)))) break;
  }
  return input.finish();
}

std::string random_name() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) std::abort();  // the kernel has had getrandom since 3.17
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (auto b : bytes) {
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return name;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The directory entry made durable. Others may not read maildrop/, so a
// caller who is not its owner cannot open it to fsync it: syncfs() on the
// file then syncs the whole file system, the entry included.
bool sync_directory(const std::string& dir, int file_fd) {
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return errno == EACCES && ::syncfs(file_fd) == 0;
  bool ok = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  return ok;
}

// maildrop/<random>.tmp written and synced, renamed to maildrop/<random>
// (the pickup ignores *.tmp), and the rename synced.
std::optional<Failure> drop(const std::string& dir, std::string_view envelope, std::string_view message) {
  auto name = dir + "/" + random_name();
  auto tmp = name + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) {
    int err = errno;
    std::string hint = err == ENOENT ? " (has tern been started with this data_dir?)" : "";
    return Failure{EX_TEMPFAIL, "cannot create a file in " + dir + ": " + std::strerror(err) + hint};
  }
  std::string failed;
  // The group (the directory's, by its setgid bit) is the server's: it
  // reads the file; others may not, whatever the caller's umask.
  if (::fchmod(fd, 0640) != 0) failed = "fchmod";
  else if (!write_all(fd, envelope) || !write_all(fd, message)) failed = "write";
  else if (::fsync(fd) != 0) failed = "fsync";
  else if (::rename(tmp.c_str(), name.c_str()) != 0) failed = "rename";
  else if (!sync_directory(dir, fd)) failed = "sync of " + dir;
  int err = errno;
  ::close(fd);
  if (failed.empty()) return std::nullopt;
  ::unlink(tmp.c_str());
  if (failed.starts_with("sync")) ::unlink(name.c_str());
  return Failure{EX_TEMPFAIL, "cannot queue the message: " + failed + ": " + std::strerror(err)};
}

int fail(const Failure& failure) {
  std::cerr << "sendmail: " << failure.reason << "\n";
  return failure.status;
}

int run(int argc, char** argv) {
  Options options;
  if (auto failed = parse_options(argc, argv, options)) return fail(*failed);
  if (!options.full_name.empty() && !proto::is_valid_full_name(options.full_name)) {
    return fail({EX_USAGE, "bad full name (-F): control characters, bad UTF-8 or too long"});
  }
  auto config = load_config(options);
  if (!config) return fail({EX_TEMPFAIL, config.error().detail});
  const auto& hostname = config->hostname;

  proto::MaildropEnvelope envelope;
  auto sender = sender_path(options, hostname);
  if (!sender) return fail({sender.error().permanent() ? EX_USAGE : EX_TEMPFAIL, sender.error().detail});
  envelope.sender = std::move(*sender);
  envelope.full_name = options.full_name;
  std::set<std::string> seen;
  for (const auto& arg : options.recipients) {
    auto list = proto::parse_address_list(arg, {.allow_local_only = true,
                                                .max_addresses = proto::kMaxMaildropRecipients});
    if (!list) return fail({EX_USAGE, "bad recipient address: " + arg});
    if (auto failed = add_recipients(std::move(*list), hostname, envelope.recipients, seen)) return fail(*failed);
  }
  if (!options.extract && envelope.recipients.empty()) return fail({EX_USAGE, "no recipients given"});

  proto::SendmailInput input({.dot_ends = !options.ignore_dots,
                              .extract_recipients = options.extract,
                              .max_size = config->limits.max_message_size,
                              .max_recipients = proto::kMaxMaildropRecipients});
  if (auto read = read_message(input); !read) {
    const auto& e = read.error();
    int status = e.code == 552 ? EX_DATAERR : e.permanent() ? EX_USAGE : EX_TEMPFAIL;
    return fail({status, e.code == 552 ? "message larger than limits.max_message_size ("
                                            + std::to_string(config->limits.max_message_size) + " octets)"
                         : e.code == 501 ? "bad address in a To, Cc or Bcc field"
                                         : e.detail});
  }
  if (auto failed = add_recipients(input.recipients(), hostname, envelope.recipients, seen)) return fail(*failed);
  if (envelope.recipients.empty()) return fail({EX_USAGE, "no recipients in To, Cc or Bcc"});

  auto failed = drop(config->data_dir + "/maildrop", proto::serialize_maildrop_envelope(envelope), input.message());
  return failed ? fail(*failed) : EX_OK;
}

}  // namespace

int sendmail_main(int argc, char** argv) { return run(argc, argv); }

}  // namespace tern::app
