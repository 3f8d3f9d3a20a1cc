// Planted bug: a pool slot never freed before the pool is destroyed.
// Checked builds report it on stderr; under valgrind or ASan the pool keeps
// the chunk holding it, so memcheck reports the slot as definitely lost
// (with the stack of its allocation) and LeakSanitizer reports the chunk.
//
// Built three times (test/checkers/CMakeLists.txt): checker_leaked_slot,
// a slot_pool_resource on the stack; with CHECKER_STATIC_POOL,
// checker_static_leaked_slot, the pool in static storage (a
// std::optional), which LeakSanitizer still scans at exit, so the
// destroyed pool must not point into the chunk it kept; and
// checker_sync_static_leaked_slot, the same with a
// synchronized_slot_pool_resource whose slot leaks on another thread.
#include <optional>
#include <thread>

#include "planted_bug.h"

#ifndef CHECKER_STATIC_POOL
#define CHECKER_STATIC_POOL 0
#endif

namespace {

[[gnu::noinline]] void leak_one_message(std::pmr::memory_resource& pool) {
  void* message = pool.allocate(24, 8);
  static_cast<char*>(message)[0] = 'x';
  // Forgotten: pool.deallocate(message, 24, 8);
}

#if CHECKER_STATIC_POOL
std::optional<checker::pool_type> static_pool;
#endif

// Makes a pool, leaks one slot of it, destroys the pool.
[[gnu::noinline]] void leak_with_a_pool() {
  const protopool::slot_pool_options options{.slot_size = 32,
                                             .initial_slots = 4};
#if CHECKER_STATIC_POOL
  checker::pool_type& pool = static_pool.emplace(options);
#else
  checker::pool_type pool(options);
#endif
  void* kept = pool.allocate(32, 8);
  checker::on_the_bug_thread([&pool] { leak_one_message(pool); });
  pool.deallocate(kept, 32, 8);
#if CHECKER_STATIC_POOL
  static_pool.reset();
#endif
}

}  // namespace

int main() {
  // On a thread of its own: LeakSanitizer scans the stacks of live threads
  // only, so no dead frame (clang -O0 leaves a freed slot's address in one)
  // can make the kept chunk look reachable.
  std::thread(leak_with_a_pool).join();
  std::printf("%sleaked_slot: done\n", CHECKER_SYNCHRONIZED  ? "sync_static_"
                                       : CHECKER_STATIC_POOL ? "static_"
                                                             : "");
  return 0;
}
