// Test plan: protopool::synchronized_slot_pool_resource.
// - SlotPoolContractTest (typed, over slot_pool_resource and
//   synchronized_slot_pool_resource): the single-threaded contract both
//   pools share: distinct aligned slots (bytes 0 too), LIFO reuse,
//   options(), preallocation in one upstream call, geometric growth capped
//   by max_slots_per_chunk, max_slots -> bad_alloc and still usable,
//   pass-through blocks shaped as slots (a slot's alignment, max_slots
//   kept), oversize/over-aligned forwarding and counting, throw_bad_alloc
//   policy, invalid options naming the field, upstream throwing leaves the pool
//   unchanged, is_equal identity, release(), owns(), every byte back to
//   upstream, high_water, std containers, and a random sequence of mixed
//   sizes against a model.
// - SynchronizedSlotPoolResourceTest: what only the synchronized pool has:
//   its USAGE snippet, upstream_bytes matching upstream, segment-aligned
//   upstream requests, pass-through mode (and release() leaving its
//   upstream blocks counted), two pools used alternately by one thread,
//   stats() and owns() noexcept, bad_alloc for a slot no segment can hold,
//   a non-power-of-two alignment on a request that does not fit a slot
//   throwing in every build.
// - SynchronizedSlotPoolThreadTest: N producers x M consumers through a
//   bounded queue and one producer/one consumer through a lock-free SPSC
//   ring (payload checked, every message once, slots_in_use 0, upstream
//   bytes all back); many threads allocating and freeing randomly against
//   per-thread models and handing blocks to each other; a thread that exits
//   with cached slots (a new thread reuses them, no new chunk; max_slots
//   still reachable by a live thread); frees for another thread handed
//   over in batches of 32, at the freeing thread's own refill and at its
//   exit; a thread's own frees still reused LIFO after it took in exited
//   threads' heaps; the initial slots going to the first thread; frees by
//   threads that never allocate; destruction while idle threads still hold
//   per-thread state; threads exiting after the pool died (and a new pool
//   at the same address); frees and an allocation late in thread exit (a
//   thread_local destroyed after the pool's registry) losing no slot;
//   stats() and owns() while other threads allocate and free; high_water
//   and slots_in_use seen from a third thread never above what a
//   producer/consumer hand-off can hold.
// - SynchronizedSlotPoolToolsTest: destruction with a leaked slot keeps only
//   that slot's chunk while a memory checker watches, returns all without;
//   release() returns all; LeakSanitizer reports the leak (ASan builds);
//   a free inside a live slot is named as such before ASan's report;
//   valgrind's mempool is gone before chunks go back (under valgrind).
// - SynchronizedSlotPoolQuarantineTest (instrumented builds): with
//   PROTOPOOL_QUARANTINE=K a freed slot comes back after K other frees;
//   a thread's quarantine is handed back at its exit; quarantined slots
//   serve at max_slots.
// - SynchronizedSlotPoolDeathTest (checked builds): double free (same and
//   other thread), foreign pointer, pointer inside a slot, slot freed with
//   an oversize size, oversize block freed with a slot size, alignment not
//   a power of two on a slot-sized request, slots in use reported at
//   destruction and release().
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <protopool/config.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/synchronized_slot_pool_resource.h>
#include <protopool/test_resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <latch>
#include <limits>
#include <list>
#include <map>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <random>
#include <semaphore>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "detail/tool_hooks.h"
#include "support/counting_resource.h"
#include "support/scoped_env.h"

#if PROTOPOOL_ASAN
#include <sanitizer/lsan_interface.h>
#endif
#if PROTOPOOL_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace {

using protopool::oversize_policy;
using protopool::slot_pool_options;
using protopool::slot_pool_resource;
using protopool::synchronized_slot_pool_resource;
using protopool::test_resource;
using protopool::test_resource_options;
using ::testing::HasSubstr;

bool is_aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

// Fills `bytes` at `p` with a pattern derived from `seed`.
void fill(void* p, std::size_t bytes, std::uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i) {
    b[i] = static_cast<unsigned char>((seed * 131 + i * 7) & 0xFF);
  }
}

// Returns true if `bytes` at `p` still hold the pattern of `seed`.
bool holds(const void* p, std::size_t bytes, std::uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i) {
    if (b[i] != static_cast<unsigned char>((seed * 131 + i * 7) & 0xFF)) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// The contract both pools share.

template <class Pool>
class SlotPoolContractTest : public ::testing::Test {};

using pool_types =
    ::testing::Types<slot_pool_resource, synchronized_slot_pool_resource>;
class pool_names {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, slot_pool_resource> ? "single" : "synchronized";
  }
};
TYPED_TEST_SUITE(SlotPoolContractTest, pool_types, pool_names);

TYPED_TEST(SlotPoolContractTest, ServesDistinctAlignedSlotsForEveryFit) {
  test_resource upstream;
  TypeParam pool({.slot_size = 40, .slot_alignment = 16}, &upstream);
  std::vector<void*> blocks;
  for (std::size_t bytes : {0U, 1U, 8U, 39U, 40U}) {
    for (std::size_t alignment : {1U, 2U, 8U, 16U}) {
      void* p = pool.allocate(bytes, alignment);
      EXPECT_TRUE(is_aligned(p, 16)) << bytes << " " << alignment;
      EXPECT_TRUE(pool.owns(p));
      blocks.push_back(p);
    }
  }
  std::set<void*> distinct(blocks.begin(), blocks.end());
  EXPECT_EQ(distinct.size(), blocks.size());
  EXPECT_EQ(pool.stats().slots_in_use, blocks.size());
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  // The stride holds a slot and keeps the alignment.
  EXPECT_EQ(pool.slot_stride(), 48u);
  for (void* p : blocks) {
    pool.deallocate(p, 40, 16);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TYPED_TEST(SlotPoolContractTest, ReusesTheLastFreedSlot) {
  TypeParam pool({.slot_size = 24});
  void* a = pool.allocate(24, 8);
  void* b = pool.allocate(16, 8);
  pool.deallocate(a, 24, 8);
  EXPECT_EQ(pool.allocate(8, 8), a);
  pool.deallocate(b, 16, 8);
  pool.deallocate(a, 8, 8);
  EXPECT_EQ(pool.allocate(24, 8), a);
  EXPECT_EQ(pool.allocate(24, 8), b);
  pool.deallocate(a, 24, 8);
  pool.deallocate(b, 24, 8);
}

TYPED_TEST(SlotPoolContractTest, ReportsTheOptionsAsGiven) {
  test_resource upstream;
  const slot_pool_options options{.slot_size = 3,
                                  .slot_alignment = 2,
                                  .initial_slots = 5,
                                  .max_slots = 9,
                                  .max_slots_per_chunk = 7,
                                  .oversize = oversize_policy::throw_bad_alloc};
  TypeParam pool(options, &upstream);
  EXPECT_EQ(pool.options().slot_size, 3u);
  EXPECT_EQ(pool.options().slot_alignment, 2u);
  EXPECT_EQ(pool.options().initial_slots, 5u);
  EXPECT_EQ(pool.options().max_slots, 9u);
  EXPECT_EQ(pool.options().max_slots_per_chunk, 7u);
  EXPECT_EQ(pool.options().oversize, oversize_policy::throw_bad_alloc);
  EXPECT_EQ(pool.upstream_resource(), &upstream);
  // Rounded up to hold a free-list link.
  EXPECT_EQ(pool.slot_stride(), sizeof(void*));
}

TYPED_TEST(SlotPoolContractTest, CarvesInitialSlotsInOneUpstreamCall) {
  test_resource upstream;
  TypeParam pool({.slot_size = 32, .initial_slots = 100}, &upstream);
  EXPECT_EQ(upstream.allocations(), 1u);
  EXPECT_EQ(pool.stats().capacity, 100u);
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) {
    blocks.push_back(pool.allocate(32, 8));
  }
  EXPECT_EQ(upstream.allocations(), 1u);
  blocks.push_back(pool.allocate(32, 8));
  EXPECT_EQ(upstream.allocations(), 2u);
  for (void* p : blocks) {
    pool.deallocate(p, 32, 8);
  }
}

TYPED_TEST(SlotPoolContractTest, GrowsGeometricallyUpToTheChunkCap) {
  test_resource upstream;
  TypeParam pool({.slot_size = 16, .max_slots_per_chunk = 40}, &upstream);
  EXPECT_EQ(pool.stats().chunks, 0u);
  std::vector<void*> blocks;
  std::vector<std::size_t> capacities;
  for (int i = 0; i < 16 + 32 + 40 + 40; ++i) {
    blocks.push_back(pool.allocate(16, 8));
    if (capacities.empty() || capacities.back() != pool.stats().capacity) {
      capacities.push_back(pool.stats().capacity);
    }
  }
  EXPECT_THAT(capacities, ::testing::ElementsAre(16, 48, 88, 128));
  EXPECT_EQ(pool.stats().chunks, 4u);
  EXPECT_EQ(upstream.allocations(), 4u);
  EXPECT_EQ(pool.stats().upstream_bytes, upstream.bytes_in_use());
  for (void* p : blocks) {
    pool.deallocate(p, 16, 8);
  }
}

TYPED_TEST(SlotPoolContractTest, ThrowsBadAllocAtMaxSlotsAndStaysUsable) {
  TypeParam pool({.slot_size = 8, .initial_slots = 2, .max_slots = 5});
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) {
    blocks.push_back(pool.allocate(8, 8));
  }
  EXPECT_THROW((void)pool.allocate(8, 8), std::bad_alloc);
  EXPECT_EQ(pool.stats().capacity, 5u);
  EXPECT_EQ(pool.stats().slots_in_use, 5u);
  pool.deallocate(blocks.back(), 8, 8);
  blocks.back() = pool.allocate(8, 8);
  EXPECT_THROW((void)pool.allocate(8, 8), std::bad_alloc);
  for (void* p : blocks) {
    pool.deallocate(p, 8, 8);
  }
}

TYPED_TEST(SlotPoolContractTest, PassThroughBlocksAreShapedAsSlots) {
  // PROTOPOOL_PASS_THROUGH=1 must not change what a program gets: slots of
  // alignment 1 are pointer-aligned on the pool, so upstream is asked for
  // that alignment, and max_slots stays a hard capacity.
  protopool::testing::counting_resource upstream;
  // An upstream that packs blocks as tightly as it is asked to.
  std::pmr::monotonic_buffer_resource packing(1024);
  std::optional<TypeParam> pool;
  std::optional<TypeParam> packed;
  {
    const protopool::testing::scoped_env pass_through("PROTOPOOL_PASS_THROUGH",
                                                      "1");
    pool.emplace(
        slot_pool_options{.slot_size = 9, .slot_alignment = 1, .max_slots = 3},
        &upstream);
    packed.emplace(slot_pool_options{.slot_size = 9, .slot_alignment = 1},
                   &packing);
  }
  std::vector<void*> blocks;
  for (int i = 0; i < 3; ++i) {
    blocks.push_back(pool->allocate(9, 1));
    ASSERT_NE(upstream.find(blocks.back()), nullptr) << i;
    EXPECT_EQ(upstream.find(blocks.back())->bytes, 9u) << i;
    EXPECT_EQ(upstream.find(blocks.back())->alignment, alignof(void*)) << i;
  }
  EXPECT_THROW(static_cast<void>(pool->allocate(9, 1)), std::bad_alloc);
  EXPECT_EQ(pool->stats().slots_in_use, 3u);
  pool->deallocate(blocks.back(), 9, 1);
  blocks.back() = pool->allocate(9, 1);  // usable again after a free
  for (void* p : blocks) {
    pool->deallocate(p, 9, 1);
  }
  EXPECT_EQ(pool->stats().slots_in_use, 0u);
  EXPECT_EQ(pool->stats().high_water, 3u);
  EXPECT_EQ(upstream.mismatches(), 0u);
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
  for (int i = 0; i < 3; ++i) {
    void* p = packed->allocate(9, 1);
    EXPECT_TRUE(is_aligned(p, alignof(void*))) << i;
    packed->deallocate(p, 9, 1);
  }
}

TYPED_TEST(SlotPoolContractTest, ForwardsOversizeAndOveralignedRequests) {
  test_resource upstream;
  TypeParam pool({.slot_size = 32, .slot_alignment = 8}, &upstream);
  void* big = pool.allocate(33, 8);
  void* aligned = pool.allocate(8, 64);
  EXPECT_TRUE(is_aligned(aligned, 64));
  EXPECT_FALSE(pool.owns(big));
  EXPECT_FALSE(pool.owns(aligned));
  EXPECT_EQ(pool.stats().oversize_allocations, 2u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.blocks_in_use(), 2u);
  pool.deallocate(big, 33, 8);
  pool.deallocate(aligned, 8, 64);
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TYPED_TEST(SlotPoolContractTest, RefusesOversizeUnderThrowPolicy) {
  test_resource upstream;
  TypeParam pool(
      {.slot_size = 32, .oversize = oversize_policy::throw_bad_alloc},
      &upstream);
  EXPECT_THROW((void)pool.allocate(33, 8), std::bad_alloc);
  EXPECT_THROW((void)pool.allocate(8, 4096), std::bad_alloc);
  EXPECT_EQ(upstream.allocations(), 0u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
}

struct invalid_case {
  slot_pool_options options;
  const char* field;
};

TYPED_TEST(SlotPoolContractTest, RejectsInvalidOptionsNamingTheField) {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  const invalid_case cases[] = {
      {{.slot_size = 0}, "slot_size"},
      {{.slot_size = 8, .slot_alignment = 0}, "slot_alignment"},
      {{.slot_size = 8, .slot_alignment = 24}, "slot_alignment"},
      {{.slot_size = 8, .max_slots_per_chunk = 0}, "max_slots_per_chunk"},
      {{.slot_size = 8, .initial_slots = 10, .max_slots = 9}, "max_slots"},
      {{.slot_size = 8, .oversize = static_cast<oversize_policy>(7)},
       "oversize"},
      {{.slot_size = 8, .max_slots_per_chunk = max / 8}, "max_slots_per_chunk"},
      {{.slot_size = 8, .initial_slots = max / 8}, "initial_slots"},
  };
  for (const invalid_case& c : cases) {
    try {
      TypeParam pool(c.options);
      ADD_FAILURE() << "no exception for " << c.field;
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr(c.field));
    }
  }
  try {
    TypeParam pool({.slot_size = 8}, nullptr);
    ADD_FAILURE() << "no exception for a null upstream";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("upstream"));
  }
}

TYPED_TEST(SlotPoolContractTest, UpstreamThrowingLeavesThePoolUnchanged) {
  test_resource upstream(test_resource_options{.quiet = true});
  upstream.set_allocation_limit(0);
  EXPECT_THROW(TypeParam({.slot_size = 8, .initial_slots = 4}, &upstream),
               std::bad_alloc);
  EXPECT_EQ(upstream.blocks_in_use(), 0u);

  TypeParam pool({.slot_size = 8, .initial_slots = 2}, &upstream);
  void* a = pool.allocate(8, 8);
  void* b = pool.allocate(8, 8);
  const auto before = pool.stats();
  upstream.set_allocation_limit(0);
  EXPECT_THROW((void)pool.allocate(8, 8), std::bad_alloc);
  upstream.set_allocation_limit(0);
  EXPECT_THROW((void)pool.allocate(100, 8), std::bad_alloc);
  const auto after = pool.stats();
  EXPECT_EQ(after.slots_in_use, before.slots_in_use);
  EXPECT_EQ(after.capacity, before.capacity);
  EXPECT_EQ(after.chunks, before.chunks);
  EXPECT_EQ(after.upstream_bytes, before.upstream_bytes);
  EXPECT_EQ(after.oversize_allocations, before.oversize_allocations);
  // Usable again once upstream is.
  void* c = pool.allocate(8, 8);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
  pool.deallocate(a, 8, 8);
  pool.deallocate(b, 8, 8);
  pool.deallocate(c, 8, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TYPED_TEST(SlotPoolContractTest, IsEqualIsIdentity) {
  TypeParam a({.slot_size = 8});
  TypeParam b({.slot_size = 8});
  EXPECT_TRUE(a.is_equal(a));
  EXPECT_FALSE(a.is_equal(b));
  EXPECT_FALSE(a.is_equal(*std::pmr::new_delete_resource()));
  EXPECT_EQ(std::pmr::polymorphic_allocator<int>(&a),
            std::pmr::polymorphic_allocator<int>(&a));
  EXPECT_NE(std::pmr::polymorphic_allocator<int>(&a),
            std::pmr::polymorphic_allocator<int>(&b));
}

TYPED_TEST(SlotPoolContractTest, ReleaseReturnsEveryChunkAndStaysUsable) {
  test_resource upstream;
  TypeParam pool({.slot_size = 8, .initial_slots = 4}, &upstream);
  std::vector<void*> blocks;
  for (int i = 0; i < 30; ++i) {
    blocks.push_back(pool.allocate(8, 8));
  }
  for (void* p : blocks) {
    pool.deallocate(p, 8, 8);
  }
  pool.release();
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(pool.stats().chunks, 0u);
  EXPECT_EQ(pool.stats().capacity, 0u);
  EXPECT_EQ(pool.stats().upstream_bytes, 0u);
  EXPECT_EQ(pool.stats().high_water, 30u);
  void* p = pool.allocate(8, 8);
  EXPECT_TRUE(pool.owns(p));
  EXPECT_EQ(pool.stats().capacity, 16u);
  pool.deallocate(p, 8, 8);
}

TYPED_TEST(SlotPoolContractTest, OwnsItsSlotsOnly) {
  TypeParam pool({.slot_size = 64, .initial_slots = 3});
  TypeParam other({.slot_size = 64, .initial_slots = 3});
  void* mine = pool.allocate(64, 8);
  void* theirs = other.allocate(64, 8);
  int local = 0;
  EXPECT_TRUE(pool.owns(mine));
  EXPECT_TRUE(pool.owns(static_cast<char*>(mine) + 63));
  EXPECT_FALSE(pool.owns(theirs));
  EXPECT_FALSE(pool.owns(&local));
  EXPECT_FALSE(pool.owns(nullptr));
  pool.deallocate(mine, 64, 8);
  EXPECT_TRUE(pool.owns(mine));  // freed slots are still the pool's
  other.deallocate(theirs, 64, 8);
}

TYPED_TEST(SlotPoolContractTest, DestructorReturnsEveryByte) {
  test_resource upstream;
  {
    TypeParam pool({.slot_size = 24, .initial_slots = 10}, &upstream);
    std::vector<void*> blocks;
    for (int i = 0; i < 200; ++i) {
      blocks.push_back(pool.allocate(24, 8));
    }
    for (void* p : blocks) {
      pool.deallocate(p, 24, 8);
    }
    EXPECT_GT(upstream.blocks_in_use(), 1u);
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TYPED_TEST(SlotPoolContractTest, TracksTheHighWaterMark) {
  TypeParam pool({.slot_size = 8});
  std::vector<void*> blocks;
  for (int i = 0; i < 7; ++i) {
    blocks.push_back(pool.allocate(8, 8));
  }
  for (int i = 0; i < 4; ++i) {
    pool.deallocate(blocks.back(), 8, 8);
    blocks.pop_back();
  }
  for (int i = 0; i < 6; ++i) {
    blocks.push_back(pool.allocate(8, 8));
  }
  EXPECT_EQ(pool.stats().slots_in_use, 9u);
  EXPECT_EQ(pool.stats().high_water, 9u);
  for (void* p : blocks) {
    pool.deallocate(p, 8, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().high_water, 9u);
}

TYPED_TEST(SlotPoolContractTest, HoldsStdContainers) {
  test_resource upstream;
  {
    // A slot large enough for the nodes of each container below.
    TypeParam pool({.slot_size = 64}, &upstream);
    std::pmr::list<int> list(&pool);
    std::pmr::map<int, int> map(&pool);
    std::pmr::unordered_map<int, int> hash(&pool);
    std::pmr::deque<int> deque(&pool);
    std::pmr::vector<int> vector(&pool);
    std::pmr::string text("a string too long for the small buffer", &pool);
    for (int i = 0; i < 1000; ++i) {
      list.push_back(i);
      map[i] = i * 2;
      hash[i] = i * 3;
      deque.push_back(i);
      vector.push_back(i);
    }
    EXPECT_EQ(list.back(), 999);
    EXPECT_EQ(map.at(500), 1000);
    EXPECT_EQ(hash.at(500), 1500);
    EXPECT_EQ(deque[999], 999);
    EXPECT_EQ(vector[999], 999);
    EXPECT_EQ(text, "a string too long for the small buffer");
    EXPECT_GT(pool.stats().slots_in_use, 2000u);
    EXPECT_GT(pool.stats().oversize_allocations, 0u);  // vector, buckets
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TYPED_TEST(SlotPoolContractTest, RandomMixedSizesMatchAModel) {
  test_resource upstream;
  TypeParam pool({.slot_size = 48, .slot_alignment = 16, .max_slots = 300},
                 &upstream);
  struct block {
    void* p;
    std::size_t bytes;
    std::size_t alignment;
    std::uint64_t seed;
  };
  std::vector<block> live;
  std::mt19937_64 random(42);
  std::size_t slots_model = 0;
  std::size_t oversize_model = 0;
  std::size_t high_water_model = 0;
  for (std::uint64_t step = 0; step < 20000; ++step) {
    if (live.empty() || random() % 100 < 55) {
      const std::size_t bytes = random() % 64;
      const std::size_t alignment = std::size_t{1} << (random() % 6);
      const bool fits = bytes <= 48 && alignment <= 16;
      if (fits && slots_model == 300) {
        EXPECT_THROW((void)pool.allocate(bytes, alignment), std::bad_alloc);
        continue;
      }
      void* p = pool.allocate(bytes, alignment);
      ASSERT_TRUE(is_aligned(p, alignment));
      ASSERT_EQ(pool.owns(p), fits);
      fill(p, bytes, step);
      live.push_back({p, bytes, alignment, step});
      if (fits) {
        high_water_model = std::max(high_water_model, ++slots_model);
      } else {
        ++oversize_model;
      }
    } else {
      const std::size_t i = random() % live.size();
      const block b = live[i];
      live[i] = live.back();
      live.pop_back();
      ASSERT_TRUE(holds(b.p, b.bytes, b.seed)) << "step " << step;
      pool.deallocate(b.p, b.bytes, b.alignment);
      if (b.bytes <= 48 && b.alignment <= 16) {
        --slots_model;
      }
    }
    if (step % 1000 == 0) {
      // No two live blocks overlap.
      std::vector<block> sorted = live;
      std::sort(sorted.begin(), sorted.end(),
                [](const block& x, const block& y) { return x.p < y.p; });
      for (std::size_t k = 1; k < sorted.size(); ++k) {
        ASSERT_LE(static_cast<char*>(sorted[k - 1].p) + sorted[k - 1].bytes,
                  static_cast<char*>(sorted[k].p));
      }
      const auto stats = pool.stats();
      ASSERT_EQ(stats.slots_in_use, slots_model);
      ASSERT_EQ(stats.oversize_allocations, oversize_model);
      ASSERT_EQ(stats.high_water, high_water_model);
    }
  }
  for (const block& b : live) {
    ASSERT_TRUE(holds(b.p, b.bytes, b.seed));
    pool.deallocate(b.p, b.bytes, b.alignment);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(upstream.blocks_in_use(), pool.stats().chunks);
}

// ---------------------------------------------------------------------------
// What only the synchronized pool has, on one thread.

TEST(SynchronizedSlotPoolResourceTest, UsageSnippetRuns) {
  // clang-format off
  protopool::synchronized_slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32});
  void* message = pool.allocate(32);      // on a producer thread
  std::thread consumer([&] { pool.deallocate(message, 32); });
  consumer.join();                        // freed on another thread
  // clang-format on
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().high_water, 1u);
}

TEST(SynchronizedSlotPoolResourceTest, UpstreamBytesMatchWhatUpstreamHolds) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 100, .initial_slots = 50},
                                       &upstream);
  std::vector<void*> blocks;
  for (int i = 0; i < 500; ++i) {
    blocks.push_back(pool.allocate(100, 8));
    EXPECT_EQ(pool.stats().upstream_bytes, upstream.bytes_in_use());
  }
  EXPECT_EQ(pool.stats().chunks, upstream.blocks_in_use());
  for (void* p : blocks) {
    pool.deallocate(p, 100, 8);
  }
}

// Records the alignment of every upstream request.
class alignment_recorder final : public std::pmr::memory_resource {
 public:
  std::vector<std::size_t> alignments;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    alignments.push_back(alignment);
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }
};

TEST(SynchronizedSlotPoolResourceTest, ChunksAreAlignedPowerOfTwoSegments) {
  alignment_recorder upstream;
  synchronized_slot_pool_resource pool({.slot_size = 40}, &upstream);
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i) {
    blocks.push_back(pool.allocate(40, 8));
  }
  ASSERT_FALSE(upstream.alignments.empty());
  for (std::size_t alignment : upstream.alignments) {
    EXPECT_EQ(alignment, upstream.alignments.front());
    EXPECT_TRUE(alignment != 0 && (alignment & (alignment - 1)) == 0);
    // At least 16 slots fit in a segment.
    EXPECT_GE(alignment, 16 * pool.slot_stride());
  }
  for (void* p : blocks) {
    pool.deallocate(p, 40, 8);
  }
}

TEST(SynchronizedSlotPoolResourceTest, PassThroughSendsEverythingUpstream) {
  ASSERT_EQ(::setenv("PROTOPOOL_PASS_THROUGH", "1", 1), 0);
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool({.slot_size = 16, .initial_slots = 8},
                                         &upstream);
    ::unsetenv("PROTOPOOL_PASS_THROUGH");
    EXPECT_EQ(upstream.allocations(), 0u);  // no initial chunk
    void* a = pool.allocate(16, 8);
    void* b = pool.allocate(4, 4);
    EXPECT_EQ(upstream.blocks_in_use(), 2u);
    EXPECT_EQ(pool.stats().slots_in_use, 2u);
    EXPECT_EQ(pool.stats().oversize_allocations, 0u);
    std::thread other([&] { pool.deallocate(b, 4, 4); });
    other.join();
    pool.deallocate(a, 16, 8);
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_EQ(pool.stats().high_water, 2u);
  }
  ::unsetenv("PROTOPOOL_PASS_THROUGH");
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TEST(SynchronizedSlotPoolResourceTest, OneThreadAlternatesBetweenPools) {
  test_resource upstream;
  synchronized_slot_pool_resource a({.slot_size = 16}, &upstream);
  synchronized_slot_pool_resource b({.slot_size = 16}, &upstream);
  std::vector<std::pair<void*, bool>> blocks;
  for (int i = 0; i < 300; ++i) {
    const bool in_a = i % 3 != 0;
    void* p = (in_a ? a : b).allocate(16, 8);
    EXPECT_TRUE((in_a ? a : b).owns(p));
    EXPECT_FALSE((in_a ? b : a).owns(p));
    fill(p, 16, static_cast<std::uint64_t>(i));
    blocks.emplace_back(p, in_a);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_TRUE(holds(blocks[i].first, 16, i));
    (blocks[i].second ? a : b).deallocate(blocks[i].first, 16, 8);
  }
  EXPECT_EQ(a.stats().slots_in_use, 0u);
  EXPECT_EQ(b.stats().slots_in_use, 0u);
  EXPECT_EQ(a.stats().high_water, 200u);
  EXPECT_EQ(b.stats().high_water, 100u);
}

TEST(SynchronizedSlotPoolResourceTest, PassThroughReleaseKeepsBlocksCounted) {
  ASSERT_EQ(::setenv("PROTOPOOL_PASS_THROUGH", "1", 1), 0);
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool({.slot_size = 16}, &upstream);
    ::unsetenv("PROTOPOOL_PASS_THROUGH");
    void* a = pool.allocate(16, 8);
    void* b = pool.allocate(16, 8);
    ::testing::internal::CaptureStderr();
    pool.release();  // a and b are upstream's blocks: still valid
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    EXPECT_EQ(pool.stats().slots_in_use, 2u);
    fill(a, 16, 1);
    EXPECT_TRUE(holds(a, 16, 1));
    pool.deallocate(a, 16, 8);
    std::thread([&] { pool.deallocate(b, 16, 8); }).join();
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_EQ(pool.stats().high_water, 2u);
    EXPECT_EQ(upstream.blocks_in_use(), 0u);
  }
  ::unsetenv("PROTOPOOL_PASS_THROUGH");
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TEST(SynchronizedSlotPoolResourceTest, ASlotNoSegmentCanHoldIsBadAlloc) {
  // Valid options for both pools, but a slot above SIZE_MAX / 8 bytes fits
  // no power-of-two segment: the synchronized pool says so at once.
  const slot_pool_options huge{
      .slot_size = std::numeric_limits<std::size_t>::max() / 5,
      .max_slots_per_chunk = 1};
  EXPECT_NO_THROW(slot_pool_resource{huge});
  EXPECT_THROW(synchronized_slot_pool_resource{huge}, std::bad_alloc);
}

TEST(SynchronizedSlotPoolResourceTest, StatsAndOwnsAreNoexcept) {
  const synchronized_slot_pool_resource pool({.slot_size = 16});
  static_assert(noexcept(pool.stats()));
  static_assert(noexcept(pool.owns(nullptr)));
  EXPECT_FALSE(pool.owns(&pool));
}

TEST(SynchronizedSlotPoolResourceTest,
     AlignmentNotAPowerOfTwoThrowsForOversizeInEveryBuild) {
  synchronized_slot_pool_resource pool({.slot_size = 32});
  // volatile: the compiler must not see (and warn about) the alignments.
  volatile std::size_t twelve = 12;
  volatile std::size_t twenty_four = 24;
  EXPECT_THROW((void)pool.allocate(100, twelve), std::invalid_argument);
  EXPECT_THROW((void)pool.allocate(8, twenty_four), std::invalid_argument);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

// ---------------------------------------------------------------------------
// Threads.

// Blocks threads until released: they stay alive past a point in the test.
class gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A message as a producer writes it: the consumer checks every field.
struct message {
  std::uint32_t producer;
  std::uint32_t sequence;
  std::uint64_t check;
  char payload[40];
};

std::uint64_t check_of(std::uint32_t producer, std::uint32_t sequence) {
  return (std::uint64_t{producer} << 32 | sequence) * 0x9E3779B97F4A7C15ULL;
}

message* make_message(std::pmr::memory_resource& pool, std::uint32_t producer,
                      std::uint32_t sequence) {
  auto* m =
      static_cast<message*>(pool.allocate(sizeof(message), alignof(message)));
  m->producer = producer;
  m->sequence = sequence;
  m->check = check_of(producer, sequence);
  fill(m->payload, sizeof m->payload, m->check);
  return m;
}

bool intact(const message& m) {
  return m.check == check_of(m.producer, m.sequence) &&
         holds(m.payload, sizeof m.payload, m.check);
}

// A bounded blocking queue of pointers.
class bounded_queue {
 public:
  explicit bounded_queue(std::size_t capacity) : capacity_(capacity) {}
  void push(message* m) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(m);
    not_empty_.notify_one();
  }
  // Returns nullptr once closed and drained.
  message* pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) {
      return nullptr;
    }
    message* m = items_.front();
    items_.pop_front();
    not_full_.notify_one();
    return m;
  }
  void close() {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<message*> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

TEST(SynchronizedSlotPoolThreadTest,
     ProducersAndConsumersThroughABoundedQueue) {
  constexpr std::uint32_t producers = 3;
  constexpr std::uint32_t consumers = 2;
  constexpr std::uint32_t per_producer = 20000;
  const auto start = std::chrono::steady_clock::now();
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool(slot_pool_options::for_type<message>(),
                                         &upstream);
    bounded_queue queue(64);
    // received[p][s]: how often message s of producer p arrived.
    std::vector<std::vector<std::atomic<std::uint8_t>>> received(producers);
    for (auto& r : received) {
      r = std::vector<std::atomic<std::uint8_t>>(per_producer);
    }
    std::atomic<std::size_t> damaged{0};
    std::vector<std::thread> threads;
    for (std::uint32_t c = 0; c < consumers; ++c) {
      threads.emplace_back([&] {
        while (message* m = queue.pop()) {
          if (!intact(*m) || m->producer >= producers ||
              m->sequence >= per_producer) {
            ++damaged;
          } else {
            received[m->producer][m->sequence].fetch_add(1);
          }
          pool.deallocate(m, sizeof(message), alignof(message));
        }
      });
    }
    std::vector<std::thread> producer_threads;
    for (std::uint32_t p = 0; p < producers; ++p) {
      producer_threads.emplace_back([&, p] {
        for (std::uint32_t s = 0; s < per_producer; ++s) {
          queue.push(make_message(pool, p, s));
        }
      });
    }
    for (auto& t : producer_threads) {
      t.join();
    }
    queue.close();
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(damaged.load(), 0u);
    std::size_t missing_or_repeated = 0;
    for (auto& r : received) {
      for (auto& count : r) {
        missing_or_repeated += count.load() != 1;
      }
    }
    EXPECT_EQ(missing_or_repeated, 0u);
    const auto stats = pool.stats();
    EXPECT_EQ(stats.slots_in_use, 0u);
    EXPECT_GE(stats.high_water, 1u);
    EXPECT_LE(stats.high_water, stats.capacity);
    EXPECT_EQ(stats.upstream_bytes, upstream.bytes_in_use());
    // The slots circulate: far fewer than one per message.
    EXPECT_LT(stats.capacity, std::size_t{producers} * per_producer / 4);
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(120));
}

// A single-producer single-consumer ring with acquire/release indices.
class spsc_ring {
 public:
  bool try_push(message* m) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == size) {
      return false;
    }
    slots_[tail % size] = m;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }
  message* try_pop() {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) {
      return nullptr;
    }
    message* m = slots_[head % size];
    head_.store(head + 1, std::memory_order_release);
    return m;
  }

 private:
  static constexpr std::size_t size = 256;
  message* slots_[size] = {};
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

TEST(SynchronizedSlotPoolThreadTest, OneProducerOneConsumerThroughARing) {
  constexpr std::uint32_t count = 50000;
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool(
        slot_pool_options::for_type<message>(512), &upstream);
    spsc_ring ring;
    std::uint32_t next_expected = 0;
    std::size_t damaged = 0;
    std::thread consumer([&] {
      while (next_expected < count) {
        message* m = ring.try_pop();
        if (m == nullptr) {
          std::this_thread::yield();
          continue;
        }
        damaged += !intact(*m) || m->sequence != next_expected;
        ++next_expected;
        pool.deallocate(m, sizeof(message), alignof(message));
      }
    });
    for (std::uint32_t s = 0; s < count; ++s) {
      message* m = make_message(pool, 0, s);
      while (!ring.try_push(m)) {
        std::this_thread::yield();
      }
    }
    consumer.join();
    EXPECT_EQ(damaged, 0u);
    EXPECT_EQ(next_expected, count);
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_LE(pool.stats().high_water, pool.stats().capacity);
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
}

TEST(SynchronizedSlotPoolThreadTest, ManyThreadsMatchTheirModels) {
  constexpr int threads = 6;
  constexpr int steps = 20000;
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool(
        {.slot_size = 64, .slot_alignment = 16}, &upstream);
    struct block {
      void* p;
      std::size_t bytes;
      std::uint64_t seed;
    };
    // Blocks handed from one thread to another, freed by the receiver.
    std::mutex mailbox_mutex;
    std::vector<block> mailbox;
    std::atomic<std::size_t> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::mt19937_64 random(static_cast<std::uint64_t>(t) + 1);
        std::vector<block> live;
        auto free_block = [&](const block& b) {
          if (!holds(b.p, b.bytes, b.seed) || !pool.owns(b.p)) {
            ++failures;
          }
          pool.deallocate(b.p, b.bytes, 16);
        };
        for (int step = 0; step < steps; ++step) {
          const auto choice = random() % 100;
          if (live.empty() || choice < 50) {
            const std::size_t bytes = 1 + random() % 64;
            const std::uint64_t seed = static_cast<std::uint64_t>(t) << 32 |
                                       static_cast<std::uint64_t>(step);
            void* p = pool.allocate(bytes, 16);
            if (!is_aligned(p, 16)) {
              ++failures;
            }
            fill(p, bytes, seed);
            live.push_back({p, bytes, seed});
          } else if (choice < 90) {
            const std::size_t i = random() % live.size();
            free_block(live[i]);
            live[i] = live.back();
            live.pop_back();
          } else if (choice < 95) {
            const std::size_t i = random() % live.size();
            const std::lock_guard lock(mailbox_mutex);
            mailbox.push_back(live[i]);
            live[i] = live.back();
            live.pop_back();
          } else {
            std::vector<block> taken;
            {
              const std::lock_guard lock(mailbox_mutex);
              taken.swap(mailbox);
            }
            for (const block& b : taken) {
              free_block(b);
            }
          }
        }
        for (const block& b : live) {
          free_block(b);
        }
      });
    }
    for (auto& w : workers) {
      w.join();
    }
    for (const block& b : mailbox) {
      EXPECT_TRUE(holds(b.p, b.bytes, b.seed));
      pool.deallocate(b.p, b.bytes, 16);
    }
    EXPECT_EQ(failures.load(), 0u);
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_EQ(pool.stats().upstream_bytes, upstream.bytes_in_use());
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TEST(SynchronizedSlotPoolThreadTest,
     ThreadExitGivesCachedSlotsToTheNextThread) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 32}, &upstream);
  std::set<void*> first;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 100; ++i) {
      blocks.push_back(pool.allocate(32, 8));
    }
    for (void* p : blocks) {
      pool.deallocate(p, 32, 8);
    }
    first.insert(blocks.begin(), blocks.end());
  }).join();
  const auto before = pool.stats();
  EXPECT_EQ(before.slots_in_use, 0u);
  const std::size_t upstream_calls = upstream.allocations();
  std::set<void*> second;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 100; ++i) {
      blocks.push_back(pool.allocate(32, 8));
    }
    second.insert(blocks.begin(), blocks.end());
    for (void* p : blocks) {
      pool.deallocate(p, 32, 8);
    }
  }).join();
  EXPECT_EQ(second, first);
  EXPECT_EQ(upstream.allocations(), upstream_calls);
  EXPECT_EQ(pool.stats().chunks, before.chunks);
  // Many short-lived threads do not grow the pool either.
  for (int i = 0; i < 20; ++i) {
    std::thread([&] {
      void* p = pool.allocate(32, 8);
      pool.deallocate(p, 32, 8);
    }).join();
  }
  EXPECT_EQ(upstream.allocations(), upstream_calls);
}

TEST(SynchronizedSlotPoolThreadTest, OwnFreesStayLifoAfterTakingInExitedHeaps) {
  synchronized_slot_pool_resource pool({.slot_size = 32});
  // Three threads alive at once leave three heaps, each with one free slot
  // and the rest of its chunk never used.
  std::latch all_allocated(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      void* p = pool.allocate(32, 8);
      all_allocated.arrive_and_wait();
      pool.deallocate(p, 32, 8);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // This thread adopts one heap and uses up its chunk; its next refill
  // takes in the other two heaps' slots.
  const std::size_t chunk_slots = pool.stats().capacity / 3;
  std::vector<void*> held;
  for (std::size_t i = 0; i < chunk_slots; ++i) {
    held.push_back(pool.allocate(32, 8));
  }
  for (int i = 0; i < 4; ++i) {
    void* p = pool.allocate(32, 8);
    pool.deallocate(p, 32, 8);
    void* q = pool.allocate(32, 8);
    EXPECT_EQ(q, p) << i;  // the slot this thread freed last comes back
    held.push_back(q);
  }
  EXPECT_EQ(pool.stats().chunks, 3u);  // no chunk was added
  for (void* p : held) {
    pool.deallocate(p, 32, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SynchronizedSlotPoolThreadTest,
     OwnFreesStayLifoOnAHeapThatGaveItsChunksAway) {
  // A free held back for an exited thread's heap reaches that heap only
  // after another heap took its chunks; a thread then adopts the emptied
  // heap. Its own frees must still come back to it, last in first out.
  synchronized_slot_pool_resource pool({.slot_size = 16});
  std::vector<void*> mine;
  for (int i = 0; i < 16; ++i) {
    mine.push_back(pool.allocate(16, 8));  // this heap's first chunk used up
  }
  std::binary_semaphore f_ready{0}, s_made{0}, s_freed{0}, grown{0}, flushed{0},
      done{0};
  void* s = nullptr;
  std::thread f([&] {  // a live thread with a heap of its own
    void* own = pool.allocate(16, 8);
    f_ready.release();
    s_made.acquire();
    pool.deallocate(s, 16, 8);  // for A's heap: held back in f
    s_freed.release();
    grown.acquire();
    pool.deallocate(mine[0], 16, 8);  // another heap: hands s over to A's
    flushed.release();
    done.acquire();
    pool.deallocate(own, 16, 8);
  });
  f_ready.acquire();
  std::thread([&] { s = pool.allocate(16, 8); }).join();  // A exits
  s_made.release();
  s_freed.acquire();
  void* grown_slot = pool.allocate(16, 8);  // takes in A's heap and chunk
  grown.release();
  flushed.acquire();
  void* first = nullptr;
  void* second = nullptr;
  std::thread([&] {  // adopts A's emptied heap
    first = pool.allocate(16, 8);
    pool.deallocate(first, 16, 8);
    second = pool.allocate(16, 8);
    pool.deallocate(second, 16, 8);
  })
      .join();
  EXPECT_EQ(second, first);
  done.release();
  f.join();
  for (std::size_t i = 1; i < mine.size(); ++i) {
    pool.deallocate(mine[i], 16, 8);
  }
  pool.deallocate(grown_slot, 16, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SynchronizedSlotPoolThreadTest, LiveThreadTakesInAnExitedThreadsSlots) {
  synchronized_slot_pool_resource pool({.slot_size = 16, .max_slots = 64});
  // This thread gets a heap with a chunk of 16 slots.
  pool.deallocate(pool.allocate(16, 8), 16, 8);
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 48; ++i) {
      blocks.push_back(pool.allocate(16, 8));
    }
    EXPECT_THROW((void)pool.allocate(16, 8), std::bad_alloc);
    for (void* p : blocks) {
      pool.deallocate(p, 16, 8);
    }
  }).join();
  // Every slot is free again: all 64 are reachable from this thread.
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) {
    blocks.push_back(pool.allocate(16, 8));
  }
  EXPECT_THROW((void)pool.allocate(16, 8), std::bad_alloc);
  EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), 64u);
  for (void* p : blocks) {
    pool.deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().capacity, 64u);
}

TEST(SynchronizedSlotPoolThreadTest, RemoteFreesArriveInBatchesAndAtExit) {
  synchronized_slot_pool_resource pool({.slot_size = 16});
  std::vector<void*> first;
  for (int i = 0; i < 40; ++i) {
    first.push_back(pool.allocate(16, 8));  // chunks of 16 and 32
  }
  ASSERT_EQ(pool.stats().capacity, 48u);
  gate freed;
  gate finish;
  std::thread consumer([&] {
    for (void* p : first) {
      pool.deallocate(p, 16, 8);
    }
    freed.open();
    finish.wait();  // alive, with 8 frees not yet handed over
  });
  freed.wait();
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  const std::set<void*> first_set(first.begin(), first.end());
  std::vector<void*> second;
  for (int i = 0; i < 8 + 32; ++i) {
    second.push_back(pool.allocate(16, 8));
  }
  // 8 never-used slots, then the first batch of 32 frees.
  const auto reused = static_cast<std::size_t>(
      std::count_if(second.begin(), second.end(),
                    [&](void* p) { return first_set.count(p) != 0; }));
  EXPECT_EQ(reused, 32u);
  EXPECT_EQ(pool.stats().capacity, 48u);
  finish.open();
  consumer.join();  // hands over the last 8
  for (int i = 0; i < 8; ++i) {
    void* p = pool.allocate(16, 8);
    EXPECT_EQ(first_set.count(p), 1u);
    second.push_back(p);
  }
  EXPECT_EQ(pool.stats().capacity, 48u);
  for (void* p : second) {
    pool.deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SynchronizedSlotPoolThreadTest, AThreadsOwnRefillHandsOverItsFrees) {
  synchronized_slot_pool_resource pool({.slot_size = 16});
  std::vector<void*> first;
  for (int i = 0; i < 16; ++i) {
    first.push_back(pool.allocate(16, 8));
  }
  gate done;
  gate finish;
  void* own = nullptr;
  std::thread consumer([&] {
    for (void* p : first) {
      pool.deallocate(p, 16, 8);  // fewer than a batch: held back
    }
    own = pool.allocate(16, 8);  // its own refill hands them over
    done.open();
    finish.wait();
    pool.deallocate(own, 16, 8);
  });
  done.wait();
  EXPECT_EQ(pool.stats().capacity, 32u);
  const std::set<void*> first_set(first.begin(), first.end());
  std::vector<void*> second;
  for (int i = 0; i < 16; ++i) {
    second.push_back(pool.allocate(16, 8));
    EXPECT_EQ(first_set.count(second.back()), 1u);
  }
  EXPECT_EQ(pool.stats().capacity, 32u);
  finish.open();
  consumer.join();
  for (void* p : second) {
    pool.deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SynchronizedSlotPoolThreadTest, InitialSlotsGoToTheFirstThread) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 16, .initial_slots = 40},
                                       &upstream);
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 40; ++i) {
      blocks.push_back(pool.allocate(16, 8));
    }
    EXPECT_EQ(upstream.allocations(), 1u);
    for (void* p : blocks) {
      pool.deallocate(p, 16, 8);
    }
  }).join();
  EXPECT_EQ(pool.stats().capacity, 40u);
}

TEST(SynchronizedSlotPoolThreadTest, ThreadsThatNeverAllocateFreeSlots) {
  test_resource upstream;
  {
    synchronized_slot_pool_resource pool({.slot_size = 24}, &upstream);
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; ++i) {
      blocks.push_back(pool.allocate(24, 8));
    }
    std::vector<std::thread> freers;
    for (int t = 0; t < 4; ++t) {
      freers.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < blocks.size();
             i += 4) {
          pool.deallocate(blocks[i], 24, 8);
        }
      });
    }
    for (auto& f : freers) {
      f.join();
    }
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
    EXPECT_EQ(pool.stats().high_water, 1000u);
    // The freed slots come back to this thread: no new chunk.
    const std::size_t capacity = pool.stats().capacity;
    for (void*& p : blocks) {
      p = pool.allocate(24, 8);
    }
    EXPECT_EQ(pool.stats().capacity, capacity);
    for (void* p : blocks) {
      pool.deallocate(p, 24, 8);
    }
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
}

// A pool whose upstream is another synchronized pool, used for the first
// time on threads that exit while others grow the outer pool: the outer
// pool calls upstream under its own lock, the inner pool registers the
// thread, and thread exit gives heaps back. No lock order may invert
// (ThreadSanitizer reports an inversion in the tsan preset even when the
// interleaving does not hang) and every slot of both pools comes back.
TEST(SynchronizedSlotPoolThreadTest, UpstreamIsAnotherSynchronizedPool) {
  synchronized_slot_pool_resource inner(
      {.slot_size = 4096, .slot_alignment = 4096});
  {
    synchronized_slot_pool_resource outer({.slot_size = 8}, &inner);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&outer] {
        std::vector<void*> mine;
        for (int i = 0; i < 300; ++i) {
          mine.push_back(outer.allocate(8));
        }
        for (void* p : mine) {
          outer.deallocate(p, 8);
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(outer.stats().slots_in_use, 0u);
    EXPECT_GT(inner.stats().slots_in_use, 0u);  // outer's chunks
  }
  EXPECT_EQ(inner.stats().slots_in_use, 0u);
}

// release() on one thread while a thread that stopped using the pool exits
// with frees still pending: the exit must not push slots of returned
// chunks, nor touch the heap while release() resets it (ThreadSanitizer
// reports the race in the tsan preset).
TEST(SynchronizedSlotPoolThreadTest, ReleaseWhileAThreadExits) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 16}, &upstream);
  void* blocks[4];
  for (void*& b : blocks) {
    b = pool.allocate(16);
  }
  std::atomic<bool> freed{false};
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    for (void* b : blocks) {
      pool.deallocate(b, 16);  // pending in the worker's heap
    }
    freed.store(true, std::memory_order_release);
    while (!stop.load(std::memory_order_acquire)) {
      std::this_thread::yield();
    }
  });  // exit: pending frees flushed
  while (!freed.load(std::memory_order_acquire)) {
    std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  pool.release();
  worker.join();
  void* p = pool.allocate(16);
  EXPECT_TRUE(pool.owns(p));
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  pool.deallocate(p, 16);
  pool.release();
  EXPECT_EQ(upstream.bytes_in_use(), 0u);
}

TEST(SynchronizedSlotPoolThreadTest, DestructionWhileIdleReturnsEveryByte) {
  test_resource upstream;
  gate used;
  gate finish;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  {
    synchronized_slot_pool_resource pool({.slot_size = 32}, &upstream);
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        std::vector<void*> blocks;
        for (int i = 0; i < 50; ++i) {
          blocks.push_back(pool.allocate(32, 8));
        }
        for (void* p : blocks) {
          pool.deallocate(p, 32, 8);
        }
        ++ready;
        finish.wait();  // alive, with a heap in the pool, past its death
      });
    }
    while (ready.load() != 3) {
      std::this_thread::yield();
    }
    EXPECT_EQ(pool.stats().slots_in_use, 0u);
  }
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  finish.open();  // the threads exit after the pool died
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

TEST(SynchronizedSlotPoolThreadTest,
     ThreadOutlivesAPoolAndUsesOneAtItsAddress) {
  test_resource upstream;
  std::optional<synchronized_slot_pool_resource> pool;
  pool.emplace(slot_pool_options{.slot_size = 32}, &upstream);
  const void* address = &*pool;
  gate first_used;
  gate replaced;
  gate second_used;
  std::thread worker([&] {
    void* p = pool->allocate(32, 8);
    pool->deallocate(p, 32, 8);
    first_used.open();
    replaced.wait();
    // A new pool at the same address: this thread's cached heap of the old
    // one must not be taken for it.
    EXPECT_EQ(static_cast<const void*>(&*pool), address);
    void* q = pool->allocate(32, 8);
    EXPECT_TRUE(pool->owns(q));
    fill(q, 32, 7);
    EXPECT_TRUE(holds(q, 32, 7));
    pool->deallocate(q, 32, 8);
    second_used.open();
  });
  first_used.wait();
  pool.reset();
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  pool.emplace(slot_pool_options{.slot_size = 32}, &upstream);
  replaced.open();
  second_used.wait();
  worker.join();  // exits while the second pool lives: gives its heap back
  void* r = pool->allocate(32, 8);
  pool->deallocate(r, 32, 8);
  EXPECT_EQ(pool->stats().slots_in_use, 0u);
  pool.reset();
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
  EXPECT_EQ(upstream.misuse_count(), 0u);
}

// A thread_local object that uses the pool in its destructor. Made before
// the thread first uses the pool, it is destroyed after the pool's
// per-thread registry (thread_local objects die in reverse order of
// construction): its calls come late in thread exit.
struct late_user {
  synchronized_slot_pool_resource* pool = nullptr;
  std::vector<void*> to_free;
  bool allocate_and_free_one = false;

  late_user() = default;
  late_user(const late_user&) = delete;
  late_user& operator=(const late_user&) = delete;
  ~late_user() {
    if (pool == nullptr) {
      return;
    }
    if (allocate_and_free_one) {
      void* p = pool->allocate(16, 8);
      fill(p, 16, 3);
      pool->deallocate(p, 16, 8);
    }
    for (void* p : to_free) {
      pool->deallocate(p, 16, 8);
    }
  }
};

// Every one of max_slots is reachable from this thread.
void expect_all_slots_reachable(synchronized_slot_pool_resource& pool,
                                std::size_t max_slots) {
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < max_slots; ++i) {
    try {
      blocks.push_back(pool.allocate(16, 8));
    } catch (const std::bad_alloc&) {
      ADD_FAILURE() << "bad_alloc at allocation " << i;
      break;
    }
  }
  EXPECT_THROW((void)pool.allocate(16, 8), std::bad_alloc);
  for (void* p : blocks) {
    pool.deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SynchronizedSlotPoolThreadTest, LateFreesInThreadExitReturnTheirSlots) {
  synchronized_slot_pool_resource pool({.slot_size = 16, .max_slots = 16});
  std::thread([&] {
    thread_local late_user user;  // before the registry
    user.pool = &pool;
    for (int i = 0; i < 16; ++i) {
      user.to_free.push_back(pool.allocate(16, 8));
    }
  }).join();
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().capacity, 16u);
  expect_all_slots_reachable(pool, 16);
}

TEST(SynchronizedSlotPoolThreadTest, LateAllocationInThreadExitStrandsNoSlots) {
  synchronized_slot_pool_resource pool({.slot_size = 16, .max_slots = 16});
  std::thread([&] {
    thread_local late_user user;  // before the registry
    user.pool = &pool;
    user.allocate_and_free_one = true;
    std::vector<void*> blocks;
    for (int i = 0; i < 16; ++i) {
      blocks.push_back(pool.allocate(16, 8));
    }
    for (void* p : blocks) {
      pool.deallocate(p, 16, 8);  // cached in this thread's heap
    }
  }).join();
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().capacity, 16u);
  expect_all_slots_reachable(pool, 16);
}

TEST(SynchronizedSlotPoolThreadTest, StatsAndOwnsWhileOtherThreadsWork) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 32}, &upstream);
  constexpr int workers = 2;
  constexpr int rounds = 300;
  std::atomic<int> running{workers};
  std::mutex mailbox_mutex;
  std::vector<void*> mailbox;  // blocks freed by the other worker
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      std::vector<void*> mine;
      for (int round = 0; round < rounds; ++round) {
        const auto count = std::uniform_int_distribution<int>(1, 40)(rng);
        for (int i = 0; i < count; ++i) {
          mine.push_back(pool.allocate(32, 8));
          EXPECT_TRUE(pool.owns(mine.back()));
        }
        std::vector<void*> theirs;
        {
          const std::lock_guard lock(mailbox_mutex);
          theirs.swap(mailbox);
          // Half of mine go to the other worker.
          mailbox.insert(mailbox.end(), mine.begin(),
                         mine.begin() + static_cast<long>(mine.size() / 2));
        }
        for (auto it = mine.begin() + static_cast<long>(mine.size() / 2);
             it != mine.end(); ++it) {
          pool.deallocate(*it, 32, 8);
        }
        mine.clear();
        for (void* p : theirs) {
          pool.deallocate(p, 32, 8);
        }
      }
      --running;
    });
  }
  // This thread watches while they work.
  int samples = 0;
  std::size_t last_high_water = 0;
  const int local = 0;
  while (running.load() != 0 || samples < 10) {
    const protopool::slot_pool_stats s = pool.stats();
    EXPECT_GE(s.high_water, last_high_water);
    last_high_water = s.high_water;
    EXPECT_FALSE(pool.owns(&local));
    EXPECT_FALSE(pool.owns(&s));
    ++samples;
  }
  for (auto& t : threads) {
    t.join();
  }
  for (void* p : mailbox) {
    pool.deallocate(p, 32, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().upstream_bytes, upstream.bytes_in_use());
}

TEST(SynchronizedSlotPoolThreadTest, HighWaterWatchedFromAThirdThreadIsReal) {
  // A producer hands slots to a consumer through 8 cells, so at most 10 are
  // in use at once (8 in cells, one just taken by the consumer, one just
  // allocated by the producer), while a third thread calls stats() in a
  // loop. Counting every heap's allocations before any heap's frees keeps
  // a preempted stats() from counting an allocation without its free:
  // heap by heap, high_water reached tens of thousands here.
  constexpr int cells = 8;
  constexpr int count = 20000;
  synchronized_slot_pool_resource pool({.slot_size = 32});
  std::array<std::atomic<void*>, cells> ring{};
  std::atomic<bool> done{false};
  std::size_t largest_seen = 0;
#if PROTOPOOL_VALGRIND
  const bool serialized = RUNNING_ON_VALGRIND != 0;
#else
  const bool serialized = false;
#endif
  std::thread watcher([&] {
    while (!done.load()) {
      largest_seen = std::max(largest_seen, pool.stats().slots_in_use);
      if (serialized) {
        std::this_thread::yield();  // valgrind runs one thread at a time
      }
    }
  });
  std::thread consumer([&] {
    for (int i = 0; i < count; ++i) {
      std::atomic<void*>& cell = ring[static_cast<std::size_t>(i % cells)];
      void* slot = nullptr;
      while ((slot = cell.load(std::memory_order_acquire)) == nullptr) {
        std::this_thread::yield();
      }
      cell.store(nullptr, std::memory_order_release);
      pool.deallocate(slot, 32);
    }
  });
  for (int i = 0; i < count; ++i) {
    std::atomic<void*>& cell = ring[static_cast<std::size_t>(i % cells)];
    while (cell.load(std::memory_order_acquire) != nullptr) {
      std::this_thread::yield();
    }
    cell.store(pool.allocate(32), std::memory_order_release);
  }
  consumer.join();
  done.store(true);
  watcher.join();
  const protopool::slot_pool_stats stats = pool.stats();
  EXPECT_EQ(stats.slots_in_use, 0u);
  EXPECT_LE(largest_seen, std::size_t{cells + 2});
  EXPECT_LE(stats.high_water, std::size_t{cells + 2});
  EXPECT_GE(stats.high_water, 1u);
}

// ---------------------------------------------------------------------------
// Memory checkers: leaks at destruction, tool-hook order, quarantine.

using protopool::testing::scoped_env;

class SynchronizedSlotPoolToolsTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(SynchronizedSlotPoolToolsTest,
       DestructorKeepsOnlyChunksWithLeakedSlotsWhileToolsWatch) {
  const auto child = [] {
    test_resource upstream;
    std::size_t leaked_chunk_bytes = 0;
    {
      synchronized_slot_pool_resource pool(
          {.slot_size = 16, .max_slots_per_chunk = 16}, &upstream);
      std::vector<void*> first;
      for (int i = 0; i < 16; ++i) {
        first.push_back(pool.allocate(16, 8));
      }
      const std::size_t first_bytes = upstream.bytes_in_use();
      std::vector<void*> second;
      for (int i = 0; i < 16; ++i) {
        second.push_back(pool.allocate(16, 8));
      }
      leaked_chunk_bytes = upstream.bytes_in_use() - first_bytes;
      // The first chunk all freed (one on another thread); one slot of the
      // second chunk leaked.
      std::thread([&] { pool.deallocate(first.back(), 16, 8); }).join();
      first.pop_back();
      for (void* p : first) {
        pool.deallocate(p, 16, 8);
      }
      for (std::size_t i = 1; i < second.size(); ++i) {
        pool.deallocate(second[i], 16, 8);
      }
    }
    // Under a memory checker the chunk with the leak stays, for the checker
    // to report; only that one. Without one, every byte goes back.
    const bool watching = protopool::detail::tools_watching();
    return watching ? upstream.blocks_in_use() == 1 &&
                          upstream.bytes_in_use() == leaked_chunk_bytes
                    : upstream.blocks_in_use() == 0;
  };
  EXPECT_EXIT(std::_Exit(child() ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

TEST_F(SynchronizedSlotPoolToolsTest, ReleaseReturnsEveryChunkEvenWithLeaks) {
  test_resource upstream;
  synchronized_slot_pool_resource pool({.slot_size = 16}, &upstream);
  (void)pool.allocate(16, 8);
  ::testing::internal::CaptureStderr();
  pool.release();
  (void)::testing::internal::GetCapturedStderr();
  EXPECT_EQ(upstream.blocks_in_use(), 0u);
}

#if PROTOPOOL_ASAN
[[gnu::noinline]] void leak_a_slot_of_a_synchronized_pool() {
  synchronized_slot_pool_resource pool({.slot_size = 16});
  void* kept = pool.allocate(16, 8);
  static_cast<char*>(pool.allocate(16, 8))[0] = 'x';  // never freed
  pool.deallocate(kept, 16, 8);
}
#endif

TEST_F(SynchronizedSlotPoolToolsTest, LeakSanitizerReportsALeakedSlot) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  EXPECT_EXIT(
      {
        ::testing::internal::CaptureStderr();  // the checked-build report
        leak_a_slot_of_a_synchronized_pool();
        (void)::testing::internal::GetCapturedStderr();
        std::_Exit(__lsan_do_recoverable_leak_check() != 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "LeakSanitizer: detected memory leaks(.|\n)*"
      "leak_a_slot_of_a_synchronized_pool");
#endif
}

TEST_F(SynchronizedSlotPoolToolsTest, AsanNamesAFreeInsideALiveSlot) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 32});
        auto* p = static_cast<char*>(pool.allocate(4, 4));
        pool.deallocate(p + 16, 4, 4);
      },
      "inside a slot, not at its start(.|\n)*"
      "AddressSanitizer: use-after-poison");
#endif
}

#if PROTOPOOL_VALGRIND
// Records whether valgrind still knew the pool's mempool whenever a chunk
// came back.
class mempool_probe final : public std::pmr::memory_resource {
 public:
  const void* pool = nullptr;
  std::size_t returned_while_known = 0;
  std::size_t returned = 0;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    ++returned;
    if (VALGRIND_MEMPOOL_EXISTS(pool)) {
      ++returned_while_known;
    }
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }
};
#endif

TEST_F(SynchronizedSlotPoolToolsTest,
       ValgrindForgetsThePoolBeforeChunksGoBack) {
#if !PROTOPOOL_VALGRIND
  GTEST_SKIP() << "the library is not built with PROTOPOOL_VALGRIND";
#else
  if (RUNNING_ON_VALGRIND == 0) {
    GTEST_SKIP() << "not running under valgrind";
  }
  mempool_probe upstream;
  {
    synchronized_slot_pool_resource pool({.slot_size = 16}, &upstream);
    upstream.pool = &pool;
    pool.deallocate(pool.allocate(16, 8), 16, 8);
    pool.release();
    EXPECT_EQ(upstream.returned, 1u);
    EXPECT_TRUE(VALGRIND_MEMPOOL_EXISTS(&pool));  // made afresh
    pool.deallocate(pool.allocate(16, 8), 16, 8);
  }
  EXPECT_EQ(upstream.returned, 2u);
  EXPECT_EQ(upstream.returned_while_known, 0u);
#endif
}

class SynchronizedSlotPoolQuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PROTOPOOL_INSTRUMENTED) {
      GTEST_SKIP() << "quarantine needs an instrumented build";
    }
  }

  // Makes pool_ with PROTOPOOL_QUARANTINE=`k` (read at construction) and
  // returns `count` 16-byte slots from it.
  std::vector<void*> make_pool_and_allocate(const char* k,
                                            const slot_pool_options& options,
                                            int count) {
    {
      const scoped_env env("PROTOPOOL_QUARANTINE", k);
      pool_.emplace(options);
    }
    std::vector<void*> blocks;
    for (int i = 0; i < count; ++i) {
      blocks.push_back(pool_->allocate(16, 8));
    }
    return blocks;
  }

  std::optional<synchronized_slot_pool_resource> pool_;
};

TEST_F(SynchronizedSlotPoolQuarantineTest, AFreedSlotComesBackAfterKFrees) {
  const std::vector<void*> blocks =
      make_pool_and_allocate("4", slot_pool_options{.slot_size = 16}, 6);
  pool_->deallocate(blocks[0], 16, 8);
  std::vector<void*> later;
  later.push_back(pool_->allocate(16, 8));
  EXPECT_NE(later.back(), blocks[0]);  // held in quarantine, not reused LIFO
  for (std::size_t i = 1; i <= 3; ++i) {
    pool_->deallocate(blocks[i], 16, 8);
  }
  later.push_back(pool_->allocate(16, 8));
  EXPECT_NE(later.back(), blocks[0]);   // only 3 frees after it so far
  pool_->deallocate(blocks[4], 16, 8);  // the 4th: blocks[0] comes out
  later.push_back(pool_->allocate(16, 8));
  EXPECT_EQ(later.back(), blocks[0]);
  EXPECT_EQ(pool_->stats().slots_in_use, 4u);
  later.push_back(blocks[5]);
  for (void* p : later) {
    pool_->deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool_->stats().slots_in_use, 0u);
}

TEST_F(SynchronizedSlotPoolQuarantineTest, ThreadExitEmptiesItsQuarantine) {
  const std::vector<void*> blocks = make_pool_and_allocate(
      "4", slot_pool_options{.slot_size = 16, .max_slots = 16}, 16);
  // Another thread frees them all: it holds 4, hands over 12; at its exit
  // it hands over the 4 too.
  std::thread([&] {
    for (void* p : blocks) {
      pool_->deallocate(p, 16, 8);
    }
  }).join();
  EXPECT_EQ(pool_->stats().slots_in_use, 0u);
  expect_all_slots_reachable(*pool_, 16);
}

TEST_F(SynchronizedSlotPoolQuarantineTest, QuarantinedSlotsServeAtMaxSlots) {
  const std::vector<void*> blocks = make_pool_and_allocate(
      "100", slot_pool_options{.slot_size = 16, .max_slots = 16}, 16);
  for (void* p : blocks) {
    pool_->deallocate(p, 16, 8);  // all 16 quarantined
  }
  expect_all_slots_reachable(*pool_, 16);
}

// ---------------------------------------------------------------------------
// Checked-build diagnoses.

class SynchronizedSlotPoolDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PROTOPOOL_CHECKED) {
      GTEST_SKIP() << "diagnoses need PROTOPOOL_CHECKED";
    }
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(SynchronizedSlotPoolDeathTest, DoubleFreeAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 16});
        void* p = pool.allocate(16, 8);
        pool.deallocate(p, 16, 8);
        pool.deallocate(p, 16, 8);
      },
      "synchronized_slot_pool_resource .*double free");
}

TEST_F(SynchronizedSlotPoolDeathTest, DoubleFreeOnAnotherThreadAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 16});
        void* p = pool.allocate(16, 8);
        pool.deallocate(p, 16, 8);
        std::thread([&] { pool.deallocate(p, 16, 8); }).join();
      },
      "double free");
}

TEST_F(SynchronizedSlotPoolDeathTest, ForeignPointerAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 16});
        synchronized_slot_pool_resource other({.slot_size = 16});
        void* p = other.allocate(16, 8);
        pool.deallocate(p, 16, 8);
      },
      "does not own");
}

TEST_F(SynchronizedSlotPoolDeathTest, PointerInsideASlotAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 32});
        auto* p = static_cast<char*>(pool.allocate(32, 8));
        pool.deallocate(p + 8, 32, 8);
      },
      "inside a slot");
}

TEST_F(SynchronizedSlotPoolDeathTest, SlotFreedWithAnOversizeSizeAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 32});
        void* p = pool.allocate(32, 8);
        pool.deallocate(p, 33, 8);
      },
      "too large for a slot");
}

TEST_F(SynchronizedSlotPoolDeathTest, OversizeBlockFreedWithASlotSizeAborts) {
  EXPECT_DEATH(
      {
        synchronized_slot_pool_resource pool({.slot_size = 32});
        void* p = pool.allocate(100, 8);
        pool.deallocate(p, 32, 8);
      },
      "does not own");
}

// Checked builds only: for a request that fits a slot (the oversize case
// throws in every build: see SynchronizedSlotPoolResourceTest).
TEST_F(SynchronizedSlotPoolDeathTest, AlignmentNotAPowerOfTwoThrows) {
  synchronized_slot_pool_resource pool({.slot_size = 32});
  // volatile: the compiler must not see (and warn about) the alignments.
  volatile std::size_t three = 3;
  volatile std::size_t twelve = 12;
  EXPECT_THROW((void)pool.allocate(8, three), std::invalid_argument);
  EXPECT_THROW((void)pool.allocate(100, twelve), std::invalid_argument);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST_F(SynchronizedSlotPoolDeathTest,
       ReportsSlotsInUseAtDestructionAndRelease) {
  // In a child: under a memory checker the pool keeps the leaked slot's
  // chunk, which the checker would then report in this process.
  const auto child = [] {
    test_resource upstream;
    void* leaked = nullptr;
    ::testing::internal::CaptureStderr();
    {
      synchronized_slot_pool_resource pool({.slot_size = 32}, &upstream);
      leaked = pool.allocate(32, 8);
      void* freed = pool.allocate(32, 8);
      pool.deallocate(freed, 32, 8);
    }
    const std::string destruction = ::testing::internal::GetCapturedStderr();
    std::ostringstream address;
    address << leaked;
    return destruction.find("1 slot(s) still in use at destruction") !=
               std::string::npos &&
           destruction.find(address.str()) != std::string::npos &&
           upstream.blocks_in_use() ==
               (protopool::detail::tools_watching() ? 1u : 0u);
  };
  EXPECT_EXIT(std::_Exit(child() ? 0 : 1), ::testing::ExitedWithCode(0), "");

  test_resource upstream;
  ::testing::internal::CaptureStderr();
  synchronized_slot_pool_resource pool({.slot_size = 32}, &upstream);
  (void)pool.allocate(32, 8);
  (void)pool.allocate(32, 8);
  pool.release();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("2 slot(s) still in use at release()"));
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

}  // namespace
