// DMARC records (RFC 7489 6.3/6.4, as read from TXT at _dmarc) and the
// Authentication-Results reader (RFC 8601: the authserv-id the server
// compares with its own) and writer. Besides crashes: the parser's
// outcome and record agree with each other, and the writer never lets a
// line end or control character through from its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dmarc/auth_results.h"
#include "dmarc/record.h"

namespace {

void check_record(std::string_view text) {
  using tern::dmarc::RecordOutcome;
  auto parsed = tern::dmarc::parse_record(text);
  const auto& r = parsed.record;
  if (parsed.usable()) {
    if (r.pct < 0 || r.pct > 100) std::abort();
    if (r.rua.size() > tern::dmarc::kMaxReportUris || r.ruf.size() > tern::dmarc::kMaxReportUris) std::abort();
    if (r.fo.empty() || r.rf.empty()) std::abort();
  }
  if (parsed.outcome == RecordOutcome::kValidAsPNone &&
      (r.rua.empty() || r.p != tern::dmarc::Policy::kNone || r.sp != tern::dmarc::Policy::kNone)) {
    std::abort();
  }
}

void check_authentication_results(std::string_view text) {
  auto id = tern::dmarc::authserv_id(text);
  if (id && id->empty()) std::abort();
  (void)tern::dmarc::claims_authserv_id(text, "mx.example.test");
  (void)tern::dmarc::is_authentication_results(text);

  std::string value(text);
  auto field = tern::dmarc::format_authentication_results(
      value, {tern::dmarc::spf_result("pass", value, value, value),
              tern::dmarc::dkim_result("fail", {.d = value, .i = value, .s = value, .a = value, .b = value}),
              tern::dmarc::dmarc_result("fail", value, value, value)});
  // Line ends only as CRLF TAB (our folds) and the final CRLF.
  for (std::size_t i = 0; i < field.size(); ++i) {
    auto c = static_cast<unsigned char>(field[i]);
    if (c == '\r' && !(i + 1 < field.size() && field[i + 1] == '\n' && (i + 2 == field.size() || field[i + 2] == '\t'))) {
      std::abort();
    }
    if (c == '\n' && field[i - 1] != '\r') std::abort();
    if (c == '\t' && field[i - 1] != '\n') std::abort();
    if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f) std::abort();
  }
  // What we write, we read back as our own.
  auto ours = tern::dmarc::format_authentication_results("mx.example.test", {});
  if (!tern::dmarc::claims_authserv_id(std::string_view(ours).substr(ours.find(':') + 1), "mx.example.test")) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_record(text);
  check_authentication_results(text);
  return 0;
}
