#pragma once
// `tern sendmail` (also run as `sendmail` through a symlink): reads a message
// on standard input and drops it into data_dir/maildrop/ for the server's
// pickup (app/pickup.h), as Postfix's sendmail and postdrop do. It runs as
// the calling user, with no privilege: the directory's modes (3733, see
// docs/operations.md) are what let it write there and nothing more.
//
// Exit status (sysexits.h): 0 once the file is durable in maildrop/;
// 64 (EX_USAGE) bad arguments, bad addresses, no recipients; 65 (EX_DATAERR)
// a message over limits.max_message_size; 75 (EX_TEMPFAIL) it could not be
// queued (config unreadable, maildrop missing or not writable, disk error).
// Every failure prints one line on standard error.

namespace tern::app {

// argv[0] is the program or subcommand name; options and recipients follow.
int sendmail_main(int argc, char** argv);

}  // namespace tern::app
