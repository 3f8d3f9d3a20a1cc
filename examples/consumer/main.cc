// File: examples/consumer/main.cc
//
// PURPOSE: a program built against the installed protopool package: a pool,
// a pmr container over it, and a check of the pool's counters. Exits 0 if
// everything is as documented, 1 otherwise (with the reason on stderr).
#include <protopool/slot_pool_resource.h>

#include <cstdio>
#include <list>
#include <memory_resource>
#include <numeric>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 32, .initial_slots = 128});
  {
    std::pmr::list<int> numbers(&pool);
    for (int i = 1; i <= 100; ++i) {
      numbers.push_back(i);
    }
    if (std::accumulate(numbers.begin(), numbers.end(), 0) != 5050) {
      return fail("the list lost its contents");
    }
    const protopool::slot_pool_stats stats = pool.stats();
    if (stats.slots_in_use != 100 || stats.chunks != 1 ||
        stats.capacity != 128) {
      return fail("the list's nodes are not the pool's slots");
    }
  }
  if (pool.stats().slots_in_use != 0 || pool.stats().high_water != 100) {
    return fail("the list did not give its slots back");
  }
  std::printf("consumer: 100 list nodes in one chunk of 128 slots\n");
  return 0;
}
