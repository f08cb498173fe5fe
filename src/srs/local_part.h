#pragma once
// Local parts in and out of SRS addresses. libsrs2 pastes the local part in
// as written, so `"a b"@example.org` becomes `SRS0=...=example.org="a b"@...`,
// which is no valid address (libsrs2 issue #5) and could never be bounced to.
// Here the SRS fields use the local part's content, and the SRS local part is
// quoted when it is no dot-string, as that issue proposes:
// `"SRS0=...=example.org=a b"@...`. Dot-string local parts, nearly all of
// them, come out as with libsrs2, hash and all.
#include <string>
#include <string_view>

namespace tern::srs {

// The content of a quoted-string local part (RFC 5321 4.1.2: `"a\"b"` is
// `a"b`); anything else, malformed quoting included, as it is.
std::string unquote(std::string_view local_part);

// `content` as a local part: itself when a Dot-string (RFC 5321 4.1.2; octets
// above 127 count as atext, RFC 6531 3.3), else a Quoted-string with '"' and
// '\' escaped.
std::string quote(std::string_view content);

}  // namespace tern::srs
