#pragma once
// The control API (`data_dir/control.sock`, DESIGN.md "operations"): one
// JSON object a line each way. The CLI (`tern queue`), the metrics and the
// dashboard use it; with no server running the CLI answers the read-only
// requests itself from the spool, through the same code (SpoolAccess).
//
// Requests: {"command": C, ...}
//   list     [domain] [state]      -> {"ok", "source", "messages": [...]}
//   show     id                    -> {"ok", "source", "message": {..., "envelope", "headers", "history"}}
//   summary                        -> {"ok", "source", "buckets", "domains", "total"}
//   recent                         -> {"ok", "events": [{time, id, recipient, outcome, reply}]}
//   stats                          -> {"ok", "queue", "oldest_age", "received", "delivered",
//                                      "bounced", "rates": [{time, in, out}] (messages/s)}
//   flush    ids | domain | all    -> {"ok", "done": [ids], "errors": [...]}
//   hold     ids | domain
//   release  ids | domain | all
//   delete   ids
//   bounce   ids
//   reload                         -> {"ok", "result"}: the configuration read again
// "ok" is false with "error" when the request itself fails, and when any
// id of a command failed (the others were acted on).
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "proto/envelope.h"
#include "queue/queue_index.h"

namespace tern::control {

// What the API reads and acts on: the running server's queue, or the spool
// on disk (read-only).
class QueueAccess {
 public:
  virtual ~QueueAccess() = default;
  virtual std::string_view source() const = 0;  // "server" or "spool"
  virtual std::vector<queue::MessageInfo> messages() = 0;
  virtual Result<queue::MessageInfo> message(const std::string& id) = 0;
  virtual Result<std::string> headers(const std::string& id) = 0;
  virtual Result<std::string> state_text(const std::string& id) = 0;
  // The envelope as queued (parameters, where it came from), for show.
  virtual Result<proto::Envelope> envelope(const std::string&) { return Error{0, "", "no envelope", ""}; }
  virtual std::vector<queue::RecentEvent> recent() = 0;
  // flush, hold, release, delete, bounce.
  virtual Result<queue::Acted> act(std::string_view command, const std::vector<std::string>& ids) = 0;
};

// The reply to one request line (a JSON object, without the line end).
// Never throws: a malformed request gets {"ok": false, "error": ...}.
std::string handle_request(std::string_view line, QueueAccess& queue, std::time_t now);

// A request for `command` (the server answers "reload" itself, on its
// network thread: app/reload.h).
bool is_command(std::string_view line, std::string_view command);
// {"ok": true, "result": text} or {"ok": false, "error": text}.
std::string reload_reply(const Result<std::string>& result);

// The age buckets of `summary`, as Postfix's qshape has them (minutes).
inline constexpr int kBucketMinutes[] = {5, 10, 20, 40, 80, 160, 320, 640, 1280};

}  // namespace tern::control
