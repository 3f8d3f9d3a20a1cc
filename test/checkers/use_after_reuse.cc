// Planted bug: a write through a stale pointer to a freed pool slot after
// the program allocated again. Without quarantine the pool hands the same
// slot out again (LIFO), so the stale write lands in a live slot and no
// tool can tell; with PROTOPOOL_QUARANTINE=K the freed slot stays poisoned
// for K more frees and the checker reports the write.
#include <protopool/slot_pool_resource.h>

#include <cstdio>

int main() {
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  auto* stale = static_cast<int*>(pool.allocate(sizeof(int), alignof(int)));
  pool.deallocate(stale, sizeof(int), alignof(int));
  auto* fresh = static_cast<int*>(pool.allocate(sizeof(int), alignof(int)));
  *fresh = 1;
  *static_cast<volatile int*>(stale) = 2;  // the bug
  std::printf("use_after_reuse: not detected (reused: %s)\n",
              stale == fresh ? "yes" : "no");
  pool.deallocate(fresh, sizeof(int), alignof(int));
  return 0;
}
