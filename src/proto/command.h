#pragma once
// SMTP command lines, RFC 5321 4.1.1: a verb, then an argument.
#include <string_view>

namespace tern::proto {

enum class Verb {
  kEhlo, kHelo, kMail, kRcpt, kData, kBdat, kRset, kNoop, kQuit,
  kVrfy, kExpn, kHelp, kStarttls, kAuth, kEtrn, kUnknown,
};

struct CommandLine {
  Verb verb = Verb::kUnknown;
  std::string_view verb_text;  // as the client wrote it (for the log)
  std::string_view argument;   // after the verb and one space; for MAIL/RCPT after "FROM:"/"TO:"
  bool malformed = false;      // MAIL without "FROM:", RCPT without "TO:", junk glued to a verb
};

// `line` is one command line without its CRLF.
CommandLine parse_command_line(std::string_view line);

std::string_view verb_name(Verb verb);

}  // namespace tern::proto
