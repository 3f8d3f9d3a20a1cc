// File: protopool/synchronized_slot_pool_resource.h
//
// PURPOSE: the fixed-slot message pool for messages made on one thread and
// freed on another (a mailbox, a pipeline stage, a network thread handing
// requests to workers), as a std::pmr::memory_resource.
//
// CLASSES:
//   protopool::synchronized_slot_pool_resource  the thread-safe pool
//
// USAGE:
//   protopool::synchronized_slot_pool_resource pool(
//       protopool::slot_pool_options{.slot_size = 32});
//   void* message = pool.allocate(32);      // on a producer thread
//   std::thread consumer([&] { pool.deallocate(message, 32); });
//   consumer.join();                        // freed on another thread
//
// DESIGN (mimalloc's shape): the pool keeps one *heap* per thread that uses
// it. A heap has a local free list that only its thread touches (plain
// loads and stores) and a remote free list that any other thread pushes
// onto. Slots live in *segments*: blocks of a power-of-two size S aligned to
// S, so `address & ~(S - 1)` is the segment header, which names the heap
// that owns the slot: a free finds its heap in O(1). A free on the owning
// thread is a local push. A free on any other thread goes onto a short
// private chain in the freeing thread's heap; every 32 slots (and when that
// thread next refills, frees for another heap, or exits) the chain is pushed
// onto the owner's remote list with one compare-and-swap. When its local
// list runs empty, the owner takes the whole remote list with one
// `exchange(nullptr)` and allocates from it. So a producer and a consumer
// share a cache line (besides the messages themselves) once per 32
// messages, not once per message. A lock is taken only on cold paths: a
// thread's first use, a new chunk, thread exit, oversize requests,
// `release()`.
//
// WHY IT IS ABA-SAFE: the remote list is multi-producer, single-consumer
// with only two operations, push (CAS of the head from `h` to the first
// node of a private chain whose last link is `h`) and take-all
// (`exchange(nullptr)`). Nothing ever pops one node with a CAS, so no
// thread ever reads the link of a node it does not own: the pusher writes
// only the last link of its own (still private) chain, and the owner reads
// links only after its exchange made the whole list its own. A push CAS
// that succeeds because the head went from `h` to something else and back
// to `h` is still correct, because the chain's last link is exactly the
// current head. The release CAS and the acquire exchange order the
// pusher's writes (the links, and the message's last use) before the
// owner's reads. (A Treiber stack's pop, in contrast, reads `head->next`
// of a node another thread may have popped and be writing: a data race even
// with a tagged head.) So there is no ABA problem and ThreadSanitizer sees
// no race.
#pragma once

#include <protopool/config.h>
#include <protopool/slot_pool_resource.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace protopool {

/// A fixed-slot pool, like `slot_pool_resource`, that any number of threads
/// may use at once, including freeing a slot on a thread other than the one
/// that allocated it.
///
/// Use it when messages cross threads: one thread allocates, another frees.
/// That case takes no lock: each thread allocates from its own heap, and
/// the freeing thread hands slots back to the owner heap with one
/// compare-and-swap per 32 frees; the owner takes them all with one
/// exchange. When one thread does everything, prefer `slot_pool_resource`,
/// which has no thread-local lookup and no atomic counter.
///
/// Behaviour (the contract of `slot_pool_resource`, with these additions):
/// - A request with `bytes <= slot_size` and `alignment <= slot_alignment`
///   (`bytes == 0` included) gets a distinct slot aligned to
///   `slot_alignment`, from the calling thread's heap. The slot stride is
///   that of `slot_pool_resource` (`slot_stride()`).
/// - Slots freed on the thread that allocated them are reused last-in
///   first-out by that thread. A thread hands the slots it frees for another
///   thread's heap over in batches of 32, and the rest when its own free
///   list next runs empty, it frees for a different heap, or it exits; the
///   allocating thread takes all that were handed over when its local list
///   runs empty.
///   So up to 31 freed slots per thread wait in that thread until then:
///   counted as free in `stats()`, but not yet reusable.
/// - Each heap grows on its own: when it has no free slot it takes a chunk
///   from upstream in one call, of 16 slots (or of `initial_slots` for the
///   chunk carved at construction), doubling up to `max_slots_per_chunk`.
///   Chunks are made of segments of a power-of-two size aligned to that
///   size, so upstream sees aligned requests.
/// - `initial_slots` are carved at construction into one heap, which the
///   first thread to use the pool takes over. Other threads take chunks of
///   their own.
/// - `max_slots` bounds the slots of all heaps together; with it reached,
///   allocation throws `std::bad_alloc` and the pool stays usable. Free
///   slots cached in another live thread's heap are not available to the
///   calling thread, so `std::bad_alloc` can come before `slots_in_use`
///   reaches `max_slots` when several threads allocate.
/// - A thread that exits gives its heap back, with every free slot in it:
///   the next thread that needs a heap takes it over, and a heap that needs
///   a chunk first takes in the free slots of every abandoned heap. So a
///   thread's cached slots are never lost, and a thread that comes and goes
///   does not grow the pool. Threads may outlive the pool and the pool may
///   outlive threads.
/// - Late in thread exit (in the destructor of a `thread_local` object
///   destroyed after the pool's per-thread state) a thread no longer has a
///   heap: a slot it frees goes straight back to the remote list of the
///   heap that owns it, and a slot it allocates comes from a heap it
///   borrows for that one call (an abandoned one, or a new one) and gives
///   back before returning. Such calls take the lock; nothing is stranded.
/// - Oversize or over-aligned requests: forwarded to upstream and counted,
///   or `std::bad_alloc` under `oversize_policy::throw_bad_alloc`.
/// - Upstream is only ever called with the pool's internal lock held, so it
///   need not be thread safe itself. If it throws, the exception propagates
///   and the pool is unchanged.
/// - `is_equal` is identity.
/// - With `PROTOPOOL_PASS_THROUGH=1` in the environment when the pool is
///   made, every request goes to upstream (under the lock), a slot-sized
///   one as `slot_size` bytes aligned as a slot is (at least
///   `alignof(void*)`); `max_slots` stays a hard capacity. Those blocks
///   are upstream's: `release()` leaves them valid and counted in
///   `slots_in_use` until they are deallocated.
///
/// Checked builds (`PROTOPOOL_CHECKED`) diagnose on stderr and
/// `std::abort()`: a double free (also across threads), a pointer the pool
/// does not own, a pointer inside a slot but not at its start, a
/// `deallocate` whose size/alignment routes differently from the slot.
/// In AddressSanitizer builds a free of a poisoned address gets the same
/// one-line diagnosis, then ASan's report, and ends as ASan is configured
/// (exit status 1 by default), as in `slot_pool_resource`.
/// As in `slot_pool_resource`, an alignment that is not a power of two is
/// refused with `std::invalid_argument` when the request does not fit a
/// slot (any build) and, in checked builds, when it does (otherwise
/// undefined). Slots still in use when the pool is destroyed or released
/// are reported on stderr. These checks take a
/// shared (reader) lock to find the chunk of a pointer; release builds pay
/// nothing for them.
///
/// Memory checkers: in checked, valgrind (`PROTOPOOL_VALGRIND`) and
/// AddressSanitizer builds, free and never-handed-out slots are poisoned for
/// ASan and no-access for valgrind (the pool is a valgrind mempool), as in
/// `slot_pool_resource`, so a double free (on any thread) or a free of a
/// slot never handed out is reported by the tool itself, with the stack of
/// the deallocation, before a checked build's diagnosis. If such a build's
/// pool is destroyed with slots in use while a tool watches (ASan build, or
/// running under valgrind), it
/// keeps the chunks holding them instead of returning them (every chunk, in
/// a build without the checked-build bitmap of live slots), so valgrind
/// reports each leaked slot with its allocation stack and LeakSanitizer
/// reports the chunk with the stack that carved it; the other chunks go
/// back. Without a watching tool, and always in `release()`, every chunk
/// goes back. If the environment variable `PROTOPOOL_QUARANTINE` is a
/// number K when the pool is made (instrumented builds only), each thread
/// holds the slots it frees, still poisoned, in a FIFO of its own and hands
/// a slot on (to its own free list, or to the owning thread) only after K
/// other frees on that thread, so a use-after-free hits a poisoned slot
/// rather than a reused one. A thread's quarantine is emptied when the
/// thread exits, and when that thread hits `max_slots` (its quarantined
/// slots are then reused early rather than failing). Slots freed late in
/// thread exit, or by a thread that could not get a heap, skip it.
///
/// Thread safety: `allocate`, `deallocate`, `owns`, `stats`, `options`,
/// `upstream_resource` and `is_equal` may be called from any thread at any
/// time. Behaviour is undefined unless no other thread uses the pool during
/// `release()` and destruction.
class synchronized_slot_pool_resource final : public std::pmr::memory_resource {
 public:
  /// Makes a pool with `options`, taking chunks from `upstream`. Carves
  /// `options.initial_slots` slots now, in one upstream call (none if 0).
  /// Throws `std::invalid_argument`, whose message names the field, for the
  /// same invalid options as `slot_pool_resource`, or if `upstream` is null;
  /// `std::bad_alloc` if the slot stride is above `SIZE_MAX / 8` (no
  /// segment could hold a slot). Propagates whatever upstream throws.
  explicit synchronized_slot_pool_resource(
      const slot_pool_options& options,
      std::pmr::memory_resource* upstream = std::pmr::get_default_resource());

  /// Returns every chunk to upstream. Checked builds report slots still in
  /// use. Threads that used the pool may still be running (they must not
  /// use it any more) or exit later: their per-thread state no longer refers
  /// to the pool. Behaviour is undefined unless no thread uses the pool
  /// during or after destruction.
  ~synchronized_slot_pool_resource() override;

  synchronized_slot_pool_resource(const synchronized_slot_pool_resource&) =
      delete;
  synchronized_slot_pool_resource& operator=(
      const synchronized_slot_pool_resource&) = delete;

  /// Returns every chunk to upstream. Every slot handed out becomes invalid;
  /// checked builds report those still in use. The pool stays usable and
  /// keeps its `high_water` and `oversize_allocations` counts. Behaviour is
  /// undefined unless no other thread uses the pool during the call.
  void release();

  /// Returns a snapshot of the counters. Exact when no other thread is
  /// allocating or freeing (after they are joined, or otherwise
  /// synchronized with the caller); approximate while they run, since each
  /// thread counts its own operations. `high_water` is exact when one thread
  /// uses the pool; with several it is the largest count seen whenever a
  /// never-used slot is handed out and at each `stats()` call, so it may
  /// miss a short peak. Takes no lock, so it never blocks nor throws.
  [[nodiscard]] slot_pool_stats stats() const noexcept;

  /// Returns the options this pool was made with, as given.
  [[nodiscard]] const slot_pool_options& options() const noexcept {
    return options_;
  }

  /// Returns the resource chunks and oversize blocks come from.
  [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
    return upstream_;
  }

  /// Returns the distance in bytes between consecutive slots.
  [[nodiscard]] std::size_t slot_stride() const noexcept { return stride_; }

  /// Returns true if `p` points into a slot of a chunk this pool holds
  /// (freed or not). O(log chunks), under a shared (reader) lock, which
  /// cannot fail: the pool holds the writer side only briefly, never while
  /// calling out (not even to upstream). Oversize blocks are not owned.
  [[nodiscard]] bool owns(const void* p) const noexcept;

 private:
  struct heap;
  struct segment_header;
  friend struct thread_heaps;  // the per-thread registry in the .cc

  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override;

  // Cold paths, out of line.
  [[nodiscard]] void* allocate_slow(std::size_t bytes);
  [[nodiscard]] void* allocate_other(std::size_t bytes, std::size_t alignment);
  void deallocate_other(void* p, std::size_t bytes, std::size_t alignment);
  void free_slow(heap* owner, heap* self, void* p) noexcept;
  void route_free(heap* self, heap* owner, void* p) noexcept;
  void give_back_alone(heap* owner, void* p) noexcept;
  void quarantine(heap* self, void* p) noexcept;
  void release_oldest_quarantined(heap* h) noexcept;
  [[nodiscard]] bool quarantining() const noexcept {
    return PROTOPOOL_INSTRUMENTED && quarantine_limit_ != 0;
  }
  void flush_pending(heap* h) noexcept;
  static void push_remote(heap* owner, void* first, void* last) noexcept;
  [[nodiscard]] void* take_slot(heap* h);
  [[nodiscard]] void* allocate_late(std::size_t bytes);
  [[nodiscard]] heap* acquire_heap();
  [[nodiscard]] heap* this_thread_heap_or_null() noexcept;
  void abandon_heap(heap* h) noexcept;
  [[nodiscard]] void* grow(heap* h);
  [[nodiscard]] void* carve(heap* h);
  void absorb_abandoned(heap* into);
  [[nodiscard]] void* keep_own(heap* h, void* list) noexcept;
  void add_chunk(heap* h, std::size_t slots);
  void release_chunks() noexcept;
  void return_chunk(segment_header* chunk) noexcept;
  void keep_chunks_with_leaked_slots() noexcept;
  void sample_high_water() const noexcept;
  [[nodiscard]] std::size_t count_in_use() const noexcept;
  void report_slots_in_use(const char* when) const;
  [[nodiscard]] const segment_header* find_segment(
      const void* p) const noexcept;
  void check_free(void* p) const noexcept;
  void on_slot_allocated(void* slot, std::size_t bytes) const noexcept;
  [[nodiscard]] const segment_header* segment_of(const void* p) const noexcept;

  // Read on every call.
  std::uint64_t id_;       // unique per pool, ever: keys the thread caches
  std::size_t fit_bytes_;  // requests up to this size are slots
  std::size_t fit_align_;  // ... and up to this alignment (0: pass-through)
  std::size_t stride_;
  std::size_t segment_bytes_;      // S, a power of two
  std::uintptr_t segment_mask_;    // ~(S - 1): a slot's address -> segment
  std::size_t segment_offset_;     // from a segment's start to its 1st slot
  std::size_t slots_per_segment_;  // in a full segment
  std::size_t bitmap_words_;       // per segment, checked builds
  bool pass_through_ = false;
  std::size_t quarantine_limit_ = 0;  // K of PROTOPOOL_QUARANTINE, or 0
  slot_pool_options options_;
  std::pmr::memory_resource* upstream_;

  // Every heap ever made, newest first; published with release stores and
  // walked without the lock (heaps live until the pool dies).
  std::atomic<heap*> all_heaps_{nullptr};
  mutable std::atomic<std::size_t> high_water_{0};
  std::atomic<std::size_t> oversize_allocations_{0};
  std::atomic<std::size_t> orphan_frees_{0};  // by threads with no heap
  std::atomic<std::size_t> pass_through_in_use_{0};

  // Cold state, under mutex_.
  mutable std::mutex mutex_;
  heap* abandoned_ = nullptr;  // heaps no thread owns, to adopt or absorb
  // Written under mutex_; atomic so that stats() reads them without it.
  std::atomic<std::size_t> capacity_{0};
  std::atomic<std::size_t> chunk_count_{0};
  std::atomic<std::size_t> upstream_bytes_{0};

  // Chunks sorted by address, for release(), owns() and checked lookups.
  // Written under mutex_ and index_mutex_ (exclusive); read under either.
  mutable std::shared_mutex index_mutex_;
  std::vector<segment_header*> chunks_;

  // The registry of live pools (see the .cc), under a global mutex.
  synchronized_slot_pool_resource* live_prev_ = nullptr;
  synchronized_slot_pool_resource* live_next_ = nullptr;
  // Exiting threads giving their heaps back right now (see thread_heaps).
  std::atomic<std::size_t> exit_pins_{0};
};

}  // namespace protopool
