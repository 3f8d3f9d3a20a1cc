// File: test/support/default_resource_guard.h
//
// PURPOSE: make a test prove that memory comes from the resource it chose,
// not from the pmr default, by swapping the default resource for the
// duration of a scope.
//
// CLASSES:
//   protopool::testing::default_resource_guard  sets, then restores, the
//                                                default resource
//
// USAGE:
//   protopool::testing::default_resource_guard no_default(
//       std::pmr::null_memory_resource());
//   // Any allocation that falls back to the default resource now throws
//   // std::bad_alloc; the previous default comes back at scope exit.
#pragma once

#include <memory_resource>

namespace protopool::testing {

/// Sets `std::pmr::set_default_resource(resource)` on construction and puts
/// the previous default back on destruction. Thread safety: the default
/// resource is process-wide; use it only where no other thread relies on
/// the default.
class default_resource_guard {
 public:
  explicit default_resource_guard(std::pmr::memory_resource* resource) noexcept
      : previous_(std::pmr::set_default_resource(resource)) {}
  default_resource_guard(const default_resource_guard&) = delete;
  default_resource_guard& operator=(const default_resource_guard&) = delete;
  ~default_resource_guard() { std::pmr::set_default_resource(previous_); }

 private:
  std::pmr::memory_resource* previous_;
};

}  // namespace protopool::testing
