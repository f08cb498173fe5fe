// MAIL and RCPT parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT) and xtext.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/esmtp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tern::proto::parse_mail_parameters(text);
  (void)tern::proto::parse_rcpt_parameters(text);
  if (auto decoded = tern::proto::decode_xtext(text)) {
    if (tern::proto::decode_xtext(tern::proto::encode_xtext(*decoded)) != decoded) __builtin_trap();
  }
  return 0;
}
