// File: bench/dispatch_floor.cc
//
// PURPOSE: the dispatch floor's calls, out of line (see dispatch_floor.h).
#include "dispatch_floor.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace protopool::bench {
namespace {
constexpr std::size_t slot_alignment = alignof(std::uint64_t);
}  // namespace

dispatch_floor_resource::dispatch_floor_resource(std::size_t slot_bytes,
                                                 std::size_t slots)
    : stride_((std::max(slot_bytes, sizeof(void*)) + slot_alignment - 1) /
              slot_alignment * slot_alignment),
      arena_(std::make_unique_for_overwrite<std::byte[]>(stride_ * slots)),
      next_(arena_.get()),
      end_(arena_.get() + stride_ * slots) {}

// Placed as the pool's hot paths are (PROTOPOOL_DETAIL_HOT_PATH): each
// starts a 64-byte line, so the two are compared on equal footing.
[[gnu::aligned(64)]] void* dispatch_floor_resource::do_allocate(
    std::size_t bytes, std::size_t alignment) {
  if (bytes > stride_ || alignment > slot_alignment) [[unlikely]] {
    std::fprintf(stderr,
                 "dispatch_floor_resource: %zu bytes, alignment %zu, do not "
                 "fit a %zu-byte slot\n",
                 bytes, alignment, stride_);
    std::abort();
  }
  std::byte* const slot = next_;
  next_ = slot + stride_ == end_ ? arena_.get() : slot + stride_;
  return slot;
}

[[gnu::aligned(64)]] void dispatch_floor_resource::do_deallocate(void*,
                                                                 std::size_t,
                                                                 std::size_t) {}

bool dispatch_floor_resource::do_is_equal(
    const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

}  // namespace protopool::bench
