// Planted bug: a pool slot freed twice. The tools see it before the pool's
// checked diagnosis runs: ASan reports use-after-poison (a freed slot is
// poisoned), valgrind an "Invalid free()" (the mempool no longer holds the
// slot), each with the stack of the second deallocation; checked builds
// then diagnose it and abort.
//
// Built twice (test/checkers/CMakeLists.txt): checker_double_free on a
// slot_pool_resource, and, with CHECKER_SYNCHRONIZED, checker_sync_double_free
// on a synchronized_slot_pool_resource whose second free runs on another
// thread than the first (a freed slot stays poisoned whichever thread's
// list or quarantine holds it).
#include "planted_bug.h"

namespace {

[[gnu::noinline]] void free_message_again(std::pmr::memory_resource& pool,
                                          void* message) {
  pool.deallocate(message, 32, 8);  // the bug
}

}  // namespace

int main() {
  checker::abort_exits_with_134();
  checker::pool_type pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  void* message = pool.allocate(32, 8);
  pool.deallocate(message, 32, 8);
  checker::on_the_bug_thread([&] { free_message_again(pool, message); });
  return checker::not_detected("double_free");
}
