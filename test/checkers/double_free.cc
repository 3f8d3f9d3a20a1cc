// Planted bug: a pool slot freed twice. Checked builds diagnose it and
// abort; valgrind reports the second MEMPOOL_FREE in unchecked builds.
#include <protopool/slot_pool_resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

int main() {
  // CTest counts a signal as a crash, never as the expected failure: turn
  // the diagnosis's abort() into exit status 134.
  std::signal(SIGABRT, [](int) { ::_exit(134); });
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 4});
  void* message = pool.allocate(32, 8);
  pool.deallocate(message, 32, 8);
  pool.deallocate(message, 32, 8);  // the bug
  std::puts("double_free: not detected");
  return 0;
}
