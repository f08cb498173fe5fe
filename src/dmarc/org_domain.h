#pragma once
// Organizational domains (RFC 7489 3.2) from the Public Suffix List, and
// identifier alignment (RFC 7489 3.1). Pure apart from reading the list
// once (libpsl: the newer of its built-in copy and the system's).
#include <string>
#include <string_view>

#include "dmarc/record.h"

namespace tern::dmarc {

// Lower case (ASCII letters; DNS names compare case-insensitively,
// RFC 4343) without one trailing root dot.
std::string normalize_domain(std::string_view domain);

// RFC 7489 3.2: the public suffix plus one label ("mail.example.co.uk" →
// "example.co.uk"), normalized. A name that is itself a public suffix, or
// that the list cannot judge, is its own organizational domain.
std::string organizational_domain(std::string_view domain);

// RFC 7489 3.1.1/3.1.2: strict needs the same name; relaxed the same
// organizational domain. Labels are compared, never string suffixes.
bool aligned(std::string_view from_domain, std::string_view authenticated_domain, AlignmentMode mode);

}  // namespace tern::dmarc
