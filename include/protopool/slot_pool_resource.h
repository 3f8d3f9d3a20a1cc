// File: protopool/slot_pool_resource.h
//
// PURPOSE: a single-threaded fixed-slot message pool that is a
// std::pmr::memory_resource.
//
// CLASSES:
//   protopool::oversize_policy     what to do with requests a slot cannot hold
//   protopool::slot_pool_options   construction options (an aggregate)
//   protopool::slot_pool_stats     a snapshot of the pool's counters
//   protopool::slot_pool_resource  the pool itself
//
// USAGE:
//   protopool::slot_pool_resource pool(
//       protopool::slot_pool_options{.slot_size = 32, .initial_slots = 64});
//   std::pmr::list<int> numbers(&pool);  // every node is one slot
//   numbers.push_back(42);
//
// Every request with `bytes <= slot_size` and `alignment <= slot_alignment`
// is served from an equal-size slot; slots are carved from chunks taken from
// an upstream resource and recycled through an O(1) LIFO free list. The
// destructor returns every chunk to upstream.
#pragma once

#include <protopool/config.h>

#include <cstddef>
#include <memory>
#include <memory_resource>

namespace protopool {

/// What a `slot_pool_resource` does with a request that does not fit a slot
/// (`bytes > slot_size` or `alignment > slot_alignment`).
enum class oversize_policy {
  upstream,        ///< forward it to the upstream resource and count it
  throw_bad_alloc  ///< refuse it with `std::bad_alloc` (strict mode)
};

/// Construction options of a slot pool. An aggregate, so designated
/// initializers work: `slot_pool_options{.slot_size = 24, .max_slots = 100}`.
/// Validated by the pool's constructor (`std::invalid_argument` naming the
/// field).
struct slot_pool_options {
  /// Largest request, in bytes, served from a slot. Must be > 0.
  std::size_t slot_size = 0;
  /// Largest alignment served from a slot. Must be a power of two.
  std::size_t slot_alignment = alignof(std::max_align_t);
  /// Slots carved in one upstream call at construction: no further upstream
  /// call happens until they are all in use (or, with
  /// `PROTOPOOL_QUARANTINE`, in use or quarantined).
  std::size_t initial_slots = 0;
  /// 0: grow without bound. Otherwise a hard capacity in slots; when it is
  /// reached, allocation throws `std::bad_alloc`. Must be 0 or
  /// `>= initial_slots`.
  std::size_t max_slots = 0;
  /// Growth chunks double in size up to this many slots. Must be > 0.
  std::size_t max_slots_per_chunk = 4096;
  /// What to do with requests that do not fit a slot.
  oversize_policy oversize = oversize_policy::upstream;

  /// Returns options whose slots hold exactly one `T` (`slot_size =
  /// sizeof(T)`, `slot_alignment = alignof(T)`), with `initial_slots`
  /// preallocated and every other field at its default.
  template <class T>
  static constexpr slot_pool_options for_type(
      std::size_t initial_slots = 0) noexcept {
    slot_pool_options options;
    options.slot_size = sizeof(T);
    options.slot_alignment = alignof(T);
    options.initial_slots = initial_slots;
    return options;
  }
};

/// A snapshot of a pool's counters.
struct slot_pool_stats {
  std::size_t slots_in_use;          ///< slots handed out and not yet freed
  std::size_t high_water;            ///< most slots in use at once, ever
  std::size_t capacity;              ///< slots in the chunks held now
  std::size_t chunks;                ///< chunks held now
  std::size_t upstream_bytes;        ///< bytes of those chunks
  std::size_t oversize_allocations;  ///< requests forwarded to upstream, ever
};

/// A fixed-slot pool: a `std::pmr::memory_resource` that serves every
/// request up to `slot_size` bytes and `slot_alignment` alignment from
/// equal-size slots.
///
/// Use it when many objects of one size class (messages, list or map nodes,
/// boxes) are made and dropped at a high rate: allocation and deallocation
/// are a free-list pop and push, with no lock, no search and no system call.
/// Do not use it for requests of widely varying sizes (each slot is as large
/// as the largest request it takes), nor from several threads at once: use
/// `synchronized_slot_pool_resource` for that.
///
/// Behaviour:
/// - A request with `bytes <= slot_size` and `alignment <= slot_alignment`
///   (`bytes == 0` included) gets a distinct slot aligned to
///   `slot_alignment` (and at least to `alignof(void*)`). The slot stride
///   (`slot_stride()`) is `slot_size` rounded up to at least `sizeof(void*)`
///   (room for the free-list link), then to a multiple of `slot_alignment`
///   and of `alignof(void*)`: `{.slot_size = 9, .slot_alignment = 1}` gives
///   16 on a 64-bit machine. `options()` reports what was asked for.
/// - Free slots are reused last-in first-out: the slot freed last is the next
///   one handed out, still warm in cache.
/// - When no slot is free, a chunk is taken from upstream in one call. The
///   first chunk holds `initial_slots` (taken at construction) or 16 slots;
///   each next chunk doubles, up to `max_slots_per_chunk` (and never beyond
///   `max_slots`).
/// - With `max_slots` reached, allocation throws `std::bad_alloc`; the pool
///   stays usable and serves again once slots are freed.
/// - A request that does not fit a slot is forwarded to upstream and counted
///   in `oversize_allocations` (`oversize_policy::upstream`), or refused with
///   `std::bad_alloc` (`oversize_policy::throw_bad_alloc`). `deallocate`
///   routes by the same rule, so it must be given the size and alignment
///   that were allocated (the `memory_resource` contract).
/// - An alignment that is not a power of two is refused with
///   `std::invalid_argument` when the request does not fit a slot (any
///   build) and, in checked builds, when it does (otherwise undefined).
/// - If upstream throws, the exception propagates and the pool is unchanged.
/// - `is_equal` is identity: memory from one pool cannot be freed by another.
/// - If the environment variable `PROTOPOOL_PASS_THROUGH` is `1` when the
///   pool is made, every request goes straight to upstream (so malloc-level
///   tools see every message); the counters still count slot-sized requests.
///   Each slot-sized request takes `slot_size` bytes from upstream, aligned
///   as a slot is (`slot_alignment`, at least `alignof(void*)`), and
///   `max_slots` stays a hard capacity.
///
/// Checked builds (`PROTOPOOL_CHECKED`, on in the `dev` presets) diagnose on
/// stderr and `std::abort()` on: a double free, a pointer this pool does not
/// own, a pointer inside a slot but not at its start, and a `deallocate`
/// whose size/alignment routes differently from the slot the pointer is in.
/// Slots still in use when the pool is destroyed or `release()`d are
/// reported on stderr (count and addresses).
/// Release builds pay nothing for these checks. In AddressSanitizer builds
/// a free of a poisoned address (a double free, a slot never handed out,
/// a pointer inside a slot past its requested bytes) gets the same
/// one-line diagnosis, then ASan's own report with the stack of the
/// deallocation, and ends as ASan is configured (exit status 1 by default;
/// `ASAN_OPTIONS=abort_on_error=1` aborts).
///
/// Memory checkers: in checked, valgrind (`PROTOPOOL_VALGRIND`) and
/// AddressSanitizer builds, free and never-handed-out slots are poisoned for
/// ASan and no-access for valgrind (the pool is a valgrind mempool), so a
/// use-after-free or an overflow past the requested size inside a slot is
/// reported as with malloc. If such a build's pool is destroyed with slots
/// in use while a tool watches (ASan build, or running under valgrind), it
/// keeps the chunks holding them instead of returning them, so valgrind
/// reports each leaked slot with its allocation stack and LeakSanitizer
/// reports the chunk (`release()` still returns everything). If the
/// environment variable `PROTOPOOL_QUARANTINE` is a number K when the pool
/// is made, a freed slot is reused only after K other frees (FIFO), so a
/// use-after-free hits a poisoned slot rather than a reused one (at
/// `max_slots`, quarantined slots are reused early rather than failing).
///
/// Thread safety: none. One thread at a time may use a pool (including its
/// `stats()`); distinct pools are independent.
class slot_pool_resource final : public std::pmr::memory_resource {
 public:
  /// Makes a pool with `options`, taking chunks from `upstream`. Carves
  /// `options.initial_slots` slots now, in one upstream call (none if 0).
  /// Throws `std::invalid_argument`, whose message names the field, if
  /// `slot_size == 0`, `slot_alignment` is not a power of two,
  /// `max_slots_per_chunk == 0`, `max_slots` is nonzero and less than
  /// `initial_slots`, `oversize` is not an enumerator, `slot_size` or
  /// `slot_alignment` is above `SIZE_MAX / 4`, the slot stride times
  /// `max_slots_per_chunk` or `initial_slots` is above `SIZE_MAX / 2` (so
  /// no chunk size can overflow), or `upstream` is null. Propagates
  /// whatever upstream throws.
  explicit slot_pool_resource(
      const slot_pool_options& options,
      std::pmr::memory_resource* upstream = std::pmr::get_default_resource());

  /// Returns every chunk to upstream. Checked builds report slots still in
  /// use. Oversize blocks not yet deallocated are not tracked and stay the
  /// caller's.
  ~slot_pool_resource() override;

  slot_pool_resource(const slot_pool_resource&) = delete;
  slot_pool_resource& operator=(const slot_pool_resource&) = delete;

  /// Returns every chunk to upstream. Every slot handed out becomes invalid;
  /// checked builds report those still in use. The pool stays usable (the
  /// next allocation takes a fresh chunk) and keeps its `high_water` and
  /// `oversize_allocations` counts.
  void release();

  /// Returns a snapshot of the counters. O(1) in checked and tool builds
  /// and in pass-through mode. Other builds keep no per-call counter on the
  /// hot path: `slots_in_use` is the slots carved from chunks minus the free
  /// ones, counted by walking the free list, O(free slots); `high_water` is
  /// exact all the same (a slot is carved only when none is free).
  [[nodiscard]] slot_pool_stats stats() const noexcept;

  /// Returns the options this pool was made with, as given.
  [[nodiscard]] const slot_pool_options& options() const noexcept {
    return options_;
  }

  /// Returns the resource chunks and oversize blocks come from.
  [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
    return upstream_;
  }

  /// Returns the distance in bytes between consecutive slots: `slot_size`
  /// rounded up to at least `sizeof(void*)`, then to a multiple of
  /// `slot_alignment` and of `alignof(void*)`.
  [[nodiscard]] std::size_t slot_stride() const noexcept { return stride_; }

  /// Returns true if `p` points into a slot of a chunk this pool holds
  /// (freed or not). Oversize blocks are not owned. Checked builds find the
  /// chunk in O(1) (an address-to-chunk hash index, the one the checked
  /// deallocation uses); other builds keep no index and walk the chunks,
  /// O(number of chunks).
  [[nodiscard]] bool owns(const void* p) const noexcept;

  /// The static fast path: returns one slot (the same as
  /// `allocate(slot_size, slot_alignment)`), inline and without a virtual
  /// call, for code that knows the pool's type. Throws `std::bad_alloc` at
  /// `max_slots` and propagates upstream's exceptions.
  [[nodiscard]] void* allocate_slot() {
#if PROTOPOOL_INSTRUMENTED
    return allocate_slot_instrumented(options_.slot_size);
#else
    free_slot* const slot = free_list_;
    if (slot == nullptr) [[unlikely]] {
      // A pool made for a batch carves every slot: inline, not behind a
      // call. (A pass-through pool has no chunk: bump_ == bump_end_.)
      std::byte* const fresh = bump_;
      if (fresh == bump_end_) {
        return refill();
      }
      bump_ = fresh + stride_;
      return fresh;
    }
    free_list_ = slot->next;
    return slot;
#endif
  }

  /// The static fast path: returns a slot from `allocate_slot()` (or from
  /// `allocate` with a slot-sized request) to the pool. Behaviour is
  /// undefined unless `p` is such a slot of this pool, not yet freed.
  void deallocate_slot(void* p) noexcept {
#if PROTOPOOL_INSTRUMENTED
    deallocate_slot_instrumented(p, "deallocate_slot");
#else
    if (pass_through_) [[unlikely]] {
      deallocate_pass_through(p, options_.slot_size, options_.slot_alignment);
      return;
    }
    free_slot* const slot = static_cast<free_slot*>(p);
    slot->next = free_list_;
    free_list_ = slot;
#endif
  }

 private:
  struct free_slot {
    free_slot* next;
  };
  struct chunk_header;

  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override;

  // Cold paths, out of line.
  [[nodiscard]] void* refill();
  [[nodiscard]] void* grow_and_refill();
  [[nodiscard]] void* allocate_pass_through();
  [[nodiscard]] void* allocate_other(std::size_t bytes, std::size_t alignment);
  void deallocate_other(void* p, std::size_t bytes, std::size_t alignment);
  void deallocate_pass_through(void* p, std::size_t bytes,
                               std::size_t alignment) noexcept;
  void add_chunk(std::size_t slots);
  void release_chunks() noexcept;
  void forget_chunks() noexcept;
  void report_slots_in_use(const char* when) const noexcept;
  [[nodiscard]] const chunk_header* find_chunk(const void* p) const noexcept;
  [[nodiscard]] std::size_t carved_slots() const noexcept;
  // True when the hot path keeps no count (release builds, not
  // pass-through): stats() derives slots_in_use_ and high_water_.
  [[nodiscard]] bool counts_derived() const noexcept {
    return !PROTOPOOL_INSTRUMENTED && !pass_through_;
  }

  // Instrumented paths (checked, valgrind or AddressSanitizer builds).
  [[nodiscard]] void* allocate_slot_instrumented(std::size_t bytes);
  void deallocate_slot_instrumented(void* p, const char* caller) noexcept;
  void keep_chunks_with_leaked_slots() noexcept;
  void reuse_oldest_quarantined() noexcept;

  // Hot data first: the free list and the routing limits.
  free_slot* free_list_ = nullptr;
  // Counted per call only where a cold path sees every call: instrumented
  // builds and pass-through mode. Otherwise stats() derives it (carved
  // slots minus free ones), so the hot path updates no counter.
  std::size_t slots_in_use_ = 0;
  std::size_t fit_bytes_;  // requests up to this size are slots
  std::size_t fit_align_;  // ... and up to this alignment (0: pass-through)
  std::size_t stride_;
  std::byte* bump_ = nullptr;  // next never-handed-out slot in newest chunk
  std::byte* bump_end_ = nullptr;
  chunk_header* chunks_ = nullptr;  // newest first
  std::size_t high_water_ = 0;
  std::size_t capacity_ = 0;
  std::size_t chunk_count_ = 0;
  std::size_t upstream_bytes_ = 0;
  std::size_t oversize_allocations_ = 0;
  std::size_t next_chunk_slots_;
  bool pass_through_ = false;
  slot_pool_options options_;
  std::pmr::memory_resource* upstream_;
#if PROTOPOOL_INSTRUMENTED
  // FIFO quarantine (PROTOPOOL_QUARANTINE=K): freed slots wait here, linked
  // through their free-list links, until K other frees have happened.
  free_slot* quarantine_oldest_ = nullptr;
  free_slot* quarantine_newest_ = nullptr;
  std::size_t quarantined_ = 0;
  std::size_t quarantine_limit_ = 0;
  // The chunk of the last find_chunk() hit: frees cluster in a chunk.
  mutable const chunk_header* last_found_ = nullptr;
#endif
#if PROTOPOOL_CHECKED
  // Address -> chunk, so a checked lookup is O(1) however many chunks the
  // pool holds (lib/slot_pool_resource.cc). Allocated from the global heap,
  // never from upstream, so upstream sees only chunks and oversize blocks.
  struct chunk_index;
  struct chunk_index_deleter {
    void operator()(chunk_index* index) const noexcept;
  };
  std::unique_ptr<chunk_index, chunk_index_deleter> index_;
#endif
};

}  // namespace protopool
