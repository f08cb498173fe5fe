#pragma once
#include <ctime>
#include <string>

namespace tern {

// RFC 5322 3.3 date-time in UTC, "Thu, 01 Jan 1970 00:00:00 +0000",
// independent of the locale (Date and Received fields, DSNs).
std::string format_date(std::time_t time);

}  // namespace tern
