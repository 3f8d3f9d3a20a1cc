// File: bench/setup_bench.cc
//
// PURPOSE: what a slot_pool_resource made for one batch pays before its
// first message, and where it goes. W2_batch_100_inside (protopool_bench)
// makes and destroys a 100-slot pool in every iteration; this program
// measures that making and destroying alone, and its parts side by side:
// the environment read issue 5 asks of every pool and the one upstream
// chunk. It is a program of its own so that
// adding it moves no code of protopool_bench (whose results depend on code
// placement).
//
// USAGE: protopool_setup_bench [Google Benchmark flags]
#include <benchmark/benchmark.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/tracing_resource.h>

#include <cstdint>
#include <cstdlib>
#include <memory_resource>

#include "bench_message.h"

namespace {

using protopool::slot_pool_options;
using protopool::slot_pool_resource;

using protopool::bench::batch_size;
using protopool::bench::message;

slot_pool_options batch_options(std::size_t initial_slots) {
  return slot_pool_options::for_type<message>(initial_slots);
}

// What W2_batch_100_inside pays per iteration beyond the batch itself: a
// local pool carving `initial_slots` slots, then its destruction.
void pool_make_destroy(benchmark::State& state) {
  const auto initial_slots = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    slot_pool_resource pool(batch_options(initial_slots));
    benchmark::DoNotOptimize(&pool);
  }
}
BENCHMARK(pool_make_destroy)->Arg(batch_size)->Arg(0);

// The part issue 5 asks of every pool: one read of PROTOPOOL_PASS_THROUGH
// (its cost grows with the size of the environment).
void getenv_pass_through(benchmark::State& state) {
  for (auto _ : state) {
    const char* value = std::getenv("PROTOPOOL_PASS_THROUGH");
    benchmark::DoNotOptimize(value);
  }
}
BENCHMARK(getenv_pass_through);

// The pool's first chunk, taken from and returned to the default upstream
// (new_delete_resource): the bytes and alignment a 100-slot pool asks for,
// as a tracing_resource sees them.
void upstream_chunk(benchmark::State& state) {
  std::size_t bytes = 0;
  std::size_t alignment = 0;
  {
    protopool::tracing_resource recorder(
        std::pmr::new_delete_resource(),
        [&](const protopool::trace_event& event) {
          if (event.kind == protopool::trace_kind::allocate) {
            bytes = event.bytes;
            alignment = event.alignment;
          }
        });
    slot_pool_resource pool(batch_options(batch_size), &recorder);
  }
  if (bytes == 0) {
    state.SkipWithError("a 100-slot pool took no chunk");
    return;
  }
  std::pmr::memory_resource* upstream = std::pmr::get_default_resource();
  benchmark::DoNotOptimize(upstream);
  for (auto _ : state) {
    void* chunk = upstream->allocate(bytes, alignment);
    benchmark::DoNotOptimize(chunk);
    upstream->deallocate(chunk, bytes, alignment);
  }
  state.counters["chunk_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(upstream_chunk);

}  // namespace

BENCHMARK_MAIN();
