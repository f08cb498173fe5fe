#include "app/dkim_command.h"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/text.h"
#include "dkim/keygen.h"

namespace tern::app {
namespace {

// A DNS label or a dotted name of them (RFC 6376 3.1 selectors, domains).
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    char c = i < name.size() ? name[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

// The record as zone-file character-strings of at most 255 octets each
// (RFC 1035 3.3.14; DKIM joins them with nothing between, RFC 6376 3.6.2.2).
std::string zone_strings(std::string_view record) {
  std::string out;
  for (std::size_t at = 0; at < record.size(); at += 250) {
    out += fmt::format("{}\"{}\"", out.empty() ? "" : "\n\t", record.substr(at, 250));
  }
  return out;
}

bool write_new_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "tern: dkim keygen: " << path << ": " << std::strerror(errno)
              << (errno == EEXIST ? " (a key is never overwritten)" : "") << "\n";
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) std::cerr << "tern: dkim keygen: " << path << ": cannot write the key\n";
  return ok;
}

}  // namespace

void add_dkim_command(CLI::App& app, DkimArgs& args) {
  auto* dkim = app.add_subcommand("dkim", "DKIM signing keys");
  dkim->require_subcommand(1);
  auto* keygen = dkim->add_subcommand("keygen", "Write a new DKIM key and print its DNS TXT record");
  keygen->add_option("domain", args.domain, "The signing domain (d=)")->required();
  keygen->add_option("selector", args.selector, "The selector (s=), e.g. s2026")->required();
  keygen->add_option("--type", args.type, "rsa (2048 bits) or ed25519 (RFC 8463)")
      ->check(CLI::IsMember({"rsa", "ed25519"}));
  keygen->add_option("--bits", args.bits, "RSA key length (1024-4096)")->check(CLI::Range(1024, 4096));
  keygen->add_option("--out,-o", args.out, "Where to write the key; default DOMAIN.SELECTOR.pem here");
  keygen->callback([&args] { args.keygen = true; });
}

int run_dkim_command(const DkimArgs& args) {
  auto domain = to_lower(args.domain);
  if (!is_dns_name(domain) || !is_dns_name(args.selector)) {
    std::cerr << "tern: dkim keygen: the domain and the selector must be DNS names\n";
    return 1;
  }
  auto key = dkim::generate_key(args.type == "ed25519" ? dkim::KeyType::kEd25519 : dkim::KeyType::kRsa, args.bits);
  if (!key) {
    std::cerr << "tern: dkim keygen: " << key.error().text << "\n";
    return 1;
  }
  auto path = args.out.empty() ? fmt::format("{}.{}.pem", domain, args.selector) : args.out;
  if (!write_new_file(path, key->private_pem)) return 1;
  // The config lines name it absolutely: tern reads keys from its own
  // working directory, not this one.
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  if (!ec) path = absolute.lexically_normal().string();
  std::cout << "; the key is in " << path << " (mode 0600): keep it readable by tern only\n"
            << "; publish this TXT record:\n"
            << fmt::format("{}._domainkey.{}. IN TXT ( {} )\n", args.selector, domain, zone_strings(key->dns_record))
            << "; and sign with it (tern.toml; [[dkim.\"" << domain << "\"]] for several selectors):\n"
            << fmt::format("[dkim.\"{}\"]\nselector = \"{}\"\nkey = \"{}\"\n", domain, args.selector, path);
  return 0;
}

}  // namespace tern::app
