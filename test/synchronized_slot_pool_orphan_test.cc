// Test plan: synchronized_slot_pool_resource when a freeing thread cannot
// get a heap of its own.
// - SynchronizedSlotPoolOrphanTest: a thread whose first use of the pool is
//   a free, while allocating its heap fails (out of memory): the slot goes
//   straight to the remote list of the heap that owns it, counts as freed,
//   and that heap's thread reuses it; nothing is lost.
//
// The pool's heaps are over-aligned, so this binary replaces the aligned
// forms of the global operator new and delete, to fail them on demand.
#include <gtest/gtest.h>
#include <protopool/synchronized_slot_pool_resource.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <set>
#include <thread>
#include <vector>

namespace {
// While true, this thread's aligned operator new throws std::bad_alloc.
thread_local bool fail_aligned_new = false;
}  // namespace

void* operator new(std::size_t bytes, std::align_val_t alignment) {
  if (fail_aligned_new) {
    throw std::bad_alloc();
  }
  void* p = nullptr;
  const std::size_t align =
      std::max(static_cast<std::size_t>(alignment), sizeof(void*));
  if (::posix_memalign(&p, align, bytes == 0 ? 1 : bytes) != 0) {
    throw std::bad_alloc();
  }
  return p;
}
// The blocks came from posix_memalign in the operator new above, so free is
// their match; g++ cannot see that through the replacement and warns.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {

using protopool::synchronized_slot_pool_resource;

// Whether this binary's operator new is the one called: valgrind replaces
// the global operator new with its own, and then no failure can be planted.
bool aligned_new_can_be_failed() {
  fail_aligned_new = true;
  void* p = nullptr;
  try {
    p = ::operator new (64, std::align_val_t{64});
  } catch (const std::bad_alloc&) {
    fail_aligned_new = false;
    return true;
  }
  fail_aligned_new = false;
  ::operator delete (p, std::align_val_t{64});
  return false;
}

TEST(SynchronizedSlotPoolOrphanTest, AFreeWithoutAHeapGoesToTheOwner) {
  if (!aligned_new_can_be_failed()) {
    GTEST_SKIP() << "operator new is replaced (valgrind?): no failure can "
                    "be planted";
  }
  synchronized_slot_pool_resource pool({.slot_size = 16, .max_slots = 16});
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) {
    blocks.push_back(pool.allocate(16, 8));
  }
  void* const orphan = blocks.back();
  blocks.pop_back();
  bool heap_allocation_failed = false;
  std::thread([&] {
    // The heap this thread would get is allocated with aligned new.
    fail_aligned_new = true;
    try {
      (void)::operator new (64, std::align_val_t{64});
    } catch (const std::bad_alloc&) {
      heap_allocation_failed = true;
    }
    pool.deallocate(orphan, 16, 8);
    fail_aligned_new = false;
  }).join();
  ASSERT_TRUE(heap_allocation_failed);
  EXPECT_EQ(pool.stats().slots_in_use, 15u);
  // At max_slots: this thread's next slot is the one handed over.
  void* again = pool.allocate(16, 8);
  EXPECT_EQ(again, orphan);
  EXPECT_THROW((void)pool.allocate(16, 8), std::bad_alloc);
  blocks.push_back(again);
  for (void* p : blocks) {
    pool.deallocate(p, 16, 8);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().capacity, 16u);
}

}  // namespace
