#pragma once
// Helpers shared by the DSN tests: a small MIME reader that checks the
// structure of what dsn.h writes, and builders for its inputs.
#include <gtest/gtest.h>
#include <unistd.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include "base/text.h"
#include "proto/esmtp.h"
#include "queue/dsn_format.h"
#include "queue/dsn.h"

namespace tern::queue::dsn_test {

using proto::Envelope;

constexpr std::time_t kArrival = 1700000000;  // Tue, 14 Nov 2023 22:13:20 +0000
constexpr std::time_t kNow = kArrival + 5 * 86400;

inline const std::string kOriginal =
    "Received: from client.example (client.example [192.0.2.1])\r\n"
    "\tby mx.example.test (tern) with ESMTP id 0001; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@example.test>\r\n"
    "To: bob@example.org, carol@example.org\r\n"
    "Subject: Hello\r\n"
    "Message-ID:\r\n <m1@example.test>\r\n"
    "\r\n"
    "Body line 1\r\n"
    "Body line 2\r\n";

// --- a small MIME reader, enough to check structure ---------------------

struct Entity {
  std::vector<std::pair<std::string, std::string>> fields;  // name, unfolded value
  std::string body;

  // The value of the only field called `name`; "" when absent (and a test
  // failure when there are several).
  std::string get(std::string_view name) const {
    std::string value;
    int count = 0;
    for (const auto& [n, v] : fields) {
      if (iequals(n, name)) value = v, ++count;
    }
    EXPECT_LE(count, 1) << name;
    return value;
  }
  bool has(std::string_view name) const {
    return std::any_of(fields.begin(), fields.end(), [&](const auto& f) { return iequals(f.first, name); });
  }
};

inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t i = 0;
  while (i < text.size()) {
    auto end = text.find("\r\n", i);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(i, end - i));
    i = end + 2;
  }
  return lines;
}

// RFC 5322 2.2.3: unfolding removes the CRLF before white space.
inline Entity parse_fields(std::string_view text) {
  Entity entity;
  for (const auto& line : split_lines(text)) {
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      EXPECT_FALSE(entity.fields.empty()) << "continuation without a field";
      if (!entity.fields.empty()) entity.fields.back().second += line;
      continue;
    }
    auto colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t") == std::string::npos ? value.size()
                                                                       : value.find_first_not_of(" \t"));
    entity.fields.emplace_back(line.substr(0, colon), value);
  }
  return entity;
}

inline Entity parse_entity(std::string_view text) {
  auto end = text.find("\r\n\r\n");
  EXPECT_NE(end, std::string_view::npos) << "no empty line after the header";
  if (end == std::string_view::npos) return parse_fields(text);
  Entity entity = parse_fields(text.substr(0, end + 2));
  entity.body = std::string(text.substr(end + 4));
  return entity;
}

// RFC 2046 5.1.1: the parts between "--boundary" lines, the last closed by
// "--boundary--".
inline std::vector<Entity> split_parts(std::string_view body, const std::string& boundary) {
  std::string delimiter = "\r\n--" + boundary;
  std::vector<Entity> parts;
  auto first = body.find("--" + boundary + "\r\n");
  EXPECT_NE(first, std::string_view::npos);
  if (first == std::string_view::npos) return parts;
  EXPECT_TRUE(first == 0 || body.substr(first - 2, 2) == "\r\n");
  std::size_t start = first + boundary.size() + 4;
  for (;;) {
    auto end = body.find(delimiter, start);
    EXPECT_NE(end, std::string_view::npos) << "no closing delimiter";
    if (end == std::string_view::npos) return parts;
    parts.push_back(parse_entity(body.substr(start, end - start)));
    auto after = body.substr(end + delimiter.size());
    if (after.substr(0, 2) == "--") {
      EXPECT_EQ(after, "--\r\n");
      return parts;
    }
    EXPECT_EQ(after.substr(0, 2), "\r\n");
    start = end + delimiter.size() + 2;
  }
}

// RFC 3464 2.1: groups of fields separated by empty lines.
inline std::vector<Entity> status_groups(std::string_view body) {
  std::vector<Entity> groups;
  std::size_t i = 0;
  while (i < body.size()) {
    auto end = body.find("\r\n\r\n", i);
    if (end == std::string_view::npos) end = body.size();
    groups.push_back(parse_fields(body.substr(i, end - i + 2)));
    i = end + 4;
  }
  return groups;
}

inline std::string boundary_of(const std::string& content_type) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(content_type, m, std::regex("boundary=\"([^\"]+)\"")));
  return m.size() > 1 ? m[1].str() : "";
}

inline void expect_lines_ok(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      ASSERT_TRUE(i > 0 && text[i - 1] == '\r') << "bare LF at " << i;
    }
    if (text[i] == '\r') {
      ASSERT_TRUE(i + 1 < text.size() && text[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  for (const auto& line : split_lines(text)) EXPECT_LE(line.size(), kHardLineLimit);
  EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
}

// --- building inputs ------------------------------------------------------

struct Rcpt {
  std::string address;  // local@domain
  std::string params;   // " NOTIFY=... ORCPT=..."
};

inline Envelope make_envelope(std::string_view mail_params, const std::vector<Rcpt>& rcpts,
                       std::string sender = "alice@example.test") {
  Envelope e;
  auto params = proto::parse_mail_parameters(mail_params);
  EXPECT_TRUE(params.ok());
  if (params) e.params = *params;
  auto at = sender.find('@');
  if (sender.empty()) {
    e.reverse_path.null = true;
  } else {
    e.reverse_path.mailbox = {sender.substr(0, at), sender.substr(at + 1)};
  }
  for (const auto& r : rcpts) {
    auto p = proto::parse_rcpt_parameters(r.params);
    EXPECT_TRUE(p.ok()) << r.params;
    auto a = r.address.find('@');
    e.recipients.push_back({{r.address.substr(0, a), r.address.substr(a + 1)}, p ? *p : proto::RcptParameters{}});
  }
  return e;
}

inline DsnRecipient failed(std::size_t index, std::string status = "5.1.1",
                    std::string diagnostic = "550 5.1.1 User unknown") {
  DsnRecipient r;
  r.index = index;
  r.action = DsnAction::kFailed;
  r.status = std::move(status);
  r.remote_mta = "mx.example.org";
  r.diagnostic = std::move(diagnostic);
  r.last_attempt = kNow - 60;
  return r;
}

inline DsnRecipient delayed(std::size_t index) {
  DsnRecipient r = failed(index, "4.4.1", "451 4.4.1 Try again later");
  r.action = DsnAction::kDelayed;
  r.will_retry_until = kArrival + 5 * 86400;
  return r;
}

inline DsnRequest make_request(DsnKind kind, std::vector<DsnRecipient> recipients) {
  DsnRequest request;
  request.kind = kind;
  request.reporting_mta = "mx.example.test";
  request.queue_id = "0001";
  request.arrival_date = kArrival;
  request.now = kNow;
  request.recipients = std::move(recipients);
  request.seed = 42;
  return request;
}

struct Generated {
  DsnResult result;
  std::string text;
  Entity message;
  std::vector<Entity> parts;
};

inline Generated generate(const Envelope& e, const DsnRequest& request, std::string_view original = kOriginal) {
  Generated g;
  auto result = write_dsn(e, request, string_reader(original), [&](std::string_view piece) -> Result<void> {
    g.text += piece;
    return {};
  });
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().detail);
  if (!result) return g;
  g.result = *result;
  EXPECT_EQ(g.result.size, g.text.size());
  expect_lines_ok(g.text);
  g.message = parse_entity(g.text);
  EXPECT_EQ(boundary_of(g.message.get("Content-Type")), g.result.boundary);
  g.parts = split_parts(g.message.body, g.result.boundary);
  return g;
}

inline const Envelope kTwo = make_envelope("", {{"bob@example.org", ""}, {"carol@example.org", ""}});

}  // namespace tern::queue::dsn_test
