#include "spf/check_host.h"

#include "spf/evaluator.h"

namespace tern::spf {
namespace {

// RFC 7208 6.2 lets us bound the explanation; it ends up in an SMTP reply
// line (RFC 5321 4.5.3.1.5: 512 octets with the code).
constexpr std::size_t kMaxExplanation = 400;
constexpr std::size_t kMaxDetail = 400;

// The explanation goes to the client in a reply: nothing that could end or
// garble the line, whatever %{l} or %{h} held.
std::string printable(std::string text) {
  if (text.size() > kMaxExplanation) text.resize(kMaxExplanation);
  for (char& c : text) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return text;
}

// Detail and mechanism echo record text and names from DNS, which may hold
// any byte (a line feed in a term, non-ASCII): escaped for one log line or
// a header comment, and bounded.
std::string escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text.substr(0, kMaxDetail)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  if (text.size() > kMaxDetail) out += "...";
  return out;
}

}  // namespace

std::string_view to_string(Result result) {
  switch (result) {
    case Result::kNone: return "none";
    case Result::kNeutral: return "neutral";
    case Result::kPass: return "pass";
    case Result::kFail: return "fail";
    case Result::kSoftFail: return "softfail";
    case Result::kTempError: return "temperror";
    case Result::kPermError: return "permerror";
  }
  return "none";
}

Request mail_from_request(const boost::asio::ip::address& ip, std::string_view mail_from, std::string_view helo,
                          std::string_view receiver, std::chrono::system_clock::time_point now) {
  if (mail_from.empty()) return helo_request(ip, helo, receiver, now);
  auto at = mail_from.rfind('@');
  std::string domain(at == std::string_view::npos ? mail_from : mail_from.substr(at + 1));
  return Request{ip, std::move(domain), std::string(mail_from), std::string(helo), std::string(receiver), now};
}

Request helo_request(const boost::asio::ip::address& ip, std::string_view helo, std::string_view receiver,
                     std::chrono::system_clock::time_point now) {
  return Request{ip, std::string(helo), "postmaster@" + std::string(helo), std::string(helo), std::string(receiver),
                 now};
}

std::string default_explanation(const Request& request) {
  ClientAddress client(request.ip);
  return printable(request.domain + " does not designate " + client.readable() + " as a permitted sender");
}

boost::asio::awaitable<Outcome> check_host(dns::Lookup& dns, const Request& request) {
  detail::Evaluator evaluator(dns, request);
  detail::Evaluation evaluation = co_await evaluator.check_host(request.domain);
  Outcome outcome{evaluation.result, escaped(evaluation.mechanism), {}, escaped(evaluation.detail)};
  if (evaluation.result == Result::kFail) {
    std::string text = co_await evaluator.explanation(evaluation);
    outcome.explanation = text.empty() ? default_explanation(request) : printable(std::move(text));
  }
  co_return outcome;
}

boost::asio::awaitable<Outcome> check_helo(dns::Lookup& dns, boost::asio::ip::address ip, std::string helo,
                                           std::string receiver, std::chrono::system_clock::time_point now) {
  Request request = helo_request(ip, helo, receiver, now);
  Outcome outcome = co_await check_host(dns, request);
  co_return outcome;
}

namespace detail {

// RFC 7208 6.2: looked up once, after the result is known, and only for a
// fail; none of it counts toward the 4.6.4 limits. Any problem (no name, a
// DNS error, not exactly one TXT record, a syntax error in the text) means
// "as if no exp= was given": an empty string here.
boost::asio::awaitable<std::string> Evaluator::explanation(const Evaluation& evaluation) {
  if (!evaluation.exp) co_return std::string();
  std::optional<std::string> name = co_await target(*evaluation.exp, evaluation.exp_domain);
  if (!name) co_return std::string();
  dns::Answer answer = co_await dns_.lookup(*name, dns::RecordType::kTxt);
  if (answer.status != dns::Status::kOk || answer.texts.size() != 1) co_return std::string();
  const std::string& text = answer.texts.front();
  context_.domain = evaluation.exp_domain;
  if (uses_validated_name(text)) context_.validated = co_await validated_name(evaluation.exp_domain);
  auto expanded = expand(text, context_, MacroUse::kExplanation);
  co_return expanded.value_or(std::string());
}

}  // namespace detail
}  // namespace tern::spf
