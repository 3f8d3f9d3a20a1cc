// File: bench/perf_probe.cc
//
// PURPOSE: the program the `perf` test runs under callgrind: `n` allocate +
// deallocate pairs of one 24-byte message through `std::pmr::memory_resource*`
// (a virtual call each, as in any pmr code). The test runs it with n and 2n
// and divides the difference in instructions by n, so start-up and exit
// cancel out and what remains is one pair, loop included.
//
// USAGE: protopool_perf_probe <n>
#include <absl/strings/numbers.h>
#include <protopool/slot_pool_resource.h>

#include <cstdio>
#include <memory_resource>

int main(int argc, char** argv) {
  long pairs = 0;
  if (argc != 2 || !absl::SimpleAtoi(argv[1], &pairs) || pairs < 0) {
    std::fprintf(stderr, "usage: protopool_perf_probe <pairs, a number>\n");
    return 2;
  }
  protopool::slot_pool_resource pool(
      {.slot_size = 24, .slot_alignment = 8, .initial_slots = 16});
  std::pmr::memory_resource* resource = &pool;
  // The optimizer must not know the dynamic type (no devirtualization).
  asm volatile("" : "+r"(resource));
  for (long i = 0; i < pairs; ++i) {
    void* message = resource->allocate(24, 8);
    asm volatile("" : : "r"(message) : "memory");  // the slot is used
    resource->deallocate(message, 24, 8);
  }
  return pool.stats().slots_in_use == 0 ? 0 : 1;
}
