// Test plan: steady-state message traffic through a pool makes zero global
// allocations and frees, measured.
// - This executable interposes malloc, calloc, realloc, aligned_alloc,
//   posix_memalign, memalign and free (forwarding to the next definition,
//   dlsym(RTLD_NEXT): glibc's or AddressSanitizer's) and replaces the
//   global operator new/delete (through that malloc and free), counting
//   every call: allocations, frees, operator new and operator delete.
//   Works in plain and AddressSanitizer builds; under valgrind, which
//   replaces malloc and operator new in this executable too, the tests skip.
// - CountsEveryKindOfGlobalAllocation: the counters see operator new and
//   delete, malloc and free, and a std::string growing (so a zero below
//   means something).
// - PoolTrafficMakesNoGlobalAllocation: warm-up, then 100,000 protocol
//   messages (add/sub/mul/echo with a heap-sized text) through a pmr list,
//   map, vector and boxes over a slot pool: exactly 0 global allocations
//   and 0 frees (malloc family, free, operator new, operator delete).
// - NewDeleteTrafficMakesGlobalAllocations: the same phase on
//   new_delete_resource: the allocations and frees it costs, asserted > 0
//   and reported.
// - CheckedIndexCostsTheSameForAnyFirstChunk: checked builds index chunks
//   by address on the global heap; a first chunk of 2^20 slots
//   (initial_slots far above max_slots_per_chunk) costs the index no more
//   global bytes than one of 16 slots.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define PROTOPOOL_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define PROTOPOOL_UNDER_VALGRIND() false
#endif

// ---- Interposition ----

// The interposed functions run before AddressSanitizer has set up its shadow
// memory (its start-up calls dlsym, which calls malloc): no instrumentation.
#define PROTOPOOL_NOT_SANITIZED \
  __attribute__((no_sanitize("address", "undefined")))

namespace {

std::atomic<std::size_t> malloc_calls{0};  // every malloc-family allocation
std::atomic<std::size_t> free_calls{0};    // every free (null included)
std::atomic<std::size_t> new_calls{0};     // every global operator new
std::atomic<std::size_t> delete_calls{0};  // every global operator delete
std::atomic<std::size_t> new_bytes{0};     // asked of global operator new

using malloc_function = void* (*)(std::size_t);
using calloc_function = void* (*)(std::size_t, std::size_t);
using realloc_function = void* (*)(void*, std::size_t);
using aligned_function = void* (*)(std::size_t, std::size_t);
using posix_memalign_function = int (*)(void**, std::size_t, std::size_t);
using free_function = void (*)(void*);

malloc_function next_malloc = nullptr;
calloc_function next_calloc = nullptr;
realloc_function next_realloc = nullptr;
aligned_function next_aligned_alloc = nullptr;
aligned_function next_memalign = nullptr;
posix_memalign_function next_posix_memalign = nullptr;
free_function next_free = nullptr;

// dlsym may allocate while we look the functions up: serve it from here.
alignas(std::max_align_t) unsigned char bootstrap[8192];
std::size_t bootstrap_used = 0;
bool resolving = false;

PROTOPOOL_NOT_SANITIZED void* bootstrap_allocate(std::size_t bytes) noexcept {
  const std::size_t rounded = (bytes + alignof(std::max_align_t) - 1) &
                              ~(alignof(std::max_align_t) - 1);
  if (bootstrap_used + rounded > sizeof bootstrap) {
    return nullptr;
  }
  void* p = bootstrap + bootstrap_used;
  bootstrap_used += rounded;
  return p;
}

PROTOPOOL_NOT_SANITIZED bool in_bootstrap(const void* p) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const auto begin = reinterpret_cast<std::uintptr_t>(bootstrap);
  return address >= begin && address < begin + sizeof bootstrap;
}

template <class F>
PROTOPOOL_NOT_SANITIZED F next_function(const char* name) noexcept {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

// Returns false while resolving (the caller serves the bootstrap buffer).
PROTOPOOL_NOT_SANITIZED bool resolve() noexcept {
  if (next_free != nullptr) {
    return true;
  }
  if (resolving) {
    return false;
  }
  resolving = true;
  next_malloc = next_function<malloc_function>("malloc");
  next_calloc = next_function<calloc_function>("calloc");
  next_realloc = next_function<realloc_function>("realloc");
  next_aligned_alloc = next_function<aligned_function>("aligned_alloc");
  next_memalign = next_function<aligned_function>("memalign");
  next_posix_memalign =
      next_function<posix_memalign_function>("posix_memalign");
  next_free = next_function<free_function>("free");
  resolving = false;
  if (next_malloc == nullptr || next_calloc == nullptr ||
      next_realloc == nullptr || next_aligned_alloc == nullptr ||
      next_memalign == nullptr || next_posix_memalign == nullptr ||
      next_free == nullptr) {
    std::abort();
  }
  return true;
}

PROTOPOOL_NOT_SANITIZED void count_malloc() noexcept {
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
}

PROTOPOOL_NOT_SANITIZED void count_free() noexcept {
  free_calls.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {

PROTOPOOL_NOT_SANITIZED void* malloc(std::size_t bytes) noexcept {
  if (!resolve()) {
    return bootstrap_allocate(bytes);
  }
  count_malloc();
  return next_malloc(bytes);
}

PROTOPOOL_NOT_SANITIZED void* calloc(std::size_t count,
                                     std::size_t bytes) noexcept {
  if (!resolve()) {
    return bootstrap_allocate(count * bytes);  // static: already zero
  }
  count_malloc();
  return next_calloc(count, bytes);
}

PROTOPOOL_NOT_SANITIZED void* realloc(void* p, std::size_t bytes) noexcept {
  if (!resolve() || in_bootstrap(p)) {
    void* fresh = malloc(bytes);
    if (fresh != nullptr && p != nullptr) {
      std::memcpy(fresh, p, bytes);  // the bootstrap buffer is large enough
    }
    return fresh;
  }
  count_malloc();
  return next_realloc(p, bytes);
}

PROTOPOOL_NOT_SANITIZED void* aligned_alloc(std::size_t alignment,
                                            std::size_t bytes) noexcept {
  resolve();
  count_malloc();
  return next_aligned_alloc(alignment, bytes);
}

PROTOPOOL_NOT_SANITIZED void* memalign(std::size_t alignment,
                                       std::size_t bytes) noexcept {
  resolve();
  count_malloc();
  return next_memalign(alignment, bytes);
}

PROTOPOOL_NOT_SANITIZED int posix_memalign(void** out, std::size_t alignment,
                                           std::size_t bytes) noexcept {
  resolve();
  count_malloc();
  return next_posix_memalign(out, alignment, bytes);
}

PROTOPOOL_NOT_SANITIZED void free(void* p) noexcept {
  count_free();
  if (p == nullptr || in_bootstrap(p)) {
    return;
  }
  resolve();
  next_free(p);
}

}  // extern "C"

// Global operator new/delete, through the malloc above.
namespace {

void* counted_new(std::size_t bytes) {
  new_calls.fetch_add(1, std::memory_order_relaxed);
  new_bytes.fetch_add(bytes, std::memory_order_relaxed);
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}

void* counted_new(std::size_t bytes, std::align_val_t alignment) {
  new_calls.fetch_add(1, std::memory_order_relaxed);
  new_bytes.fetch_add(bytes, std::memory_order_relaxed);
  const auto align = static_cast<std::size_t>(alignment);
  void* p = nullptr;
  if (::posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align,
                       bytes == 0 ? 1 : bytes) != 0) {
    throw std::bad_alloc();
  }
  return p;
}

void counted_delete(void* p) noexcept {
  delete_calls.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t bytes) { return counted_new(bytes); }
void* operator new[](std::size_t bytes) { return counted_new(bytes); }
void* operator new(std::size_t bytes, std::align_val_t alignment) {
  return counted_new(bytes, alignment);
}
void* operator new[](std::size_t bytes, std::align_val_t alignment) {
  return counted_new(bytes, alignment);
}
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return counted_new(bytes);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return counted_new(bytes);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t bytes, std::align_val_t alignment,
                   const std::nothrow_t&) noexcept {
  try {
    return counted_new(bytes, alignment);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t bytes, std::align_val_t alignment,
                     const std::nothrow_t&) noexcept {
  try {
    return counted_new(bytes, alignment);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { counted_delete(p); }
void operator delete[](void* p) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_delete(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::align_val_t) noexcept {
  counted_delete(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  counted_delete(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  counted_delete(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  counted_delete(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  counted_delete(p);
}
void operator delete(void* p, std::align_val_t,
                     const std::nothrow_t&) noexcept {
  counted_delete(p);
}
void operator delete[](void* p, std::align_val_t,
                       const std::nothrow_t&) noexcept {
  counted_delete(p);
}

// ---- The traffic ----

namespace {

using protopool::protocol;
namespace msg = protopool::msg;

constexpr std::size_t message_count = 100'000;
constexpr std::string_view long_text =
    "an echo payload well past the small-string buffer";

struct global_counts {
  std::size_t malloc_calls;
  std::size_t free_calls;
  std::size_t new_calls;
  std::size_t delete_calls;
};

global_counts snapshot() {
  return {malloc_calls.load(), free_calls.load(), new_calls.load(),
          delete_calls.load()};
}

// Message traffic over `resource`: a bounded inbox (list), an index (map
// with a fixed key set), a batch (vector, capacity reserved) and one box per
// message. Only the first `warm_up` messages may grow anything.
class traffic {
 public:
  explicit traffic(std::pmr::memory_resource* resource)
      : resource_(resource),
        inbox_(resource),
        index_(resource),
        batch_(resource) {
    batch_.reserve(batch_size);
  }

  void send(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i, ++sequence_) {
      const std::uint64_t value = sequence_;
      switch (sequence_ % 4) {
        case 0:
          inbox_.emplace_back(msg::add{value, value + 1});
          break;
        case 1:
          inbox_.emplace_back(msg::sub{value, 1});
          break;
        case 2:
          inbox_.emplace_back(msg::mul{value, 3});
          break;
        default:
          inbox_.emplace_back(std::in_place_type<msg::echo>, long_text);
          break;
      }
      const protocol& message = inbox_.back();
      auto boxed = protopool::make_box<protocol>(resource_, message);
      checksum_ += boxed->index();
      index_.insert_or_assign(sequence_ % index_keys, message);
      if (batch_.size() == batch_size) {
        batch_.clear();
      }
      batch_.push_back(message);
      if (inbox_.size() > inbox_depth) {
        inbox_.pop_front();
      }
    }
  }

  [[nodiscard]] std::size_t checksum() const { return checksum_; }

 private:
  static constexpr std::size_t inbox_depth = 32;
  static constexpr std::size_t index_keys = 64;
  static constexpr std::size_t batch_size = 64;

  std::pmr::memory_resource* resource_;
  std::pmr::list<protocol> inbox_;
  std::pmr::map<std::uint64_t, protocol> index_;
  std::pmr::vector<protocol> batch_;
  std::uint64_t sequence_ = 0;
  std::size_t checksum_ = 0;
};

// Runs the phase and returns the global allocations it made.
global_counts measure(std::pmr::memory_resource* resource) {
  traffic run(resource);
  run.send(1'000);  // warm-up: containers and the pool reach steady state
  const global_counts before = snapshot();
  run.send(message_count);
  const global_counts after = snapshot();
  EXPECT_GT(run.checksum(), 0U);
  return {after.malloc_calls - before.malloc_calls,
          after.free_calls - before.free_calls,
          after.new_calls - before.new_calls,
          after.delete_calls - before.delete_calls};
}

// valgrind replaces malloc and operator new in every object, this
// executable included, so nothing here can count under it.
#define PROTOPOOL_SKIP_UNDER_VALGRIND()                                    \
  if (PROTOPOOL_UNDER_VALGRIND()) {                                        \
    GTEST_SKIP() << "valgrind replaces malloc and operator new here too: " \
                    "no counting under valgrind";                          \
  }

TEST(GlobalAllocationsTest, CountsEveryKindOfGlobalAllocation) {
  PROTOPOOL_SKIP_UNDER_VALGRIND();
  const global_counts before = snapshot();
  auto* number = new int(7);
  void* block = std::malloc(100);
  std::string grown;
  for (int i = 0; i < 100; ++i) {
    grown.push_back('x');
  }
  std::free(block);
  delete number;
  const global_counts after = snapshot();
  EXPECT_GE(after.new_calls - before.new_calls, 2U);  // int, string growth
  EXPECT_GE(after.malloc_calls - before.malloc_calls, 3U);
  // The int and the string's outgrown buffers; std::free and every delete.
  EXPECT_GE(after.delete_calls - before.delete_calls, 2U);
  EXPECT_GE(after.free_calls - before.free_calls, 3U);
  EXPECT_EQ(grown.size(), 100U);
}

// Prints the counts of one contender and records them in the test's XML
// (<label>_malloc_calls, <label>_free_calls).
void report(const std::string& label, const global_counts& counts) {
  ::testing::Test::RecordProperty(label + "_malloc_calls",
                                  std::to_string(counts.malloc_calls));
  ::testing::Test::RecordProperty(label + "_free_calls",
                                  std::to_string(counts.free_calls));
  std::printf(
      "%s: %zu messages, %zu global operator new, %zu malloc, %zu operator "
      "delete, %zu free\n",
      label.c_str(), message_count, counts.new_calls, counts.malloc_calls,
      counts.delete_calls, counts.free_calls);
}

TEST(GlobalAllocationsTest, PoolTrafficMakesNoGlobalAllocation) {
  PROTOPOOL_SKIP_UNDER_VALGRIND();
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options{.slot_size = 128, .initial_slots = 256});
  const global_counts counts = measure(&pool);
  report("pool", counts);
  EXPECT_EQ(counts.new_calls, 0U);
  EXPECT_EQ(counts.malloc_calls, 0U);
  EXPECT_EQ(counts.delete_calls, 0U);
  EXPECT_EQ(counts.free_calls, 0U);
  EXPECT_EQ(pool.stats().oversize_allocations, 1U);  // the batch's reserve
}

TEST(GlobalAllocationsTest, NewDeleteTrafficMakesGlobalAllocations) {
  PROTOPOOL_SKIP_UNDER_VALGRIND();
  const global_counts counts = measure(std::pmr::new_delete_resource());
  report("new_delete", counts);
  // At least one list node and one box per message, each made and freed.
  EXPECT_GE(counts.new_calls, 2 * message_count);
  EXPECT_GE(counts.malloc_calls, counts.new_calls);
  EXPECT_GE(counts.delete_calls, 2 * message_count);
  EXPECT_GE(counts.free_calls, counts.delete_calls);
}

// Global operator new bytes a pool's construction and destruction ask for
// beyond its chunks (which come from new_delete_resource, so from operator
// new too): in checked builds, the chunk index.
std::size_t index_bytes(std::size_t initial_slots) {
  const std::size_t before = new_bytes.load();
  std::size_t upstream_bytes = 0;
  {
    protopool::slot_pool_resource pool(
        protopool::slot_pool_options{.slot_size = 24,
                                     .initial_slots = initial_slots,
                                     .max_slots_per_chunk = 16},
        std::pmr::new_delete_resource());
    upstream_bytes = pool.stats().upstream_bytes;
    EXPECT_EQ(pool.stats().capacity, initial_slots);
    void* slot = pool.allocate(24);
    EXPECT_TRUE(pool.owns(slot));
    pool.deallocate(slot, 24);
  }
  return new_bytes.load() - before - upstream_bytes;
}

TEST(GlobalAllocationsTest, CheckedIndexCostsTheSameForAnyFirstChunk) {
  PROTOPOOL_SKIP_UNDER_VALGRIND();
  if (!PROTOPOOL_CHECKED) {
    GTEST_SKIP() << "only checked builds index chunks";
  }
  const std::size_t small = index_bytes(16);
  const std::size_t large = index_bytes(std::size_t{1} << 20);
  ::testing::Test::RecordProperty("index_bytes_16", std::to_string(small));
  ::testing::Test::RecordProperty("index_bytes_1M", std::to_string(large));
  EXPECT_LE(large, small) << "first chunk of 16 slots: " << small
                          << " B of index; of 2^20 slots: " << large << " B";
}

}  // namespace
