// Planted bug: a write to a pool slot after it was freed. A memory checker
// must report it (ASan: use-after-poison; valgrind: invalid write); if it
// does not, the CTest test that runs this program fails.
#include <protopool/slot_pool_resource.h>

#include <cstdio>

int main() {
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  auto* message = static_cast<int*>(pool.allocate(sizeof(int), alignof(int)));
  *message = 1;
  pool.deallocate(message, sizeof(int), alignof(int));
  *static_cast<volatile int*>(message) = 2;  // the bug
  std::puts("use_after_free: not detected");
  return 0;
}
