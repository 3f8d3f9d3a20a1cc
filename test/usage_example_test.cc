// Test plan: the usage examples compile and do what their comments say.
// - UsageExampleTest.HeaderSnippetRuns: the USAGE block of
//   <protopool/slot_pool_resource.h>, verbatim.
// - UsageExampleTest.HeaderSnippetIsVerbatim: reads the header and this file
//   and checks that the USAGE lines appear here, in order, unchanged (so the
//   header cannot drift from what is compiled).
// - SlotStrideTest.*: slot_stride() and options() for the stride rule the
//   header and README state, including {slot_size 9, slot_alignment 1} -> 16.
// The README's examples are compiled and run verbatim elsewhere (the
// readme_example.* tests, test/readme/).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <protopool/slot_pool_resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

// The stride rule of the header and README: `slot_size` rounded up to at
// least a pointer (the free-list link), then to a multiple of
// `slot_alignment` and of `alignof(void*)`; `options()` keeps what was asked.
TEST(SlotStrideTest, NineBytesAlignedToOneTakeSixteen) {
  static_assert(sizeof(void*) == 8 && alignof(void*) == 8,
                "the README's numbers are for a 64-bit machine");
  protopool::slot_pool_resource pool(protopool::slot_pool_options{
      .slot_size = 9, .slot_alignment = 1, .initial_slots = 2});
  EXPECT_EQ(pool.slot_stride(), 16u);
  EXPECT_EQ(pool.options().slot_size, 9u);
  EXPECT_EQ(pool.options().slot_alignment, 1u);

  // The two slots of the initial chunk are one stride apart, and each is
  // aligned to a pointer although only 1 was asked for.
  void* first = pool.allocate(9, 1);
  void* second = pool.allocate(9, 1);
  const auto a = reinterpret_cast<std::uintptr_t>(first);
  const auto b = reinterpret_cast<std::uintptr_t>(second);
  EXPECT_EQ(a > b ? a - b : b - a, 16u);
  EXPECT_EQ(a % alignof(void*), 0u);
  EXPECT_EQ(b % alignof(void*), 0u);
  pool.deallocate(second, 9, 1);
  pool.deallocate(first, 9, 1);
}

TEST(SlotStrideTest, RoundsUpToALinkAndBothAlignments) {
  struct expectation {
    std::size_t slot_size;
    std::size_t slot_alignment;
    std::size_t stride;
  };
  const expectation expectations[] = {{1, 1, 8},   {8, 1, 8},    {9, 1, 16},
                                      {9, 4, 16},  {16, 16, 16}, {24, 16, 32},
                                      {48, 8, 48}, {9, 64, 64},  {65, 64, 128}};
  for (const expectation& e : expectations) {
    protopool::slot_pool_resource pool(protopool::slot_pool_options{
        .slot_size = e.slot_size, .slot_alignment = e.slot_alignment});
    EXPECT_EQ(pool.slot_stride(), e.stride)
        << "slot_size " << e.slot_size << ", slot_alignment "
        << e.slot_alignment;
    EXPECT_EQ(pool.options().slot_size, e.slot_size);
    EXPECT_EQ(pool.options().slot_alignment, e.slot_alignment);
  }
}

}  // namespace
