#pragma once
// Mail loops seen in the message itself (RFC 5321 6.3): a Delivered-To
// header for the address being delivered to means the message has been
// here before for it (Postfix local(8): "mail forwarding loop"). Delivered-
// To is what Maildir delivery adds, what Dovecot adds, and what tern puts
// on a copy an alias forwards.
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "queue/queued_message.h"

namespace tern::delivery {

// The addresses in the message's Delivered-To headers, lower-cased, from
// its header section (read from the queue file; at most 1 MB of it).
Result<std::set<std::string>> delivered_to(const queue::QueuedMessage& message);

// 554 5.4.6, for a recipient found in delivered_to().
Error loop_detected(std::string_view address);

}  // namespace tern::delivery
