// Planted bug: a free of a synchronized pool slot the pool never handed out
// (the slot next to a live one), on another thread than the allocating
// one. The tools see it before the pool's checked diagnosis runs: ASan
// reports use-after-poison (never-used slots are poisoned), valgrind an
// "Invalid free()" (the mempool never held the slot), each with the stack
// of the deallocation; checked builds then diagnose it and abort.
#include <protopool/synchronized_slot_pool_resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

namespace {

[[gnu::noinline]] void free_the_next_slot(
    protopool::synchronized_slot_pool_resource& pool, void* message) {
  // The bug: the slot after `message` was never handed out.
  pool.deallocate(static_cast<char*>(message) + pool.slot_stride(), 32, 8);
}

}  // namespace

int main() {
  // CTest counts a signal as a crash, never as the expected failure: turn
  // the diagnosis's abort() into exit status 134.
  std::signal(SIGABRT, [](int) { ::_exit(134); });
  protopool::synchronized_slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  void* message = pool.allocate(32, 8);
  std::thread([&] { free_the_next_slot(pool, message); }).join();
  pool.deallocate(message, 32, 8);
  std::puts("sync_free_never_handed_out: not detected");
  return 0;
}
