// File: bench/bench_message.h
//
// PURPOSE: the 24-byte message of the original experiment (the size of its
// Rust enum) that W1, W2 and W6 handle, and the size of a W2 batch: shared
// by protopool_bench and protopool_setup_bench, so both measure the same
// slot.
#pragma once

#include <cstddef>
#include <cstdint>

namespace protopool::bench {

struct message {
  std::uint64_t id;
  std::int64_t a;
  std::int64_t b;
};
static_assert(sizeof(message) == 24 && alignof(message) == 8);

inline constexpr std::size_t batch_size = 100;

}  // namespace protopool::bench
