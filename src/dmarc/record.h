#pragma once
// The DMARC policy record (RFC 7489 6.3 tags, 6.4 ABNF) as published in
// TXT at _dmarc.<domain>. Pure: text in, values out, no exceptions.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dmarc {

// RFC 7489 6.3 p=, sp= (and np= of RFC 9091).
enum class Policy { kNone, kQuarantine, kReject };

// RFC 7489 3.1 identifier alignment modes, adkim= and aspf=.
enum class AlignmentMode { kRelaxed, kStrict };

// One entry of rua= or ruf= (RFC 7489 6.4 dmarc-uri).
struct ReportUri {
  std::string uri;
  // The raw text after "!" (1*DIGIT [k|m|g|t]); none when absent.
  std::optional<std::string> max_size;

  bool operator==(const ReportUri&) const = default;
};

// The effective values after defaults (RFC 7489 6.3).
struct Record {
  Policy p = Policy::kNone;
  Policy sp = Policy::kNone;  // defaults to p
  std::optional<Policy> np;   // RFC 9091; parsed, not yet used by evaluation
  AlignmentMode adkim = AlignmentMode::kRelaxed;
  AlignmentMode aspf = AlignmentMode::kRelaxed;
  std::string fo = "0";  // failure reporting options, one character each: 0 1 d s
  int pct = 100;
  std::vector<std::string> rf = {"afrf"};
  std::uint32_t ri = 86400;
  std::vector<ReportUri> rua;
  std::vector<ReportUri> ruf;

  bool operator==(const Record&) const = default;
};

enum class RecordOutcome {
  kValid,
  // No valid p= (or a bad sp=) but a valid rua=: act as if p=none
  // (RFC 7489 6.6.3 step 6.1).
  kValidAsPNone,
  // Usable, but an optional tag had a bad value and its default is used.
  kValidIgnoreTag,
  // Does not start with v=DMARC1: discarded before records are counted
  // (RFC 7489 6.6.3 step 2).
  kNotDmarc,
  // A DMARC record that cannot be used: no DMARC processing (6.6.3 step 6.2).
  kNoPolicy,
};

struct ParsedRecord {
  RecordOutcome outcome = RecordOutcome::kNotDmarc;
  Record record;       // meaningful for the three kValid* outcomes
  std::string detail;  // why a tag was ignored or the record refused, for the log

  bool usable() const {
    return outcome == RecordOutcome::kValid || outcome == RecordOutcome::kValidAsPNone ||
           outcome == RecordOutcome::kValidIgnoreTag;
  }
};

// A receiver reports to this many rua/ruf URIs at most; later ones are
// dropped (RFC 7489 6.2 allows a limit of at least two).
inline constexpr std::size_t kMaxReportUris = 8;

ParsedRecord parse_record(std::string_view text);

std::string_view to_string(Policy p);
std::string_view to_string(RecordOutcome o);

}  // namespace tern::dmarc
