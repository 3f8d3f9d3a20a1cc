// Test plan: how slot_pool_resource shows its slots to memory checkers.
// - AddressSanitizer builds (else skipped): __asan_address_is_poisoned is
//   true for never-handed-out and freed slots and for the bytes of a slot
//   beyond the requested size (through memory_resource and through
//   slot_allocator<T>: the bytes past the T), false for the requested
//   bytes of a live slot; a read of a freed slot dies with ASan's
//   use-after-poison report; a free inside a live slot's poisoned tail is
//   named as such by the pool's line before ASan's report.
// - valgrind (PROTOPOOL_VALGRIND and running under valgrind, else skipped):
//   free and never-used slots are not addressable, live ones are.
// - Every build: heavy churn that fills every live byte and checks it back
//   (the free-list link inside free slots must not trip the tools, nor
//   corrupt a live slot).
// - Quarantine (instrumented builds, else skipped): with
//   PROTOPOOL_QUARANTINE=K a freed slot comes back only after K other
//   frees (K a number, else no quarantine); at max_slots a quarantined
//   slot is reused instead of failing;
//   a double free of a quarantined slot is still diagnosed (checked).
#include <gtest/gtest.h>
#include <protopool/config.h>
#include <protopool/slot_allocator.h>
#include <protopool/slot_pool_resource.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#if PROTOPOOL_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if PROTOPOOL_VALGRIND
#include <valgrind/memcheck.h>
#endif

#include "support/scoped_env.h"

namespace {

using protopool::slot_pool_options;
using protopool::slot_pool_resource;

using protopool::testing::scoped_env;

#if PROTOPOOL_ASAN
bool poisoned(const void* p) { return __asan_address_is_poisoned(p) != 0; }
#endif

TEST(SlotPoolToolsTest, AsanSeesFreeAndNeverUsedSlotsAsPoisoned) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  slot_pool_resource pool(slot_pool_options{
      .slot_size = 32, .slot_alignment = 8, .initial_slots = 4});
  auto* live = static_cast<std::byte*>(pool.allocate(32, 8));
  const std::size_t stride = pool.slot_stride();
  // The next slot was never handed out.
  EXPECT_TRUE(poisoned(live + stride));
  EXPECT_TRUE(poisoned(live + 3 * stride + stride - 1));
  for (std::size_t i = 0; i < 32; ++i) {
    EXPECT_FALSE(poisoned(live + i)) << i;
  }
  pool.deallocate(live, 32, 8);
  for (std::size_t i = 0; i < stride; i += 8) {
    EXPECT_TRUE(poisoned(live + i)) << i;  // link word included
  }
#endif
}

TEST(SlotPoolToolsTest, AsanPoisonsTheSlotTailBeyondTheRequest) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  slot_pool_resource pool(
      slot_pool_options{.slot_size = 64, .slot_alignment = 8});
  auto* p = static_cast<std::byte*>(pool.allocate(16, 8));
  EXPECT_FALSE(poisoned(p + 15));
  EXPECT_TRUE(poisoned(p + 16));
  EXPECT_TRUE(poisoned(p + 63));
  pool.deallocate(p, 16, 8);
#endif
}

TEST(SlotPoolToolsTest, AsanPoisonsTheSlotTailBeyondASlotAllocatorsObject) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  slot_pool_resource pool(
      slot_pool_options{.slot_size = 64, .slot_alignment = 8});
  protopool::slot_allocator<std::uint32_t> allocator(pool);
  std::uint32_t* p = allocator.allocate(1);
  const auto* bytes = reinterpret_cast<const std::byte*>(p);
  EXPECT_FALSE(poisoned(bytes + 3));
  EXPECT_TRUE(poisoned(bytes + 4));
  EXPECT_TRUE(poisoned(bytes + 63));
  EXPECT_EQ(pool.stats().slots_in_use, 1U);
  allocator.deallocate(p, 1);
  EXPECT_TRUE(poisoned(bytes));
  EXPECT_EQ(pool.stats().slots_in_use, 0U);
#endif
}

TEST(SlotPoolToolsDeathTest, AsanReportsUseAfterFreeInAPoolSlot) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  EXPECT_DEATH(
      {
        slot_pool_resource pool(slot_pool_options{.slot_size = 32});
        auto* p = static_cast<volatile int*>(pool.allocate(32, 8));
        *p = 1;
        pool.deallocate(const_cast<int*>(p), 32, 8);
        std::fprintf(stderr, "%d\n", *p);  // use after free
      },
      "AddressSanitizer: use-after-poison");
#endif
}

TEST(SlotPoolToolsDeathTest, AsanNamesAFreeInsideALiveSlot) {
#if !PROTOPOOL_ASAN
  GTEST_SKIP() << "the library is not built with AddressSanitizer";
#else
  // p + 16 is past the 4 bytes asked for, so poisoned: the pool's line
  // says what it is (not a double free), then ASan reports it.
  EXPECT_DEATH(
      {
        slot_pool_resource pool(slot_pool_options{.slot_size = 32});
        auto* p = static_cast<char*>(pool.allocate(4, 4));
        pool.deallocate(p + 16, 4, 4);
      },
      "inside a slot, not at its start(.|\n)*"
      "AddressSanitizer: use-after-poison");
#endif
}

TEST(SlotPoolToolsTest, ValgrindSeesFreeSlotsAsNoAccess) {
#if !PROTOPOOL_VALGRIND
  GTEST_SKIP() << "the library is built without PROTOPOOL_VALGRIND";
#else
  if (RUNNING_ON_VALGRIND == 0) {
    GTEST_SKIP() << "not running under valgrind";
  }
  slot_pool_resource pool(slot_pool_options{
      .slot_size = 32, .slot_alignment = 8, .initial_slots = 4});
  auto* live = static_cast<std::byte*>(pool.allocate(32, 8));
  // VALGRIND_GET_VBITS answers 3 when a byte is not addressable, 1 when all
  // are, without reporting an error.
  unsigned char vbits[8];
  EXPECT_EQ(VALGRIND_GET_VBITS(live, vbits, 8), 1U);
  EXPECT_EQ(VALGRIND_GET_VBITS(live + pool.slot_stride(), vbits, 8), 3U);
  pool.deallocate(live, 32, 8);
  EXPECT_EQ(VALGRIND_GET_VBITS(live, vbits, 8), 3U);
#endif
}

TEST(SlotPoolToolsTest, ChurnKeepsEveryLiveByteIntact) {
  slot_pool_resource pool(slot_pool_options{.slot_size = 40});
  struct block {
    unsigned char* p;
    std::size_t bytes;
    unsigned char fill;
  };
  std::vector<block> live;
  std::mt19937 random(12345);
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || random() % 3 != 0) {
      const std::size_t bytes = random() % 41;
      auto* p = static_cast<unsigned char*>(pool.allocate(bytes, 8));
      const auto fill = static_cast<unsigned char>(step);
      std::memset(p, fill, bytes);
      live.push_back({p, bytes, fill});
    } else {
      const std::size_t i = random() % live.size();
      const block b = live[i];
      for (std::size_t j = 0; j < b.bytes; ++j) {
        ASSERT_EQ(b.p[j], b.fill) << "step " << step;
      }
      pool.deallocate(b.p, b.bytes, 8);
      live[i] = live.back();
      live.pop_back();
    }
  }
  EXPECT_EQ(pool.stats().slots_in_use, live.size());
  for (const block& b : live) {
    pool.deallocate(b.p, b.bytes, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0U);
}

TEST(SlotPoolToolsTest, QuarantineHoldsAFreedSlotForKOtherFrees) {
#if !PROTOPOOL_INSTRUMENTED
  GTEST_SKIP() << "quarantine needs a checked, valgrind or ASan build";
#else
  const scoped_env quarantine("PROTOPOOL_QUARANTINE", "3");
  slot_pool_resource pool(slot_pool_options{.slot_size = 16});
  std::vector<void*> slots;
  for (int i = 0; i < 8; ++i) {
    slots.push_back(pool.allocate(16, 8));
  }
  pool.deallocate(slots[0], 16, 8);
  pool.deallocate(slots[1], 16, 8);
  pool.deallocate(slots[2], 16, 8);
  // Three in quarantine: none comes back yet.
  void* fresh = pool.allocate(16, 8);
  EXPECT_NE(fresh, slots[0]);
  EXPECT_NE(fresh, slots[1]);
  EXPECT_NE(fresh, slots[2]);
  pool.deallocate(slots[3], 16, 8);
  // slots[0] has now seen three other frees: it is the next one out.
  EXPECT_EQ(pool.allocate(16, 8), slots[0]);
  EXPECT_EQ(pool.stats().slots_in_use, 6U);
  pool.deallocate(slots[0], 16, 8);
  pool.deallocate(fresh, 16, 8);
  for (int i = 4; i < 8; ++i) {
    pool.deallocate(slots[static_cast<std::size_t>(i)], 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0U);
#endif
}

TEST(SlotPoolToolsTest, QuarantineIsOffUnlessKIsANumber) {
#if !PROTOPOOL_INSTRUMENTED
  GTEST_SKIP() << "quarantine needs a checked, valgrind or ASan build";
#else
  // " -1" once read as K = 2^64 - 1 (no slot ever reused).
  for (const char* k : {"", "-1", " -1", "abc", "3x", "0"}) {
    const scoped_env quarantine("PROTOPOOL_QUARANTINE", k);
    slot_pool_resource pool(slot_pool_options{.slot_size = 16});
    void* a = pool.allocate(16, 8);
    pool.deallocate(a, 16, 8);
    void* b = pool.allocate(16, 8);
    EXPECT_EQ(b, a) << "PROTOPOOL_QUARANTINE=\"" << k << '"';
    pool.deallocate(b, 16, 8);
  }
  for (const char* k : {"1", " 1 "}) {
    const scoped_env quarantine("PROTOPOOL_QUARANTINE", k);
    slot_pool_resource pool(slot_pool_options{.slot_size = 16});
    void* a = pool.allocate(16, 8);
    void* b = pool.allocate(16, 8);
    pool.deallocate(a, 16, 8);
    pool.deallocate(b, 16, 8);  // a has seen one other free: next out
    void* c = pool.allocate(16, 8);
    EXPECT_EQ(c, a) << "PROTOPOOL_QUARANTINE=\"" << k << '"';
    pool.deallocate(c, 16, 8);
  }
#endif
}

TEST(SlotPoolToolsTest, QuarantineGivesWayAtMaxSlots) {
#if !PROTOPOOL_INSTRUMENTED
  GTEST_SKIP() << "quarantine needs a checked, valgrind or ASan build";
#else
  const scoped_env quarantine("PROTOPOOL_QUARANTINE", "100");
  slot_pool_resource pool(
      slot_pool_options{.slot_size = 16, .initial_slots = 2, .max_slots = 2});
  void* a = pool.allocate(16, 8);
  void* b = pool.allocate(16, 8);
  pool.deallocate(a, 16, 8);
  void* c = nullptr;
  EXPECT_NO_THROW(c = pool.allocate(16, 8));
  EXPECT_EQ(c, a);
  EXPECT_THROW((void)pool.allocate(16, 8), std::bad_alloc);
  pool.deallocate(b, 16, 8);
  pool.deallocate(c, 16, 8);
  pool.release();  // quarantined slots go with their chunks
  void* d = pool.allocate(16, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 1U);
  pool.deallocate(d, 16, 8);
#endif
}

TEST(SlotPoolToolsDeathTest, QuarantinedSlotFreedAgainIsADoubleFree) {
#if !PROTOPOOL_CHECKED
  GTEST_SKIP() << "double free is diagnosed in checked builds";
#else
  EXPECT_DEATH(
      {
        const scoped_env quarantine("PROTOPOOL_QUARANTINE", "4");
        slot_pool_resource pool(slot_pool_options{.slot_size = 16});
        void* a = pool.allocate(16, 8);
        pool.deallocate(a, 16, 8);
        pool.deallocate(a, 16, 8);
      },
      "double free");
#endif
}

}  // namespace
