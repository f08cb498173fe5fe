#include "srs/local_part.h"

namespace tern::srs {
namespace {

// RFC 5322 3.2.3 atext, plus UTF-8 octets (RFC 6531 3.3).
bool is_atext(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(ch) != std::string_view::npos;
}

// RFC 5321 4.1.2: Dot-string = Atom *("." Atom).
bool is_dot_string(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (text[i + 1] == '.') return false;  // the last octet is no '.', so i + 1 is in range
    } else if (!is_atext(text[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string unquote(std::string_view local_part) {
  if (local_part.size() < 2 || local_part.front() != '"' || local_part.back() != '"') return std::string(local_part);
  std::string content;
  for (std::size_t i = 1; i + 1 < local_part.size(); ++i) {
    char c = local_part[i];
    if (c == '\\') {
      if (i + 2 >= local_part.size()) return std::string(local_part);  // escapes the closing quote
      c = local_part[++i];
    } else if (c == '"') {
      return std::string(local_part);  // a quote inside: not one quoted-string
    }
    content += c;
  }
  return content;
}

std::string quote(std::string_view content) {
  if (is_dot_string(content)) return std::string(content);
  std::string out = "\"";
  for (char c : content) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace tern::srs
