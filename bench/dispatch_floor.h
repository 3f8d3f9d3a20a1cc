// File: bench/dispatch_floor.h
//
// PURPOSE: the dispatch floor of protopool_bench: the least a
// memory_resource can do, called as the pmr contenders are (through
// memory_resource*, or polymorphic_allocator in W3). It hands out the slots
// of a ring over one arena in turn and frees nothing. A pool's distance from
// it is the pool's own work; its distance from the hand-inlined floor is the
// two virtual calls per message, which no memory_resource called through a
// pointer avoids.
//
// It is valid only where a workload never holds more blocks than the ring
// has slots and frees each block before the ring comes round to it again
// (W1, W2, W3); a request larger than a slot aborts. Its calls are
// defined in dispatch_floor.cc, out of the benchmark's sight, as the
// library's pool's are: in the same translation unit g++ inlined them
// behind a speculative vtable check, a path no pool called through a
// pointer from another library gets.
#pragma once

#include <cstddef>
#include <memory>
#include <memory_resource>

namespace protopool::bench {

class dispatch_floor_resource final : public std::pmr::memory_resource {
 public:
  /// A ring of `slots` slots of `slot_bytes` (rounded up to 8), 8-aligned:
  /// the stride the slot pools use for the same request.
  dispatch_floor_resource(std::size_t slot_bytes, std::size_t slots);

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override;

  std::size_t stride_;
  std::unique_ptr<std::byte[]> arena_;
  std::byte* next_;
  std::byte* end_;
};

}  // namespace protopool::bench
