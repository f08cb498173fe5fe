// SPF records and macro strings as a TXT record could hold them (RFC 7208
// 4.5, 4.6.1, 7): the record parser, the macro expander in each use, and the
// name rules. Besides crashes it checks that the pieces agree: a record that
// parses has domain-specs that expand, and an expansion only succeeds on a
// valid macro-string.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "spf/macro.h"
#include "spf/record.h"

namespace {

using tern::spf::MacroContext;
using tern::spf::MacroUse;

const MacroContext& context() {
  static const MacroContext c = {
      .sender = "~Jack&Jill=up-a_b3.c@email.example.com",
      .local_part = "~Jack&Jill=up-a_b3.c",
      .sender_domain = "email.example.com",
      .domain = "email.example.com",
      .ip = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
      .validated = "mx.example.org",
      .ip_version = "ip6",
      .helo = "JUMPIN' JUPITER",
      .client_ip = "2001:db8::cb01",
      .receiver = "mx.example.net",
      .timestamp = 1400000000,
  };
  return c;
}

void check_macros(std::string_view text) {
  for (auto use : {MacroUse::kDomainSpec, MacroUse::kExplanation, MacroUse::kModifier}) {
    auto expanded = tern::spf::expand(text, context(), use);
    if (expanded.has_value() != tern::spf::valid_macro_string(text, use)) __builtin_trap();
    if (expanded) {
      auto name = tern::spf::target_name(*expanded);
      if (name && name->size() > 253) __builtin_trap();
    }
  }
  if (tern::spf::valid_domain_spec(text) && !tern::spf::valid_macro_string(text, MacroUse::kDomainSpec)) {
    __builtin_trap();
  }
  (void)tern::spf::uses_validated_name(text);
  (void)tern::spf::valid_check_domain(text);
}

void check_record(std::string_view text) {
  auto record = tern::spf::parse_record(text);
  if (!record) return;
  for (const auto& m : record->mechanisms) {
    if (m.domain_spec.empty()) continue;
    auto expanded = tern::spf::expand(m.domain_spec, context(), MacroUse::kDomainSpec);
    if (!expanded) __builtin_trap();
    (void)tern::spf::target_name(*expanded);
  }
  for (const auto* spec : {&record->redirect, &record->exp}) {
    if (*spec && !tern::spf::expand(**spec, context(), MacroUse::kDomainSpec)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tern::spf::is_spf_record(text);
  check_record(text);
  // Most inputs lack the version: parse them as the terms of a record too.
  check_record("v=spf1 " + std::string(text));
  check_macros(text);
  return 0;
}
