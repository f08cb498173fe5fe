#include "queue/dsn_format.h"

#include <fmt/format.h>

#include <vector>

#include "proto/address.h"

namespace tern::queue {
namespace {

// RFC 5322 2.1.1 asks for 78; text lines leave room for quoting ("> ").
constexpr std::size_t kWrapLimit = 76;

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The longest start of `word` of at most `room` octets that does not cut a
// UTF-8 sequence (unless the word is not UTF-8 at all).
std::size_t cut_point(std::string_view word, std::size_t room) {
  if (word.size() <= room) return word.size();
  std::size_t cut = room;
  while (cut > 0 && is_continuation(word[cut])) --cut;
  return cut == 0 ? room : cut;
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) words.push_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

// Lays `text` out word by word: the first line begins with `lead`, each next
// line with `indent` after the CRLF. A word starts a new line when it would
// pass `soft` (unless it is the first on its line) or the hard limit.
void lay_out(std::string& out, std::string_view lead, std::string_view indent, std::string_view text,
             std::size_t soft) {
  out += lead;
  std::size_t line = lead.size();
  bool placed = false;  // a word is on the current line
  for (std::string_view word : split_words(text)) {
    while (!word.empty()) {
      auto piece = word.substr(0, cut_point(word, kHardLineLimit - indent.size()));
      word.remove_prefix(piece.size());
      std::size_t gap = placed ? 1 : 0;
      if ((placed && line + gap + piece.size() > soft) || line + gap + piece.size() > kHardLineLimit) {
        out += "\r\n";
        out += indent;
        line = indent.size();
        placed = false;
        gap = 0;
      }
      if (gap) out += ' ';
      out += piece;
      line += gap + piece.size();
      placed = true;
    }
  }
  out += "\r\n";
}

}  // namespace

void append_field(std::string& out, std::string_view name, std::string_view value) {
  // The space before a word becomes the folding white space (RFC 5322 2.2.3).
  lay_out(out, std::string(name) + ": ", " ", value, kSoftLineLimit);
}

void append_wrapped(std::string& out, std::string_view text, std::string_view indent) {
  lay_out(out, indent, indent, text, kWrapLimit);
}

std::string clean_text(std::string_view text, bool utf8) {
  bool keep_8bit = utf8 && proto::is_valid_utf8(text);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += (u >= 0x80 && !keep_8bit) ? '?' : c;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool has_8bit(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace tern::queue
