#include "dmarc/org_domain.h"

#include <libpsl.h>

namespace tern::dmarc {
namespace {

// Loaded once and kept for the life of the process: the list is a few
// hundred KB and immutable (a reload would need a restart).
const psl_ctx_t* suffix_list() {
  static const psl_ctx_t* const list = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest != nullptr ? latest : psl_builtin();
  }();
  return list;
}

}  // namespace

std::string normalize_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string organizational_domain(std::string_view domain) {
  std::string name = normalize_domain(domain);
  // A NUL would cut the name short for the C API and judge another one.
  if (name.empty() || name.find('\0') != std::string::npos) return name;
  const psl_ctx_t* list = suffix_list();
  const char* registrable = list != nullptr ? psl_registrable_domain(list, name.c_str()) : nullptr;
  return registrable != nullptr ? std::string(registrable) : name;
}

bool aligned(std::string_view from_domain, std::string_view authenticated_domain, AlignmentMode mode) {
  std::string from = normalize_domain(from_domain);
  std::string authenticated = normalize_domain(authenticated_domain);
  if (from.empty() || authenticated.empty()) return false;
  if (from == authenticated) return true;
  if (mode == AlignmentMode::kStrict) return false;
  return organizational_domain(from) == organizational_domain(authenticated);
}

}  // namespace tern::dmarc
