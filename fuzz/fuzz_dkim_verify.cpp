// Bytes as a message through the DKIM verifier, every signature checked
// against one fixed RSA key record (RFC 6376 Appendix A's) and an Ed25519
// one: no crash, and the results must not depend on where the message is cut.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/verifier.h"

namespace {

constexpr std::string_view kRsaRecord =
    "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjx"
    "OCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWTo"
    "IMmPSPDdQPNUYckcQ2QIDAQAB";
constexpr std::string_view kEd25519Record =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

std::vector<std::string> results(std::string_view message, std::size_t split) {
  tern::dkim::Verifier v({.max_header_bytes = 4096, .max_signatures = 4});
  v.feed(message.substr(0, split));
  v.feed(message.substr(split));
  v.finish();
  auto key = tern::dkim::KeyAnswer::found({std::string(kRsaRecord), std::string(kEd25519Record)});
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.signature_count(); ++i) {
    auto r = v.verify(i, key, 1700000000);
    out.push_back(std::string(tern::dkim::status_name(r.status)) + r.reason + r.domain + r.b_prefix);
  }
  for (const auto& name : v.key_queries()) out.push_back(name);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = data[0] % (message.size() + 1);
  if (results(message, message.size()) != results(message, split)) __builtin_trap();
  return 0;
}
