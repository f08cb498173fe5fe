#include "queue/delivery_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace tern::queue {
namespace {

// As append_state() writes them, one append each.
std::string records(std::initializer_list<std::string_view> list) {
  std::string out;
  for (auto r : list) out += "|\n" + state_record(r);
  return out;
}

// docs/operations.md shows this line; tests/t-21 computes the same sum.
TEST(DeliveryState, ARecordEndsWithItsChecksum) { EXPECT_EQ(state_record("done 0"), "done 0 #3ba886c9\n"); }

TEST(DeliveryState, ReadsWhatWasRecorded) {
  auto state = parse_state(records({"done 0", "attempt 1795608876", "warned 0HOHPA1B2C30000",
                                    "bounced 0HOHPB2C3D40000 2 3", "attempt 1795612476"}),
                           4);
  EXPECT_EQ(state.done, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(state.attempts, 2u);
  EXPECT_EQ(state.next_attempt, 1795612476);
  EXPECT_TRUE(state.delay_warned);
  EXPECT_EQ(state.dsns, (std::set<std::string>{"0HOHPA1B2C30000", "0HOHPB2C3D40000"}));
}

// What a start writes again after a crash reads as what it repeats, and
// repeating it does not count the attempts twice.
TEST(DeliveryState, SettledRecordsReadAsTheFile) {
  auto text = records({"done 0", "attempt 1795608876", "warned 0HOHPA1B2C30000", "done 0",
                       "bounced 0HOHPB2C3D40000 2 3", "attempt 1795612476"}) +
              "|\ndone 1 #00000000\n";  // spoiled: not repeated
  auto expect = [](const DeliveryState& state) {
    EXPECT_EQ(state.done, (std::vector<bool>{true, false, true, true}));
    EXPECT_EQ(state.attempts, 2u);
    EXPECT_EQ(state.next_attempt, 1795612476);
    EXPECT_TRUE(state.delay_warned);
    EXPECT_EQ(state.dsns, (std::set<std::string>{"0HOHPA1B2C30000", "0HOHPB2C3D40000"}));
  };
  auto settled = settled_records(text);
  EXPECT_EQ(settled, state_record("done 0") + state_record("warned 0HOHPA1B2C30000") +
                         state_record("bounced 0HOHPB2C3D40000 2 3") + state_record("attempts 2 1795612476"));
  expect(parse_state(settled, 4));  // alone: what reached the disk of the file
  auto once = text + "|\n" + settled;
  expect(parse_state(once, 4));
  auto twice = once + "|\n" + settled_records(once);
  expect(parse_state(twice, 4));
  // Attempts made after it count on from it.
  auto later = parse_state(twice + records({"attempt 1795619676"}), 4);
  EXPECT_EQ(later.attempts, 3u);
  EXPECT_EQ(later.next_attempt, 1795619676);
  EXPECT_EQ(settled_records("|\ngarbage #00000000\ndone 1"), "");  // no record, and a torn one
}

// "done 12" cut to "done 1" by a power cut must not mark recipient 1, at
// any point the append is cut, nor with the next append after it.
TEST(DeliveryState, ATornAppendIsNoRecord) {
  auto good = records({"done 3"});
  auto torn = records({"done 12", "attempt 99"});
  for (std::size_t cut = 0; cut < torn.size(); ++cut) {
    auto text = good + torn.substr(0, cut);
    for (const auto& then : {std::string(), records({"done 5"})}) {
      auto state = parse_state(text + then, 13);
      EXPECT_TRUE(state.done[3]) << cut;
      EXPECT_FALSE(state.done[1]) << cut;
      // The record counts only whole, with its own line end: the next
      // append must not complete it (a restart may have decided without it).
      EXPECT_EQ(state.done[12], cut >= records({"done 12"}).size()) << cut;
      if (!then.empty()) {
        EXPECT_TRUE(state.done[5]) << "the record after a torn one, cut at " << cut;
      }
    }
  }
}

// Zeros where the data of an append never reached the disk (the size did)
// hide that append, not the next one.
TEST(DeliveryState, ZerosSwallowNoRecord) {
  auto lost = records({"done 1"});
  auto text = records({"done 0"}) + std::string(lost.size(), '\0') + records({"done 2"});
  auto state = parse_state(text, 3);
  EXPECT_EQ(state.done, (std::vector<bool>{true, false, true}));
}

// A record torn just before its line end stays torn: the next append must
// not complete it (tern-sim seed 221468: a restart dropped the bounce the
// record names, then the record came to life and the bounce was lost).
TEST(DeliveryState, TheNextAppendDoesNotCompleteATornRecord) {
  char tmpl[] = "/tmp/tern-state-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto path = dir + "/state";
  auto torn = state_record("bounced 0HOHPB2C3D40000 2");
  std::ofstream(path) << torn.substr(0, torn.size() - 1);
  ASSERT_TRUE(append_state(posix_fs(), path, state_record("done 0")).ok());
  auto state = load_state(posix_fs(), path, 3).value();
  EXPECT_EQ(state.done, (std::vector<bool>{true, false, false}));
  EXPECT_TRUE(state.dsns.empty());
  std::filesystem::remove_all(dir);
}

TEST(DeliveryState, LinesWithoutAValidChecksumAreIgnored) {
  auto state = parse_state("done 0\ndone 1 #00000000\n" + state_record("done 2"), 3);
  EXPECT_EQ(state.done, (std::vector<bool>{false, false, true}));
}

}  // namespace
}  // namespace tern::queue
