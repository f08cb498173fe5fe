#pragma once
// Test support for the client session: a scripted server and the driver
// loop a real connection would run, so that each test states only the
// server's replies and checks the client's writes and the results.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "smtp/client/session.h"

namespace tern::smtp::client::test {

using Strings = std::vector<std::string>;

inline SessionOptions client_options() {
  SessionOptions options;
  options.helo_name = "client.test";
  return options;
}

// A scripted server: its replies in turns (what it sends after each client
// write), and what the driver does at each choice.
struct Script {
  SessionOptions options = client_options();
  std::vector<Message> messages;
  Strings server;
  Strings body{"Subject: hi\r\n\r\nhello\r\n"};  // every message's content, in pieces
  bool convert_8bit = false;  // at kDowngrade: downgrade(converted_size), else reject_8bit()
  std::uint64_t converted_size = 0;
  bool timeout_at_end = false;  // when the server falls silent: timed_out(), else connection_lost()
  bool first_at_ready = false;  // give the first message at kReady, not before the greeting
};

struct Transcript {
  Strings writes;                // each client write; "<TLS>" where the handshake ran
  std::vector<Strings> results;  // per message, per recipient
  bool operator==(const Transcript&) const = default;

  std::string client() const {
    std::string out;
    for (const auto& w : writes) out += w;
    return out;
  }
};

inline void PrintTo(const Transcript& t, std::ostream* os) {
  *os << "writes:";
  for (const auto& w : t.writes) *os << " " << ::testing::PrintToString(w);
  *os << "\nresults:";
  for (const auto& r : t.results) *os << " " << ::testing::PrintToString(r);
}

inline std::string render(const RecipientResult& r) {
  std::string out = std::to_string(r.code) + " " + r.enhanced + " " + r.text;
  if (!r.in_reply_to.empty()) out += " <" + std::string(r.in_reply_to) + ">";
  return out;
}

inline Strings render(const std::vector<RecipientResult>& results) {
  Strings out;
  for (const auto& r : results) out.push_back(render(r));
  return out;
}

inline constexpr std::size_t kWhole = std::string::npos;

// Runs the driver loop against the script. The server's bytes are fed turn
// by turn, the turn holding `cut` in two pieces cut there; with `bytewise`
// every byte alone.
inline Transcript play(const Script& script, std::size_t cut = kWhole, bool bytewise = false) {
  Session session(script.options);
  Transcript t;
  std::string stream;
  std::vector<std::size_t> turn_ends;
  for (const auto& turn : script.server) turn_ends.push_back((stream += turn).size());
  std::size_t pos = 0, next_message = 0, piece = 0;
  bool in_flight = false;
  auto send_next = [&] {
    session.send_message(script.messages[next_message++]);
    in_flight = true;
    piece = 0;
  };
  auto record = [&] {
    if (in_flight) t.results.push_back(render(session.results()));
    in_flight = false;
  };
  // Before the greeting, a message is held until EHLO is done.
  if (!script.messages.empty() && !script.first_at_ready) send_next();
  for (int step = 0; step < 100000; ++step) {
    switch (session.next()) {
      case Next::kWrite: t.writes.push_back(session.take_output()); break;
      case Next::kRead: {
        if (pos == stream.size()) {
          script.timeout_at_end ? session.timed_out() : session.connection_lost();
          break;
        }
        std::size_t end = *std::upper_bound(turn_ends.begin(), turn_ends.end(), pos);
        if (cut > pos && cut < end) end = cut;
        if (bytewise) end = pos + 1;
        session.receive(std::string_view(stream).substr(pos, end - pos));
        pos = end;
        break;
      }
      case Next::kStartTls:
        // Whatever followed the 220 in its turn goes to the TLS layer, not to us.
        pos = *std::lower_bound(turn_ends.begin(), turn_ends.end(), pos);
        t.writes.push_back("<TLS>");
        session.tls_established();
        break;
      case Next::kSendBody: {
        bool last = piece + 1 >= script.body.size();
        session.send_body(piece < script.body.size() ? script.body[piece] : "", last);
        ++piece;
        break;
      }
      case Next::kDowngrade:
        script.convert_8bit ? session.downgrade(script.converted_size) : session.reject_8bit();
        break;
      case Next::kReady:
        EXPECT_TRUE(!in_flight || session.message_finished());
        record();
        next_message < script.messages.size() ? send_next() : session.quit();
        break;
      case Next::kDone:
        record();
        // Messages given to a closed session fail at once, as it closed.
        while (next_message < script.messages.size()) {
          send_next();
          record();
        }
        return t;
    }
  }
  ADD_FAILURE() << "the session never finished";
  return t;
}

// The transcript is the same wherever TCP cuts the server's replies.
inline Transcript play_at_every_split(const Script& script) {
  auto whole = play(script);
  std::size_t size = 0;
  for (const auto& turn : script.server) size += turn.size();
  for (std::size_t cut = 1; cut < size; ++cut) EXPECT_EQ(play(script, cut), whole) << "cut at " << cut;
  EXPECT_EQ(play(script, kWhole, true), whole) << "byte by byte";
  return whole;
}

}  // namespace tern::smtp::client::test
