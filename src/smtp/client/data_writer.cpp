#include "smtp/client/data_writer.h"

namespace tern::smtp::client {

void DataWriter::end_line(std::string& out) {
  out += "\r\n";
  line_start_ = true;
}

void DataWriter::write(std::string_view piece, std::string& out) {
  if (mode_ == Mode::kBinary) {
    out.append(piece);
    return;
  }
  std::size_t i = 0;
  while (i < piece.size()) {
    if (pending_cr_) {
      pending_cr_ = false;
      end_line(out);  // CRLF, or a bare CR made into one
      if (piece[i] == '\n') {
        ++i;
        continue;
      }
    }
    char c = piece[i];
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
    } else if (c == '\n') {
      end_line(out);  // bare LF
      ++i;
    } else {
      // RFC 5321 4.5.2: a line that begins with "." gets one more.
      if (line_start_ && c == '.' && mode_ == Mode::kData) out += '.';
      auto end = piece.find_first_of("\r\n", i);
      if (end == std::string_view::npos) end = piece.size();
      out.append(piece.substr(i, end - i));
      line_start_ = false;
      i = end;
    }
  }
}

void DataWriter::finish(std::string& out) {
  if (mode_ == Mode::kBinary) return;
  if (pending_cr_ || !line_start_) end_line(out);
  pending_cr_ = false;
  if (mode_ == Mode::kData) out += ".\r\n";
}

}  // namespace tern::smtp::client
