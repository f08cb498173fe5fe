#include "spf/evaluator.h"

#include <chrono>

#include "base/text.h"

namespace tern::spf::detail {
namespace {

using boost::asio::awaitable;
using dns::RecordType;
using dns::Status;

constexpr const char* kTooManyVoid = "more than 2 void lookups (RFC 7208 4.6.4)";

Evaluation finish(Result result, std::string detail, std::string mechanism = {}) {
  return Evaluation{result, std::move(mechanism), std::move(detail), std::nullopt, {}};
}

Match no_match() { return Match{false, std::nullopt, {}}; }
Match matched() { return Match{true, std::nullopt, {}}; }
Match error(Result result, std::string detail) { return Match{false, result, std::move(detail)}; }

Result from_qualifier(Qualifier q) {
  switch (q) {
    case Qualifier::kPass: return Result::kPass;
    case Qualifier::kFail: return Result::kFail;
    case Qualifier::kSoftFail: return Result::kSoftFail;
    case Qualifier::kNeutral: return Result::kNeutral;
  }
  return Result::kNeutral;
}

std::string strip_dot(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

// RFC 7208 5.5: a name matches the target when it is the target or a
// subdomain of it; DNS names compare case-insensitively.
bool in_domain(std::string_view name, std::string_view target) {
  if (iequals(name, target)) return true;
  return name.size() > target.size() && name[name.size() - target.size() - 1] == '.' &&
         iequals(name.substr(name.size() - target.size()), target);
}

bool is_void(const dns::Answer& answer, RecordType type) {
  if (answer.status == Status::kNxDomain || answer.status == Status::kNoData) return true;
  if (type == RecordType::kMx) return answer.mx.empty();
  return answer.addresses.empty();
}

std::string failure(const dns::Answer& answer) { return answer.detail.empty() ? "temporary DNS failure" : answer.detail; }

}  // namespace

Evaluator::Evaluator(dns::Lookup& dns, const Request& request) : dns_(dns), client_(request.ip) {
  // RFC 7208 2.4: a null reverse-path checks postmaster@HELO; 4.3: a sender
  // without a local-part gets "postmaster".
  std::string sender = request.sender.empty() ? "postmaster@" + request.helo : request.sender;
  auto at = sender.rfind('@');
  context_.local_part = at == std::string::npos || at == 0 ? "postmaster" : sender.substr(0, at);
  context_.sender_domain = at == std::string::npos ? sender : sender.substr(at + 1);
  context_.sender = context_.local_part + "@" + context_.sender_domain;
  context_.ip = client_.dotted();
  context_.ip_version = client_.version();
  context_.helo = request.helo;
  context_.client_ip = client_.readable();
  context_.receiver = request.receiver.empty() ? "unknown" : request.receiver;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(request.now.time_since_epoch()).count();
  context_.timestamp = seconds > 0 ? static_cast<std::uint64_t>(seconds) : 0;
}

awaitable<Evaluation> Evaluator::check_host(std::string domain) {
  domain = strip_dot(std::move(domain));
  // RFC 7208 4.3: a malformed or single-label <domain> gives none.
  if (!valid_check_domain(domain)) co_return finish(Result::kNone, "'" + domain + "' is not a valid domain name");
  // RFC 7208 4.4: only TXT records; an error other than NXDOMAIN is temperror.
  dns::Answer answer = co_await dns_.lookup(domain, RecordType::kTxt);
  if (answer.status == Status::kTempFail) {
    co_return finish(Result::kTempError, "TXT lookup for " + domain + " failed: " + failure(answer));
  }
  // RFC 7208 4.5: records that are not v=spf1 are none of our business.
  std::vector<const std::string*> records;
  for (const auto& text : answer.texts) {
    if (is_spf_record(text)) records.push_back(&text);
  }
  if (records.empty()) co_return finish(Result::kNone, "no SPF record at " + domain);
  if (records.size() > 1) co_return finish(Result::kPermError, "more than one SPF record at " + domain);
  auto record = parse_record(*records.front());
  if (!record) co_return finish(Result::kPermError, "SPF record of " + domain + ": " + record.error().detail);
  Evaluation evaluation = co_await evaluate(*record, domain);
  co_return evaluation;
}

awaitable<Evaluation> Evaluator::evaluate(const Record& record, std::string domain) {
  // RFC 7208 4.6.2: mechanisms in order; the first match decides.
  for (const auto& mechanism : record.mechanisms) {
    Match m = co_await match(mechanism, domain);
    if (m.error) co_return finish(*m.error, domain + ": '" + mechanism.text + "': " + m.detail, mechanism.text);
    if (!m.matched) continue;
    Evaluation e = finish(from_qualifier(mechanism.qualifier), domain + ": '" + mechanism.text + "' matched",
                          mechanism.text);
    if (e.result == Result::kFail && record.exp) {
      e.exp = record.exp;
      e.exp_domain = domain;
    }
    co_return e;
  }
  // RFC 7208 4.7, 6.1: no match → the redirect's result, else neutral.
  if (record.redirect) {
    Evaluation e = co_await redirect(*record.redirect, domain);
    co_return e;
  }
  co_return finish(Result::kNeutral, domain + ": no mechanism matched");
}

awaitable<Evaluation> Evaluator::redirect(const std::string& spec, const std::string& domain) {
  std::string term = "redirect=" + spec;
  if (++dns_terms_ > kMaxDnsTerms) {
    co_return finish(Result::kPermError, domain + ": '" + term + "': more than 10 DNS-querying terms (RFC 7208 4.6.4)");
  }
  std::optional<std::string> name = co_await target(spec, domain);
  // RFC 7208 6.1: a malformed target or one without a record is permerror.
  if (!name || !valid_check_domain(*name)) {
    co_return finish(Result::kPermError, domain + ": '" + term + "': invalid target name");
  }
  Evaluation inner = co_await check_host(*name);
  if (inner.result == Result::kNone) {
    co_return finish(Result::kPermError, domain + ": '" + term + "': " + inner.detail);
  }
  co_return inner;
}

awaitable<Match> Evaluator::match(const Mechanism& m, const std::string& domain) {
  switch (m.kind) {
    case MechanismKind::kAll: co_return matched();
    case MechanismKind::kIp4: co_return Match{client_.in(m.network, m.cidr4, false), std::nullopt, {}};
    case MechanismKind::kIp6: co_return Match{client_.in(m.network, m.cidr6, true), std::nullopt, {}};
    default: break;
  }
  // RFC 7208 4.6.4: include, a, mx, ptr and exists count toward 10.
  if (++dns_terms_ > kMaxDnsTerms) co_return error(Result::kPermError, "more than 10 DNS-querying terms (RFC 7208 4.6.4)");
  std::optional<std::string> name = co_await target(m.domain_spec, domain);
  Match result;
  if (m.kind == MechanismKind::kInclude) {
    result = co_await match_include(name.value_or(""));
  } else if (!name) {
    // RFC 7208 4.8 leaves a target that is no valid name undefined; like
    // NXDOMAIN (5), it matches nothing.
    result = no_match();
  } else if (m.kind == MechanismKind::kA) {
    result = co_await match_a(*name, m);
  } else if (m.kind == MechanismKind::kMx) {
    result = co_await match_mx(*name, m);
  } else if (m.kind == MechanismKind::kPtr) {
    result = co_await match_ptr(*name);
  } else {
    result = co_await match_exists(*name);
  }
  co_return result;
}

awaitable<Match> Evaluator::match_include(const std::string& target) {
  // RFC 7208 5.2: a malformed target gives none from check_host(), and none
  // from an include is permerror.
  if (!valid_check_domain(target)) co_return error(Result::kPermError, "invalid target name");
  Evaluation inner = co_await check_host(target);
  switch (inner.result) {
    case Result::kPass: co_return matched();
    case Result::kFail:
    case Result::kSoftFail:
    case Result::kNeutral: co_return no_match();
    case Result::kTempError: co_return error(Result::kTempError, inner.detail);
    case Result::kPermError:
    case Result::kNone: co_return error(Result::kPermError, inner.detail);
  }
  co_return no_match();
}

awaitable<Match> Evaluator::match_a(const std::string& target, const Mechanism& m) {
  // RFC 7208 5.3: A for an IPv4 client, AAAA for IPv6.
  RecordType type = client_.v6() ? RecordType::kAaaa : RecordType::kA;
  dns::Answer answer = co_await dns_.lookup(target, type);
  if (answer.status == Status::kTempFail) co_return error(Result::kTempError, failure(answer));
  if (void_over_limit(answer, type)) co_return error(Result::kPermError, kTooManyVoid);
  for (const auto& address : answer.addresses) {
    if (client_.in(address, m.cidr4, m.cidr6)) co_return matched();
  }
  co_return no_match();
}

awaitable<Match> Evaluator::match_mx(const std::string& target, const Mechanism& m) {
  dns::Answer answer = co_await dns_.lookup(target, RecordType::kMx);
  if (answer.status == Status::kTempFail) co_return error(Result::kTempError, failure(answer));
  if (void_over_limit(answer, RecordType::kMx)) co_return error(Result::kPermError, kTooManyVoid);
  // RFC 7208 4.6.4: more than 10 MX names is permerror. 5.4: no implicit MX.
  if (answer.mx.size() > kMaxMxNames) co_return error(Result::kPermError, "more than 10 MX records (RFC 7208 4.6.4)");
  RecordType type = client_.v6() ? RecordType::kAaaa : RecordType::kA;
  for (const auto& mx : answer.mx) {
    if (mx.exchange.empty()) continue;  // RFC 7505 null MX: no host to compare
    dns::Answer addresses = co_await dns_.lookup(mx.exchange, type);
    if (addresses.status == Status::kTempFail) co_return error(Result::kTempError, failure(addresses));
    for (const auto& address : addresses.addresses) {
      if (client_.in(address, m.cidr4, m.cidr6)) co_return matched();
    }
  }
  co_return no_match();
}

awaitable<Match> Evaluator::match_ptr(const std::string& target) {
  // RFC 7208 5.5: a validated name that is the target or under it matches.
  // Only candidates are validated: the others could not match anyway.
  std::vector<std::string> names = co_await ptr_names();
  for (const auto& name : names) {
    if (!in_domain(name, target)) continue;
    bool valid = co_await validates(name);
    if (valid) co_return matched();
  }
  co_return no_match();
}

awaitable<Match> Evaluator::match_exists(const std::string& target) {
  // RFC 7208 5.7: always an A query, whatever the client's family.
  dns::Answer answer = co_await dns_.lookup(target, RecordType::kA);
  if (answer.status == Status::kTempFail) co_return error(Result::kTempError, failure(answer));
  if (void_over_limit(answer, RecordType::kA)) co_return error(Result::kPermError, kTooManyVoid);
  co_return Match{!answer.addresses.empty(), std::nullopt, {}};
}

awaitable<std::optional<std::string>> Evaluator::target(const std::string& spec, const std::string& domain) {
  if (spec.empty()) co_return domain;  // RFC 7208 4.8: the current <domain>
  context_.domain = domain;
  if (uses_validated_name(spec)) context_.validated = co_await validated_name(domain);
  auto expanded = expand(spec, context_, MacroUse::kDomainSpec);
  if (!expanded) co_return std::nullopt;
  co_return target_name(*expanded);
}

awaitable<std::vector<std::string>> Evaluator::ptr_names() {
  if (!ptr_names_) {
    // RFC 7208 5.5: a DNS error on the PTR lookup means no match; 4.6.4:
    // names past the first 10 are ignored. An empty answer is not counted
    // as a void lookup: the client's owner controls it, not the record's.
    dns::Answer answer = co_await dns_.lookup(client_.reverse_name(), RecordType::kPtr);
    std::vector<std::string> names;
    if (answer.status == Status::kOk) {
      for (const auto& name : answer.names) {
        if (names.size() == kMaxPtrNames) break;
        names.push_back(strip_dot(name));
      }
    }
    ptr_names_ = std::move(names);
  }
  co_return *ptr_names_;
}

awaitable<bool> Evaluator::validates(const std::string& name) {
  if (!target_name(name)) co_return false;
  // RFC 7208 5.5: a DNS error here skips the name.
  auto type = client_.v6() ? RecordType::kAaaa : RecordType::kA;  // (no ?: inside a co_await: GCC 12)
  dns::Answer answer = co_await dns_.lookup(name, type);
  if (answer.status != Status::kOk) co_return false;
  for (const auto& address : answer.addresses) {
    if (client_.is(address)) co_return true;
  }
  co_return false;
}

awaitable<std::string> Evaluator::validated_name(const std::string& domain) {
  // RFC 7208 7.3: prefer <domain> itself, then a subdomain of it, then any
  // validated name; "unknown" when there is none.
  std::vector<std::string> names = co_await ptr_names();
  std::vector<std::string> valid;
  for (const auto& name : names) {
    bool ok = co_await validates(name);
    if (ok) valid.push_back(name);
  }
  for (const auto& name : valid) {
    if (iequals(name, domain)) co_return name;
  }
  for (const auto& name : valid) {
    if (in_domain(name, domain)) co_return name;
  }
  co_return valid.empty() ? std::string("unknown") : valid.front();
}

bool Evaluator::void_over_limit(const dns::Answer& answer, RecordType type) {
  if (!is_void(answer, type)) return false;
  return ++void_lookups_ > kMaxVoidLookups;
}

}  // namespace tern::spf::detail
