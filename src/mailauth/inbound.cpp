#include "mailauth/inbound.h"

#include <fmt/format.h>

#include "base/text.h"
#include "dmarc/auth_results.h"
#include "dmarc/evaluate.h"
#include "dmarc/from_header.h"
#include "dmarc/policy_lookup.h"

namespace tern::mailauth {

namespace asio = boost::asio;

namespace {

// RFC 6376 3.6.2.2: a key record is a TXT record; a name that does not
// exist or has none means "no key" (a permanent failure of the signature).
dkim::KeyAnswer key_answer(const dns::Answer& answer) {
  switch (answer.status) {
    case dns::Status::kOk: return dkim::KeyAnswer::found(answer.texts);
    case dns::Status::kNoData:
    case dns::Status::kNxDomain: return dkim::KeyAnswer::not_found();
    case dns::Status::kTempFail: break;
  }
  return dkim::KeyAnswer::temp_fail();
}

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? address : address.substr(at + 1);
}

// The bodies of the message's From fields (RFC 7489 6.6.1).
std::vector<std::string_view> from_bodies(const std::vector<dkim::HeaderField>& fields) {
  std::vector<std::string_view> out;
  for (const auto& f : fields) {
    if (!iequals(f.name, "From")) continue;
    auto body = f.text.substr(std::min(f.text.size(), f.text.find(':') + 1));
    while (body.ends_with("\r\n")) body.remove_suffix(2);
    out.push_back(body);
  }
  return out;
}

}  // namespace

InboundChecks::InboundChecks(const InboundOptions& options, dns::Lookup& dns, asio::ip::address client)
    : options_(options), dns_(dns), client_(std::move(client)), random_(std::random_device{}()) {}

asio::awaitable<void> InboundChecks::check_sender(std::string helo, std::string mail_from) {
  helo_ = std::move(helo);
  mail_from_ = std::move(mail_from);
  spf_.reset();
  if (!options_.spf.verify) co_return;
  dns_.set_deadline(std::chrono::steady_clock::now() + options_.timeout);
  auto request = spf::mail_from_request(client_, mail_from_, helo_, options_.authserv_id,
                                        std::chrono::system_clock::now());
  auto outcome = co_await spf::check_host(dns_, request);
  spf_ = std::move(outcome);
  // RFC 7208 2.3: the HELO identity too (it is the MAIL FROM one for <>),
  // once per HELO name; an address literal has no SPF record.
  if (mail_from_.empty() || helo_.empty() || helo_.front() == '[') {
    helo_spf_.reset();
    checked_helo_.clear();
    co_return;
  }
  if (checked_helo_ == helo_ && helo_spf_) co_return;
  auto helo_request = spf::helo_request(client_, helo_, options_.authserv_id, std::chrono::system_clock::now());
  auto helo_outcome = co_await spf::check_host(dns_, helo_request);
  helo_spf_ = std::move(helo_outcome);
  checked_helo_ = helo_;
}

void InboundChecks::begin_message() {
  verifier_.reset();
  headers_.reset();
  arc_.reset();
  if (options_.dkim) verifier_.emplace();
  if (options_.arc) arc_.emplace();
  headers_.emplace(256 * 1024);  // From: DMARC's, and from_domain()'s
}

std::optional<std::string> InboundChecks::from_domain() {
  if (!headers_) return std::nullopt;
  headers_->finish();
  auto from = dmarc::from_domain(from_bodies(headers_->fields()));
  if (!from) return std::nullopt;
  return *from;
}

void InboundChecks::feed(std::string_view content) {
  if (verifier_) verifier_->feed(content);
  if (arc_) arc_->feed(content);
  if (headers_ && !headers_->complete()) headers_->feed(content);
}

asio::awaitable<std::vector<dkim::SignatureResult>> InboundChecks::verify_dkim(std::time_t now) {
  std::vector<dkim::SignatureResult> results;
  if (!verifier_) co_return results;
  verifier_->finish();
  for (std::size_t i = 0; i < verifier_->signature_count(); ++i) {
    dkim::KeyAnswer key;
    if (auto name = verifier_->key_query(i)) {
      auto answer = co_await dns_.lookup(*name, dns::RecordType::kTxt);
      key = key_answer(answer);
    }
    results.push_back(verifier_->verify(i, key, now));
  }
  co_return results;
}

// RFC 8617 5.2: the arriving chain, for arc= (10.2) with the client's
// address and the oldest instance that still passes. Annotation only.
asio::awaitable<std::optional<arc::ChainResult>> InboundChecks::verify_arc(std::time_t now) {
  if (!arc_) co_return std::nullopt;
  arc_->finish();
  arc::KeyAnswers keys;
  for (const auto& name : arc_->key_queries()) {
    auto answer = co_await dns_.lookup(name, dns::RecordType::kTxt);
    keys[name] = key_answer(answer);
  }
  co_return arc_->verify(keys, now);
}

// RFC 7208 8.4 with RFC 7372's code; 8.6: a temporary error may defer.
std::optional<Error> InboundChecks::spf_action() const {
  if (!spf_) return std::nullopt;
  if (spf_->result == spf::Result::kFail && options_.spf.action_fail == config::Action::kReject) {
    return Error{550, "5.7.23", "SPF validation failed: " + spf_->explanation, "spf=fail " + spf_->detail};
  }
  if (helo_spf_ && helo_spf_->result == spf::Result::kFail && options_.spf.action_fail == config::Action::kReject) {
    return Error{550, "5.7.23", "SPF validation of the HELO name failed: " + helo_spf_->explanation,
                 "spf=fail (helo) " + helo_spf_->detail};
  }
  if (spf_->result == spf::Result::kTempError && options_.spf.action_temperror == config::Action::kDefer) {
    return Error{451, "4.7.24", "SPF validation error, try again later", "spf=temperror " + spf_->detail};
  }
  return std::nullopt;
}

asio::awaitable<Verdict> InboundChecks::finish(std::time_t now, bool enforce_dmarc) {
  dns_.set_deadline(std::chrono::steady_clock::now() + options_.timeout);
  Verdict verdict;
  std::vector<dmarc::MethodResult> results;
  std::string spf_name = "none";
  if (spf_) {
    spf_name = std::string(spf::to_string(spf_->result));
    results.push_back(dmarc::spf_result(spf_name, mail_from_, mail_from_.empty() ? helo_ : "", spf_->detail));
  }

  auto signatures = co_await verify_dkim(now);
  // The log names the best result: pass when one signature passed, else
  // the first signature's.
  std::string dkim_name = signatures.empty() ? "none" : std::string(dkim::status_name(signatures.front().status));
  dmarc::Identifiers ids;
  for (const auto& s : signatures) {
    auto status = dkim::status_name(s.status);
    results.push_back(dmarc::dkim_result(status, {s.domain, s.identity, s.selector, s.algorithm, s.b_prefix}, s.reason));
    ids.dkim.push_back({s.status == dkim::Status::kPass, s.domain});
    if (s.status == dkim::Status::kPass) dkim_name = "pass";
  }
  if (verifier_ && signatures.empty()) results.push_back({"dkim", "none", "", "", {}});
  auto chain = co_await verify_arc(now);

  std::string dmarc_name = "-";
  std::optional<Error> dmarc_error;
  if (options_.dmarc.verify && headers_) {
    headers_->finish();
    auto from = dmarc::from_domain(from_bodies(headers_->fields()));
    if (!from) {
      dmarc_name = "permerror";
      results.push_back({"dmarc", "permerror", from.error().detail, "", {}});
    } else {
      auto discovery = co_await dmarc::lookup_policy(dns_, *from);
      ids.from_domain = *from;
      ids.spf = {spf_ && spf_->result == spf::Result::kPass,
                 std::string(mail_from_.empty() ? helo_ : domain_of(mail_from_))};
      auto e = dmarc::evaluate(discovery, ids, random_() % 100);
      dmarc_name = std::string(dmarc::to_string(e.result));
      auto policy = e.policy ? dmarc::to_string(*e.policy) : std::string_view();
      results.push_back(dmarc::dmarc_result(dmarc_name, e.from_domain, policy,
                                            e.policy ? fmt::format("dis={}", dmarc::to_string(e.disposition)) : ""));
      if (!enforce_dmarc) {
        // Recorded, not acted on.
      } else if (e.result == dmarc::DmarcResult::kFail && e.disposition == dmarc::Policy::kReject &&
                 options_.dmarc.action_reject == config::Action::kReject) {
        // RFC 7489 6.6.3 / 10.3: reject during the SMTP transaction.
        dmarc_error = Error{550, "5.7.1", fmt::format("Rejected by the DMARC policy of {}", e.from_domain),
                            "dmarc=fail " + e.detail};
      } else if (e.result == dmarc::DmarcResult::kTempError &&
                 options_.dmarc.action_temperror == config::Action::kDefer) {
        dmarc_error = Error{451, "4.4.3", "DMARC policy lookup failed, try again later", "dmarc=temperror " + e.detail};
      }
    }
  }

  std::string arc_name = "-";
  if (chain) {
    arc_name = std::string(arc::status_name(chain->status));
    verdict.chain = chain->status;
    auto oldest = chain->status == arc::ChainStatus::kPass && chain->oldest_pass > 0
                      ? std::to_string(chain->oldest_pass)
                      : std::string();
    results.push_back(dmarc::arc_result(arc_name, client_.to_string(), oldest, chain->reason));
  }
  // One spf= in the header (the MAIL FROM identity, as DMARC uses it and
  // readers expect); the HELO identity's result is in the log.
  verdict.log = fmt::format("spf={} dkim={} dmarc={} arc={}{}", spf_name, dkim_name, dmarc_name, arc_name,
                            helo_spf_ ? fmt::format(" spf_helo={}", spf::to_string(helo_spf_->result)) : "");
  if (auto refused = dmarc_error ? dmarc_error : spf_action()) {
    verdict.reply = *refused;
    co_return verdict;
  }
  verdict.fields = dmarc::format_authentication_results(options_.authserv_id, results);
  co_return verdict;
}

}  // namespace tern::mailauth
