// File: protopool/test_resource.h
//
// PURPOSE: an instrumented std::pmr::memory_resource for tests: it counts
// every allocation, finds leaks and misuse, and makes chosen allocations
// fail, so a test can prove that pmr code frees what it takes and survives
// std::bad_alloc at every allocation.
//
// CLASSES:
//   protopool::test_resource_options     name and strictness (an aggregate)
//   protopool::test_resource             the resource itself
//   protopool::allocation_failure_report what exercise_every_allocation_failure
//   saw
//
// FUNCTIONS:
//   protopool::exercise_every_allocation_failure(resource, operation)
//
// USAGE:
//   protopool::test_resource resource;
//   {
//     std::pmr::vector<int> numbers(&resource);
//     numbers.push_back(1);
//     assert(resource.blocks_in_use() == 1);
//   }
//   assert(resource.blocks_in_use() == 0 && resource.misuse_count() == 0);
//
//   // Make each allocation of an operation fail once, in turn:
//   auto report = protopool::exercise_every_allocation_failure(
//       resource, [&] {
//         std::pmr::vector<int> v(&resource);
//         v.assign({1, 2, 3});
//       });
//   assert(report.leaking_failures == 0);
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <mutex>
#include <new>
#include <string>

namespace protopool {

/// Construction options of a `test_resource`.
struct test_resource_options {
  /// Names the resource in its messages on stderr.
  std::string name = "test_resource";
  /// false: misuse (double free, foreign pointer, size or alignment
  /// mismatch) and leaks at destruction are recorded and reported on
  /// stderr. true: each of them is written to stderr and aborts the program.
  bool strict = false;
  /// true: nothing is written to stderr in non-strict mode (the counters
  /// still record everything). For tests that provoke misuse on purpose.
  bool quiet = false;
};

class test_resource;

/// The `std::bad_alloc` a `test_resource` throws when its allocation limit
/// refuses an allocation. It names the resource, so
/// `exercise_every_allocation_failure` can tell its own failures from any
/// other `std::bad_alloc`.
class injected_bad_alloc : public std::bad_alloc {
 public:
  explicit injected_bad_alloc(const test_resource* resource) noexcept
      : resource_(resource) {}
  [[nodiscard]] const char* what() const noexcept override {
    return "protopool::test_resource: allocation limit reached";
  }
  /// The resource whose limit refused the allocation.
  [[nodiscard]] const test_resource* resource() const noexcept {
    return resource_;
  }

 private:
  const test_resource* resource_;
};

/// A `std::pmr::memory_resource` for tests: forwards to an upstream
/// resource and keeps a table of every live block.
///
/// Use it to test pmr-aware code (containers, boxes, your own types): it
/// counts allocations, deallocations, blocks and bytes in use, their maxima
/// and totals; detects leaks at destruction, deallocations whose size or
/// alignment differ from the allocation's, pointers it never handed out
/// (foreign) and double frees; and with `set_allocation_limit(n)` throws
/// `std::bad_alloc` from a chosen allocation. Do not use it where speed
/// matters: every call takes a lock and a hash-table lookup.
///
/// Misuse is never forwarded to upstream: a foreign pointer or a double free
/// is recorded and otherwise ignored, and a mismatched deallocation gives
/// the block back to upstream with the size and alignment it was allocated
/// with. So a test can provoke misuse on purpose and carry on.
///
/// Thread safety: every member function may be called from any thread at
/// any time (one internal `std::mutex`: ThreadSanitizer sees it, where it
/// cannot see inside a Debian Abseil that was not built with TSan). The
/// lock is not held while upstream is called, so upstream (a tracing
/// resource whose sink reads these counters, say) may call this resource.
/// While another thread's allocation is in flight, `allocation_limit()`
/// already counts it.
class test_resource final : public std::pmr::memory_resource {
 public:
  /// Makes a resource taking blocks from `upstream`. Behaviour is undefined
  /// unless `upstream` is not null and outlives this resource.
  explicit test_resource(
      std::pmr::memory_resource* upstream = std::pmr::new_delete_resource());
  /// Makes a resource with `options`, taking blocks from `upstream`.
  /// Behaviour is undefined unless `upstream` is not null and outlives this
  /// resource.
  explicit test_resource(
      test_resource_options options,
      std::pmr::memory_resource* upstream = std::pmr::new_delete_resource());

  /// Reports the blocks still in use (a leak), if any, on stderr (count,
  /// bytes and up to 16 addresses), and aborts in strict mode. The leaked
  /// blocks are not given back: a leak checker sees them too.
  ~test_resource() override;

  test_resource(const test_resource&) = delete;
  test_resource& operator=(const test_resource&) = delete;

  /// Makes the allocation after the next `n` throw `injected_bad_alloc`
  /// (a `std::bad_alloc`; `n == 0`: the very next one). Only that one
  /// fails: the limit is then off again. A negative `n` turns the limit
  /// off. An allocation that upstream refuses does not count against `n`.
  void set_allocation_limit(std::int64_t n);
  /// Returns the allocations still allowed before the limit fails one, or a
  /// negative number if no limit is set.
  [[nodiscard]] std::int64_t allocation_limit() const;

  /// Successful `allocate` calls, ever.
  [[nodiscard]] std::size_t allocations() const;
  /// `deallocate` calls that freed a live block (misuse not included).
  [[nodiscard]] std::size_t deallocations() const;
  /// Allocations refused by the allocation limit, ever.
  [[nodiscard]] std::size_t failed_allocations() const;
  /// Blocks allocated and not yet deallocated.
  [[nodiscard]] std::size_t blocks_in_use() const;
  /// Bytes (as requested) of the blocks in use.
  [[nodiscard]] std::size_t bytes_in_use() const;
  /// Most blocks in use at once, ever.
  [[nodiscard]] std::size_t max_blocks_in_use() const;
  /// Most bytes in use at once, ever.
  [[nodiscard]] std::size_t max_bytes_in_use() const;
  /// Bytes allocated, ever.
  [[nodiscard]] std::size_t total_bytes_allocated() const;

  /// `deallocate` calls with the right pointer but a size or alignment
  /// other than the allocation's.
  [[nodiscard]] std::size_t mismatched_deallocations() const;
  /// `deallocate` calls with a pointer this resource never handed out.
  [[nodiscard]] std::size_t foreign_deallocations() const;
  /// `deallocate` calls with a pointer already deallocated.
  [[nodiscard]] std::size_t double_deallocations() const;
  /// Sum of the three misuse counts above.
  [[nodiscard]] std::size_t misuse_count() const;

  /// Returns true if `p` is a live block of this resource.
  [[nodiscard]] bool is_live(const void* p) const;

  /// Returns the options this resource was made with.
  [[nodiscard]] const test_resource_options& options() const noexcept {
    return options_;
  }
  /// Returns the resource blocks come from.
  [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
    return upstream_;
  }

 private:
  struct block_info {
    std::size_t bytes;
    std::size_t alignment;
  };

  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override;

  void misuse(const char* what, const void* p, std::size_t bytes,
              std::size_t alignment) const;

  const test_resource_options options_;
  std::pmr::memory_resource* const upstream_;

  mutable std::mutex mutex_;  // guards every member below
  absl::flat_hash_map<const void*, block_info> live_;
  // Blocks deallocated and not handed out again: tells a double free from
  // a foreign pointer.
  absl::flat_hash_set<const void*> freed_;
  std::int64_t allocation_limit_ = -1;
  // Changes whenever the limit is set or turns itself off: an allocation
  // that upstream refused gives its place back only to the limit it took
  // it from.
  std::uint64_t limit_generation_ = 0;
  std::size_t allocations_ = 0;
  std::size_t deallocations_ = 0;
  std::size_t failed_allocations_ = 0;
  std::size_t bytes_in_use_ = 0;
  std::size_t max_blocks_in_use_ = 0;
  std::size_t max_bytes_in_use_ = 0;
  std::size_t total_bytes_allocated_ = 0;
  std::size_t mismatched_deallocations_ = 0;
  std::size_t foreign_deallocations_ = 0;
  std::size_t double_deallocations_ = 0;
};

/// What `exercise_every_allocation_failure` saw.
struct allocation_failure_report {
  /// Runs in which an allocation failed, whether its `std::bad_alloc`
  /// escaped the operation or the operation caught it: the number of
  /// allocations a complete run makes from the resource.
  std::size_t failures = 0;
  /// Failed runs after which the resource had a different number of blocks
  /// in use than before the run (a leak, or a broken strong guarantee).
  std::size_t leaking_failures = 0;
};

/// Runs `operation()` again and again with `resource`'s allocation limit at
/// 0, 1, 2, …, so the first, the second, the third, … allocation it makes
/// from `resource` throws `std::bad_alloc`, until a run completes without
/// hitting the limit; then runs nothing more and turns the limit off. Every
/// allocation of the operation is thus made to fail once (like BDE's
/// exception-test macros). The `injected_bad_alloc` of `resource` escaping
/// a run is caught; any other exception, a `std::bad_alloc` that
/// `resource` did not inject included (even one thrown in a run where the
/// operation caught the injected failure), propagates (with the limit
/// turned off). After each run
/// in which an allocation failed (the operation threw, or caught the
/// `std::bad_alloc` itself and went on), the blocks in use are compared
/// with those before it: a difference is counted in `leaking_failures`, so
/// `operation` should make and destroy its own objects, or leave outside
/// state as it found it in a run where an allocation fails (the strong
/// guarantee). Checks the operation wants to make after a failure belong
/// in a catch block of its own that rethrows.
template <class Operation>
allocation_failure_report exercise_every_allocation_failure(
    test_resource& resource, Operation&& operation) {
  allocation_failure_report report;
  for (std::int64_t limit = 0;; ++limit) {
    const std::size_t blocks_before = resource.blocks_in_use();
    const std::size_t failed_before = resource.failed_allocations();
    resource.set_allocation_limit(limit);
    try {
      operation();
    } catch (const injected_bad_alloc& failure) {
      if (failure.resource() != &resource) {
        resource.set_allocation_limit(-1);
        throw;  // another test_resource's limit
      }
    } catch (...) {  // a real shortage included
      resource.set_allocation_limit(-1);
      throw;
    }
    // A run in which no allocation failed made every allocation the
    // operation makes: done. Otherwise (the failure escaped, or the
    // operation caught it and went on) check it and fail the next one.
    if (resource.failed_allocations() == failed_before) {
      break;
    }
    ++report.failures;
    if (resource.blocks_in_use() != blocks_before) {
      ++report.leaking_failures;
    }
  }
  resource.set_allocation_limit(-1);
  return report;
}

}  // namespace protopool
