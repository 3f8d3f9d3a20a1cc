// Planted bug: a pool slot never freed before the pool is destroyed.
// Checked builds report it on stderr; under valgrind or ASan the pool keeps
// the chunk holding it, so memcheck reports the slot as definitely lost
// (with the stack of its allocation) and LeakSanitizer reports the chunk.
#include <protopool/slot_pool_resource.h>

#include <cstdio>

namespace {

[[gnu::noinline]] void leak_one_message(std::pmr::memory_resource& pool) {
  void* message = pool.allocate(24, 8);
  static_cast<char*>(message)[0] = 'x';
  // Forgotten: pool.deallocate(message, 24, 8);
}

}  // namespace

int main() {
  {
    protopool::slot_pool_resource pool(
        protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
    void* kept = pool.allocate(32, 8);
    leak_one_message(pool);
    pool.deallocate(kept, 32, 8);
  }
  std::puts("leaked_slot: done");
  return 0;
}
