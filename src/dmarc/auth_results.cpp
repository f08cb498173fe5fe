#include "dmarc/auth_results.h"

#include <algorithm>
#include <utility>

#include "dmarc/auth_results_text.h"

namespace tern::dmarc {
namespace {

// RFC 5322 2.1.1: lines SHOULD be at most 78 characters without the CRLF.
constexpr std::size_t kLineLimit = 78;
constexpr std::string_view kFieldName = "Authentication-Results: ";
// The folding this writer uses: CRLF then one TAB (RFC 5322 3.2.2 FWS).
constexpr std::string_view kFold = "\r\n\t";

// The words of one resinfo, in order: methodspec, comment, reasonspec,
// propspecs. Empty when the method or result is not a keyword.
std::vector<std::string> resinfo_words(const MethodResult& r) {
  std::vector<std::string> words;
  std::string method = text::keyword(r.method);
  std::string result = text::keyword(r.result);
  if (method.empty() || result.empty()) return words;
  words.push_back(method + "=" + result);
  if (!r.comment.empty()) words.push_back(text::comment(r.comment));
  if (!r.reason.empty()) words.push_back("reason=" + text::value(r.reason));
  std::vector<std::string> quoted;
  for (const auto& p : r.properties) {
    std::string ptype = text::keyword(p.ptype);
    std::string property = text::keyword(p.property);
    if (ptype.empty() || property.empty() || p.value.empty()) continue;
    std::string value = text::value(p.value);
    std::string word = ptype + "." + property + "=" + value;
    // Quoted values go last: RFC 8601 does not order properties, and
    // python3-authres drops a quoted pvalue that is not the last one.
    (value.front() == '"' ? quoted : words).push_back(std::move(word));
  }
  for (auto& word : quoted) words.push_back(std::move(word));
  return words;
}

// Appends one resinfo on its own continuation line, folding between
// words when the next one would pass the limit. A fold never comes before
// the first word, so no line is white space only (RFC 5322 3.2.2).
void append_resinfo(std::string& out, const std::vector<std::string>& words, bool last) {
  out += kFold;
  std::size_t line = 1;  // the TAB
  for (std::size_t j = 0; j < words.size(); ++j) {
    const std::string& word = words[j];
    std::size_t tail = (j + 1 == words.size() && !last) ? 1 : 0;  // the ";" after it
    if (j > 0) {
      if (line + 1 + word.size() + tail > kLineLimit) {
        out += kFold;
        line = 1;
      } else {
        out += ' ';
        ++line;
      }
    }
    out += word;
    line += word.size();
  }
  if (!last) out += ';';
}

void add(MethodResult& r, std::string_view ptype, std::string_view property, std::string_view value) {
  if (!value.empty()) r.properties.push_back({std::string(ptype), std::string(property), std::string(value)});
}

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string normalize_id(std::string_view id) {
  if (!id.empty() && id.back() == '.') id.remove_suffix(1);
  std::string out(id);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

}  // namespace

std::string format_authentication_results(std::string_view authserv_id, const std::vector<MethodResult>& results) {
  std::string out(kFieldName);
  out += text::value(authserv_id);
  out += ';';
  std::vector<std::vector<std::string>> resinfos;
  for (const auto& r : results) {
    auto words = resinfo_words(r);
    if (!words.empty()) resinfos.push_back(std::move(words));
  }
  if (resinfos.empty()) return out + " none\r\n";
  for (std::size_t k = 0; k < resinfos.size(); ++k) append_resinfo(out, resinfos[k], k + 1 == resinfos.size());
  return out + "\r\n";
}

MethodResult spf_result(std::string_view result, std::string_view mailfrom, std::string_view helo,
                        std::string_view reason) {
  MethodResult r{"spf", std::string(result), std::string(reason), {}, {}};
  add(r, "smtp", "mailfrom", mailfrom);
  add(r, "smtp", "helo", helo);
  return r;
}

MethodResult dkim_result(std::string_view result, const DkimSignatureTags& tags, std::string_view reason) {
  MethodResult r{"dkim", std::string(result), std::string(reason), {}, {}};
  add(r, "header", "d", tags.d);
  add(r, "header", "i", tags.i);
  add(r, "header", "s", tags.s);
  add(r, "header", "a", tags.a);
  // b= may hold folding white space (RFC 6376 3.5): take 8 characters of
  // the signature itself.
  std::string b;
  for (char c : tags.b) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    b += c;
    if (b.size() == 8) break;
  }
  add(r, "header", "b", b);
  return r;
}

MethodResult dmarc_result(std::string_view result, std::string_view header_from, std::string_view policy,
                          std::string_view comment) {
  MethodResult r{"dmarc", std::string(result), {}, std::string(comment), {}};
  add(r, "header", "from", header_from);
  add(r, "policy", "dmarc", policy);
  return r;
}

MethodResult arc_result(std::string_view result, std::string_view remote_ip, std::string_view oldest_pass,
                        std::string_view reason) {
  MethodResult r{"arc", std::string(result), std::string(reason), {}, {}};
  add(r, "smtp", "remote-ip", remote_ip);
  add(r, "header", "oldest-pass", oldest_pass);
  return r;
}

std::optional<std::string> authserv_id(std::string_view body) {
  std::size_t i = text::skip_cfws(body, 0);
  if (i >= body.size()) return std::nullopt;
  std::string id;
  if (body[i] == '"') {
    if (!text::read_quoted(body, i, id)) return std::nullopt;
  } else {
    // RFC 2045 token (and UTF-8 for an internationalized name). What
    // follows is not checked: "ours/x; ..." counts as ours, so the server
    // drops a field more rather than one less.
    while (i < body.size() && text::is_id_char(static_cast<unsigned char>(body[i]))) id += body[i++];
  }
  if (id.empty()) return std::nullopt;
  return id;
}

bool claims_authserv_id(std::string_view body, std::string_view our_id) {
  auto id = authserv_id(body);
  return id && !our_id.empty() && normalize_id(*id) == normalize_id(our_id);
}

bool is_authentication_results(std::string_view name) {
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  constexpr std::string_view kName = "authentication-results";
  if (name.size() != kName.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (to_lower(name[i]) != kName[i]) return false;
  }
  return true;
}

}  // namespace tern::dmarc
