#include "dkim/canon.h"

#include <algorithm>
#include <cstring>

#include "base/text.h"

namespace tern::dkim {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 6376 3.4.2: unfold (drop each CRLF), one SP for every run of WSP, none
// at either end of the value.
void append_relaxed_value(std::string_view value, std::string& out) {
  bool space = false;
  bool started = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      ++i;
      continue;
    }
    if (is_wsp(c)) {
      space = started;
      continue;
    }
    if (space) out += ' ';
    space = false;
    started = true;
    out += c;
  }
}

}  // namespace

void canonicalize_header(Canonicalization c, std::string_view field, std::string& out) {
  if (c == Canonicalization::kSimple) {  // 3.4.1: not changed in any way
    out.append(field);
    return;
  }
  auto colon = field.find(':');
  auto name = field.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  for (char ch : name) out += ascii_lower(ch);
  out += ':';
  if (colon != std::string_view::npos) append_relaxed_value(field.substr(colon + 1), out);
  out += "\r\n";
}

void BodyCanonicalizer::feed(std::string_view chunk, BodySink& sink) {
  std::size_t i = 0;
  while (i < chunk.size()) {
    if (cr_) {
      cr_ = false;
      if (chunk[i] == '\n') {  // a line ends: held until content shows it is not trailing
        ++i;
        wsp_ = false;          // 3.4.4 (a): no WSP at the end of a line
        ++held_crlf_;
        continue;
      }
      content("\r", sink);  // a bare CR is content
    }
    char c = chunk[i];
    if (c == '\r') {
      cr_ = true;
      ++i;
      continue;
    }
    if (relaxed_ && is_wsp(c)) {
      wsp_ = true;
      ++i;
      continue;
    }
    auto end = run_end(chunk, i + 1);
    content(chunk.substr(i, end - i), sink);
    i = end;
  }
}

// Where the run of octets that pass through unchanged, from `i`, ends: at a
// CR, or under relaxed at whitespace, except a lone SP between two other
// octets, which is already canonical (most of the SPs in text).
std::size_t BodyCanonicalizer::run_end(std::string_view chunk, std::size_t i) const {
  if (!relaxed_) {
    auto cr = chunk.find('\r', i);
    return cr == std::string_view::npos ? chunk.size() : cr;
  }
  while (i < chunk.size()) {
    char c = chunk[i];
    if (c == '\r' || c == '\t') break;
    if (c == ' ') {
      if (i + 1 == chunk.size() || is_wsp(chunk[i + 1]) || chunk[i + 1] == '\r') break;
      ++i;  // the octet after the SP is ordinary too
    }
    ++i;
  }
  return i;
}

void BodyCanonicalizer::finish(BodySink& sink) {
  if (cr_) content("\r", sink);
  cr_ = false;
  // 3.4.3 and 3.4.4: trailing empty lines are ignored and a body that does not
  // end with CRLF gets one (errata 1384 for relaxed). An empty body is CRLF
  // under simple and nothing under relaxed.
  if (any_ || !relaxed_) emit("\r\n", sink);
  flush(sink);
  held_crlf_ = 0;
  wsp_ = false;
}

void BodyCanonicalizer::content(std::string_view run, BodySink& sink) {
  for (; held_crlf_ > 0; --held_crlf_) emit("\r\n", sink);
  if (wsp_) emit(" ", sink);  // 3.4.4 (a): a run of WSP inside a line is one SP
  wsp_ = false;
  emit(run, sink);
  any_ = true;
}

void BodyCanonicalizer::emit(std::string_view bytes, BodySink& sink) {
  if (bytes.size() > sizeof(buffer_) - used_) {
    flush(sink);
    if (bytes.size() >= sizeof(buffer_)) {  // large runs go straight through
      sink.write(bytes);
      return;
    }
  }
  std::memcpy(buffer_ + used_, bytes.data(), bytes.size());
  used_ += bytes.size();
}

void BodyCanonicalizer::flush(BodySink& sink) {
  if (used_ > 0) sink.write(std::string_view(buffer_, used_));
  used_ = 0;
}

void BodyHasher::write(std::string_view bytes) {
  if (limit_ && length_ < *limit_) {
    hash_.update(bytes.substr(0, std::min<std::uint64_t>(bytes.size(), *limit_ - length_)));
  } else if (!limit_) {
    hash_.update(bytes);
  }
  length_ += bytes.size();
}

std::string BodyHasher::finish() {
  canon_.finish(*this);
  return hash_.finish();
}

}  // namespace tern::dkim
