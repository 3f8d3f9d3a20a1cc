// Planted bug: a free of a pool slot the pool never handed out (the slot
// next to a live one). The tools see it before the pool's checked
// diagnosis runs: ASan reports use-after-poison (never-used slots are
// poisoned), valgrind an "Invalid free()" (the mempool never held the
// slot), each with the stack of the deallocation; checked builds then
// diagnose it and abort.
//
// Built twice, like double_free.cc: on a slot_pool_resource, and with
// CHECKER_SYNCHRONIZED on a synchronized_slot_pool_resource, the bad free
// on another thread than the allocating one.
#include "planted_bug.h"

namespace {

[[gnu::noinline]] void free_the_next_slot(checker::pool_type& pool,
                                          void* message) {
  // The bug: the slot after `message` was never handed out.
  pool.deallocate(static_cast<char*>(message) + pool.slot_stride(), 32, 8);
}

}  // namespace

int main() {
  checker::abort_exits_with_134();
  checker::pool_type pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  void* message = pool.allocate(32, 8);
  checker::on_the_bug_thread([&] { free_the_next_slot(pool, message); });
  pool.deallocate(message, 32, 8);
  return checker::not_detected("free_never_handed_out");
}
