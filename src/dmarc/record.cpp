#include "dmarc/record.h"

#include <array>
#include <utility>

namespace tern::dmarc {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// RFC 5234 2.3: quoted ABNF literals ("p", "reject") match in any case.
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// RFC 7489 6.4 allows *WSP around "=", ";", ",", ":"; nothing else
// (not CR or LF) counts as white space.
std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = s.find(sep);
    parts.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::optional<Policy> parse_policy(std::string_view v) {
  if (iequals(v, "none")) return Policy::kNone;
  if (iequals(v, "quarantine")) return Policy::kQuarantine;
  if (iequals(v, "reject")) return Policy::kReject;
  return std::nullopt;
}

std::optional<AlignmentMode> parse_mode(std::string_view v) {
  if (iequals(v, "r")) return AlignmentMode::kRelaxed;
  if (iequals(v, "s")) return AlignmentMode::kStrict;
  return std::nullopt;
}

// pct = 1*3DIGIT, 0..100 (RFC 7489 6.3): no sign, no fourth digit.
std::optional<int> parse_pct(std::string_view v) {
  if (v.empty() || v.size() > 3) return std::nullopt;
  int n = 0;
  for (char c : v) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n > 100) return std::nullopt;
  return n;
}

// ri = 1*DIGIT, a 32-bit unsigned count of seconds (RFC 7489 6.3).
std::optional<std::uint32_t> parse_ri(std::string_view v) {
  if (v.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > UINT32_MAX) return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

// fo = ("0" / "1" / "d" / "s") *(*WSP ":" *WSP ...)
std::optional<std::string> parse_fo(std::string_view v) {
  std::string out;
  for (auto option : split(v, ':')) {
    if (option.size() != 1) return std::nullopt;
    char c = to_lower(option[0]);
    if (c != '0' && c != '1' && c != 'd' && c != 's') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

// rf = Keyword *(*WSP ":" Keyword), Keyword being RFC 5321's Ldh-str.
std::optional<std::vector<std::string>> parse_rf(std::string_view v) {
  std::vector<std::string> out;
  for (auto keyword : split(v, ':')) {
    if (keyword.empty() || keyword.back() == '-' || !(is_alpha(keyword[0]) || is_digit(keyword[0]))) {
      return std::nullopt;
    }
    for (char c : keyword) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') return std::nullopt;
    }
    out.push_back(lower(keyword));
  }
  return out;
}

// RFC 3986 characters: unreserved, gen-delims, sub-delims and "%". The
// record's own separators ("," and "!") must be percent-encoded inside a
// URI (RFC 7489 6.4), so they never reach here.
bool is_uri_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  static constexpr std::string_view kOthers = "-._~:/?#[]@$&'()*+;=%";
  return kOthers.find(c) != std::string_view::npos;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; the URI
// needs at least a scheme (RFC 3986 3.1) and something after its ":".
std::optional<ReportUri> parse_uri(std::string_view text) {
  auto bang = text.find('!');
  std::string_view uri = text.substr(0, bang);
  auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == uri.size()) return std::nullopt;
  if (!is_alpha(uri[0])) return std::nullopt;
  for (std::size_t i = 1; i < colon; ++i) {
    char c = uri[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return std::nullopt;
  }
  for (char c : uri) {
    if (!is_uri_char(c)) return std::nullopt;
  }
  ReportUri out{std::string(uri), std::nullopt};
  if (bang == std::string_view::npos) return out;
  std::string_view size = text.substr(bang + 1);
  std::size_t digits = 0;
  while (digits < size.size() && is_digit(size[digits])) ++digits;
  bool unit_ok = digits == size.size() ||
                 (digits + 1 == size.size() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos);
  if (digits == 0 || !unit_ok) return std::nullopt;
  out.max_size = std::string(size);
  return out;
}

class Parser {
 public:
  ParsedRecord run(std::string_view text) {
    auto specs = split(text, ';');
    // RFC 7489 6.3: v= comes first and its value is exactly "DMARC1"
    // (6.4 spells it with case-sensitive %x values). Strict reading, as
    // records.json's outcome: "v=dmarc1" and "v=DMARC1 p=reject" (no
    // ";") are not DMARC records.
    std::string_view version = specs[0];
    auto eq = version.find('=');
    if (eq == std::string_view::npos || !iequals(trim(version.substr(0, eq)), "v") ||
        trim(version.substr(eq + 1)) != "DMARC1") {
      out_.outcome = RecordOutcome::kNotDmarc;
      out_.detail = "does not start with v=DMARC1";
      return std::move(out_);
    }
    seen_[index_of("v")] = true;
    for (std::size_t i = 1; i < specs.size(); ++i) {
      if (specs[i].empty()) continue;  // the optional trailing ";" (and ";;")
      tag_spec(specs[i]);
    }
    return finish();
  }

 private:
  static constexpr std::array<std::string_view, 12> kTags = {"v",  "p",  "sp", "np", "adkim", "aspf",
                                                             "fo", "pct", "rf", "ri", "rua",   "ruf"};

  static std::size_t index_of(std::string_view name) {
    for (std::size_t i = 0; i < kTags.size(); ++i) {
      if (kTags[i] == name) return i;
    }
    return kTags.size();
  }

  void note(std::string what) {
    if (!out_.detail.empty()) out_.detail += "; ";
    out_.detail += what;
  }

  // A bad value of an optional tag: RFC 7489 is silent. Lenient reading,
  // as records.json's outcome: ignore that tag and keep its default
  // (strict parsers refuse the whole record).
  void ignore(std::string_view name) {
    ignored_ = true;
    note("bad value ignored: " + std::string(name));
  }

  void tag_spec(std::string_view spec) {
    auto eq = spec.find('=');
    if (eq == std::string_view::npos) {
      ignored_ = true;
      note("tag without '=' ignored");
      return;
    }
    std::string name = lower(trim(spec.substr(0, eq)));
    std::string_view value = trim(spec.substr(eq + 1));
    std::size_t index = index_of(name);
    if (index == kTags.size()) return;  // RFC 7489 6.3: unknown tags MUST be ignored
    // Duplicates are not defined by RFC 7489; as records.json recommends,
    // the record is refused rather than guessing which value was meant.
    if (seen_[index]) {
      duplicate_ = true;
      note("duplicate tag " + name);
      return;
    }
    seen_[index] = true;
    apply(name, value);
  }

  void apply(const std::string& name, std::string_view value) {
    Record& r = out_.record;
    if (name == "p" || name == "sp" || name == "np") {
      auto policy = parse_policy(value);
      if (name == "p") {
        if (policy) r.p = *policy;
        p_valid_ = policy.has_value();
      } else if (name == "sp") {
        if (policy) r.sp = *policy;
        sp_set_ = policy.has_value();
        sp_invalid_ = !policy;
      } else if (policy) {
        r.np = *policy;
      } else {
        ignore(name);
      }
      if (!policy && name != "np") note("bad " + name + "=");
    } else if (name == "adkim" || name == "aspf") {
      auto mode = parse_mode(value);
      if (!mode) return ignore(name);
      (name == "adkim" ? r.adkim : r.aspf) = *mode;
    } else if (name == "fo") {
      auto fo = parse_fo(value);
      if (!fo) return ignore(name);
      r.fo = std::move(*fo);
    } else if (name == "pct") {
      auto pct = parse_pct(value);
      if (!pct) return ignore(name);
      r.pct = *pct;
    } else if (name == "rf") {
      auto rf = parse_rf(value);
      if (!rf) return ignore(name);
      r.rf = std::move(*rf);
    } else if (name == "ri") {
      auto ri = parse_ri(value);
      if (!ri) return ignore(name);
      r.ri = *ri;
    } else if (name == "rua" || name == "ruf") {
      uri_list(name, value, name == "rua" ? r.rua : r.ruf);
    }
  }

  // Invalid URIs are dropped and the valid ones kept: one bad entry does
  // not cost the domain owner its other reports.
  void uri_list(std::string_view name, std::string_view value, std::vector<ReportUri>& out) {
    bool bad = false;
    for (auto item : split(value, ',')) {
      auto uri = parse_uri(item);
      if (!uri) {
        bad = true;
      } else if (out.size() < kMaxReportUris) {
        out.push_back(std::move(*uri));
      }
    }
    if (bad) ignore(name);
  }

  ParsedRecord finish() {
    Record& r = out_.record;
    if (duplicate_) {
      out_.outcome = RecordOutcome::kNoPolicy;
      return std::move(out_);
    }
    // RFC 7489 6.6.3 step 6: no valid p= or an invalid sp=.
    if (!p_valid_ || sp_invalid_) {
      if (r.rua.empty()) {
        out_.outcome = RecordOutcome::kNoPolicy;
        note("no valid p= and no valid rua=");
        return std::move(out_);
      }
      // 6.6.3 step 6.1: act as if "v=DMARC1; p=none" was published; the
      // other tags (rua, alignment modes) are kept for the reports.
      r.p = r.sp = Policy::kNone;
      r.np.reset();
      out_.outcome = RecordOutcome::kValidAsPNone;
      return std::move(out_);
    }
    if (!sp_set_) r.sp = r.p;  // RFC 7489 6.3: sp defaults to p
    out_.outcome = ignored_ ? RecordOutcome::kValidIgnoreTag : RecordOutcome::kValid;
    return std::move(out_);
  }

  ParsedRecord out_;
  std::array<bool, kTags.size()> seen_{};
  bool p_valid_ = false;
  bool sp_set_ = false;
  bool sp_invalid_ = false;
  bool ignored_ = false;
  bool duplicate_ = false;
};

}  // namespace

ParsedRecord parse_record(std::string_view text) { return Parser().run(text); }

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::kNone: return "none";
    case Policy::kQuarantine: return "quarantine";
    case Policy::kReject: return "reject";
  }
  return "none";
}

std::string_view to_string(RecordOutcome o) {
  switch (o) {
    case RecordOutcome::kValid: return "valid";
    case RecordOutcome::kValidAsPNone: return "valid_as_p_none";
    case RecordOutcome::kValidIgnoreTag: return "valid_ignore_tag";
    case RecordOutcome::kNotDmarc: return "not_dmarc";
    case RecordOutcome::kNoPolicy: return "no_policy";
  }
  return "no_policy";
}

}  // namespace tern::dmarc
