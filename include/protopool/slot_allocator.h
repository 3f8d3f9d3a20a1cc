// File: protopool/slot_allocator.h
//
// PURPOSE: a standard allocator over a `slot_pool_resource` that takes its
// single-object requests through the pool's static fast path
// (`allocate_slot()` / `deallocate_slot()`): no virtual call.
//
// CLASSES:
//   protopool::slot_allocator<T>  allocator of T from a slot_pool_resource&
//
// USAGE:
//   protopool::slot_pool_resource pool(
//       protopool::slot_pool_options{.slot_size = 32, .initial_slots = 64});
//   std::list<int, protopool::slot_allocator<int>> numbers(
//       protopool::slot_allocator<int>(pool));  // every node is one slot
//   numbers.push_back(42);
//   std::pmr::list<int> others(&pool);  // pmr users share the same pool
//
// Use it in code that knows its pool's type (`slot_pool_resource`), where
// the call through `std::pmr::memory_resource*` is measurable: g++ cannot
// devirtualize that call even though the pool is `final`. Code that must
// stay generic over resources uses `std::pmr::polymorphic_allocator`; both
// kinds of users can share one pool, its stats count both.
#pragma once

#include <protopool/slot_pool_resource.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <memory_resource>
#include <new>
#include <type_traits>
#include <utility>

namespace protopool {

/// A standard allocator (an *Allocator* in the sense of
/// [allocator.requirements]) of `T` from a `slot_pool_resource`. It holds a
/// pointer to the pool; copies and rebinds share the pool.
///
/// - `allocate(1)` of a `T` that fits a slot (`sizeof(T) <= slot_size` and
///   `alignof(T) <= slot_alignment`) is `pool.allocate_slot()`, inline; its
///   `deallocate(p, 1)` is `pool.deallocate_slot(p)`. In checked, valgrind
///   and AddressSanitizer builds the allocation is
///   `pool.allocate(sizeof(T), alignof(T))` instead (the same slot and
///   counters), so the slot's bytes past the `T` stay poisoned and an
///   overflow past the object is reported, as through `memory_resource`.
/// - Any other request (`n != 1`, or a `T` too large or over-aligned for a
///   slot) goes through the pool's `memory_resource` interface with
///   `n * sizeof(T)` bytes and `alignof(T)`, so the pool's oversize policy
///   applies.
/// - `construct` follows `std::pmr::polymorphic_allocator`: it builds the
///   element by uses-allocator construction with the pool as its memory
///   resource (`std::uninitialized_construct_using_allocator` with a
///   `polymorphic_allocator` over the pool). So an allocator-aware element
///   (`protocol`, `msg::echo`, `std::pmr::string`, a `std::pair` holding
///   one, as a map's nodes do) takes its own memory from the same pool, as
///   in a `std::pmr` container over the pool, and reads no default
///   resource; any other element is built from the arguments alone.
/// - Two allocators compare equal exactly when they use the same pool.
/// - Propagation follows `std::pmr::polymorphic_allocator`: the allocator is
///   not propagated on container copy or move assignment nor on swap, so a
///   container's elements stay in the pool it was made with. (Swapping two
///   containers that use different pools is, as for pmr, undefined.) One
///   difference: a container's copy construction keeps the pool (the
///   default `select_on_container_copy_construction`), where
///   `polymorphic_allocator` gives the copy the default resource.
///
/// Thread safety: that of the pool (none).
template <class T>
class slot_allocator {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using propagate_on_container_copy_assignment = std::false_type;
  using propagate_on_container_move_assignment = std::false_type;
  using propagate_on_container_swap = std::false_type;
  using is_always_equal = std::false_type;

  template <class U>
  struct rebind {
    using other = slot_allocator<U>;
  };

  /// Makes an allocator that takes memory from `pool`. Behaviour is undefined
  /// unless `pool` outlives every allocation made through this allocator and
  /// its copies.
  explicit slot_allocator(slot_pool_resource& pool) noexcept : pool_(&pool) {}

  /// Rebinding copy: the same pool.
  template <class U>
  slot_allocator(const slot_allocator<U>& other) noexcept  // NOLINT: implicit
      : pool_(&other.resource()) {}

  /// Returns memory for `n` objects of type `T` (uninitialized). Throws
  /// `std::bad_array_new_length` if `n * sizeof(T)` overflows, and whatever
  /// the pool throws (`std::bad_alloc` at its capacity or in strict mode).
  [[nodiscard]] T* allocate(std::size_t n) {
    if (n == 1 && fits_a_slot()) [[likely]] {
#if PROTOPOOL_INSTRUMENTED
      return static_cast<T*>(pool_->allocate(sizeof(T), alignof(T)));
#else
      return static_cast<T*>(pool_->allocate_slot());
#endif
    }
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
      throw std::bad_array_new_length();
    }
    return static_cast<T*>(pool_->allocate(n * sizeof(T), alignof(T)));
  }

  /// Returns `p`, from `allocate(n)`, to the pool. Behaviour is undefined
  /// unless `p` was returned by `allocate(n)` of an allocator equal to this
  /// one, with the same `n`, and not yet deallocated.
  void deallocate(T* p, std::size_t n) noexcept {
    if (n == 1 && fits_a_slot()) [[likely]] {
      pool_->deallocate_slot(p);
      return;
    }
    pool_->deallocate(p, n * sizeof(T), alignof(T));
  }

  /// Builds a `U` at `p` from `args` by uses-allocator construction with
  /// the pool as its memory resource (see the class comment). Whatever the
  /// constructor throws propagates; `p` then holds no object.
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::uninitialized_construct_using_allocator(
        p, std::pmr::polymorphic_allocator<U>(pool_),
        std::forward<Args>(args)...);
  }

  /// Returns the pool this allocator takes memory from.
  [[nodiscard]] slot_pool_resource& resource() const noexcept { return *pool_; }

  /// Returns true if `a` and `b` use the same pool.
  template <class U>
  friend bool operator==(const slot_allocator& a,
                         const slot_allocator<U>& b) noexcept {
    return &a.resource() == &b.resource();
  }

 private:
  // The pool routes a request to a slot by the same rule.
  [[nodiscard]] bool fits_a_slot() const noexcept {
    const slot_pool_options& options = pool_->options();
    return sizeof(T) <= options.slot_size &&
           alignof(T) <= options.slot_alignment;
  }

  slot_pool_resource* pool_;
};

}  // namespace protopool
