#include "base/ids.h"

#include <gtest/gtest.h>

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

TEST(Ids, SessionIdsAreUnique) {
  EXPECT_NE(tern::make_session_id(), tern::make_session_id());
}
