#include "proto/command.h"

#include <array>
#include <utility>

#include "base/text.h"

namespace tern::proto {
namespace {

constexpr std::array<std::pair<std::string_view, Verb>, 15> kVerbs{{
    {"EHLO", Verb::kEhlo}, {"HELO", Verb::kHelo}, {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt}, {"DATA", Verb::kData}, {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset}, {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy}, {"EXPN", Verb::kExpn}, {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStarttls}, {"AUTH", Verb::kAuth}, {"ETRN", Verb::kEtrn},
}};

// MAIL FROM: and RCPT TO: (RFC 5321 4.1.1.2/4.1.1.3). Some clients put a
// space after the colon; like Postfix we accept that (see
// smtp-paths.json "space-before-path", lenient alternative).
void split_path_argument(CommandLine& command, std::string_view keyword) {
  if (!istarts_with(command.argument, keyword)) {
    command.malformed = true;
    return;
  }
  auto rest = command.argument.substr(keyword.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  command.argument = rest;
}

}  // namespace

std::string_view verb_name(Verb verb) {
  for (const auto& [name, v] : kVerbs) {
    if (v == verb) return name;
  }
  return "UNKNOWN";
}

CommandLine parse_command_line(std::string_view line) {
  CommandLine command;
  auto space = line.find(' ');
  command.verb_text = line.substr(0, space);
  if (space != std::string_view::npos) command.argument = line.substr(space + 1);
  for (const auto& [name, verb] : kVerbs) {
    if (iequals(command.verb_text, name)) command.verb = verb;
  }
  if (command.verb == Verb::kMail) split_path_argument(command, "FROM:");
  if (command.verb == Verb::kRcpt) split_path_argument(command, "TO:");
  return command;
}

}  // namespace tern::proto
