// Planted bug: a synchronized pool slot freed twice, the second time on
// another thread than the first. The tools see it before the pool's
// checked diagnosis runs: ASan reports use-after-poison (a freed slot is
// poisoned, whichever thread's list or quarantine holds it), valgrind an
// "Invalid free()" (the mempool no longer holds the slot), each with the
// stack of the second deallocation; checked builds then diagnose it and
// abort.
#include <protopool/synchronized_slot_pool_resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

namespace {

[[gnu::noinline]] void free_message_again(std::pmr::memory_resource& pool,
                                          void* message) {
  pool.deallocate(message, 32, 8);  // the bug
}

}  // namespace

int main() {
  // CTest counts a signal as a crash, never as the expected failure: turn
  // the diagnosis's abort() into exit status 134.
  std::signal(SIGABRT, [](int) { ::_exit(134); });
  protopool::synchronized_slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  void* message = pool.allocate(32, 8);
  pool.deallocate(message, 32, 8);
  std::thread([&] { free_message_again(pool, message); }).join();
  std::puts("sync_double_free: not detected");
  return 0;
}
