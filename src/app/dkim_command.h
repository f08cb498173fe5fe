#pragma once
// `tern dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--out FILE]`:
// writes a new DKIM private key (mode 0600, never over an existing file)
// and prints the TXT record to publish at SELECTOR._domainkey.DOMAIN and
// the [dkim."DOMAIN"] lines that use the key.
#include <string>

namespace CLI {
class App;
}

namespace tern::app {

struct DkimArgs {
  bool keygen = false;  // `dkim keygen` was given
  std::string domain;
  std::string selector;
  std::string type = "rsa";
  int bits = 2048;
  std::string out;  // default: DOMAIN.SELECTOR.pem in the current directory
};

void add_dkim_command(CLI::App& app, DkimArgs& args);
// Returns the exit status: 0, or 1 after one line on stderr.
int run_dkim_command(const DkimArgs& args);

}  // namespace tern::app
