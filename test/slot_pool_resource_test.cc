// Test plan: placeholder smoke test; the full suite follows.
#include <protopool/slot_pool_resource.h>

#include <gtest/gtest.h>

namespace {

TEST(SlotPoolResourceTest, ReusesTheLastFreedSlot) {
  protopool::slot_pool_resource pool({.slot_size = 24});
  void* a = pool.allocate(24, 8);
  void* b = pool.allocate(16, 8);
  pool.deallocate(a, 24, 8);
  EXPECT_EQ(pool.allocate(24, 8), a);
  pool.deallocate(a, 24, 8);
  pool.deallocate(b, 16, 8);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

}  // namespace
