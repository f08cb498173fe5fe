#pragma once
// What the queue remembers about a message between delivery attempts:
// queue/state/<id>, one record per line, appended (the queue file itself is
// never rewritten):
//   done <recipient index>   the recipient has its final outcome (delivered,
//                            or failed and the sender notified)
//   attempt <unix time>      an attempt left some recipient deferred; the
//                            next one is due at that time (kept across restarts)
//   warned [<dsn id>]        the delay DSN was sent (at most once)
//   bounced <dsn id> <index>...  these recipients failed and their sender
//                            was sent that DSN (they are done)
//   notified <dsn id>        a success DSN was sent
//   attempts <n> <unix time> the attempts so far and the next one's time, in
//                            one record (written by settled_records())
//   reply <unix time> <index>[,<index>...] <text>
//                            what these recipients were last answered
//                            (deferred or failed), for `tern queue`
//   held <unix time>         `tern queue hold`: not delivered nor expired...
//   released <unix time>     ...until this; its lifetime counts from here
// A DSN is held out of the queue until the record naming it is durable
// (spool.h): at a start, a held DSN whose record was lost is dropped, and
// the message sends it again; so a sender hears of a failure exactly once.
// Each line ends in " #" and a checksum of the record (8 hex digits,
// FNV-1a), and each append starts with "|" and a line end: an append torn
// by a power cut ("done 12" cut to "done 1", or cut just before its line
// end), or zeros where data never reached the disk, cannot pass for a
// record, then or later, nor swallow the next one. A missing file is a
// message never tried. Records are written
// after the deliveries they record are durable; a lost record only means a
// recipient is tried again (local delivery finds its file, see
// delivery/maildir.h).
#include <ctime>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "queue/fs.h"

namespace tern::queue {

struct DeliveryState {
  std::vector<bool> done;   // per recipient
  unsigned attempts = 0;    // attempts that left recipients deferred
  std::time_t next_attempt = 0;  // when the next attempt is due; 0: now
  bool delay_warned = false;
  std::set<std::string> dsns;  // DSNs recorded as sent (their queue ids)
  std::vector<bool> failed;    // of those done: failed (bounced)
  bool held = false;
  std::time_t released_at = 0;  // the last release; 0: never held
  struct Reply {
    std::time_t time = 0;
    std::string text;
  };
  std::vector<Reply> replies;  // per recipient, the last one (empty text: none)

  std::vector<std::size_t> pending() const;
};

// `recipients`: how many the message has (done records beyond are ignored;
// 0 reads the schedule alone). An error when the file exists and cannot be
// read: taking it for a message never tried would deliver it all again.
Result<DeliveryState> load_state(FileSystem& fs, const std::string& path, std::size_t recipients);
DeliveryState parse_state(std::string_view text, std::size_t recipients);
// Each append starts with this: it ends whatever a torn append left, and
// spoils it (a record cut just before its line end would otherwise be
// completed by the next append's, long after a restart decided without it).
inline constexpr std::string_view kAppendStart = "|\n";
// One record as a line of the file, framed.
std::string state_record(std::string_view record);
// The "reply" record of these recipients; the text is made one printable
// line, at most 400 octets.
std::string reply_record(std::time_t time, const std::vector<std::size_t>& indexes, std::string_view text);
// Every "reply" record in the file, in order: for `tern queue show`.
struct ReplyRecord {
  std::time_t time = 0;
  std::vector<std::size_t> indexes;
  std::string text;
};
std::vector<ReplyRecord> reply_history(std::string_view text);
Result<void> append_state(FileSystem& fs, const std::string& path, const std::string& lines);
// The records of a state file once more, each once, as lines to append to
// it: after a crash, what a start reads may be only in the page cache (a
// sync that failed left it there, and the process that knew is gone).
// Written again and synced, it is on the disk before the start acts on it.
// Empty when the file holds no record.
std::string settled_records(std::string_view text);

}  // namespace tern::queue
