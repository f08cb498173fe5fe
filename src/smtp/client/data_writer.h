#pragma once
// Message content as the client puts it on the wire, streaming: the inverse
// of proto::DataReader. Pieces may be cut anywhere (a line, a CRLF, a leading
// dot may straddle two pieces); only two flags of state are kept, never the
// content.
#include <string>
#include <string_view>

namespace tern::smtp::client {

class DataWriter {
 public:
  enum class Mode {
    kData,    // DATA: CRLF line ends and dot-stuffing (RFC 5321 4.5.2)
    kText,    // BDAT with a 7bit/8bitmime body: CRLF line ends only (RFC 3030 3)
    kBinary,  // BDAT with BODY=BINARYMIME: octets as they are (RFC 3030 3)
  };

  explicit DataWriter(Mode mode = Mode::kData) : mode_(mode) {}

  // Appends the encoded `piece` to `out`. A bare CR or bare LF becomes CRLF:
  // RFC 5321 2.3.8 forbids them, and a peer that reads them as line ends
  // could be smuggled a second message.
  void write(std::string_view piece, std::string& out);
  // Ends the content: CRLF after an unfinished last line, then, for DATA,
  // the end-of-data line "." (RFC 5321 4.1.1.4).
  void finish(std::string& out);

 private:
  void end_line(std::string& out);

  Mode mode_;
  bool line_start_ = true;  // the next octet starts a line
  bool pending_cr_ = false;  // a CR was read; its LF may come in the next piece
};

}  // namespace tern::smtp::client
