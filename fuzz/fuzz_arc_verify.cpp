// Bytes as a message through the ARC verifier, every key query answered
// with one fixed RSA and one Ed25519 record: no crash, and the result must
// not depend on where the message is cut. When the chain is none or pass,
// the message is sealed with that status (an Ed25519 test key, the one in
// src/arc/testdata) and must then pass, one instance longer. Not yet in
// fuzz/CMakeLists.txt (links tern_arc).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "arc/sealer.h"
#include "arc/verifier.h"

namespace {

using namespace tern;

constexpr std::string_view kRsaRecord =
    "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjx"
    "OCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWTo"
    "IMmPSPDdQPNUYckcQ2QIDAQAB";
constexpr std::string_view kEd25519Record = "v=DKIM1; k=ed25519; p=mMyB93OgIq+6Hwl1TEyvLgQG8/riJh/CaauNWcEl72A=";
constexpr std::string_view kEd25519Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIGeOLRIl2eiAk5nlFQmtx1nUIJcpy17eyDHJkRGIIIo5\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::size_t kMaxHeader = 8192;

arc::ChainResult verify(std::string_view message, std::size_t split) {
  arc::Verifier v({.max_header_bytes = kMaxHeader});
  v.feed(message.substr(0, split));
  v.feed(message.substr(split));
  v.finish();
  arc::KeyAnswers keys;
  for (const auto& name : v.key_queries()) {
    keys[name] = dkim::KeyAnswer::found({std::string(kRsaRecord), std::string(kEd25519Record)});
  }
  return v.verify(keys, 1700000000);
}

const arc::Sealer& sealer() {
  static const arc::Sealer s = *arc::Sealer::create({.domain = "fuzz.example", .selector = "ed"}, kEd25519Pem);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view message(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t split = data[0] % (message.size() + 1);
  auto whole = verify(message, message.size());
  auto cut = verify(message, split);
  if (whole.status != cut.status || whole.reason != cut.reason || whole.oldest_pass != cut.oldest_pass ||
      whole.instances != cut.instances) {
    __builtin_trap();
  }
  if (whole.status == arc::ChainStatus::kFail || whole.instances >= arc::kMaxInstances) return 0;
  // The sealed message keeps its header section within what the verifier
  // reads (a seal adds about 1 KiB).
  arc::MessageSealer m(sealer(), kMaxHeader);
  m.feed(message);
  auto set = m.finish({.chain = whole.status, .authentication_results = "fuzz.example; none", .now = 1700000000});
  if (!set) return 0;  // a header section too large
  if (set->instance != whole.instances + 1) __builtin_trap();
  std::string sealed;
  for (const auto& f : set->fields) sealed += f;
  sealed.append(message);
  auto again = verify(sealed, sealed.size());
  if (again.status != arc::ChainStatus::kPass && again.reason.find("header section over") == std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
