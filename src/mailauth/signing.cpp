#include "mailauth/signing.h"

#include <fmt/format.h>

#include "base/text.h"
#include "dmarc/from_header.h"

namespace tern::mailauth {

Result<std::shared_ptr<const SigningKeys>> SigningKeys::load(const std::vector<config::DkimKey>& keys) {
  auto out = std::make_shared<SigningKeys>();
  for (const auto& k : keys) {
    auto signer = dkim::Signer::load({.domain = k.domain, .selector = k.selector}, k.key);
    if (!signer) {
      const auto& e = signer.error();
      return Error{0, "", fmt::format("'dkim.{}' (selector {}): {}: {}", k.domain, k.selector, k.key,
                                      e.detail.empty() ? e.text : e.detail), ""};
    }
    out->by_domain_[k.domain].push_back(std::move(signer.value()));
  }
  return std::shared_ptr<const SigningKeys>(std::move(out));
}

std::vector<const dkim::Signer*> SigningKeys::for_domain(std::string_view domain) const {
  while (true) {
    if (auto found = by_domain_.find(domain); found != by_domain_.end()) {
      std::vector<const dkim::Signer*> out;
      for (const auto& signer : found->second) out.push_back(&signer);
      return out;
    }
    auto dot = domain.find('.');
    if (dot == std::string_view::npos) return {};
    domain.remove_prefix(dot + 1);
  }
}

void MessageSigning::feed(std::string_view content) {
  if (decided_) {
    if (signer_) signer_->feed(content);
    return;
  }
  auto header = headers_.feed(content);
  header_bytes_.append(content.substr(0, header));
  if (!headers_.complete() && !headers_.overflowed()) return;
  start_signing();
  if (signer_) signer_->feed(content.substr(header));
}

// The header section is complete: its From decides which keys sign.
void MessageSigning::start_signing() {
  decided_ = true;
  auto header = std::exchange(header_bytes_, {});
  if (headers_.overflowed()) return;
  std::vector<std::string_view> from;
  for (const auto& field : headers_.fields()) {
    if (!iequals(field.name, "From")) continue;
    auto body = field.text.substr(std::min(field.text.size(), field.text.find(':') + 1));
    while (body.ends_with("\r\n")) body.remove_suffix(2);
    from.push_back(body);
  }
  auto domain = dmarc::from_domain(from);
  if (!domain) return;
  auto signers = keys_.for_domain(*domain);
  if (signers.empty()) return;
  domain_ = signers.front()->options().domain;  // d=: the From domain or a parent
  signer_.emplace(std::move(signers));
  signer_->feed(header);
}

Result<std::string> MessageSigning::finish(std::int64_t now) {
  if (!decided_) {
    headers_.finish();  // a message that is all header
    start_signing();
  }
  if (!signer_) return std::string();
  auto fields = signer_->finish(now);
  if (!fields) return fields.error();
  std::string out;
  for (const auto& field : *fields) out += field;
  return out;
}

}  // namespace tern::mailauth
