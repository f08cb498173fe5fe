// Forward and reverse SRS rewriting as libsrs2 does it (srs2.c:
// srs_forward(), srs_compile_guarded(), srs_parse_guarded(),
// srs_parse_shortcut()), with local-part quoting as in local_part.h.
#include "srs/srs.h"

#include <optional>

#include "base/text.h"
#include "srs/codec.h"
#include "srs/local_part.h"

namespace tern::srs {
namespace {

// libsrs2 reads any of these after the tag and writes '='; the fields after
// it are separated by '=' only.
constexpr std::string_view kSeparators = "=+-";

enum class Tag { kNone, kSrs0, kSrs1 };

Tag tag_of(std::string_view local) {
  if (local.size() < 5 || kSeparators.find(local[4]) == std::string_view::npos) return Tag::kNone;
  if (istarts_with(local, "SRS0")) return Tag::kSrs0;
  if (istarts_with(local, "SRS1")) return Tag::kSrs1;
  return Tag::kNone;
}

// Moves the text before the next '=' into `field`; false when there is none.
bool take_field(std::string_view& rest, std::string_view& field) {
  auto end = rest.find('=');
  if (end == std::string_view::npos) return false;
  field = rest.substr(0, end);
  rest.remove_prefix(end + 1);
  return true;
}

struct Address {
  std::string_view local_part;  // as written
  std::string_view domain;
  bool has_domain = false;
};

// A quoted local part may hold '@'; a domain never does, so the last '@'
// separates them unless the local part is quoted and stands alone.
Address split(std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return {text, {}, false};
  auto at = text.rfind('@');
  if (at == std::string_view::npos) return {text, {}, false};
  return {text.substr(0, at), text.substr(at + 1), true};
}

// RFC 3463 X.1.1 "Bad destination mailbox address": to the peer, a forged or
// malformed SRS address is a mailbox that does not exist here. Which check
// failed goes to the log only, so a forger learns nothing from the reply.
Error invalid(std::string detail) { return Error{550, "5.1.1", "Invalid SRS address", std::move(detail)}; }

// RFC 3463 X.1.6 "Destination mailbox has moved, No forwarding address": the
// address was valid once, and mail to it is no longer accepted. Only said of
// addresses whose hash is ours.
Error expired(std::string detail) { return Error{550, "5.1.6", "Expired SRS address", std::move(detail)}; }

// Not the address's fault: RFC 3463 X.3.0, try later.
Error local_failure() { return Error{451, "4.3.0", "Temporary local problem", "HMAC-SHA1 failed"}; }

// SRS1 for an address that is SRS0 or SRS1 at another forwarder; nullopt when
// a malformed SRS1 (then it is rewritten as an ordinary address).
std::optional<std::string> srs1_local(const Srs& srs, Tag tag, std::string_view local, std::string_view domain) {
  std::string_view host = domain;
  std::string_view user = local.substr(4);  // SRS0: from the separator on, which SRS1 keeps
  if (tag == Tag::kSrs1) {
    // Keep the first forwarder and its SRS0 part; only our hash is new.
    std::string_view rest = local.substr(5), old_hash;
    if (!take_field(rest, old_hash) || !take_field(rest, host)) return std::nullopt;
    if (old_hash.empty() || host.empty() || rest.empty()) return std::nullopt;
    user = rest;
  }
  auto hash = make_hash(srs.secret, {host, user});
  if (!hash) return std::nullopt;
  return "SRS1=" + *hash + "=" + std::string(host) + "=" + std::string(user);
}

std::optional<std::string> srs0_local(const Srs& srs, std::string_view local, std::string_view domain,
                                      std::time_t now) {
  auto stamp = make_timestamp(now);
  auto hash = make_hash(srs.secret, {stamp, domain, local});
  if (!hash) return std::nullopt;
  return "SRS0=" + *hash + "=" + stamp + "=" + std::string(domain) + "=" + std::string(local);
}

Result<std::string> reverse_srs0(const Srs& srs, std::string_view rest, std::time_t now) {
  std::string_view hash, stamp, host;
  if (!take_field(rest, hash) || !take_field(rest, stamp) || !take_field(rest, host))
    return invalid("SRS0 address with fewer than four fields");
  if (host.empty() || rest.empty()) return invalid("SRS0 address with an empty domain or local part");
  if (hash.size() < kHashLength) return invalid("SRS0 hash too short");
  auto day = parse_timestamp(stamp);
  if (!day) return invalid("SRS0 timestamp is not two base32 characters");
  auto expected = make_hash(srs.secret, {stamp, host, rest});
  if (!expected) return local_failure();
  if (!hash_matches(hash, *expected)) return invalid("SRS0 hash does not match");
  // Checked after the hash, unlike libsrs2, so that "expired" is only ever
  // said of an address we made.
  auto age = timestamp_age(*day, now);
  auto max_days = srs.max_age.count() / kSecondsPerDay;
  if (age > max_days) {
    return expired("SRS0 timestamp " + std::to_string(age) + " days old, more than " + std::to_string(max_days));
  }
  return quote(rest) + "@" + std::string(host);
}

Result<std::string> reverse_srs1(const Srs& srs, std::string_view rest) {
  std::string_view hash, host;
  if (!take_field(rest, hash) || !take_field(rest, host)) return invalid("SRS1 address with fewer than three fields");
  if (host.empty() || rest.empty()) return invalid("SRS1 address with an empty domain or SRS0 part");
  if (hash.size() < kHashLength) return invalid("SRS1 hash too short");
  auto expected = make_hash(srs.secret, {host, rest});
  if (!expected) return local_failure();
  if (!hash_matches(hash, *expected)) return invalid("SRS1 hash does not match");
  // The SRS0 part has no timestamp of ours: the first forwarder checks its own.
  return quote("SRS0" + std::string(rest)) + "@" + std::string(host);
}

}  // namespace

std::string forward(const Srs& srs, std::string_view sender, std::time_t now) {
  auto address = split(sender);
  if (!address.has_domain || address.local_part.empty() || address.domain.empty()) return std::string(sender);
  // A '=' in the domain would end the SRS domain field early: such an address
  // could not be reversed (only general address literals may hold one).
  if (address.domain.find('=') != std::string_view::npos) return std::string(sender);
  if (iequals(address.domain, srs.domain)) return std::string(sender);
  std::string local = unquote(address.local_part);
  if (local.empty()) return std::string(sender);  // `""@domain`: an SRS user field may not be empty
  std::optional<std::string> rewritten;
  if (auto tag = tag_of(local); tag != Tag::kNone) rewritten = srs1_local(srs, tag, local, address.domain);
  if (!rewritten) rewritten = srs0_local(srs, local, address.domain, now);
  if (!rewritten) return std::string(sender);
  return quote(*rewritten) + "@" + srs.domain;
}

Result<std::string> reverse(const Srs& srs, std::string_view address, std::time_t now) {
  std::string local = unquote(split(address).local_part);
  switch (tag_of(local)) {
    case Tag::kSrs0:
      return reverse_srs0(srs, std::string_view(local).substr(5), now);
    case Tag::kSrs1:
      return reverse_srs1(srs, std::string_view(local).substr(5));
    case Tag::kNone:
      break;
  }
  return invalid("not an SRS address");
}

bool is_srs(std::string_view local_part) { return tag_of(unquote(local_part)) != Tag::kNone; }

}  // namespace tern::srs
