// Test plan: the usage examples compile and do what their comments say.
// - UsageExampleTest.HeaderSnippetRuns: the USAGE block of
//   <protopool/slot_pool_resource.h>, verbatim.
// - UsageExampleTest.HeaderSnippetIsVerbatim: reads the header and this file
//   and checks that the USAGE lines appear here, in order, unchanged (so the
//   header cannot drift from what is compiled).
// - UsageExampleTest.ReadmeExampleRuns: the README's usage example (the
//   lines between README-BEGIN and README-END), with its commented values
//   checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <protopool/slot_pool_resource.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <list>
#include <memory_resource>
#include <sstream>
#include <string>
#include <vector>

namespace {

TEST(UsageExampleTest, HeaderSnippetRuns) {
  // clang-format off
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 64});
  std::pmr::list<int> numbers(&pool);  // every node is one slot
  numbers.push_back(42);
  // clang-format on
  EXPECT_EQ(numbers.front(), 42);
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  EXPECT_EQ(pool.stats().capacity, 64u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string trim_left(const std::string& s) {
  const std::size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first);
}

TEST(UsageExampleTest, HeaderSnippetIsVerbatim) {
  const std::vector<std::string> header = read_lines(
      PROTOPOOL_SOURCE_DIR "/include/protopool/slot_pool_resource.h");
  std::vector<std::string> usage;
  bool in_usage = false;
  for (const std::string& line : header) {
    if (line == "// USAGE:") {
      in_usage = true;
    } else if (in_usage && line.rfind("//   ", 0) == 0) {
      usage.push_back(trim_left(line.substr(2)));
    } else if (in_usage) {
      break;
    }
  }
  ASSERT_GE(usage.size(), 3u) << "no USAGE block found";

  std::vector<std::string> here;
  for (const std::string& line :
       read_lines(PROTOPOOL_SOURCE_DIR "/test/usage_example_test.cc")) {
    here.push_back(trim_left(line));
  }
  EXPECT_NE(std::search(here.begin(), here.end(), usage.begin(), usage.end()),
            here.end())
      << "the header's USAGE lines are not compiled here, in order";
}

// README-BEGIN
struct quote {
  long instrument;
  double bid;
  double ask;
};

TEST(UsageExampleTest, ReadmeExampleRuns) {
  // One pool for the nodes of a list: 48-byte slots, 256 carved up front
  // in a single upstream call.
  protopool::slot_pool_resource pool(protopool::slot_pool_options{
      .slot_size = 48, .slot_alignment = 8, .initial_slots = 256});

  std::pmr::list<quote> book(&pool);  // each node is one slot
  for (long i = 0; i < 100; ++i) {
    book.push_back({.instrument = i, .bid = 1.0, .ask = 1.5});
  }
  book.remove_if([](const quote& q) { return q.instrument % 2 == 0; });

  std::pmr::vector<quote> batch(&pool);
  batch.resize(10);  // 240 bytes: too large for a slot, forwarded upstream

  const protopool::slot_pool_stats stats = pool.stats();
  EXPECT_EQ(stats.slots_in_use, 50u);         // the list's nodes
  EXPECT_EQ(stats.high_water, 100u);          // most slots in use at once
  EXPECT_EQ(stats.capacity, 256u);            // still the initial chunk:
  EXPECT_EQ(stats.chunks, 1u);                // no upstream call since
  EXPECT_EQ(stats.oversize_allocations, 1u);  // the vector's array
}
// README-END

}  // namespace
