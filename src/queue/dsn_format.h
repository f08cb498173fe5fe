#pragma once
// Text layout for generated messages (DSNs): RFC 5322 dates, folded header
// fields and wrapped text, all with CRLF line ends and no line over 998
// octets, and outside text (remote replies, ORCPT, ENVID) made safe to put
// in a header field.
#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

#include "base/date.h"

namespace tern::queue {

// RFC 5322 2.1.1: lines SHOULD be at most 78 octets and MUST be at most 998,
// both without the CRLF.
inline constexpr std::size_t kSoftLineLimit = 78;
inline constexpr std::size_t kHardLineLimit = 998;

// Appends "Name: value" CRLF, folded (RFC 5322 2.2.3) at spaces to keep lines
// within 78 octets where the words allow. A word longer than 998 octets is
// cut (RFC 5322 has no other way; unfolding puts a space where it was cut).
void append_field(std::string& out, std::string_view name, std::string_view value);

// Appends `text` as lines that begin with `indent`, wrapped at spaces to 76
// octets where the words allow (and cut to 998 where they do not).
void append_wrapped(std::string& out, std::string_view text, std::string_view indent);

// Outside text for one line: controls (CR, LF, TAB, ...) become spaces, runs
// of spaces one space, no space at either end. Octets >= 0x80 stay only when
// `utf8` and the text is valid UTF-8; otherwise each becomes '?'.
std::string clean_text(std::string_view text, bool utf8);

bool has_8bit(std::string_view text);

}  // namespace tern::queue
