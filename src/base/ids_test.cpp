#include "base/ids.h"

#include <gtest/gtest.h>

#include <ctime>
#include <set>

TEST(Ids, QueueIdsAreUniqueFixedWidthAndSorted) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    auto id = tern::make_queue_id();
    EXPECT_EQ(id.size(), 15u);
    EXPECT_TRUE(seen.insert(id).second) << id;
    EXPECT_LT(previous.substr(0, 11), id.substr(0, 11) + "~");
    previous = id;
  }
}

TEST(Ids, QueueIdTellsTheArrivalTime) {
  auto before = std::time(nullptr);
  auto t = tern::queue_id_time(tern::make_queue_id());
  EXPECT_GE(t, before);
  EXPECT_LE(t, std::time(nullptr));
  EXPECT_EQ(tern::queue_id_time("not-an-id"), 0);
  EXPECT_EQ(tern::queue_id_time("0hohn6rzxbe0000"), 0);
}

TEST(Ids, SessionIdsAreUnique) {
  EXPECT_NE(tern::make_session_id(), tern::make_session_id());
}
