// Test plan for protopool::slot_pool_resource (issue 2), one suite per
// concern; the upstream is test/support/counting_resource.h, which records
// every upstream call and fails the test on a mismatched deallocation.
// - SlotPoolResourceTest: distinct aligned slots for every request that fits
//   (bytes == 0 included), LIFO reuse, options() as given, owns() (also
//   across many chunks of mixed sizes),
//   is_equal identity, upstream_resource() (default and given), stats.
// - SlotPoolStrideTest: slot_stride() rounds slot_size up to a link and to
//   the alignment; slots of one chunk are exactly one stride apart.
// - SlotPoolOptionsTest / SlotPoolInvalidOptionsTest: defaults, for_type<T>,
//   each invalid option -> std::invalid_argument naming the field, with no
//   upstream call; null upstream.
// - SlotPoolGrowthTest: initial_slots is one upstream call and no more until
//   used up; geometric growth capped by max_slots_per_chunk, one upstream
//   call per chunk, chunk sizes checked on the upstream.
// - SlotPoolCapacityTest: max_slots -> std::bad_alloc, pool unchanged and
//   usable again after a free.
// - SlotPoolOversizeTest: too large / over-aligned requests go upstream and
//   are counted, deallocate routes them back; throw_bad_alloc refuses them;
//   a non-power-of-two alignment -> std::invalid_argument.
// - SlotPoolUpstreamFailureTest: upstream throws at construction, refill and
//   oversize: the very exception propagates, stats unchanged, nothing leaks,
//   the pool is usable afterwards.
// - SlotPoolReleaseTest: release() and the destructor return every byte;
//   the pool stays usable after release(); stats stay exact through reuse,
//   growth and release() (release builds derive them).
// - SlotPoolStaticPathTest: allocate_slot()/deallocate_slot() share slots,
//   stats and limits with allocate()/deallocate().
// - SlotPoolPassThroughTest: PROTOPOOL_PASS_THROUGH=1 sends every request
//   upstream with matching deallocations, the static path's blocks aligned
//   as slots (at least a pointer's alignment); max_slots still holds.
// - SlotPoolCheckedDeathTest / SlotPoolCheckedReportTest: checked-build
//   diagnoses (abort with a message) and the stderr report of slots still in
//   use at destruction and release(); release builds print nothing; the
//   destructor returns every byte even with slots in use (unless a memory
//   checker watches: then it keeps them for the checker to report).
// - SlotPoolModelTest: randomized mixed traffic (fixed seeds) against a
//   model of the live blocks.
// - SlotPoolContainersTest: std::pmr containers over the pool.
#include <absl/strings/str_format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <protopool/slot_pool_resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <numeric>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "detail/tool_hooks.h"
#include "support/counting_resource.h"

namespace {

using ::protopool::oversize_policy;
using ::protopool::slot_pool_options;
using ::protopool::slot_pool_resource;
using ::protopool::slot_pool_stats;
using ::protopool::testing::counting_resource;
using ::protopool::testing::upstream_failure;
using ::testing::HasSubstr;

bool is_aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

auto as_tuple(const slot_pool_stats& s) {
  return std::make_tuple(s.slots_in_use, s.high_water, s.capacity, s.chunks,
                         s.upstream_bytes, s.oversize_allocations);
}

std::string pointer_text(const void* p) { return absl::StrFormat("%p", p); }

// A chunk is a small header (plus a bitmap in checked builds), padding to
// the slot alignment, then the slots: its size is the slots' bytes plus at
// most this.
std::size_t max_chunk_overhead(std::size_t slots, std::size_t alignment) {
  return 128 + (slots + 63) / 64 * 8 + alignment;
}

// Allocates `count` slot-sized blocks into `held`; returns the slots each
// chunk taken meanwhile added to the capacity, in order.
std::vector<std::size_t> allocate_and_watch_growth(slot_pool_resource& pool,
                                                   std::size_t count,
                                                   std::vector<void*>& held) {
  std::vector<std::size_t> chunk_slots;
  std::size_t capacity = pool.stats().capacity;
  for (std::size_t i = 0; i < count; ++i) {
    held.push_back(pool.allocate(pool.options().slot_size));
    const std::size_t now = pool.stats().capacity;
    if (now != capacity) {
      chunk_slots.push_back(now - capacity);
      capacity = now;
    }
  }
  return chunk_slots;
}

void deallocate_all(slot_pool_resource& pool, std::vector<void*>& held) {
  for (void* p : held) {
    pool.deallocate(p, pool.options().slot_size);
  }
  held.clear();
}

// Sets PROTOPOOL_PASS_THROUGH for one scope.
class pass_through_environment {
 public:
  explicit pass_through_environment(const char* value) {
    ::setenv("PROTOPOOL_PASS_THROUGH", value, 1);
  }
  pass_through_environment(const pass_through_environment&) = delete;
  pass_through_environment& operator=(const pass_through_environment&) = delete;
  ~pass_through_environment() { ::unsetenv("PROTOPOOL_PASS_THROUGH"); }
};

// ---------------------------------------------------------------------------
// SlotPoolResourceTest: the basic contract.

TEST(SlotPoolResourceTest, GivesDistinctAlignedSlotsToEveryFittingRequest) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .slot_alignment = 8}, &upstream);
  std::set<void*> slots;
  struct request {
    void* p;
    std::size_t bytes;
    std::size_t alignment;
  };
  std::vector<request> held;
  for (std::size_t bytes = 0; bytes <= 24; ++bytes) {
    for (std::size_t alignment = 1; alignment <= 8; alignment *= 2) {
      void* p = pool.allocate(bytes, alignment);
      EXPECT_TRUE(is_aligned(p, 8)) << bytes << "/" << alignment;
      EXPECT_TRUE(pool.owns(p));
      EXPECT_TRUE(slots.insert(p).second) << "slot handed out twice: " << p;
      std::memset(p, 0x5a, bytes);
      held.push_back({p, bytes, alignment});
    }
  }
  EXPECT_EQ(pool.stats().slots_in_use, held.size());
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  for (const request& r : held) {
    pool.deallocate(r.p, r.bytes, r.alignment);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SlotPoolResourceTest, ZeroByteRequestsGetDistinctSlots) {
  slot_pool_resource pool({.slot_size = 16});
  void* a = pool.allocate(0, 1);
  void* b = pool.allocate(0, 1);
  EXPECT_NE(a, b);
  EXPECT_TRUE(pool.owns(a));
  EXPECT_TRUE(pool.owns(b));
  EXPECT_EQ(pool.stats().slots_in_use, 2u);
  pool.deallocate(a, 0, 1);
  pool.deallocate(b, 0, 1);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SlotPoolResourceTest, ReusesTheLastFreedSlotFirst) {
  slot_pool_resource pool({.slot_size = 24});
  void* a = pool.allocate(24, 8);
  void* b = pool.allocate(16, 8);
  void* c = pool.allocate(1, 1);
  pool.deallocate(a, 24, 8);
  pool.deallocate(b, 16, 8);
  pool.deallocate(c, 1, 1);
  EXPECT_EQ(pool.allocate(8, 8), c);
  EXPECT_EQ(pool.allocate(24, 8), b);
  EXPECT_EQ(pool.allocate(0, 1), a);
  pool.deallocate(a, 0, 1);
  pool.deallocate(b, 24, 8);
  pool.deallocate(c, 8, 8);
}

TEST(SlotPoolResourceTest, OptionsReportWhatWasAskedFor) {
  const slot_pool_options asked{.slot_size = 3,
                                .slot_alignment = 1,
                                .initial_slots = 5,
                                .max_slots = 7,
                                .max_slots_per_chunk = 9,
                                .oversize = oversize_policy::throw_bad_alloc};
  slot_pool_resource pool(asked);
  const slot_pool_options& got = pool.options();
  EXPECT_EQ(got.slot_size, 3u);  // not the stride
  EXPECT_EQ(got.slot_alignment, 1u);
  EXPECT_EQ(got.initial_slots, 5u);
  EXPECT_EQ(got.max_slots, 7u);
  EXPECT_EQ(got.max_slots_per_chunk, 9u);
  EXPECT_EQ(got.oversize, oversize_policy::throw_bad_alloc);
  EXPECT_GT(pool.slot_stride(), got.slot_size);
}

TEST(SlotPoolResourceTest, OwnsItsSlotsFreedOrNotAndNothingElse) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 32, .slot_alignment = 8}, &upstream);
  int on_stack = 0;
  EXPECT_FALSE(pool.owns(&on_stack));
  EXPECT_FALSE(pool.owns(nullptr));
  void* slot = pool.allocate(32, 8);
  void* oversize = pool.allocate(33, 8);
  EXPECT_TRUE(pool.owns(slot));
  EXPECT_TRUE(pool.owns(static_cast<char*>(slot) + 31));  // inside a slot
  EXPECT_FALSE(pool.owns(oversize));
  EXPECT_FALSE(pool.owns(&on_stack));
  pool.deallocate(slot, 32, 8);
  EXPECT_TRUE(pool.owns(slot));  // freed, but still in a chunk it holds
  pool.deallocate(oversize, 33, 8);
  pool.release();
  EXPECT_FALSE(pool.owns(slot));
}

// owns() (and the checked lookups behind deallocate) across many chunks of
// mixed sizes: every slot of every chunk is found, in any order, and no
// address outside the slot areas is. Checked builds answer from the
// address -> chunk index, other builds by walking the chunks.
TEST(SlotPoolResourceTest, OwnsEverySlotAcrossManyChunksOfMixedSizes) {
  counting_resource upstream;
  // initial_slots above max_slots_per_chunk: a first chunk larger than the
  // full-size chunks; then growth 16, 32, 64 and full-size chunks of 64,
  // and max_slots cuts the last one short.
  slot_pool_resource pool({.slot_size = 40,
                           .slot_alignment = 8,
                           .initial_slots = 300,
                           .max_slots = 3001,
                           .max_slots_per_chunk = 64},
                          &upstream);
  std::vector<void*> slots;
  for (std::size_t i = 0; i < 3001; ++i) {
    slots.push_back(pool.allocate(40, 8));
  }
  EXPECT_THROW(static_cast<void>(pool.allocate(40, 8)), std::bad_alloc);
  EXPECT_GT(pool.stats().chunks, 40u);
  std::mt19937 shuffle(7);
  std::shuffle(slots.begin(), slots.end(), shuffle);
  const std::set<void*> live(slots.begin(), slots.end());
  for (void* p : slots) {
    ASSERT_TRUE(pool.owns(p));
    ASSERT_TRUE(pool.owns(static_cast<char*>(p) + 39));
  }
  // Around every upstream block: its first byte (the chunk header) and the
  // byte just past it are not slots.
  for (const auto& [block, record] : upstream.blocks()) {
    EXPECT_FALSE(pool.owns(block));
    const auto* end = static_cast<const char*>(block) + record.bytes;
    if (live.count(const_cast<char*>(end)) == 0) {
      EXPECT_FALSE(pool.owns(end));
    }
  }
  int on_stack = 0;
  EXPECT_FALSE(pool.owns(&on_stack));
  // Checked builds look every one of these up to validate the free.
  for (void* p : slots) {
    pool.deallocate(p, 40, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  pool.release();
  for (void* p : slots) {
    ASSERT_FALSE(pool.owns(p));
  }
  // Usable again, and the index (checked builds) starts afresh.
  void* again = pool.allocate(40, 8);
  EXPECT_TRUE(pool.owns(again));
  pool.deallocate(again, 40, 8);
}

TEST(SlotPoolResourceTest, OwnsWithOneSlotPerChunk) {
  slot_pool_resource pool({.slot_size = 8, .max_slots_per_chunk = 1});
  std::vector<void*> slots;
  for (int i = 0; i < 2000; ++i) {
    slots.push_back(pool.allocate(8));
  }
  EXPECT_EQ(pool.stats().chunks, 2000u);
  for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
    ASSERT_TRUE(pool.owns(*it));
    pool.deallocate(*it, 8);
  }
}

TEST(SlotPoolResourceTest, IsEqualIsIdentity) {
  slot_pool_resource a({.slot_size = 16});
  slot_pool_resource b({.slot_size = 16});
  EXPECT_TRUE(a.is_equal(a));
  EXPECT_FALSE(a.is_equal(b));
  EXPECT_FALSE(b.is_equal(a));
  EXPECT_FALSE(a.is_equal(*std::pmr::new_delete_resource()));
  EXPECT_TRUE(std::pmr::polymorphic_allocator<int>(&a) ==
              std::pmr::polymorphic_allocator<int>(&a));
  EXPECT_FALSE(std::pmr::polymorphic_allocator<int>(&a) ==
               std::pmr::polymorphic_allocator<int>(&b));
}

TEST(SlotPoolResourceTest, UpstreamIsTheGivenOrTheDefaultResource) {
  counting_resource upstream;
  {
    slot_pool_resource given({.slot_size = 16}, &upstream);
    EXPECT_EQ(given.upstream_resource(), &upstream);
  }
  std::pmr::memory_resource* const previous =
      std::pmr::set_default_resource(&upstream);
  {
    slot_pool_resource defaulted({.slot_size = 16});
    std::pmr::set_default_resource(previous);
    EXPECT_EQ(defaulted.upstream_resource(), &upstream);
    void* p = defaulted.allocate(16);
    EXPECT_EQ(upstream.allocate_calls(), 1u);  // the first chunk
    defaulted.deallocate(p, 16);
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(SlotPoolResourceTest, StatsCountSlotsChunksAndHighWater) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16, .initial_slots = 4}, &upstream);
  slot_pool_stats s = pool.stats();
  EXPECT_EQ(as_tuple(s),
            std::make_tuple(0u, 0u, 4u, 1u, upstream.bytes_outstanding(), 0u));
  std::vector<void*> held;
  for (int i = 0; i < 6; ++i) {
    held.push_back(pool.allocate(16));
  }
  pool.deallocate(held.back(), 16);
  held.pop_back();
  pool.deallocate(held.back(), 16);
  held.pop_back();
  void* big = pool.allocate(100);
  s = pool.stats();
  EXPECT_EQ(s.slots_in_use, 4u);
  EXPECT_EQ(s.high_water, 6u);
  EXPECT_EQ(s.capacity, 4u + 8u);  // then a chunk of twice the initial
  EXPECT_EQ(s.chunks, 2u);
  EXPECT_EQ(s.upstream_bytes, upstream.bytes_outstanding() - 100);
  EXPECT_EQ(s.oversize_allocations, 1u);
  pool.deallocate(big, 100);
  EXPECT_EQ(pool.stats().oversize_allocations, 1u);  // ever, not now
  deallocate_all(pool, held);
  EXPECT_EQ(pool.stats().high_water, 6u);
}

// ---------------------------------------------------------------------------
// SlotPoolStrideTest: slot_stride() and the layout of slots in a chunk.

struct stride_case {
  std::size_t slot_size;
  std::size_t slot_alignment;
  std::size_t stride;
};

void PrintTo(const stride_case& c, std::ostream* os) {
  *os << "slot_size " << c.slot_size << ", slot_alignment " << c.slot_alignment;
}

class SlotPoolStrideTest : public ::testing::TestWithParam<stride_case> {};

TEST_P(SlotPoolStrideTest, RoundsUpToALinkAndToTheAlignment) {
  const stride_case c = GetParam();
  slot_pool_resource pool(
      {.slot_size = c.slot_size, .slot_alignment = c.slot_alignment});
  EXPECT_EQ(pool.slot_stride(), c.stride);
  EXPECT_EQ(pool.options().slot_size, c.slot_size);
  // The slots of one chunk, sorted, are one stride apart and aligned.
  std::vector<void*> held;
  for (int i = 0; i < 16; ++i) {  // the first chunk holds 16
    held.push_back(pool.allocate(c.slot_size, c.slot_alignment));
    EXPECT_TRUE(is_aligned(held.back(), c.slot_alignment));
  }
  EXPECT_EQ(pool.stats().chunks, 1u);
  std::vector<std::uintptr_t> addresses;
  for (void* p : held) {
    addresses.push_back(reinterpret_cast<std::uintptr_t>(p));
  }
  std::sort(addresses.begin(), addresses.end());
  for (std::size_t i = 1; i < addresses.size(); ++i) {
    EXPECT_EQ(addresses[i] - addresses[i - 1], c.stride);
  }
  for (void* p : held) {
    pool.deallocate(p, c.slot_size, c.slot_alignment);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Strides, SlotPoolStrideTest,
    ::testing::Values(stride_case{1, 1, sizeof(void*)},
                      stride_case{4, 4, sizeof(void*)}, stride_case{8, 8, 8},
                      stride_case{9, 8, 16}, stride_case{24, 8, 24},
                      stride_case{24, 16, 32}, stride_case{33, 32, 64},
                      stride_case{100, 64, 128}, stride_case{1, 4096, 4096}),
    [](const ::testing::TestParamInfo<stride_case>& param_info) {
      return absl::StrFormat("size%d_align%d", param_info.param.slot_size,
                             param_info.param.slot_alignment);
    });

// ---------------------------------------------------------------------------
// SlotPoolOptionsTest: defaults, for_type, edge values that are valid.

TEST(SlotPoolOptionsTest, DefaultsAreTheDocumentedOnes) {
  constexpr slot_pool_options options{.slot_size = 8};
  static_assert(options.slot_alignment == alignof(std::max_align_t));
  static_assert(options.initial_slots == 0);
  static_assert(options.max_slots == 0);
  static_assert(options.max_slots_per_chunk == 4096);
  static_assert(options.oversize == oversize_policy::upstream);
  slot_pool_resource pool(options);
  EXPECT_EQ(pool.stats().capacity, 0u);
}

TEST(SlotPoolOptionsTest, ForTypeSizesASlotForOneT) {
  struct alignas(32) message {
    char bytes[40];
  };
  constexpr slot_pool_options options = slot_pool_options::for_type<message>(3);
  static_assert(options.slot_size == sizeof(message));
  static_assert(options.slot_alignment == 32);
  static_assert(options.initial_slots == 3);
  static_assert(options.max_slots == 0 && options.max_slots_per_chunk == 4096);
  slot_pool_resource pool(options);
  EXPECT_EQ(pool.stats().capacity, 3u);
  std::pmr::polymorphic_allocator<message> alloc(&pool);
  message* m = alloc.allocate(1);
  EXPECT_TRUE(is_aligned(m, 32));
  EXPECT_TRUE(pool.owns(m));
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  alloc.deallocate(m, 1);
}

TEST(SlotPoolOptionsTest, AcceptsMaxSlotsEqualToInitialSlots) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 8, .initial_slots = 5, .max_slots = 5},
                          &upstream);
  EXPECT_EQ(pool.stats().capacity, 5u);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
}

TEST(SlotPoolOptionsTest, NullUpstreamIsInvalidArgumentNamingIt) {
  try {
    slot_pool_resource pool({.slot_size = 8}, nullptr);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("upstream"));
  }
}

struct bad_options_case {
  const char* name;
  slot_pool_options options;
  const char* field;  // named in what(), as "slot_pool_options.<field> "
};

void PrintTo(const bad_options_case& c, std::ostream* os) { *os << c.name; }

class SlotPoolInvalidOptionsTest
    : public ::testing::TestWithParam<bad_options_case> {};

TEST_P(SlotPoolInvalidOptionsTest, ThrowsInvalidArgumentNamingTheField) {
  const bad_options_case& c = GetParam();
  counting_resource upstream;
  try {
    slot_pool_resource pool(c.options, &upstream);
    ADD_FAILURE() << "no exception for " << c.name;
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(),
                HasSubstr(std::string("slot_pool_options.") + c.field + " "));
  }
  EXPECT_EQ(upstream.allocate_calls(), 0u);
}

constexpr std::size_t size_max = std::numeric_limits<std::size_t>::max();

INSTANTIATE_TEST_SUITE_P(
    BadOptions, SlotPoolInvalidOptionsTest,
    ::testing::Values(
        bad_options_case{"slot_size_zero", {.slot_size = 0}, "slot_size"},
        bad_options_case{"slot_size_zero_with_initial_slots",
                         {.slot_size = 0, .initial_slots = 4},
                         "slot_size"},
        bad_options_case{"alignment_zero",
                         {.slot_size = 8, .slot_alignment = 0},
                         "slot_alignment"},
        bad_options_case{"alignment_three",
                         {.slot_size = 8, .slot_alignment = 3},
                         "slot_alignment"},
        bad_options_case{"alignment_twenty_four",
                         {.slot_size = 8, .slot_alignment = 24},
                         "slot_alignment"},
        bad_options_case{"max_slots_per_chunk_zero",
                         {.slot_size = 8, .max_slots_per_chunk = 0},
                         "max_slots_per_chunk"},
        bad_options_case{"max_slots_below_initial_slots",
                         {.slot_size = 8, .initial_slots = 8, .max_slots = 4},
                         "max_slots"},
        bad_options_case{
            "oversize_not_an_enumerator",
            {.slot_size = 8, .oversize = static_cast<oversize_policy>(7)},
            "oversize"},
        bad_options_case{
            "slot_size_huge", {.slot_size = size_max}, "slot_size"},
        bad_options_case{
            "alignment_huge",
            {.slot_size = 8,
             .slot_alignment = std::size_t{1} << (sizeof(std::size_t) * 8 - 1)},
            "slot_alignment"},
        bad_options_case{"max_slots_per_chunk_overflows",
                         {.slot_size = std::size_t{1} << 20,
                          .max_slots_per_chunk = size_max / 4},
                         "max_slots_per_chunk"},
        bad_options_case{
            "initial_slots_overflow",
            {.slot_size = std::size_t{1} << 20, .initial_slots = size_max / 4},
            "initial_slots"}),
    [](const ::testing::TestParamInfo<bad_options_case>& param_info) {
      return std::string(param_info.param.name);
    });

// ---------------------------------------------------------------------------
// SlotPoolGrowthTest: preallocation and geometric growth, seen upstream.

TEST(SlotPoolGrowthTest, InitialSlotsAreOneUpstreamCallAndNoMoreUntilUsedUp) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .initial_slots = 10}, &upstream);
  ASSERT_EQ(upstream.allocate_calls(), 1u);
  const std::size_t stride = pool.slot_stride();
  EXPECT_GE(upstream.allocation_sizes()[0], 10 * stride);
  EXPECT_LE(upstream.allocation_sizes()[0],
            10 * stride + max_chunk_overhead(10, 16));
  std::vector<void*> held;
  const std::vector<std::size_t> chunks =
      allocate_and_watch_growth(pool, 10, held);
  EXPECT_TRUE(chunks.empty());
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  held.push_back(pool.allocate(24));  // the eleventh: a new chunk
  EXPECT_EQ(upstream.allocate_calls(), 2u);
  EXPECT_EQ(pool.stats().capacity, 10u + 20u);
  deallocate_all(pool, held);
}

TEST(SlotPoolGrowthTest, NoInitialSlotsMeansNoUpstreamCallUntilFirstUse) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24}, &upstream);
  EXPECT_EQ(upstream.allocate_calls(), 0u);
  EXPECT_EQ(as_tuple(pool.stats()), std::make_tuple(0u, 0u, 0u, 0u, 0u, 0u));
  void* p = pool.allocate(24);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_EQ(pool.stats().capacity, 16u);
  pool.deallocate(p, 24);
}

TEST(SlotPoolGrowthTest, ChunksDoubleUpToMaxSlotsPerChunkOneCallEach) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 40, .max_slots_per_chunk = 100},
                          &upstream);
  std::vector<void*> held;
  const std::vector<std::size_t> chunks =
      allocate_and_watch_growth(pool, 16 + 32 + 64 + 100 + 100, held);
  EXPECT_THAT(chunks, ::testing::ElementsAre(16u, 32u, 64u, 100u, 100u));
  ASSERT_EQ(upstream.allocate_calls(), chunks.size());
  const std::size_t stride = pool.slot_stride();
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_GE(upstream.allocation_sizes()[i], chunks[i] * stride) << i;
    EXPECT_LE(upstream.allocation_sizes()[i],
              chunks[i] * stride + max_chunk_overhead(chunks[i], 16))
        << i;
    EXPECT_GE(upstream.allocation_alignments()[i], 16u);
  }
  const slot_pool_stats s = pool.stats();
  EXPECT_EQ(s.chunks, 5u);
  EXPECT_EQ(s.upstream_bytes, upstream.bytes_outstanding());
  EXPECT_EQ(s.capacity, 312u);
  deallocate_all(pool, held);
}

TEST(SlotPoolGrowthTest, GrowthAfterInitialSlotsDoublesThem) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 8, .initial_slots = 10}, &upstream);
  std::vector<void*> held;
  EXPECT_THAT(allocate_and_watch_growth(pool, 10 + 20 + 40 + 1, held),
              ::testing::ElementsAre(20u, 40u, 80u));
  EXPECT_EQ(upstream.allocate_calls(), 4u);
  deallocate_all(pool, held);
}

TEST(SlotPoolGrowthTest, SmallMaxSlotsPerChunkCapsEvenTheFirstChunk) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 8, .max_slots_per_chunk = 4},
                          &upstream);
  std::vector<void*> held;
  EXPECT_THAT(allocate_and_watch_growth(pool, 12, held),
              ::testing::ElementsAre(4u, 4u, 4u));
  deallocate_all(pool, held);
}

TEST(SlotPoolGrowthTest, FreedSlotsAreReusedBeforeGrowing) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 8}, &upstream);
  for (int round = 0; round < 100; ++round) {
    std::vector<void*> held;
    allocate_and_watch_growth(pool, 16, held);
    deallocate_all(pool, held);
  }
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_EQ(pool.stats().high_water, 16u);
}

// ---------------------------------------------------------------------------
// SlotPoolCapacityTest: max_slots.

TEST(SlotPoolCapacityTest, MaxSlotsThrowsBadAllocAndStaysUsable) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16, .max_slots = 20}, &upstream);
  std::vector<void*> held;
  EXPECT_THAT(allocate_and_watch_growth(pool, 20, held),
              ::testing::ElementsAre(16u, 4u));
  const auto before = as_tuple(pool.stats());
  const std::size_t calls = upstream.allocate_calls();
  EXPECT_THROW(static_cast<void>(pool.allocate(16)), std::bad_alloc);
  EXPECT_THROW(static_cast<void>(pool.allocate(0, 1)), std::bad_alloc);
  EXPECT_EQ(as_tuple(pool.stats()), before);
  EXPECT_EQ(upstream.allocate_calls(), calls);
  void* freed = held[7];
  pool.deallocate(freed, 16);
  held.erase(held.begin() + 7);
  EXPECT_EQ(pool.allocate(16), freed);
  held.push_back(freed);
  EXPECT_THROW(static_cast<void>(pool.allocate(16)), std::bad_alloc);
  deallocate_all(pool, held);
}

TEST(SlotPoolCapacityTest, MaxSlotsSmallerThanAChunkCapsTheChunk) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16, .max_slots = 5}, &upstream);
  std::vector<void*> held;
  EXPECT_THAT(allocate_and_watch_growth(pool, 5, held),
              ::testing::ElementsAre(5u));
  EXPECT_THROW(static_cast<void>(pool.allocate(16)), std::bad_alloc);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  deallocate_all(pool, held);
}

TEST(SlotPoolCapacityTest, MaxSlotsEqualToInitialSlotsNeverGrows) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16, .initial_slots = 6, .max_slots = 6},
                          &upstream);
  std::vector<void*> held;
  allocate_and_watch_growth(pool, 6, held);
  EXPECT_THROW(static_cast<void>(pool.allocate(16)), std::bad_alloc);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_EQ(pool.stats().capacity, 6u);
  deallocate_all(pool, held);
}

TEST(SlotPoolCapacityTest, OversizeRequestsDoNotCountAgainstMaxSlots) {
  slot_pool_resource pool({.slot_size = 16, .max_slots = 1});
  void* slot = pool.allocate(16);
  void* big = pool.allocate(17);
  EXPECT_EQ(pool.stats().oversize_allocations, 1u);
  pool.deallocate(big, 17);
  pool.deallocate(slot, 16);
}

// ---------------------------------------------------------------------------
// SlotPoolOversizeTest: requests a slot cannot hold.

TEST(SlotPoolOversizeTest, LargerRequestGoesUpstreamAndIsCounted) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 32, .slot_alignment = 8}, &upstream);
  void* p = pool.allocate(33, 8);
  ASSERT_NE(upstream.find(p), nullptr);
  EXPECT_EQ(upstream.find(p)->bytes, 33u);
  EXPECT_EQ(upstream.find(p)->alignment, 8u);
  EXPECT_EQ(upstream.allocate_calls(), 1u);  // no chunk for it
  slot_pool_stats s = pool.stats();
  EXPECT_EQ(s.oversize_allocations, 1u);
  EXPECT_EQ(s.slots_in_use, 0u);
  EXPECT_EQ(s.high_water, 0u);
  EXPECT_FALSE(pool.owns(p));
  std::memset(p, 1, 33);
  pool.deallocate(p, 33, 8);
  EXPECT_EQ(upstream.deallocate_calls(), 1u);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  EXPECT_EQ(upstream.mismatches(), 0u);
}

TEST(SlotPoolOversizeTest, OverAlignedRequestGoesUpstreamAndIsCounted) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 64, .slot_alignment = 16}, &upstream);
  void* p = pool.allocate(8, 64);
  EXPECT_TRUE(is_aligned(p, 64));
  ASSERT_NE(upstream.find(p), nullptr);
  EXPECT_EQ(upstream.find(p)->alignment, 64u);
  EXPECT_EQ(pool.stats().oversize_allocations, 1u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  pool.deallocate(p, 8, 64);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(SlotPoolOversizeTest, ThrowBadAllocPolicyRefusesWithoutTouchingUpstream) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 32,
                           .slot_alignment = 8,
                           .oversize = oversize_policy::throw_bad_alloc},
                          &upstream);
  EXPECT_THROW(static_cast<void>(pool.allocate(33, 8)), std::bad_alloc);
  EXPECT_THROW(static_cast<void>(pool.allocate(8, 16)), std::bad_alloc);
  EXPECT_EQ(upstream.allocate_calls(), 0u);
  EXPECT_EQ(as_tuple(pool.stats()), std::make_tuple(0u, 0u, 0u, 0u, 0u, 0u));
  void* p = pool.allocate(32, 8);  // slots still work
  EXPECT_TRUE(pool.owns(p));
  pool.deallocate(p, 32, 8);
}

TEST(SlotPoolOversizeTest, NonPowerOfTwoAlignmentOffTheSlotRouteIsRejected) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 32, .slot_alignment = 16}, &upstream);
  // Not constants: the compiler would warn about a bad alloc_align.
  volatile std::size_t three = 3;
  volatile std::size_t forty_eight = 48;
  try {
    static_cast<void>(pool.allocate(100, three));
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("alignment 3"));
  }
  EXPECT_THROW(static_cast<void>(pool.allocate(8, forty_eight)),
               std::invalid_argument);
  EXPECT_EQ(upstream.allocate_calls(), 0u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
}

TEST(SlotPoolOversizeTest, NonPowerOfTwoAlignmentOnTheSlotRouteIsRejected) {
  if (!PROTOPOOL_CHECKED) {
    GTEST_SKIP() << "only checked builds check the slot route's alignment";
  }
  slot_pool_resource pool({.slot_size = 32, .slot_alignment = 16});
  volatile std::size_t three = 3;
  EXPECT_THROW(static_cast<void>(pool.allocate(8, three)),
               std::invalid_argument);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

// ---------------------------------------------------------------------------
// SlotPoolUpstreamFailureTest: upstream throws.

TEST(SlotPoolUpstreamFailureTest, ConstructionPropagatesTheUpstreamException) {
  counting_resource upstream;
  upstream.set_failing(true);
  EXPECT_THROW(
      slot_pool_resource({.slot_size = 8, .initial_slots = 8}, &upstream),
      upstream_failure);
  EXPECT_EQ(upstream.blocks_outstanding(), 0u);
  upstream.set_failing(false);
}

TEST(SlotPoolUpstreamFailureTest, RefillFailureLeavesThePoolUnchanged) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24}, &upstream);
  std::vector<void*> held;
  allocate_and_watch_growth(pool, 16, held);
  const auto before = as_tuple(pool.stats());
  const std::size_t bytes_before = upstream.bytes_outstanding();
  upstream.set_failing(true);
  EXPECT_THROW(static_cast<void>(pool.allocate(24)), upstream_failure);
  EXPECT_THROW(static_cast<void>(pool.allocate_slot()), upstream_failure);
  EXPECT_EQ(as_tuple(pool.stats()), before);
  EXPECT_EQ(upstream.bytes_outstanding(), bytes_before);
  // A freed slot is still served without upstream.
  pool.deallocate(held.back(), 24);
  EXPECT_EQ(pool.allocate(24), held.back());
  upstream.set_failing(false);
  held.push_back(pool.allocate(24));
  EXPECT_EQ(pool.stats().capacity, 16u + 32u);
  EXPECT_EQ(pool.stats().slots_in_use, 17u);
  deallocate_all(pool, held);
}

TEST(SlotPoolUpstreamFailureTest, OversizeFailureLeavesCountersUnchanged) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24}, &upstream);
  upstream.set_failing(true);
  EXPECT_THROW(static_cast<void>(pool.allocate(1000)), upstream_failure);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  upstream.set_failing(false);
  void* p = pool.allocate(1000);
  EXPECT_EQ(pool.stats().oversize_allocations, 1u);
  pool.deallocate(p, 1000);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

// ---------------------------------------------------------------------------
// SlotPoolReleaseTest: release() and the destructor return every byte.

TEST(SlotPoolReleaseTest, ReleaseReturnsEveryChunkAndThePoolStaysUsable) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .initial_slots = 8}, &upstream);
  std::vector<void*> held;
  allocate_and_watch_growth(pool, 40, held);
  void* big = pool.allocate(500);
  pool.deallocate(big, 500);
  deallocate_all(pool, held);
  pool.release();
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  EXPECT_EQ(upstream.deallocate_calls(), upstream.allocate_calls());
  // Counts of what is held now go to zero; the "ever" counts stay.
  EXPECT_EQ(as_tuple(pool.stats()), std::make_tuple(0u, 40u, 0u, 0u, 0u, 1u));
  const std::size_t calls = upstream.allocate_calls();
  void* p = pool.allocate(24);
  EXPECT_TRUE(pool.owns(p));
  EXPECT_EQ(upstream.allocate_calls(), calls + 1);
  EXPECT_EQ(pool.stats().capacity, 16u);  // growth starts over
  pool.deallocate(p, 24);
  pool.release();
  pool.release();  // twice is harmless
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

// Release builds count no slot on the hot path: stats() derives slots in
// use from the slots carved and the free list, and the high-water mark from
// the slots carved. This walks both paths through frees, reuse, growth
// across chunks and release(), where a derived count could drift.
TEST(SlotPoolReleaseTest, StatsStayExactThroughReuseGrowthAndRelease) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .initial_slots = 8}, &upstream);
  std::vector<void*> held;
  for (int i = 0; i < 40; ++i) {
    held.push_back(i % 2 == 0 ? pool.allocate(24) : pool.allocate_slot());
  }
  EXPECT_EQ(pool.stats().slots_in_use, 40u);
  EXPECT_EQ(pool.stats().high_water, 40u);
  std::vector<void*> kept;
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (i % 2 == 0) {
      pool.deallocate_slot(held[i]);
    } else {
      kept.push_back(held[i]);
    }
  }
  EXPECT_EQ(pool.stats().slots_in_use, 20u);
  EXPECT_EQ(pool.stats().high_water, 40u);
  for (int i = 0; i < 10; ++i) {  // reused: no new peak
    kept.push_back(pool.allocate(24));
  }
  EXPECT_EQ(pool.stats().slots_in_use, 30u);
  EXPECT_EQ(pool.stats().high_water, 40u);
  EXPECT_EQ(pool.stats().capacity, 56u);  // 8 + 16 + 32
  for (int i = 0; i < 35; ++i) {  // the last 10 free, then 16 carved, ...
    kept.push_back(pool.allocate_slot());
  }
  EXPECT_EQ(pool.stats().slots_in_use, 65u);
  EXPECT_EQ(pool.stats().high_water, 65u);
  EXPECT_EQ(pool.stats().chunks, 4u);
  for (void* p : kept) {
    pool.deallocate(p, 24);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().high_water, 65u);
  pool.release();
  EXPECT_EQ(as_tuple(pool.stats()), std::make_tuple(0u, 65u, 0u, 0u, 0u, 0u));
  void* p = pool.allocate(24);
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  EXPECT_EQ(pool.stats().high_water, 65u);  // kept across release()
  pool.deallocate(p, 24);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.mismatches(), 0u);
}

TEST(SlotPoolReleaseTest, DestructorReturnsEveryByte) {
  counting_resource upstream;
  {
    slot_pool_resource pool({.slot_size = 48, .initial_slots = 3}, &upstream);
    std::vector<void*> held;
    allocate_and_watch_growth(pool, 500, held);
    EXPECT_GT(pool.stats().chunks, 4u);
    deallocate_all(pool, held);
    EXPECT_GT(upstream.bytes_outstanding(), 500u * 48u);
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  EXPECT_EQ(upstream.blocks_outstanding(), 0u);
  EXPECT_EQ(upstream.deallocate_calls(), upstream.allocate_calls());
  EXPECT_EQ(upstream.mismatches(), 0u);
}

// ---------------------------------------------------------------------------
// SlotPoolStaticPathTest: allocate_slot()/deallocate_slot().

TEST(SlotPoolStaticPathTest, SharesSlotsAndStatsWithAllocate) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .slot_alignment = 8}, &upstream);
  void* a = pool.allocate_slot();
  EXPECT_TRUE(is_aligned(a, 8));
  EXPECT_TRUE(pool.owns(a));
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  pool.deallocate(a, 24, 8);  // a static-path slot back through pmr
  void* b = pool.allocate(1, 1);
  EXPECT_EQ(b, a);
  pool.deallocate_slot(b);  // a pmr slot back through the static path
  EXPECT_EQ(pool.allocate_slot(), a);
  void* c = pool.allocate(24, 8);
  EXPECT_NE(c, a);
  EXPECT_EQ(pool.stats().slots_in_use, 2u);
  EXPECT_EQ(pool.stats().high_water, 2u);
  pool.deallocate_slot(a);
  pool.deallocate_slot(c);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
}

TEST(SlotPoolStaticPathTest, GrowsAndStopsAtMaxSlotsLikeAllocate) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 8, .max_slots = 20}, &upstream);
  std::vector<void*> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(pool.allocate_slot());
  }
  EXPECT_EQ(std::set<void*>(held.begin(), held.end()).size(), 20u);
  EXPECT_EQ(pool.stats().capacity, 20u);
  EXPECT_THROW(static_cast<void>(pool.allocate_slot()), std::bad_alloc);
  EXPECT_THROW(static_cast<void>(pool.allocate(8)), std::bad_alloc);
  for (void* p : held) {
    pool.deallocate_slot(p);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().high_water, 20u);
}

// ---------------------------------------------------------------------------
// SlotPoolPassThroughTest: PROTOPOOL_PASS_THROUGH=1.

TEST(SlotPoolPassThroughTest, EveryRequestReachesUpstream) {
  const pass_through_environment environment("1");
  counting_resource upstream;
  slot_pool_resource pool(
      {.slot_size = 24, .slot_alignment = 8, .initial_slots = 8}, &upstream);
  EXPECT_EQ(upstream.allocate_calls(), 0u);  // no chunk
  void* a = pool.allocate(10, 4);
  void* b = pool.allocate_slot();
  void* c = pool.allocate(24, 8);
  void* big = pool.allocate(100, 8);
  EXPECT_EQ(upstream.allocate_calls(), 4u);
  // Slot-class requests all reach upstream as one slot class, so the static
  // and the pmr paths may free each other's blocks.
  for (void* p : {a, b, c}) {
    ASSERT_NE(upstream.find(p), nullptr);
    EXPECT_EQ(upstream.find(p)->bytes, 24u);
    EXPECT_EQ(upstream.find(p)->alignment, 8u);
    EXPECT_FALSE(pool.owns(p));
  }
  const slot_pool_stats s = pool.stats();
  EXPECT_EQ(s.slots_in_use, 3u);
  EXPECT_EQ(s.oversize_allocations, 1u);
  EXPECT_EQ(s.capacity, 0u);
  EXPECT_EQ(s.chunks, 0u);
  pool.deallocate(a, 10, 4);
  pool.deallocate(b, 24, 8);
  pool.deallocate_slot(c);
  pool.deallocate(big, 100, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.deallocate_calls(), 4u);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  EXPECT_EQ(upstream.mismatches(), 0u);
}

TEST(SlotPoolPassThroughTest, ReleaseLeavesUpstreamBlocksLiveAndCounted) {
  const pass_through_environment environment("1");
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .slot_alignment = 8}, &upstream);
  void* a = pool.allocate(24, 8);
  pool.release();  // a is upstream's block, not a slot: still valid
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  EXPECT_EQ(upstream.bytes_outstanding(), 24u);
  pool.deallocate(a, 24, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(SlotPoolPassThroughTest, OnlyTheValueOneTurnsItOn) {
  const pass_through_environment environment("0");
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24}, &upstream);
  void* a = pool.allocate(24);
  void* b = pool.allocate(24);
  EXPECT_EQ(upstream.allocate_calls(), 1u);  // one chunk for both
  EXPECT_TRUE(pool.owns(a));
  pool.deallocate(a, 24);
  pool.deallocate(b, 24);
}

TEST(SlotPoolPassThroughTest, UpstreamFailureLeavesCountersUnchanged) {
  const pass_through_environment environment("1");
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24}, &upstream);
  upstream.set_failing(true);
  EXPECT_THROW(static_cast<void>(pool.allocate(24)), upstream_failure);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  upstream.set_failing(false);
}

TEST(SlotPoolPassThroughTest, MaxSlotsStaysAHardCapacity) {
  const pass_through_environment environment("1");
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 24, .max_slots = 2}, &upstream);
  void* a = pool.allocate(24);
  void* b = pool.allocate_slot();
  EXPECT_THROW(static_cast<void>(pool.allocate(24)), std::bad_alloc);
  EXPECT_THROW(static_cast<void>(pool.allocate_slot()), std::bad_alloc);
  EXPECT_EQ(upstream.allocate_calls(), 2u);
  EXPECT_EQ(pool.stats().slots_in_use, 2u);
  pool.deallocate(a, 24);
  void* c = pool.allocate(24);  // usable again after a free
  pool.deallocate(b, 24);
  pool.deallocate(c, 24);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(SlotPoolPassThroughTest, StaticPathBlocksAreShapedAsSlots) {
  // The pmr path's blocks are checked for both pools in
  // SlotPoolContractTest.PassThroughBlocksAreShapedAsSlots; the static
  // path asks upstream for the same block.
  const pass_through_environment environment("1");
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 9, .slot_alignment = 1}, &upstream);
  void* b = pool.allocate_slot();
  ASSERT_NE(upstream.find(b), nullptr);
  EXPECT_EQ(upstream.find(b)->bytes, 9u);
  EXPECT_EQ(upstream.find(b)->alignment, alignof(void*));
  pool.deallocate_slot(b);
  EXPECT_EQ(upstream.mismatches(), 0u);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

// ---------------------------------------------------------------------------
// SlotPoolCheckedDeathTest: misuse diagnosed in checked builds.

class SlotPoolCheckedDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PROTOPOOL_CHECKED) {
      GTEST_SKIP() << "misuse is only diagnosed in checked builds";
    }
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(SlotPoolCheckedDeathTest, DoubleFreeAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        void* p = pool.allocate(16);
        pool.deallocate(p, 16);
        pool.deallocate(p, 16);
      },
      "slot_pool_resource 0x[0-9a-f]+: double free.* 0x[0-9a-f]+");
}

TEST_F(SlotPoolCheckedDeathTest, DoubleFreeInAnOldChunkAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16, .max_slots_per_chunk = 4});
        std::vector<void*> slots;
        for (int i = 0; i < 400; ++i) {
          slots.push_back(pool.allocate(16));
        }
        pool.deallocate(slots.front(), 16);
        pool.deallocate(slots.back(), 16);  // another chunk in between
        pool.deallocate(slots.front(), 16);
      },
      "double free");
}

TEST_F(SlotPoolCheckedDeathTest, FreeOfASlotNeverHandedOutAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        auto* p = static_cast<char*>(pool.allocate(16));
        pool.deallocate(p + pool.slot_stride(), 16);
      },
      "never handed out");
}

TEST_F(SlotPoolCheckedDeathTest, ForeignPointerAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        void* mine = pool.allocate(16);
        static_cast<void>(mine);
        alignas(16) char foreign[16];
        pool.deallocate(foreign, 16);
      },
      "deallocate of a pointer this pool does not own");
}

TEST_F(SlotPoolCheckedDeathTest, SlotOfAnotherPoolAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource mine({.slot_size = 16});
        slot_pool_resource other({.slot_size = 16});
        void* p = other.allocate(16);
        mine.deallocate(p, 16);
      },
      "does not own");
}

TEST_F(SlotPoolCheckedDeathTest, OversizeBlockFreedWithASlotSizeAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        void* big = pool.allocate(100);
        pool.deallocate(big, 16);
      },
      "does not own \\(foreign, or an oversize block");
}

TEST_F(SlotPoolCheckedDeathTest, PointerInsideASlotAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 32});
        auto* p = static_cast<char*>(pool.allocate(32));
        pool.deallocate(p + 8, 8);
      },
      "inside a slot, not at its start");
}

TEST_F(SlotPoolCheckedDeathTest, SlotFreedWithAnOversizeSizeAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 32});
        void* p = pool.allocate(32);
        pool.deallocate(p, 33);
      },
      "size/alignment too large for a slot");
}

TEST_F(SlotPoolCheckedDeathTest, SlotFreedWithAnOverAlignmentAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 32, .slot_alignment = 8});
        void* p = pool.allocate(32, 8);
        pool.deallocate(p, 32, 64);
      },
      "size/alignment too large for a slot");
}

TEST_F(SlotPoolCheckedDeathTest, DeallocateSlotOfAForeignPointerAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        void* mine = pool.allocate_slot();
        static_cast<void>(mine);
        alignas(16) char foreign[16];
        pool.deallocate_slot(foreign);
      },
      "deallocate_slot of a pointer this pool does not own");
}

TEST_F(SlotPoolCheckedDeathTest, DoubleDeallocateSlotAborts) {
  EXPECT_DEATH(
      {
        slot_pool_resource pool({.slot_size = 16});
        void* p = pool.allocate_slot();
        pool.deallocate_slot(p);
        pool.deallocate(p, 16);
      },
      "double free");
}

// ---------------------------------------------------------------------------
// SlotPoolCheckedReportTest: slots still in use at destruction / release().
//
// A pool destroyed with slots in use keeps the chunks that hold them when
// valgrind or AddressSanitizer watches, so that the tool reports the leak.
// The destruction cases therefore run in a child process (a death-test
// child, which is not run under valgrind and leaves by _Exit, skipping
// LeakSanitizer): the child checks what it can see and exits 0 if all is
// as documented; the parent checks the child's stderr.

class SlotPoolCheckedReportTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Destroys a pool holding `leaked` slots of 16 bytes (and one freed) made on
// `upstream`; returns what it wrote to stderr, also echoed to stderr, and
// the addresses of the pool and of the slots.
struct destruction_report {
  std::string text;
  std::string pool;
  std::vector<void*> slots;
};

destruction_report destroy_with_slots_in_use(
    std::size_t leaked, std::pmr::memory_resource* upstream) {
  destruction_report result;
  ::testing::internal::CaptureStderr();
  {
    slot_pool_resource pool({.slot_size = 16}, upstream);
    result.pool = pointer_text(&pool);
    for (std::size_t i = 0; i < leaked; ++i) {
      result.slots.push_back(pool.allocate(16));
    }
    pool.deallocate(pool.allocate(16), 16);  // freed: not reported
  }
  result.text = ::testing::internal::GetCapturedStderr();
  std::fputs(result.text.c_str(), stderr);
  return result;
}

TEST_F(SlotPoolCheckedReportTest, DestructionReportsCountAndAddresses) {
  const auto child = [] {
    const destruction_report report =
        destroy_with_slots_in_use(2, std::pmr::new_delete_resource());
    if (!PROTOPOOL_CHECKED) {
      return report.text.empty();  // release builds pay nothing
    }
    return report.text == "protopool: slot_pool_resource " + report.pool +
                              ": 2 slot(s) still in use at destruction: " +
                              pointer_text(report.slots[0]) + " " +
                              pointer_text(report.slots[1]) + "\n";
  };
  EXPECT_EXIT(std::_Exit(child() ? 0 : 1), ::testing::ExitedWithCode(0),
              PROTOPOOL_CHECKED ? "2 slot\\(s\\) still in use at destruction: "
                                  "0x[0-9a-f]+ 0x[0-9a-f]+"
                                : "");
}

TEST_F(SlotPoolCheckedReportTest, LongReportsListSixteenAddressesThenDots) {
  const auto child = [] {
    const destruction_report report =
        destroy_with_slots_in_use(20, std::pmr::new_delete_resource());
    if (!PROTOPOOL_CHECKED) {
      return report.text.empty();
    }
    const std::string head = "protopool: slot_pool_resource " + report.pool +
                             ": 20 slot(s) still in use at destruction:";
    if (report.text.rfind(head, 0) != 0 || !report.text.ends_with(" ...\n")) {
      return false;
    }
    // Sixteen distinct addresses of slots in use, in chunk order.
    std::set<std::string> in_use;
    for (void* p : report.slots) {
      in_use.insert(pointer_text(p));
    }
    std::istringstream listed(report.text.substr(head.size()));
    std::set<std::string> seen;
    for (std::string word; listed >> word && word != "...";) {
      if (in_use.count(word) == 0 || !seen.insert(word).second) {
        return false;
      }
    }
    return seen.size() == 16;
  };
  EXPECT_EXIT(std::_Exit(child() ? 0 : 1), ::testing::ExitedWithCode(0),
              PROTOPOOL_CHECKED ? "20 slot\\(s\\) still in use at destruction:"
                                  "( 0x[0-9a-f]+){16} \\.\\.\\."
                                : "");
}

TEST_F(SlotPoolCheckedReportTest,
       DestructorReturnsEveryByteEvenWithSlotsInUse) {
  const auto child = [] {
    counting_resource upstream;
    static_cast<void>(destroy_with_slots_in_use(3, &upstream));
    // Under a memory checker the chunk stays, for the checker to report.
    return protopool::detail::tools_watching()
               ? upstream.bytes_outstanding() != 0
               : upstream.bytes_outstanding() == 0;
  };
  EXPECT_EXIT(std::_Exit(child() ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

TEST_F(SlotPoolCheckedReportTest, ReleaseReportsCountAndAddresses) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16}, &upstream);
  void* a = pool.allocate(16);
  ::testing::internal::CaptureStderr();
  pool.release();
  const std::string report = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);  // release() returns all
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  if (PROTOPOOL_CHECKED) {
    EXPECT_EQ(report, "protopool: slot_pool_resource " + pointer_text(&pool) +
                          ": 1 slot(s) still in use at release(): " +
                          pointer_text(a) + "\n");
  } else {
    EXPECT_EQ(report, "");
  }
  // Nothing in use now: no report at release() nor at destruction.
  ::testing::internal::CaptureStderr();
  pool.deallocate(pool.allocate(16), 16);
  pool.release();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// ---------------------------------------------------------------------------
// SlotPoolModelTest: randomized traffic against a model of the live blocks.

struct model_case {
  unsigned seed;
  std::size_t max_slots;  // 0: unbounded
};

void PrintTo(const model_case& c, std::ostream* os) {
  *os << "seed " << c.seed << ", max_slots " << c.max_slots;
}

class SlotPoolModelTest : public ::testing::TestWithParam<model_case> {};

enum class route { slot, static_slot, oversize };

struct live_block {
  std::size_t bytes;
  std::size_t alignment;
  std::size_t extent;  // bytes that must not overlap another live block
  route path;
  unsigned char pattern;
};

bool pattern_intact(const void* p, const live_block& block) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < block.bytes; ++i) {
    if (bytes[i] != static_cast<unsigned char>(block.pattern + i)) {
      return false;
    }
  }
  return true;
}

TEST_P(SlotPoolModelTest, MatchesAModelOfTheLiveBlocks) {
  constexpr std::size_t slot_size = 40;
  constexpr std::size_t slot_alignment = 16;
  const model_case param = GetParam();
  std::mt19937 rng(param.seed);
  auto uniform = [&rng](std::size_t low, std::size_t high) {
    return std::uniform_int_distribution<std::size_t>(low, high)(rng);
  };

  counting_resource upstream;
  {
    slot_pool_resource pool({.slot_size = slot_size,
                             .slot_alignment = slot_alignment,
                             .max_slots = param.max_slots,
                             .max_slots_per_chunk = 64},
                            &upstream);
    std::map<void*, live_block> live;  // by address
    std::vector<void*> order;          // for picking one at random
    std::size_t model_slots = 0;
    std::size_t model_high_water = 0;
    std::size_t model_oversize = 0;
    std::size_t oversize_bytes = 0;

    auto check_stats = [&](int step) {
      const slot_pool_stats s = pool.stats();
      ASSERT_EQ(s.slots_in_use, model_slots) << "step " << step;
      ASSERT_EQ(s.high_water, model_high_water) << "step " << step;
      ASSERT_EQ(s.oversize_allocations, model_oversize) << "step " << step;
      ASSERT_GE(s.capacity, s.slots_in_use) << "step " << step;
      if (param.max_slots != 0) {
        ASSERT_LE(s.capacity, param.max_slots) << "step " << step;
      }
      ASSERT_EQ(s.upstream_bytes + oversize_bytes, upstream.bytes_outstanding())
          << "step " << step;
      ASSERT_EQ(upstream.mismatches(), 0u) << "step " << step;
    };

    auto free_block = [&](void* p) {
      const live_block block = live.at(p);
      ASSERT_TRUE(pattern_intact(p, block)) << "overwritten: " << p;
      switch (block.path) {
        case route::oversize:
          pool.deallocate(p, block.bytes, block.alignment);
          oversize_bytes -= block.bytes;
          break;
        case route::slot:
        case route::static_slot:
          // Either path may free a slot from either path.
          if (uniform(0, 1) == 0) {
            pool.deallocate_slot(p);
          } else if (block.path == route::slot) {
            pool.deallocate(p, block.bytes, block.alignment);
          } else {
            pool.deallocate(p, slot_size, slot_alignment);
          }
          --model_slots;
          break;
      }
      live.erase(p);
    };

    for (int step = 0; step < 3000; ++step) {
      if (!order.empty() && uniform(0, 99) < 45) {
        const std::size_t i = uniform(0, order.size() - 1);
        void* p = order[i];
        order[i] = order.back();
        order.pop_back();
        free_block(p);
        if (HasFatalFailure()) {
          return;
        }
      } else {
        const std::size_t kind = uniform(0, 9);
        live_block block{};
        if (kind < 7) {
          block.bytes = uniform(0, slot_size);
          block.alignment = std::size_t{1} << uniform(0, 4);  // 1..16
          block.path = route::slot;
        } else if (kind == 7) {
          block.bytes = slot_size;
          block.alignment = slot_alignment;
          block.path = route::static_slot;
        } else if (kind == 8) {
          block.bytes = uniform(slot_size + 1, 400);
          block.alignment = std::size_t{1} << uniform(0, 4);
          block.path = route::oversize;
        } else {
          block.bytes = uniform(0, slot_size);
          block.alignment = std::size_t{1} << uniform(5, 7);  // 32..128
          block.path = route::oversize;
        }
        const bool is_slot = block.path != route::oversize;
        if (is_slot && param.max_slots != 0 && model_slots == param.max_slots) {
          const auto before = as_tuple(pool.stats());
          if (block.path == route::static_slot) {
            EXPECT_THROW(static_cast<void>(pool.allocate_slot()),
                         std::bad_alloc);
          } else {
            EXPECT_THROW(
                static_cast<void>(pool.allocate(block.bytes, block.alignment)),
                std::bad_alloc);
          }
          ASSERT_EQ(as_tuple(pool.stats()), before);
          continue;
        }
        void* p = block.path == route::static_slot
                      ? pool.allocate_slot()
                      : pool.allocate(block.bytes, block.alignment);
        ASSERT_NE(p, nullptr);
        ASSERT_TRUE(is_aligned(p, is_slot ? slot_alignment : block.alignment));
        ASSERT_EQ(pool.owns(p), is_slot);
        block.extent =
            is_slot ? slot_size : std::max<std::size_t>(1, block.bytes);
        const auto address = reinterpret_cast<std::uintptr_t>(p);
        const auto next = live.lower_bound(p);
        if (next != live.end()) {
          ASSERT_LE(address + block.extent,
                    reinterpret_cast<std::uintptr_t>(next->first))
              << "overlaps the next live block";
        }
        if (next != live.begin()) {
          const auto previous = std::prev(next);
          ASSERT_LE(reinterpret_cast<std::uintptr_t>(previous->first) +
                        previous->second.extent,
                    address)
              << "overlaps the previous live block";
        }
        block.pattern = static_cast<unsigned char>(uniform(0, 255));
        auto* bytes = static_cast<unsigned char*>(p);
        for (std::size_t i = 0; i < block.bytes; ++i) {
          bytes[i] = static_cast<unsigned char>(block.pattern + i);
        }
        live.emplace(p, block);
        order.push_back(p);
        if (is_slot) {
          ++model_slots;
          model_high_water = std::max(model_high_water, model_slots);
        } else {
          ++model_oversize;
          oversize_bytes += block.bytes;
        }
      }
      check_stats(step);
      if (HasFatalFailure()) {
        return;
      }
      if (step % 500 == 0) {
        for (const auto& [p, block] : live) {
          ASSERT_TRUE(pattern_intact(p, block)) << "overwritten: " << p;
        }
      }
    }
    std::shuffle(order.begin(), order.end(), rng);
    for (void* p : order) {
      free_block(p);
    }
    check_stats(-1);
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_GT(model_high_water, 20u);
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  EXPECT_EQ(upstream.mismatches(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, SlotPoolModelTest,
    ::testing::Values(model_case{1, 0}, model_case{2, 0}, model_case{3, 0},
                      model_case{42, 0}, model_case{7, 50}, model_case{8, 50},
                      model_case{9, 23}, model_case{2024, 23}),
    [](const ::testing::TestParamInfo<model_case>& param_info) {
      return absl::StrFormat("seed%d_max%d", param_info.param.seed,
                             param_info.param.max_slots);
    });

// ---------------------------------------------------------------------------
// SlotPoolContainersTest: std::pmr containers over the pool.

class SlotPoolContainersTest : public ::testing::Test {
 protected:
  counting_resource upstream_;
  slot_pool_resource pool_{{.slot_size = 64, .initial_slots = 32}, &upstream_};

  void TearDown() override {
    EXPECT_EQ(pool_.stats().slots_in_use, 0u);
    EXPECT_EQ(pool_.stats().upstream_bytes, upstream_.bytes_outstanding());
    EXPECT_EQ(upstream_.mismatches(), 0u);
  }
};

TEST_F(SlotPoolContainersTest, Vector) {
  {
    std::pmr::vector<int> numbers(&pool_);
    for (int i = 0; i < 1000; ++i) {
      numbers.push_back(i);
    }
    EXPECT_EQ(std::accumulate(numbers.begin(), numbers.end(), 0),
              999 * 1000 / 2);
    // Small capacities were slots, large ones went upstream.
    EXPECT_GT(pool_.stats().high_water, 0u);
    EXPECT_GT(pool_.stats().oversize_allocations, 0u);
    std::erase_if(numbers, [](int n) { return n % 2 == 1; });
    numbers.shrink_to_fit();
    ASSERT_EQ(numbers.size(), 500u);
    EXPECT_EQ(numbers[123], 246);
  }
}

TEST_F(SlotPoolContainersTest, List) {
  {
    std::pmr::list<int> numbers(&pool_);
    for (int i = 0; i < 500; ++i) {
      numbers.push_back(i);
    }
    EXPECT_EQ(pool_.stats().slots_in_use, 500u);  // one slot per node
    numbers.remove_if([](int n) { return n % 2 == 1; });
    EXPECT_EQ(pool_.stats().slots_in_use, 250u);
    numbers.sort(std::greater<>());
    EXPECT_EQ(numbers.front(), 498);
    EXPECT_EQ(numbers.back(), 0);
    EXPECT_EQ(pool_.stats().oversize_allocations, 0u);
  }
}

TEST_F(SlotPoolContainersTest, Map) {
  {
    std::pmr::map<int, int> squares(&pool_);
    for (int i = 0; i < 300; ++i) {
      squares[i] = i * i;
    }
    EXPECT_EQ(pool_.stats().slots_in_use, 300u);
    for (int i = 0; i < 300; i += 3) {
      squares.erase(i);
    }
    EXPECT_EQ(pool_.stats().slots_in_use, squares.size());
    EXPECT_EQ(squares.at(17), 289);
    EXPECT_EQ(squares.count(18), 0u);
  }
}

TEST_F(SlotPoolContainersTest, UnorderedMap) {
  {
    std::pmr::unordered_map<int, long> table(&pool_);
    for (int i = 0; i < 400; ++i) {
      table.emplace(i, i * 10L);
    }
    EXPECT_GE(pool_.stats().slots_in_use, 400u);        // the nodes
    EXPECT_GT(pool_.stats().oversize_allocations, 0u);  // the bucket arrays
    for (int i = 0; i < 400; i += 2) {
      table.erase(i);
    }
    EXPECT_EQ(table.size(), 200u);
    EXPECT_EQ(table.at(201), 2010);
    EXPECT_FALSE(table.contains(200));
  }
}

TEST_F(SlotPoolContainersTest, Deque) {
  {
    std::pmr::deque<int> queue(&pool_);
    for (int i = 0; i < 2000; ++i) {
      queue.push_back(i);
      if (i % 3 == 0) {
        queue.pop_front();
      }
    }
    EXPECT_EQ(queue.size(), 2000u - 667u);
    EXPECT_EQ(queue.front(), 667);
    EXPECT_EQ(queue.back(), 1999);
    EXPECT_GT(pool_.stats().oversize_allocations, 0u);  // 512-byte blocks
  }
}

TEST_F(SlotPoolContainersTest, StringAndNestedAllocators) {
  {
    std::pmr::string text(&pool_);
    text.assign(50, 'x');  // 51 bytes: one slot
    EXPECT_EQ(pool_.stats().slots_in_use, 1u);
    text.append(300, 'y');  // oversize
    EXPECT_EQ(pool_.stats().slots_in_use, 0u);
    EXPECT_EQ(text.size(), 350u);
    EXPECT_EQ(text[49], 'x');
    EXPECT_EQ(text[50], 'y');

    // Uses-allocator construction passes the pool down to every element.
    std::pmr::list<std::pmr::string> names(&pool_);
    for (std::size_t i = 0; i < 50; ++i) {
      names.emplace_back(30 + i % 20, 'a');  // 31..50 bytes: a slot each
    }
    std::size_t i = 0;
    for (const std::pmr::string& name : names) {
      EXPECT_EQ(name.get_allocator().resource(), &pool_);
      EXPECT_EQ(name.size(), 30 + i % 20);
      ++i;
    }
    EXPECT_EQ(pool_.stats().slots_in_use, 100u);  // nodes and strings
  }
}

}  // namespace
