// File: lib/test_resource.cc
#include <absl/strings/str_format.h>
#include <protopool/test_resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>

namespace protopool {

test_resource::test_resource(std::pmr::memory_resource* upstream)
    : test_resource(test_resource_options{}, upstream) {}

test_resource::test_resource(test_resource_options options,
                             std::pmr::memory_resource* upstream)
    : options_(std::move(options)), upstream_(upstream) {}

test_resource::~test_resource() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (live_.empty()) {
    return;
  }
  if (!options_.quiet || options_.strict) {
    constexpr std::size_t max_listed = 16;
    absl::FPrintF(stderr,
                  "protopool: %s %p: leak: %d block(s), %d byte(s) still in "
                  "use at destruction:",
                  options_.name, static_cast<const void*>(this), live_.size(),
                  bytes_in_use_);
    std::size_t listed = 0;
    for (const auto& [p, info] : live_) {
      if (listed++ == max_listed) {
        absl::FPrintF(stderr, " ...");
        break;
      }
      absl::FPrintF(stderr, " %p(%d)", p, info.bytes);
    }
    absl::FPrintF(stderr, "\n");
    std::fflush(stderr);
  }
  if (options_.strict) {
    std::abort();
  }
}

void test_resource::set_allocation_limit(std::int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  allocation_limit_ = n < 0 ? -1 : n;
  ++limit_generation_;
}

std::int64_t test_resource::allocation_limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocation_limit_;
}

std::size_t test_resource::allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocations_;
}

std::size_t test_resource::deallocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deallocations_;
}

std::size_t test_resource::failed_allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_allocations_;
}

std::size_t test_resource::blocks_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_.size();
}

std::size_t test_resource::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_in_use_;
}

std::size_t test_resource::max_blocks_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return max_blocks_in_use_;
}

std::size_t test_resource::max_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return max_bytes_in_use_;
}

std::size_t test_resource::total_bytes_allocated() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_bytes_allocated_;
}

std::size_t test_resource::mismatched_deallocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return mismatched_deallocations_;
}

std::size_t test_resource::foreign_deallocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return foreign_deallocations_;
}

std::size_t test_resource::double_deallocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return double_deallocations_;
}

std::size_t test_resource::misuse_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return mismatched_deallocations_ + foreign_deallocations_ +
         double_deallocations_;
}

bool test_resource::is_live(const void* p) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_.contains(p);
}

void* test_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (allocation_limit_ == 0) {
    allocation_limit_ = -1;
    ++limit_generation_;
    ++failed_allocations_;
    throw injected_bad_alloc(this);
  }
  // Take this allocation's place under the limit now, so that concurrent
  // callers cannot overshoot it; give it back if the allocation fails.
  const bool limited = allocation_limit_ > 0;
  if (limited) {
    --allocation_limit_;
  }
  const std::uint64_t generation = limit_generation_;
  const auto give_back = [&] {
    if (limited && limit_generation_ == generation) {
      ++allocation_limit_;
    }
  };
  // Upstream is called without the lock: it may call this resource.
  lock.unlock();
  void* p = nullptr;
  try {
    p = upstream_->allocate(bytes, alignment);
  } catch (...) {
    lock.lock();
    give_back();
    throw;
  }
  lock.lock();
  try {
    live_.emplace(p, block_info{.bytes = bytes, .alignment = alignment});
    freed_.erase(p);
  } catch (...) {
    live_.erase(p);
    give_back();
    lock.unlock();
    upstream_->deallocate(p, bytes, alignment);
    throw;
  }
  ++allocations_;
  bytes_in_use_ += bytes;
  total_bytes_allocated_ += bytes;
  max_blocks_in_use_ = std::max(max_blocks_in_use_, live_.size());
  max_bytes_in_use_ = std::max(max_bytes_in_use_, bytes_in_use_);
  return p;
}

void test_resource::do_deallocate(void* p, std::size_t bytes,
                                  std::size_t alignment) {
  block_info info{};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = live_.find(p);
    if (found == live_.end()) {
      if (freed_.contains(p)) {
        ++double_deallocations_;
        misuse("double free:", p, bytes, alignment);
      } else {
        ++foreign_deallocations_;
        misuse("deallocate of a pointer it never handed out:", p, bytes,
               alignment);
      }
      return;  // never pass misuse on to upstream
    }
    info = found->second;
    if (info.bytes != bytes || info.alignment != alignment) {
      ++mismatched_deallocations_;
      misuse(absl::StrFormat("deallocate with size/alignment %d/%d of a "
                             "block allocated with %d/%d:",
                             bytes, alignment, info.bytes, info.alignment)
                 .c_str(),
             p, bytes, alignment);
    }
    live_.erase(found);
    // A failure to remember the address only weakens double-free diagnosis.
    try {
      freed_.insert(p);
    } catch (...) {
    }
    ++deallocations_;
    bytes_in_use_ -= info.bytes;
  }
  // Without the lock (upstream may call this resource). The block is no
  // longer live, so no other call here can touch it until upstream hands it
  // out again, which only this call makes possible.
  upstream_->deallocate(p, info.bytes, info.alignment);
}

bool test_resource::do_is_equal(
    const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

void test_resource::misuse(const char* what, const void* p, std::size_t bytes,
                           std::size_t alignment) const {
  if (options_.quiet && !options_.strict) {
    return;
  }
  absl::FPrintF(stderr, "protopool: %s %p: %s %p (size %d, alignment %d)\n",
                options_.name, static_cast<const void*>(this), what, p, bytes,
                alignment);
  std::fflush(stderr);
  if (options_.strict) {
    std::abort();
  }
}

}  // namespace protopool
