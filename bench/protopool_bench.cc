// File: bench/protopool_bench.cc
//
// PURPOSE: the hypothesis benchmark: does a fixed-slot pool manage protocol
// messages faster than the global allocator? Every contender runs the same
// workload code, in one process, side by side.
//
// The same source is linked several times: against glibc (every contender),
// and against mimalloc, jemalloc and tcmalloc as the *global* allocator
// (PROTOPOOL_BENCH_GLOBAL_ONLY: only the contenders whose memory comes from
// malloc/new, plus the hand-inlined floor, so results of different binaries
// can be normalized by their floors).
//
// Benchmark names are "<workload>/<contender>"; each run records in the
// counter `msgs` how many messages one iteration handles. Besides the
// console, each run is appended to a TSV file (`--tsv=<path>`, times in
// nanoseconds per iteration) that `protopool_report` reads;
// `--benchmark_out=<json>` keeps the JSON.
//
// Workloads:
//   W1 box one message: make, read, drop (and make_box<protocol>)
//   W2 batch of 100 messages: make 100, validate and drop 100; the pool made
//      once (outside) or in each iteration (inside)
//   W3 std::list<protocol> churn: 1000 push_back, then 1000 pop_front
//   W4 map churn: 1000 inserts then 1000 erases, std::map and
//      absl::node_hash_map
//   W5 msg::echo messages with a heap payload in a std::pmr::vector<protocol>
//      (100 per iteration)
//   W6 memory: 1,000,000 live 24-byte messages (upstream and RSS bytes)
//   W7 cross-thread: one thread makes protocol messages, another validates
//      and frees them; and the same alloc/validate/free on one thread
#include <absl/container/node_hash_map.h>
#include <absl/flags/flag.h>
#include <absl/flags/parse.h>
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <malloc.h>
#include <protopool/protocol.h>
#include <protopool/slot_allocator.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/synchronized_slot_pool_resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <numeric>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_message.h"
#include "dispatch_floor.h"
#include "machine.h"

#ifndef PROTOPOOL_BENCH_BINARY
#define PROTOPOOL_BENCH_BINARY "glibc"
#endif
#ifndef PROTOPOOL_BENCH_GLOBAL_ONLY
#define PROTOPOOL_BENCH_GLOBAL_ONLY 0
#endif
#ifndef PROTOPOOL_BENCH_HAVE_FOONATHAN
#define PROTOPOOL_BENCH_HAVE_FOONATHAN 0
#endif
#ifndef PROTOPOOL_BENCH_HAVE_BOOST_PMR
#define PROTOPOOL_BENCH_HAVE_BOOST_PMR 0
#endif

#if PROTOPOOL_BENCH_HAVE_FOONATHAN
#include <foonathan/memory/memory_pool.hpp>
#endif
#if PROTOPOOL_BENCH_HAVE_BOOST_PMR
#include <boost/container/pmr/memory_resource.hpp>
#include <boost/container/pmr/synchronized_pool_resource.hpp>
#include <boost/container/pmr/unsynchronized_pool_resource.hpp>
#endif

ABSL_FLAG(std::string, tsv, "",
          "also append every run to this TSV file, for protopool_report");

namespace {

using protopool::protocol;
using protopool::slot_allocator;
namespace msg = protopool::msg;
using protopool::slot_pool_options;
using protopool::slot_pool_resource;

// ---------------------------------------------------------------------------
// Messages

// W1, W2 and W6 handle a fixed 24-byte message (the size of the original
// experiment's Rust enum), so every contender, pmr or not, runs the very same
// code; W1 also boxes a `protocol` with make_box. W3 to W5 hold `protocol`s
// (msg::add, msg::echo) in containers; W7 makes `protocol`s (msg::add) in
// its contenders' memory.
using protopool::bench::batch_size;
using protopool::bench::message;
constexpr std::size_t churn_size = 1000;
constexpr std::size_t live_messages = 1'000'000;
// Longer than any small-string buffer: every payload is one allocation.
constexpr std::string_view payload = "echo: a payload longer than a small str";

// Hides a pointer's origin from the optimizer, so a call through it stays
// a virtual call, as it is in code that is handed a memory_resource*.
template <class T>
T* launder_pointer(T* p) {
  benchmark::DoNotOptimize(p);
  return p;
}

// ---------------------------------------------------------------------------
// Contenders as message sources: allocate(bytes, alignment) / deallocate.

// The physical floor: a free list in a local variable, inlined, over one
// preallocated arena (refilled from it when empty). Nothing can beat it.
// The arena is not zeroed, as the pool's chunks are not (W2 inside makes a
// floor per iteration).
class floor_free_list {
 public:
  explicit floor_free_list(std::size_t slot_bytes, std::size_t slots = 4096)
      : slot_bytes_(std::max(slot_bytes, sizeof(void*))),
        arena_(
            std::make_unique_for_overwrite<std::byte[]>(slot_bytes_ * slots)),
        bump_(arena_.get()),
        end_(arena_.get() + slot_bytes_ * slots) {}

  void* allocate(std::size_t, std::size_t) {
    void* const slot = head_;
    if (slot == nullptr) [[unlikely]] {
      return carve();
    }
    head_ = *static_cast<void**>(slot);
    return slot;
  }
  void deallocate(void* p, std::size_t, std::size_t) {
    *static_cast<void**>(p) = head_;
    head_ = p;
  }

 private:
  [[gnu::noinline]] void* carve() {
    if (bump_ == end_) {
      std::fprintf(stderr, "floor_free_list: arena exhausted\n");
      std::abort();
    }
    void* slot = bump_;
    bump_ += slot_bytes_;
    return slot;
  }

  void* head_ = nullptr;
  std::size_t slot_bytes_;
  std::unique_ptr<std::byte[]> arena_;
  std::byte* bump_;
  std::byte* end_;
};

// Builds a container element at `p` as pmr containers (and slot_allocator)
// do: by uses-allocator construction with `resource`, which the allocator
// holds. The default `construct` would build each `protocol` with the
// default resource, one get_default_resource() call per element (about 2 ns
// in W3) that a pmr container does not make.
template <class U, class... Args>
void construct_with_resource(U* p, std::pmr::memory_resource* resource,
                             Args&&... args) {
  std::uninitialized_construct_using_allocator(
      p, std::pmr::polymorphic_allocator<U>(resource),
      std::forward<Args>(args)...);
}

// The global heap (operator new/delete, as std::allocator) for the
// std_*_global_new rows, building elements as construct_with_resource does
// with new_delete_resource.
template <class T>
struct global_new_allocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = global_new_allocator<U>;
  };
  std::pmr::memory_resource* elements = std::pmr::new_delete_resource();

  global_new_allocator() = default;
  template <class U>
  global_new_allocator(const global_new_allocator<U>& other)  // NOLINT
      : elements(other.elements) {}

  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    construct_with_resource(p, elements, std::forward<Args>(args)...);
  }
};

// The floor as a standard allocator, for containers: one node (of at most
// SlotBytes, known at compile time) from the floor free list, arrays from
// operator new. It builds elements with construct_with_resource, so a
// `protocol` element costs the floor what it costs the pool; the elements'
// own memory (none for msg::add) would come from new_delete_resource.
template <class T, std::size_t SlotBytes>
struct floor_allocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = floor_allocator<U, SlotBytes>;
  };
  floor_free_list* floor;
  std::pmr::memory_resource* elements;

  explicit floor_allocator(floor_free_list& free_list)
      : floor(&free_list), elements(std::pmr::new_delete_resource()) {}
  template <class U>
  floor_allocator(const floor_allocator<U, SlotBytes>& other)  // NOLINT
      : floor(other.floor), elements(other.elements) {}

  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    construct_with_resource(p, elements, std::forward<Args>(args)...);
  }

  T* allocate(std::size_t n) {
    if (n == 1 && sizeof(T) <= SlotBytes) {
      return static_cast<T*>(floor->allocate(sizeof(T), alignof(T)));
    }
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) {
    if (n == 1 && sizeof(T) <= SlotBytes) {
      floor->deallocate(p, sizeof(T), alignof(T));
      return;
    }
    ::operator delete(p);
  }
  template <class U>
  friend bool operator==(const floor_allocator& a,
                         const floor_allocator<U, SlotBytes>& b) {
    return a.floor == b.floor;
  }
};

// The pool's static fast path (no virtual call).
struct static_pool_source {
  slot_pool_resource& pool;
  void* allocate(std::size_t, std::size_t) { return pool.allocate_slot(); }
  void deallocate(void* p, std::size_t, std::size_t) {
    pool.deallocate_slot(p);
  }
};

// Any memory_resource through a pointer whose dynamic type is unknown.
// `Resource` only names the contender, so that each gets its own copy of the
// workload loop: a shared copy would make its virtual call sites see every
// contender's targets in turn, and how fast a contender then measures would
// depend on which ran before it (W1 through the pool: 3.0 ns run alone,
// 3.8-4.6 ns right after new_delete_resource). The calls still go through
// `std::pmr::memory_resource*`.
template <class Resource>
struct resource_source {
  std::pmr::memory_resource* resource;
  void* allocate(std::size_t bytes, std::size_t alignment) {
    return resource->allocate(bytes, alignment);
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    resource->deallocate(p, bytes, alignment);
  }
};
template <class Resource>
resource_source(Resource*) -> resource_source<Resource>;

// The same, through polymorphic_allocator (what pmr containers use).
struct polymorphic_source {
  std::pmr::polymorphic_allocator<message> allocator;
  void* allocate(std::size_t, std::size_t) { return allocator.allocate(1); }
  void deallocate(void* p, std::size_t, std::size_t) {
    allocator.deallocate(static_cast<message*>(p), 1);
  }
};

// The global allocator's two entry points.
struct malloc_source {
  void* allocate(std::size_t bytes, std::size_t) {
    void* p = std::malloc(bytes);
    if (p == nullptr) {
      throw std::bad_alloc();
    }
    return p;
  }
  void deallocate(void* p, std::size_t, std::size_t) { std::free(p); }
};
struct new_source {
  void* allocate(std::size_t bytes, std::size_t) {
    return ::operator new(bytes);
  }
  void deallocate(void* p, std::size_t bytes, std::size_t) {
#if __cpp_sized_deallocation
    ::operator delete(p, bytes);
#else
    (void)bytes;
    ::operator delete(p);  // clang without -fsized-deallocation
#endif
  }
};

#if PROTOPOOL_BENCH_HAVE_FOONATHAN
struct foonathan_source {
  foonathan::memory::memory_pool<>& pool;
  void* allocate(std::size_t, std::size_t) { return pool.allocate_node(); }
  void deallocate(void* p, std::size_t, std::size_t) {
    pool.deallocate_node(p);
  }
};
#endif

#if PROTOPOOL_BENCH_HAVE_BOOST_PMR
// Boost's own memory_resource, through a base pointer; `Resource` names the
// contender, as in resource_source.
template <class Resource>
struct boost_source {
  boost::container::pmr::memory_resource* resource;
  void* allocate(std::size_t bytes, std::size_t alignment) {
    return resource->allocate(bytes, alignment);
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    resource->deallocate(p, bytes, alignment);
  }
};
template <class Resource>
boost_source<Resource> boost_source_of(Resource& pool) {
  return {launder_pointer(
      static_cast<boost::container::pmr::memory_resource*>(&pool))};
}
#endif

// monotonic_buffer_resource frees nothing: it is released (and its cost
// counted) whenever `limit` messages have been taken since the last release.
struct monotonic_source {
  std::pmr::monotonic_buffer_resource& monotonic;
  std::pmr::memory_resource* resource;
  std::size_t limit;
  std::size_t taken = 0;
  void* allocate(std::size_t bytes, std::size_t alignment) {
    if (++taken == limit) [[unlikely]] {
      monotonic.release();
      taken = 0;
    }
    return resource->allocate(bytes, alignment);
  }
  void deallocate(void* p, std::size_t bytes, std::size_t alignment) {
    resource->deallocate(p, bytes, alignment);
  }
};

// Slot options for messages, and for container nodes holding a T.
slot_pool_options message_options(std::size_t initial_slots = 0) {
  return slot_pool_options::for_type<message>(initial_slots);
}
slot_pool_options protocol_options(std::size_t initial_slots = 0) {
  return slot_pool_options::for_type<protocol>(initial_slots);
}
template <class T>
constexpr std::size_t list_node_bytes = sizeof(T) + 2 * sizeof(void*);
template <class T>
constexpr std::size_t map_node_bytes = sizeof(T) + 4 * sizeof(void*);

// ---------------------------------------------------------------------------
// W1: box one message.
//
// The workload loops (box_one, run_batch, batch_outside, batch_inside) are
// always inlined into each contender's benchmark, so that every contender's
// loop takes the same shape. Left to itself, g++ inlined the W2 loop into
// some contenders' benchmarks, where the resource pointer then stays in a
// register, and not into others, where it is loaded from `source` again
// before each call: the same pool measured about 6 % apart in W2 outside
// through polymorphic_allocator and through memory_resource*.

template <class Source>
[[gnu::always_inline]] inline void box_one(benchmark::State& state,
                                           Source& source) {
  std::int64_t i = 0;
  for (auto _ : state) {
    auto* m = ::new (source.allocate(sizeof(message), alignof(message)))
        message{static_cast<std::uint64_t>(i), i, i + 1};
    benchmark::DoNotOptimize(m);
    std::int64_t sum = m->a + m->b;
    benchmark::DoNotOptimize(sum);
    std::destroy_at(m);
    source.deallocate(m, sizeof(message), alignof(message));
    ++i;
  }
  state.counters["msgs"] = 1;
}

// ---------------------------------------------------------------------------
// W2: batch of 100.

template <class Source>
[[gnu::always_inline]] inline void run_batch(
    Source& source, std::array<message*, batch_size>& live) {
  for (std::size_t k = 0; k < batch_size; ++k) {
    const auto i = static_cast<std::int64_t>(k);
    live[k] = ::new (source.allocate(sizeof(message), alignof(message)))
        message{k, i, -i};
  }
  benchmark::DoNotOptimize(live.data());
  benchmark::ClobberMemory();
  std::int64_t valid = 0;
  for (std::size_t k = 0; k < batch_size; ++k) {
    message* m = live[k];
    valid += (m->id == k && m->a + m->b == 0) ? 1 : 0;
    std::destroy_at(m);
    source.deallocate(m, sizeof(message), alignof(message));
  }
  if (valid != static_cast<std::int64_t>(batch_size)) {
    std::abort();
  }
}

template <class Source>
[[gnu::always_inline]] inline void batch_outside(benchmark::State& state,
                                                 Source& source) {
  std::array<message*, batch_size> live{};
  for (auto _ : state) {
    run_batch(source, live);
  }
  state.counters["msgs"] = batch_size;
}

// The pool (or resource) made and destroyed in each iteration, a local
// variable as in a user's function: `make` returns it by value (no copy or
// move: the pools are neither), `source_of` turns it into a source.
template <class Make, class SourceOf>
[[gnu::always_inline]] inline void batch_inside(benchmark::State& state,
                                                Make make, SourceOf source_of) {
  std::array<message*, batch_size> live{};
  for (auto _ : state) {
    auto resource = make();
    auto&& source = source_of(resource);
    run_batch(source, live);
  }
  state.counters["msgs"] = batch_size;
}

// ---------------------------------------------------------------------------
// W3: list churn.

template <class List>
[[gnu::always_inline]] inline void list_churn(
    benchmark::State& state, List& list,
    const std::function<void()>& after = {}) {
  for (auto _ : state) {
    for (std::size_t k = 0; k < churn_size; ++k) {
      list.emplace_back(msg::add{k, k + 1});
    }
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < churn_size; ++k) {
      sum += list.front().template get_if<msg::add>()->left;
      list.pop_front();
    }
    benchmark::DoNotOptimize(sum);
    if (after) {
      after();
    }
  }
  state.counters["msgs"] = churn_size;
}

// ---------------------------------------------------------------------------
// W4: map churn.

std::vector<std::uint64_t> churn_keys() {
  std::vector<std::uint64_t> keys(churn_size);
  std::iota(keys.begin(), keys.end(), std::uint64_t{1});
  std::uint64_t state = 88172645463325252ULL;  // xorshift: fixed order
  for (std::size_t k = keys.size() - 1; k > 0; --k) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::swap(keys[k], keys[state % (k + 1)]);
  }
  return keys;
}

template <class Map>
[[gnu::always_inline]] inline void map_churn(benchmark::State& state,
                                             Map& map) {
  const std::vector<std::uint64_t> keys = churn_keys();
  for (auto _ : state) {
    for (std::uint64_t key : keys) {
      map.try_emplace(key, msg::add{key, 2});
    }
    std::uint64_t erased = 0;
    for (std::uint64_t key : keys) {
      erased += map.erase(key);
    }
    benchmark::DoNotOptimize(erased);
  }
  state.counters["msgs"] = churn_size;
}

using value_pair = std::pair<const std::uint64_t, protocol>;
template <class Allocator>
using std_map = std::map<std::uint64_t, protocol, std::less<>, Allocator>;
template <class Allocator>
using node_map =
    absl::node_hash_map<std::uint64_t, protocol, absl::Hash<std::uint64_t>,
                        std::equal_to<>, Allocator>;

// ---------------------------------------------------------------------------
// W5: echo messages with a payload.

[[gnu::always_inline]] inline void echo_payloads(
    benchmark::State& state, std::pmr::memory_resource* resource,
    std::pmr::monotonic_buffer_resource* monotonic = nullptr) {
  for (auto _ : state) {
    {
      std::pmr::vector<protocol> messages(resource);
      messages.reserve(batch_size);
      for (std::size_t k = 0; k < batch_size; ++k) {
        messages.emplace_back(std::in_place_type<msg::echo>, payload);
      }
      std::size_t bytes = 0;
      for (const protocol& m : messages) {
        bytes += m.get_if<msg::echo>()->text.size();
      }
      benchmark::DoNotOptimize(bytes);
    }
    if (monotonic != nullptr) {
      monotonic->release();
    }
  }
  state.counters["msgs"] = batch_size;
}

// ---------------------------------------------------------------------------
// W6: memory of 1,000,000 live messages.

// Counts the bytes a resource takes from upstream (new_delete_resource).
class counting_resource final : public std::pmr::memory_resource {
 public:
  std::size_t bytes_in_use = 0;
  std::size_t peak_bytes = 0;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    void* p = std::pmr::new_delete_resource()->allocate(bytes, alignment);
    bytes_in_use += bytes;
    peak_bytes = std::max(peak_bytes, bytes_in_use);
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    bytes_in_use -= bytes;
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }
};

// Reads a "<field>: <n> kB" line of /proc/self/status, in bytes.
std::size_t proc_status_bytes(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::size_t length = std::strlen(field);
  while (std::getline(status, line)) {
    if (line.compare(0, length, field) == 0 && line[length] == ':') {
      return std::stoull(line.substr(length + 1)) * 1024;
    }
  }
  return 0;
}

// Resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
void reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
}

// Bytes of the glibc heap in use (small blocks and mmapped ones), headers
// included. Meaningless when another malloc replaces glibc's.
double glibc_heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

// Allocates `live_messages` messages from `source`, then frees them.
// Counters per message: rss_B_per_msg (peak RSS growth), heap_B_per_msg
// (glibc heap growth; -1 in the global-allocator binaries) and
// upstream_B_per_msg (what the resource took from its upstream, as counted
// by `upstream_bytes`, or -1 when it has none).
template <class Source>
void memory_of(benchmark::State& state, Source& source,
               const counting_resource* upstream = nullptr) {
  std::vector<message*> live(live_messages, nullptr);  // touched before
  double rss = 0;
  double heap = 0;
  double upstream_bytes = 0;
  for (auto _ : state) {
    malloc_trim(0);
    reset_peak_rss();
    const std::size_t rss_before = proc_status_bytes("VmRSS");
    const double heap_before = glibc_heap_in_use();
    const std::size_t upstream_before =
        upstream != nullptr ? upstream->bytes_in_use : 0;
    for (std::size_t k = 0; k < live_messages; ++k) {
      live[k] = ::new (source.allocate(sizeof(message), alignof(message)))
          message{k, 1, 2};
    }
    benchmark::DoNotOptimize(live.data());
    rss = static_cast<double>(proc_status_bytes("VmHWM") - rss_before);
    heap = glibc_heap_in_use() - heap_before;
    if (upstream != nullptr) {
      upstream_bytes =
          static_cast<double>(upstream->bytes_in_use - upstream_before);
    }
    for (std::size_t k = 0; k < live_messages; ++k) {
      source.deallocate(live[k], sizeof(message), alignof(message));
    }
  }
  const auto per_message = [](double bytes) {
    return bytes / static_cast<double>(live_messages);
  };
  state.counters["msgs"] = static_cast<double>(live_messages);
  state.counters["rss_B_per_msg"] = per_message(rss);
  state.counters["heap_B_per_msg"] =
      PROTOPOOL_BENCH_GLOBAL_ONLY ? -1.0 : per_message(heap);
  state.counters["upstream_B_per_msg"] =
      upstream != nullptr ? per_message(upstream_bytes) : -1.0;
}

// ---------------------------------------------------------------------------
// Registration. Every benchmark runs with the repetitions and min time given
// on the command line (the driver passes 15 repetitions), except W6 (once).

void add(const std::string& name,
         std::function<void(benchmark::State&)> function) {
  benchmark::RegisterBenchmark(
      name.c_str(), [function = std::move(function)](benchmark::State& state) {
        function(state);
      });
}

constexpr std::size_t monotonic_buffer_bytes = std::size_t{16} << 20;

// A monotonic resource over a 16 MiB buffer (released every `limit`
// messages by monotonic_source), and the source over it. The benchmark keeps
// the source in a local of its own, as for the other contenders: a member
// of the object whose address escapes would be loaded again before each
// call.
struct monotonic_contender {
  std::vector<std::byte> buffer =
      std::vector<std::byte>(monotonic_buffer_bytes);
  std::pmr::monotonic_buffer_resource monotonic{buffer.data(), buffer.size()};
  monotonic_source source() {
    return {monotonic, launder_pointer(&monotonic),
            monotonic_buffer_bytes / sizeof(message) - 1};
  }
};

// W1 and W2 (pool made outside) as the `run` of register_message_workload,
// inlined like the loops themselves.
struct box_one_workload {
  template <class Source>
  [[gnu::always_inline]] void operator()(benchmark::State& state,
                                         Source& source) const {
    box_one(state, source);
  }
};
struct batch_outside_workload {
  template <class Source>
  [[gnu::always_inline]] void operator()(benchmark::State& state,
                                         Source& source) const {
    batch_outside(state, source);
  }
};

// W1 and W2 (pool made outside) for every contender: `run(state, source)`.
template <class Run>
void register_message_workload(const std::string& workload, Run run) {
  add(workload + "/floor", [run](benchmark::State& s) {
    floor_free_list floor(sizeof(message));
    run(s, floor);
  });
  add(workload + "/malloc", [run](benchmark::State& s) {
    malloc_source source;
    run(s, source);
  });
  add(workload + "/new_delete", [run](benchmark::State& s) {
    new_source source;
    run(s, source);
  });
  add(workload + "/new_delete_resource", [run](benchmark::State& s) {
    resource_source source{launder_pointer(std::pmr::new_delete_resource())};
    run(s, source);
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add(workload + "/pool_static", [run](benchmark::State& s) {
    slot_pool_resource pool(message_options(batch_size));
    static_pool_source source{pool};
    run(s, source);
  });
  add(workload + "/pool_virtual", [run](benchmark::State& s) {
    slot_pool_resource pool(message_options(batch_size));
    resource_source source{launder_pointer(&pool)};
    run(s, source);
  });
  add(workload + "/dispatch_floor", [run](benchmark::State& s) {
    protopool::bench::dispatch_floor_resource ring(sizeof(message),
                                                   2 * batch_size);
    resource_source source{launder_pointer(&ring)};
    run(s, source);
  });
  // Issue 6: the cost of thread safety on one thread, beside the
  // single-threaded pool.
  add(workload + "/sync_slot_pool", [run](benchmark::State& s) {
    protopool::synchronized_slot_pool_resource pool(
        message_options(batch_size));
    resource_source source{launder_pointer(&pool)};
    run(s, source);
  });
  add(workload + "/pool_polyalloc", [run](benchmark::State& s) {
    slot_pool_resource pool(message_options(batch_size));
    polymorphic_source source{
        std::pmr::polymorphic_allocator<message>(launder_pointer(&pool))};
    run(s, source);
  });
  add(workload + "/unsync_pool", [run](benchmark::State& s) {
    std::pmr::unsynchronized_pool_resource pool;
    resource_source source{launder_pointer(&pool)};
    run(s, source);
  });
  add(workload + "/sync_pool", [run](benchmark::State& s) {
    std::pmr::synchronized_pool_resource pool;
    resource_source source{launder_pointer(&pool)};
    run(s, source);
  });
  add(workload + "/monotonic", [run](benchmark::State& s) {
    monotonic_contender contender;
    monotonic_source source = contender.source();
    run(s, source);
  });
#if PROTOPOOL_BENCH_HAVE_FOONATHAN
  add(workload + "/foonathan_memory_pool", [run](benchmark::State& s) {
    foonathan::memory::memory_pool<> pool(sizeof(message), 4096 * 32);
    foonathan_source source{pool};
    run(s, source);
  });
#endif
#if PROTOPOOL_BENCH_HAVE_BOOST_PMR
  add(workload + "/boost_unsync_pool", [run](benchmark::State& s) {
    boost::container::pmr::unsynchronized_pool_resource pool;
    auto source = boost_source_of(pool);
    run(s, source);
  });
  add(workload + "/boost_sync_pool", [run](benchmark::State& s) {
    boost::container::pmr::synchronized_pool_resource pool;
    auto source = boost_source_of(pool);
    run(s, source);
  });
#endif
}

// W1 through protocol's own API: make_box<protocol>(resource, msg::add).
[[gnu::always_inline]] inline void box_protocol(
    benchmark::State& state, std::pmr::memory_resource* resource) {
  std::uint64_t i = 0;
  for (auto _ : state) {
    auto boxed = protopool::make_box<protocol>(resource, msg::add{i, i + 1});
    benchmark::DoNotOptimize(boxed.get());
    std::uint64_t sum =
        boxed->get_if<msg::add>()->left + boxed->get_if<msg::add>()->right;
    benchmark::DoNotOptimize(sum);
    ++i;
  }
  state.counters["msgs"] = 1;
}

void register_box_protocol() {
  add("W1_make_box_protocol/new_delete_resource", [](benchmark::State& s) {
    box_protocol(s, launder_pointer(std::pmr::new_delete_resource()));
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add("W1_make_box_protocol/pool_virtual", [](benchmark::State& s) {
    slot_pool_resource pool(slot_pool_options::for_type<protocol>(16));
    box_protocol(s, launder_pointer(&pool));
  });
  add("W1_make_box_protocol/unsync_pool", [](benchmark::State& s) {
    std::pmr::unsynchronized_pool_resource pool;
    box_protocol(s, launder_pointer(&pool));
  });
}

// W2 with the pool (or resource) made in each iteration. The global
// allocators have nothing to make: their `make` hands back an empty object,
// so their iteration is the batch alone, as it is for a user who calls
// malloc (or new_delete_resource) and makes no pool.
struct nothing_to_make {};
nothing_to_make make_nothing() { return {}; }

void register_batch_inside() {
  const std::string workload = "W2_batch_100_inside";
  add(workload + "/floor", [](benchmark::State& s) {
    batch_inside(
        s, [] { return floor_free_list(sizeof(message), batch_size); },
        [](floor_free_list& floor) -> floor_free_list& { return floor; });
  });
  add(workload + "/malloc", [](benchmark::State& s) {
    batch_inside(s, make_nothing,
                 [](nothing_to_make&) { return malloc_source{}; });
  });
  add(workload + "/new_delete", [](benchmark::State& s) {
    batch_inside(s, make_nothing,
                 [](nothing_to_make&) { return new_source{}; });
  });
  add(workload + "/new_delete_resource", [](benchmark::State& s) {
    batch_inside(s, make_nothing, [](nothing_to_make&) {
      return resource_source{launder_pointer(std::pmr::new_delete_resource())};
    });
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add(workload + "/pool_static", [](benchmark::State& s) {
    batch_inside(
        s, [] { return slot_pool_resource(message_options(batch_size)); },
        [](slot_pool_resource& pool) { return static_pool_source{pool}; });
  });
  add(workload + "/pool_virtual", [](benchmark::State& s) {
    batch_inside(
        s, [] { return slot_pool_resource(message_options(batch_size)); },
        [](slot_pool_resource& pool) {
          return resource_source{launder_pointer(&pool)};
        });
  });
  // The least a memory_resource made for each batch can cost: the dispatch
  // floor over a 100-slot arena from the global heap (the pool's one chunk
  // comes from new_delete_resource).
  add(workload + "/dispatch_floor", [](benchmark::State& s) {
    using protopool::bench::dispatch_floor_resource;
    batch_inside(
        s, [] { return dispatch_floor_resource(sizeof(message), batch_size); },
        [](dispatch_floor_resource& ring) {
          return resource_source{launder_pointer(&ring)};
        });
  });
  add(workload + "/unsync_pool", [](benchmark::State& s) {
    batch_inside(
        s, [] { return std::pmr::unsynchronized_pool_resource(); },
        [](std::pmr::unsynchronized_pool_resource& pool) {
          return resource_source{launder_pointer(&pool)};
        });
  });
  add(workload + "/sync_pool", [](benchmark::State& s) {
    batch_inside(
        s, [] { return std::pmr::synchronized_pool_resource(); },
        [](std::pmr::synchronized_pool_resource& pool) {
          return resource_source{launder_pointer(&pool)};
        });
  });
  add(workload + "/monotonic", [](benchmark::State& s) {
    batch_inside(
        s,
        [] {
          // Its first buffer holds the batch, as the pools' first chunk does.
          return std::pmr::monotonic_buffer_resource(batch_size *
                                                     sizeof(message));
        },
        [](std::pmr::monotonic_buffer_resource& monotonic) {
          return resource_source{launder_pointer(&monotonic)};
        });
  });
#if PROTOPOOL_BENCH_HAVE_FOONATHAN
  add(workload + "/foonathan_memory_pool", [](benchmark::State& s) {
    batch_inside(
        s,
        [] {
          return foonathan::memory::memory_pool<>(
              sizeof(message), foonathan::memory::memory_pool<>::min_block_size(
                                   sizeof(message), batch_size));
        },
        [](foonathan::memory::memory_pool<>& pool) {
          return foonathan_source{pool};
        });
  });
#endif
#if PROTOPOOL_BENCH_HAVE_BOOST_PMR
  add(workload + "/boost_unsync_pool", [](benchmark::State& s) {
    using boost_pool = boost::container::pmr::unsynchronized_pool_resource;
    batch_inside(
        s, [] { return boost_pool(); },
        [](boost_pool& pool) { return boost_source_of(pool); });
  });
#endif
}

// W3, W4 and W5 through a memory_resource: the resources that are one.
// `run(state, resource)` runs the workload. (monotonic_buffer_resource,
// which must be released after each iteration, is registered by each
// workload itself.)
template <class Run>
void register_resource_workload(const std::string& workload,
                                std::size_t slot_bytes, Run run) {
  add(workload + "/new_delete_resource", [run](benchmark::State& s) {
    run(s, launder_pointer(std::pmr::new_delete_resource()));
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add(workload + "/pool_pmr", [run, slot_bytes](benchmark::State& s) {
    slot_pool_resource pool({.slot_size = slot_bytes,
                             .slot_alignment = alignof(std::uint64_t),
                             .initial_slots = churn_size});
    run(s, launder_pointer(&pool));
    if (pool.stats().oversize_allocations >
        static_cast<std::size_t>(s.iterations())) {
      s.SkipWithError("slot too small: most requests were oversize");
    }
  });
  add(workload + "/unsync_pool", [run](benchmark::State& s) {
    std::pmr::unsynchronized_pool_resource pool;
    run(s, launder_pointer(&pool));
  });
  add(workload + "/sync_pool", [run](benchmark::State& s) {
    std::pmr::synchronized_pool_resource pool;
    run(s, launder_pointer(&pool));
  });
}

// The W3-W5 workloads through a memory_resource, as the `run` of
// register_resource_workload. Like the workload functions they call, they
// are always inlined, so every contender's benchmark has its own copy of
// the timed loop, as in W1_box_one and W2. One shared copy made a
// contender's time depend on which contender ran before it (the bench
// audit: W5 pool_pmr 5.5 ns per message alone, 6.3-6.6 ns right after
// new_delete_resource).
struct list_churn_run {
  [[gnu::always_inline]] void operator()(
      benchmark::State& s, std::pmr::memory_resource* resource) const {
    std::pmr::list<protocol> list(resource);
    list_churn(s, list);
  }
};
struct map_churn_run {
  [[gnu::always_inline]] void operator()(
      benchmark::State& s, std::pmr::memory_resource* resource) const {
    std_map<std::pmr::polymorphic_allocator<value_pair>> map(resource);
    map_churn(s, map);
  }
};
struct node_map_churn_run {
  [[gnu::always_inline]] void operator()(
      benchmark::State& s, std::pmr::memory_resource* resource) const {
    node_map<std::pmr::polymorphic_allocator<value_pair>> map(resource);
    map.reserve(churn_size);
    map_churn(s, map);
  }
};
struct echo_payloads_run {
  [[gnu::always_inline]] void operator()(
      benchmark::State& s, std::pmr::memory_resource* resource) const {
    echo_payloads(s, resource);
  }
};

void register_containers() {
  // W3: list churn.
  constexpr std::size_t list_slot = list_node_bytes<protocol>;
  add("W3_list_churn/std_list_global_new", [](benchmark::State& s) {
    std::list<protocol, global_new_allocator<protocol>> list;
    list_churn(s, list);
  });
  register_resource_workload("W3_list_churn", list_slot, list_churn_run{});
  add("W3_list_churn/floor", [](benchmark::State& s) {
    floor_free_list floor(list_slot);
    std::list<protocol, floor_allocator<protocol, list_slot>> list(
        floor_allocator<protocol, list_slot>{floor});
    list_churn(s, list);
  });
  if (!PROTOPOOL_BENCH_GLOBAL_ONLY) {
    add("W3_list_churn/pool_static", [](benchmark::State& s) {
      // The stride pool_pmr and the floor have (72 bytes, not 80).
      slot_pool_resource pool({.slot_size = list_slot,
                               .slot_alignment = alignof(std::uint64_t),
                               .initial_slots = churn_size});
      std::list<protocol, slot_allocator<protocol>> list{
          slot_allocator<protocol>(pool)};
      list_churn(s, list);
    });
    add("W3_list_churn/dispatch_floor", [](benchmark::State& s) {
      protopool::bench::dispatch_floor_resource ring(list_slot, 2 * churn_size);
      std::pmr::list<protocol> list(launder_pointer(&ring));
      list_churn(s, list);
    });
    add("W3_list_churn/monotonic", [](benchmark::State& s) {
      // Its first buffer holds an iteration's nodes, as the pools' first
      // chunk does.
      std::pmr::monotonic_buffer_resource monotonic(churn_size * list_slot);
      std::pmr::list<protocol> list(launder_pointer(&monotonic));
      list_churn(s, list, [&monotonic] { monotonic.release(); });
    });
  }

  // W4: map churn, std::map and absl::node_hash_map.
  constexpr std::size_t map_slot = map_node_bytes<value_pair>;
  // absl::node_hash_map's nodes are the bare pair (no tree links).
  constexpr std::size_t node_slot = sizeof(value_pair);
  add("W4_map_churn/std_map_global_new", [](benchmark::State& s) {
    std_map<global_new_allocator<value_pair>> map;
    map_churn(s, map);
  });
  add("W4_map_churn/floor", [](benchmark::State& s) {
    floor_free_list floor(map_slot);
    using allocator = floor_allocator<value_pair, map_slot>;
    std_map<allocator> map{allocator{floor}};
    map_churn(s, map);
  });
  register_resource_workload("W4_map_churn", map_slot, map_churn_run{});
  add("W4_node_hash_map_churn/node_hash_map_global_new",
      [](benchmark::State& s) {
        node_map<global_new_allocator<value_pair>> map;
        map.reserve(churn_size);
        map_churn(s, map);
      });
  add("W4_node_hash_map_churn/floor", [](benchmark::State& s) {
    floor_free_list floor(node_slot);
    using allocator = floor_allocator<value_pair, node_slot>;
    node_map<allocator> map{0, absl::Hash<std::uint64_t>(), std::equal_to<>(),
                            allocator{floor}};
    map.reserve(churn_size);
    map_churn(s, map);
  });
  register_resource_workload("W4_node_hash_map_churn", node_slot,
                             node_map_churn_run{});
  if (!PROTOPOOL_BENCH_GLOBAL_ONLY) {
    add("W4_map_churn/pool_static", [](benchmark::State& s) {
      slot_pool_resource pool(
          {.slot_size = map_slot, .initial_slots = churn_size});
      std_map<slot_allocator<value_pair>> map{slot_allocator<value_pair>(pool)};
      map_churn(s, map);
    });
    add("W4_node_hash_map_churn/pool_static", [](benchmark::State& s) {
      slot_pool_resource pool(
          {.slot_size = node_slot, .initial_slots = churn_size});
      using allocator = slot_allocator<value_pair>;
      node_map<allocator> map{0, absl::Hash<std::uint64_t>(), std::equal_to<>(),
                              allocator(pool)};
      map.reserve(churn_size);
      map_churn(s, map);
    });
  }

  // W5: echo payloads.
  register_resource_workload("W5_echo_payload", 64, echo_payloads_run{});
  if (!PROTOPOOL_BENCH_GLOBAL_ONLY) {
    add("W5_echo_payload/monotonic", [](benchmark::State& s) {
      // Its first buffer holds an iteration: the vector (batch_size
      // protocols) and the payloads.
      std::pmr::monotonic_buffer_resource monotonic(
          batch_size * (sizeof(protocol) + payload.size() + 1));
      echo_payloads(s, launder_pointer(&monotonic), &monotonic);
    });
  }
}

void register_memory() {
  const auto once = [](benchmark::internal::Benchmark* b) {
    b->Iterations(1)->Repetitions(1);
  };
  const auto add_once = [&once](const std::string& name, auto function) {
    once(benchmark::RegisterBenchmark(name.c_str(), function));
  };
  add_once("W6_memory/malloc", [](benchmark::State& s) {
    malloc_source source;
    memory_of(s, source);
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add_once("W6_memory/new_delete_resource", [](benchmark::State& s) {
    resource_source source{launder_pointer(std::pmr::new_delete_resource())};
    memory_of(s, source);
  });
  add_once("W6_memory/pool_virtual", [](benchmark::State& s) {
    counting_resource upstream;
    slot_pool_resource pool(message_options(), &upstream);
    resource_source source{launder_pointer(&pool)};
    memory_of(s, source, &upstream);
  });
  add_once("W6_memory/unsync_pool", [](benchmark::State& s) {
    counting_resource upstream;
    std::pmr::unsynchronized_pool_resource pool(&upstream);
    resource_source source{launder_pointer(&pool)};
    memory_of(s, source, &upstream);
  });
  add_once("W6_memory/monotonic", [](benchmark::State& s) {
    counting_resource upstream;
    std::pmr::monotonic_buffer_resource monotonic(&upstream);
    resource_source source{launder_pointer(&monotonic)};
    memory_of(s, source, &upstream);
  });
#if PROTOPOOL_BENCH_HAVE_FOONATHAN
  add_once("W6_memory/foonathan_memory_pool", [](benchmark::State& s) {
    foonathan::memory::memory_pool<> pool(sizeof(message), 4096 * 32);
    foonathan_source source{pool};
    memory_of(s, source);
  });
#endif
#if PROTOPOOL_BENCH_HAVE_BOOST_PMR
  add_once("W6_memory/boost_unsync_pool", [](benchmark::State& s) {
    boost::container::pmr::unsynchronized_pool_resource pool;
    auto source = boost_source_of(pool);
    memory_of(s, source);
  });
#endif
}

// ---------------------------------------------------------------------------
// W7, cross-thread: a producer thread makes `protocol` messages
// (msg::add{k, k + 1}) and hands them through a bounded single-producer
// single-consumer ring to a consumer thread, which validates, destroys and
// frees each one. Wall time per message (the counter wall_clock tells the
// report). "floor" hands out preallocated slots and frees nothing.
// W7_same_thread makes, validates and frees the same messages on one
// thread: the cost of thread safety beside the single-threaded pool.

constexpr std::size_t cross_messages = 100'000;
constexpr std::size_t ring_capacity = 1024;

// Makes message k of a W7 run in `source`'s memory (every contender).
template <class Source>
protocol* make_message(Source& source, std::uint64_t k) {
  return ::new (source.allocate(sizeof(protocol), alignof(protocol)))
      protocol(msg::add{k, k + 1});
}

// Checks that `m` is message k of the run (an add of k and k + 1), then
// destroys and frees it. Returns whether it was.
template <class Source>
bool consume_message(Source& source, protocol* m, std::uint64_t k) {
  const msg::add* add = m->get_if<msg::add>();
  const bool valid = add != nullptr && add->left == k && add->right == k + 1;
  std::destroy_at(m);
  source.deallocate(m, sizeof(protocol), alignof(protocol));
  return valid;
}

constexpr const char* invalid_message_error =
    "a message arrived that is not msg::add{k, k + 1}";

class spsc_ring {
 public:
  void push(protocol* m) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    while (head - tail_.load(std::memory_order_acquire) == ring_capacity) {
      std::this_thread::yield();
    }
    slots_[head % ring_capacity] = m;
    head_.store(head + 1, std::memory_order_release);
  }
  // Calls `consume(m)` on the next message (waiting for one), then frees
  // its ring slot.
  template <class Consume>
  void pop(Consume consume) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    while (head_.load(std::memory_order_acquire) == tail) {
      std::this_thread::yield();
    }
    consume(slots_[tail % ring_capacity]);
    tail_.store(tail + 1, std::memory_order_release);
  }

 private:
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::array<protocol*, ring_capacity> slots_{};
};

template <class Source>
void cross_thread(benchmark::State& state, Source& source) {
  for (auto _ : state) {
    spsc_ring ring;
    std::size_t invalid = 0;
    std::thread consumer([&] {
      for (std::uint64_t k = 0; k < cross_messages; ++k) {
        ring.pop([&](protocol* m) {
          if (!consume_message(source, m, k)) [[unlikely]] {
            ++invalid;
          }
        });
      }
    });
    for (std::uint64_t k = 0; k < cross_messages; ++k) {
      ring.push(make_message(source, k));
    }
    consumer.join();
    if (invalid != 0) [[unlikely]] {
      state.SkipWithError(invalid_message_error);
      break;
    }
  }
  state.counters["msgs"] = cross_messages;
  state.counters["wall_clock"] = 1;
}

template <class Source>
void same_thread(benchmark::State& state, Source& source) {
  std::uint64_t k = 0;
  for (auto _ : state) {
    protocol* m = make_message(source, k);
    benchmark::DoNotOptimize(m);
    if (!consume_message(source, m, k)) [[unlikely]] {
      state.SkipWithError(invalid_message_error);
      break;
    }
    ++k;
  }
  state.counters["msgs"] = 1;
}

// The floor of W7: slots from a preallocated array, nothing freed. It has
// more slots than can be live at once (the ring's, plus one being made).
struct preallocated_source {
  struct alignas(protocol) slot {
    std::byte bytes[sizeof(protocol)];
  };
  std::vector<slot> slots = std::vector<slot>(2 * ring_capacity + 1);
  std::size_t next = 0;
  void* allocate(std::size_t, std::size_t) {
    next = next + 1 == slots.size() ? 0 : next + 1;
    return &slots[next];
  }
  void deallocate(void*, std::size_t, std::size_t) {}
};

// slot_pool_resource made thread-safe by a mutex (the simple alternative).
struct mutex_pool_source {
  std::mutex mutex;
  slot_pool_resource pool{protocol_options(batch_size)};
  void* allocate(std::size_t, std::size_t) {
    const std::lock_guard<std::mutex> lock(mutex);
    return pool.allocate_slot();
  }
  void deallocate(void* p, std::size_t, std::size_t) {
    const std::lock_guard<std::mutex> lock(mutex);
    pool.deallocate_slot(p);
  }
};

void register_cross_thread() {
  const auto add_cross = [](const std::string& contender, auto function) {
    return benchmark::RegisterBenchmark(
               ("W7_cross_thread/" + contender).c_str(), function)
        ->UseRealTime()
        ->Iterations(2);
  };
  add_cross("floor", [](benchmark::State& s) {
    preallocated_source source;
    cross_thread(s, source);
  });
  add_cross("new_delete_resource", [](benchmark::State& s) {
    resource_source source{launder_pointer(std::pmr::new_delete_resource())};
    cross_thread(s, source);
  });
  add_cross("new_delete", [](benchmark::State& s) {
    new_source source;
    cross_thread(s, source);
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add_cross("sync_slot_pool", [](benchmark::State& s) {
    protopool::synchronized_slot_pool_resource pool(protocol_options());
    resource_source source{launder_pointer(&pool)};
    cross_thread(s, source);
  });
  add_cross("pool_with_mutex", [](benchmark::State& s) {
    mutex_pool_source source;
    cross_thread(s, source);
  });
  // libstdc++'s pool frees another thread's blocks slowly, and how slowly
  // depends on how the two threads interleave: single runs measured from
  // 0.05 to 17 us per message here. One iteration per repetition keeps the
  // report fast; five repetitions give a median, not one sample.
  add_cross("sync_pool",
            [](benchmark::State& s) {
              std::pmr::synchronized_pool_resource pool;
              resource_source source{launder_pointer(&pool)};
              cross_thread(s, source);
            })
      ->Iterations(1)
      ->Repetitions(5);
}

// W7_same_thread: the thread-safe contenders beside the single-threaded
// pool (pool_virtual), on one thread.
void register_same_thread() {
  const std::string workload = "W7_same_thread";
  add(workload + "/floor", [](benchmark::State& s) {
    floor_free_list floor(sizeof(protocol));
    same_thread(s, floor);
  });
  add(workload + "/new_delete_resource", [](benchmark::State& s) {
    resource_source source{launder_pointer(std::pmr::new_delete_resource())};
    same_thread(s, source);
  });
  add(workload + "/new_delete", [](benchmark::State& s) {
    new_source source;
    same_thread(s, source);
  });
  if (PROTOPOOL_BENCH_GLOBAL_ONLY) {
    return;
  }
  add(workload + "/pool_virtual", [](benchmark::State& s) {
    slot_pool_resource pool(protocol_options());
    resource_source source{launder_pointer(&pool)};
    same_thread(s, source);
  });
  add(workload + "/sync_slot_pool", [](benchmark::State& s) {
    protopool::synchronized_slot_pool_resource pool(protocol_options());
    resource_source source{launder_pointer(&pool)};
    same_thread(s, source);
  });
  add(workload + "/pool_with_mutex", [](benchmark::State& s) {
    mutex_pool_source source;
    same_thread(s, source);
  });
  add(workload + "/sync_pool", [](benchmark::State& s) {
    std::pmr::synchronized_pool_resource pool;
    resource_source source{launder_pointer(&pool)};
    same_thread(s, source);
  });
}

// ---------------------------------------------------------------------------
// Output: the console shows each benchmark's aggregates; every repetition
// goes to the TSV file the report reads:
//   run <binary> <name> <repetition> <real ns/iter> <cpu ns/iter>
//       <iterations> <counter>=<value>...
//   info <binary> <key> <value>

class tsv_reporter final : public benchmark::ConsoleReporter {
 public:
  explicit tsv_reporter(const std::string& path)
      : ConsoleReporter(OO_Tabular), tsv_(path) {
    if (!tsv_) {
      std::fprintf(stderr, "protopool_bench: cannot write %s\n", path.c_str());
      std::exit(2);
    }
  }

  void info(const std::string& key, const std::string& value) {
    tsv_ << "info\t" << PROTOPOOL_BENCH_BINARY << '\t' << key << '\t' << value
         << '\n';
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> aggregates;
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Aggregate) {
        aggregates.push_back(run);
        continue;
      }
      if (run.error_occurred) {
        tsv_ << "error\t" << PROTOPOOL_BENCH_BINARY << '\t'
             << run.benchmark_name() << '\t' << run.error_message << '\n';
        aggregates.push_back(run);
        continue;
      }
      // Times in nanoseconds per iteration whatever a benchmark's Unit():
      // protopool_report reads them as such.
      const double to_ns =
          1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      tsv_ << "run\t" << PROTOPOOL_BENCH_BINARY << '\t' << run.benchmark_name()
           << '\t' << run.repetition_index << '\t'
           << run.GetAdjustedRealTime() * to_ns << '\t'
           << run.GetAdjustedCPUTime() * to_ns << '\t' << run.iterations;
      for (const auto& [name, counter] : run.counters) {
        tsv_ << '\t' << name << '=' << counter.value;
      }
      tsv_ << '\n';
      if (run.repetitions <= 1) {
        aggregates.push_back(run);
      }
    }
    tsv_.flush();
    if (!aggregates.empty()) {
      ConsoleReporter::ReportRuns(aggregates);
    }
  }

 private:
  std::ofstream tsv_;
};

// Names the malloc this binary really runs with (interposition checked,
// not assumed).
std::string global_allocator() {
  if (dlsym(RTLD_DEFAULT, "mi_version") != nullptr) {
    return "mimalloc";
  }
  if (dlsym(RTLD_DEFAULT, "mallctl") != nullptr) {
    return "jemalloc";
  }
  if (dlsym(RTLD_DEFAULT, "tc_version") != nullptr) {
    return "tcmalloc";
  }
  return "glibc";
}

}  // namespace

int main(int argc, char** argv) {
  // Google Benchmark takes its --benchmark_* flags out of argv; Abseil then
  // parses what is left, refusing unknown flags and stray arguments.
  benchmark::Initialize(&argc, argv);
  if (absl::ParseCommandLine(argc, argv).size() != 1) {
    std::fprintf(stderr, "protopool_bench: takes flags only\n");
    return 1;
  }
  const std::string tsv_path = absl::GetFlag(FLAGS_tsv);

  const std::string allocator = global_allocator();
  std::printf("protopool_bench (%s): global allocator in use: %s\n",
              PROTOPOOL_BENCH_BINARY, allocator.c_str());
  if (!PROTOPOOL_BENCH_GLOBAL_ONLY) {
    if (!PROTOPOOL_BENCH_HAVE_FOONATHAN) {
      std::printf(
          "skipped: foonathan/memory memory_pool (libfoonathan-memory-dev "
          "not found at configure time)\n");
    }
    if (!PROTOPOOL_BENCH_HAVE_BOOST_PMR) {
      std::printf(
          "skipped: Boost.Container pmr pools (libboost-container-dev not "
          "found at configure time)\n");
    }
  }
  if (allocator != PROTOPOOL_BENCH_BINARY) {
    std::fprintf(stderr,
                 "protopool_bench: built for %s but running with %s: "
                 "interposition failed\n",
                 PROTOPOOL_BENCH_BINARY, allocator.c_str());
    return 1;
  }

  register_message_workload("W1_box_one", box_one_workload{});
  register_message_workload("W2_batch_100_outside", batch_outside_workload{});
  register_box_protocol();
  register_batch_inside();
  register_containers();
  register_memory();
  register_cross_thread();
  register_same_thread();

  if (tsv_path.empty()) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    tsv_reporter reporter(tsv_path);
    reporter.info("global_allocator", allocator);
    reporter.info("machine", protopool::bench::machine_description());
    reporter.info("compiler", PROTOPOOL_BENCH_COMPILER);
    reporter.info("flags", PROTOPOOL_BENCH_FLAGS);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  }
  benchmark::Shutdown();
  return 0;
}
