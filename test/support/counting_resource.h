// File: test/support/counting_resource.h
//
// PURPOSE: an upstream memory_resource for tests that counts and records
// every call, so a test can prove how often and how much a pool asks its
// upstream for, that every byte comes back, and that what comes back is
// what was handed out.
//
// CLASSES:
//   protopool::testing::upstream_failure   what the resource throws on demand
//   protopool::testing::counting_resource  the counting upstream
//
// USAGE:
//   protopool::testing::counting_resource upstream;
//   {
//     protopool::slot_pool_resource pool({.slot_size = 24}, &upstream);
//     ...
//   }
//   EXPECT_EQ(upstream.bytes_outstanding(), 0u);
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <memory_resource>
#include <new>
#include <vector>

namespace protopool::testing {

/// Thrown by a `counting_resource` told to fail: a `std::bad_alloc`, so it
/// looks like an ordinary out-of-memory, but of its own type, so a test can
/// tell that the very exception upstream threw is the one that arrived.
struct upstream_failure final : std::bad_alloc {
  [[nodiscard]] const char* what() const noexcept override {
    return "counting_resource: allocation failure on demand";
  }
};

/// A `std::pmr::memory_resource` that forwards to `backing` and records each
/// block it hands out (address, size, alignment). A deallocation with a
/// pointer it did not hand out, or with a size or alignment other than the
/// block's, is a test failure (and is counted in `mismatches()`); the block
/// is then not returned to `backing`. Blocks still outstanding when it is
/// destroyed are a test failure too, and are returned to `backing` so the
/// test binary stays clean under valgrind.
///
/// Thread safety: none.
class counting_resource final : public std::pmr::memory_resource {
 public:
  struct block {
    std::size_t bytes;
    std::size_t alignment;
  };

  explicit counting_resource(
      std::pmr::memory_resource* backing = std::pmr::new_delete_resource())
      : backing_(backing) {}

  counting_resource(const counting_resource&) = delete;
  counting_resource& operator=(const counting_resource&) = delete;

  ~counting_resource() override {
    if (!blocks_.empty()) {
      ADD_FAILURE() << "counting_resource destroyed with " << blocks_.size()
                    << " block(s), " << bytes_outstanding_
                    << " byte(s) outstanding";
    }
    for (const auto& [p, b] : blocks_) {
      backing_->deallocate(p, b.bytes, b.alignment);
    }
  }

  /// While `true`, every allocation throws `upstream_failure` and changes
  /// nothing (it is not counted).
  void set_failing(bool failing) noexcept { failing_ = failing; }

  /// Successful `allocate` calls so far.
  [[nodiscard]] std::size_t allocate_calls() const noexcept {
    return allocation_sizes_.size();
  }
  /// `deallocate` calls so far (matching or not).
  [[nodiscard]] std::size_t deallocate_calls() const noexcept {
    return deallocate_calls_;
  }
  /// Bytes handed out and not yet returned.
  [[nodiscard]] std::size_t bytes_outstanding() const noexcept {
    return bytes_outstanding_;
  }
  /// Blocks handed out and not yet returned.
  [[nodiscard]] std::size_t blocks_outstanding() const noexcept {
    return blocks_.size();
  }
  /// The `bytes` of each successful `allocate` call, in order.
  [[nodiscard]] const std::vector<std::size_t>& allocation_sizes()
      const noexcept {
    return allocation_sizes_;
  }
  /// The `alignment` of each successful `allocate` call, in order.
  [[nodiscard]] const std::vector<std::size_t>& allocation_alignments()
      const noexcept {
    return allocation_alignments_;
  }
  /// Deallocations of an unknown pointer or with the wrong size/alignment.
  [[nodiscard]] std::size_t mismatches() const noexcept { return mismatches_; }
  /// Returns the block `p` is the start of, or null.
  // Every block outstanding, by address.
  [[nodiscard]] const auto& blocks() const noexcept { return blocks_; }
  [[nodiscard]] const block* find(const void* p) const {
    const auto it = blocks_.find(const_cast<void*>(p));
    return it == blocks_.end() ? nullptr : &it->second;
  }

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (failing_) {
      throw upstream_failure();
    }
    void* p = backing_->allocate(bytes, alignment);
    blocks_.emplace(p, block{bytes, alignment});
    bytes_outstanding_ += bytes;
    allocation_sizes_.push_back(bytes);
    allocation_alignments_.push_back(alignment);
    return p;
  }

  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    ++deallocate_calls_;
    const auto it = blocks_.find(p);
    if (it == blocks_.end()) {
      ++mismatches_;
      ADD_FAILURE() << "counting_resource: deallocate of " << p
                    << ", which it did not hand out";
      return;
    }
    if (it->second.bytes != bytes || it->second.alignment != alignment) {
      ++mismatches_;
      ADD_FAILURE() << "counting_resource: deallocate of " << p << " with ("
                    << bytes << ", " << alignment << "), allocated as ("
                    << it->second.bytes << ", " << it->second.alignment << ")";
      return;
    }
    backing_->deallocate(p, bytes, alignment);
    bytes_outstanding_ -= bytes;
    blocks_.erase(it);
  }

  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::pmr::memory_resource* backing_;
  std::map<void*, block> blocks_;
  std::vector<std::size_t> allocation_sizes_;
  std::vector<std::size_t> allocation_alignments_;
  std::size_t deallocate_calls_ = 0;
  std::size_t bytes_outstanding_ = 0;
  std::size_t mismatches_ = 0;
  bool failing_ = false;
};

}  // namespace protopool::testing
