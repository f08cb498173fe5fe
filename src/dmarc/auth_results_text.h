#pragma once
// The lexical pieces of Authentication-Results (RFC 8601 2.2, RFC 2045
// 5.1 value, RFC 5322 3.2 comments and quoted strings), for the writer and
// reader in auth_results.cpp. Kept apart so each can be tested alone.
#include <cstddef>
#include <string>
#include <string_view>

namespace tern::dmarc::text {

// Only letters, digits and "-" (RFC 8601 Keyword, an ldh-str) survive;
// the rest is dropped. For names we choose (methods, results, ptypes).
std::string keyword(std::string_view raw);

// Printable text of at most `limit` octets: control characters (CR, LF,
// TAB, NUL, DEL...) and bytes that are not UTF-8 become "?"; the text is
// cut at a character boundary.
std::string printable(std::string_view raw, std::size_t limit);

// A value as RFC 8601 pvalue / RFC 2045 value allow: a token as is,
// "[local-part]@domain" as is, otherwise a quoted-string with "\" and "\""
// escaped. Made printable and cut to kMaxValueLength first.
std::string value(std::string_view raw);

// "(" text ")" with "(", ")" and "\" escaped as quoted-pairs (RFC 5322
// 3.2.2 ctext), made printable and cut to kMaxValueLength.
std::string comment(std::string_view raw);

// RFC 2045 token character, or a UTF-8 octet (RFC 6532 3.2).
bool is_id_char(unsigned char c);

// The index after any white space, line ends and (nested) comments from
// `i`; body.size() + 1 when a comment is not closed.
std::size_t skip_cfws(std::string_view body, std::size_t i);

// A quoted-string starting at body[i] == '"': its content unescaped (line
// ends of folding removed) into `out`, `i` moved past it. False when not
// closed.
bool read_quoted(std::string_view body, std::size_t& i, std::string& out);

}  // namespace tern::dmarc::text
