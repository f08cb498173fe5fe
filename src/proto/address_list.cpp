#include "proto/address_list.h"

#include <utility>

namespace tern::proto {
namespace {

Error syntax(std::string detail) { return Error{501, "5.1.3", "Bad address syntax", std::move(detail)}; }

// RFC 5322 3.2.3 atext, and UTF-8 octets (RFC 6532 3.2; validity is left
// to whoever uses the address: the SMTP path parser checks it).
bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool is_special(char c) {
  switch (c) {
    case '<': case '>': case '@': case ',': case ';': case ':': case '.':
      return true;
    default:
      return false;
  }
}

struct Token {
  enum Kind { kAtom, kQuoted, kLiteral, kSpecial } kind;
  std::string text;  // quoted strings and literals as written, line ends removed
};

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view in) : in_(in) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '(') {
        if (auto skipped = skip_comment(); !skipped) return skipped.error();
      } else if (c == '"') {
        auto text = delimited('"', "quoted string");
        if (!text) return text.error();
        tokens.push_back({Token::kQuoted, std::move(*text)});
      } else if (c == '[') {
        auto text = delimited(']', "domain literal");
        if (!text) return text.error();
        tokens.push_back({Token::kLiteral, std::move(*text)});
      } else if (is_special(c)) {
        tokens.push_back({Token::kSpecial, std::string(1, c)});
        ++pos_;
      } else if (is_atext(static_cast<unsigned char>(c))) {
        auto start = pos_;
        while (pos_ < in_.size() && is_atext(static_cast<unsigned char>(in_[pos_]))) ++pos_;
        tokens.push_back({Token::kAtom, std::string(in_.substr(start, pos_ - start))});
      } else {
        return syntax("unexpected character");
      }
    }
    return tokens;
  }

 private:
  // RFC 5322 3.2.2: comments nest; a quoted-pair may escape a parenthesis.
  Result<void> skip_comment() {
    std::size_t depth = 0;
    while (pos_ < in_.size()) {
      char c = in_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        return {};
      }
    }
    return syntax("unterminated comment");
  }

  // A quoted string (RFC 5322 3.2.4) or a domain literal (3.4.1), kept as
  // written with its delimiters; folding line ends are removed (unfolding).
  Result<std::string> delimited(char close, std::string_view what) {
    std::string text(1, in_[pos_++]);
    while (pos_ < in_.size()) {
      char c = in_[pos_++];
      if (c == '\r' || c == '\n') continue;
      if (close == ']' && c == '[') return syntax(std::string(what) + " holds '['");
      text += c;
      if (c == '\\') {
        if (pos_ == in_.size()) break;
        text += in_[pos_++];
      } else if (c == close) {
        return text;
      }
    }
    return syntax("unterminated " + std::string(what));
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

std::string unquote(std::string_view quoted) {
  std::string out;
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] == '\\' && i + 2 < quoted.size()) ++i;
    out += quoted[i];
  }
  return out;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, AddressListOptions options) : t_(std::move(tokens)), options_(options) {}

  Result<std::vector<HeaderAddress>> run() {
    while (true) {
      while (is(',')) ++i_;  // RFC 5322 4.4: empty list elements
      if (at_end()) return std::move(out_);
      if (auto parsed = address(""); !parsed) return parsed.error();
      if (at_end()) return std::move(out_);
      if (!is(',')) return syntax("expected ',' between addresses");
    }
  }

 private:
  bool at_end() const { return i_ >= t_.size(); }
  bool is(char c) const { return !at_end() && t_[i_].kind == Token::kSpecial && t_[i_].text[0] == c; }
  bool is_word() const { return !at_end() && (t_[i_].kind == Token::kAtom || t_[i_].kind == Token::kQuoted); }

  // A mailbox, or (outside a group) a group.
  Result<void> address(const std::string& group) {
    auto start = i_;
    while (is_word() || is('.')) ++i_;
    if (is(':')) return group_list(start, group);
    if (is('<')) {
      auto name = phrase(start, i_);
      ++i_;
      return angle_addr(std::move(name), group);
    }
    auto local = local_part(start, i_);
    if (!local) return local.error();
    if (is('@')) {
      ++i_;
      auto domain = domain_part();
      if (!domain) return domain.error();
      return add({"", std::move(*local), std::move(*domain), group});
    }
    if (!options_.allow_local_only) return syntax("address without a domain");
    return add({"", std::move(*local), "", group});
  }

  // RFC 5322 3.4 group: display-name ":" [group-list] ";" (groups do not nest).
  Result<void> group_list(std::size_t start, const std::string& outer) {
    if (!outer.empty()) return syntax("group inside a group");
    auto name = phrase(start, i_);
    if (name.empty()) return syntax("group without a name");
    ++i_;
    while (true) {
      while (is(',')) ++i_;
      if (is(';')) {
        ++i_;
        return {};
      }
      if (at_end()) return {};  // a missing ';' at the very end is forgiven
      if (auto parsed = address(name); !parsed) return parsed;
      if (!is(',') && !is(';') && !at_end()) return syntax("expected ',' or ';' in a group");
    }
  }

  Result<void> angle_addr(std::string name, const std::string& group) {
    if (is('@')) skip_route();
    auto start = i_;
    while (is_word() || is('.')) ++i_;
    auto local = local_part(start, i_);
    if (!local) return local.error();
    std::string domain;
    if (is('@')) {
      ++i_;
      auto parsed = domain_part();
      if (!parsed) return parsed.error();
      domain = std::move(*parsed);
    } else if (!options_.allow_local_only) {
      return syntax("address without a domain");
    }
    if (!is('>')) return syntax("expected '>'");
    ++i_;
    return add({std::move(name), std::move(*local), std::move(domain), group});
  }

  // RFC 5322 4.4 obs-route: "@a.example,@b.example:" before the addr-spec,
  // ignored (RFC 5321 4.1.1.3 says the same of source routes).
  void skip_route() {
    while (!at_end() && !is(':') && !is('>')) ++i_;
    if (is(':')) ++i_;
  }

  // word *("." word): the dots may be surrounded by CFWS (obs-local-part),
  // which the tokenizer already dropped.
  Result<std::string> local_part(std::size_t begin, std::size_t end) const {
    if (begin == end) return syntax("expected an address");
    std::string out;
    bool want_word = true;
    for (auto k = begin; k < end; ++k) {
      bool dot = t_[k].kind == Token::kSpecial;
      if (dot == want_word) return syntax(dot ? "misplaced '.' in a local part" : "a phrase without an address");
      out += t_[k].text;
      want_word = dot;
    }
    if (want_word) return syntax("local part ends with '.'");
    return out;
  }

  Result<std::string> domain_part() {
    if (!at_end() && t_[i_].kind == Token::kLiteral) return t_[i_++].text;
    std::string out;
    bool want_atom = true;
    while (!at_end() && (want_atom ? t_[i_].kind == Token::kAtom : is('.'))) {
      out += t_[i_++].text;
      want_atom = !want_atom;
    }
    if (out.empty() || want_atom) return syntax("bad domain");
    return out;
  }

  std::string phrase(std::size_t begin, std::size_t end) const {
    std::string out;
    for (auto k = begin; k < end; ++k) {
      const auto& token = t_[k];
      if (token.kind == Token::kSpecial) {
        out += '.';  // RFC 5322 4.1 obs-phrase: "John Q. Public"
        continue;
      }
      if (!out.empty()) out += ' ';
      out += token.kind == Token::kQuoted ? unquote(token.text) : token.text;
    }
    return out;
  }

  Result<void> add(HeaderAddress address) {
    if (out_.size() >= options_.max_addresses) return syntax("too many addresses");
    out_.push_back(std::move(address));
    return {};
  }

  std::vector<Token> t_;
  AddressListOptions options_;
  std::size_t i_ = 0;
  std::vector<HeaderAddress> out_;
};

}  // namespace

Result<std::vector<HeaderAddress>> parse_address_list(std::string_view field_body, AddressListOptions options) {
  auto tokens = Tokenizer(field_body).run();
  if (!tokens) return tokens.error();
  return Parser(std::move(*tokens), options).run();
}

}  // namespace tern::proto
