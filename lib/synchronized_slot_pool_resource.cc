// File: lib/synchronized_slot_pool_resource.cc
#include <protopool/synchronized_slot_pool_resource.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <new>
#include <string_view>
#include <thread>

#include "detail/slot_layout.h"
#include "detail/tool_hooks.h"

namespace protopool {

namespace {

constexpr const char* kind = "synchronized_slot_pool_resource";
constexpr std::size_t bits_per_word = 64;
// Slots a thread frees for another thread's heap before it hands them over.
constexpr std::size_t remote_batch = 32;

// The heap this thread used last, keyed by pool id: the allocation fast
// path is one compare and a local pop. Trivially destructible, so reading it
// needs no TLS wrapper call; ids are never reused, so an entry of a dead
// pool never matches a new pool at the same address.
struct last_heap {
  std::uint64_t id;
  void* heap;
};
constinit thread_local last_heap tl_last{0, nullptr};
// Set once this thread's registry is destroyed (thread exit): from then on
// the thread must not touch it.
constinit thread_local bool tl_registry_gone = false;

std::atomic<std::uint64_t> next_pool_id{1};

// Live pools, so that a thread exiting after a pool died does not touch it.
std::mutex live_mutex;
synchronized_slot_pool_resource* live_head = nullptr;

}  // namespace

// Every heap this thread holds, in every live pool: its destructor (thread
// exit) gives them back.
struct thread_heaps {
  using pool = synchronized_slot_pool_resource;
  struct entry {
    std::uint64_t id;
    pool* owner;
    pool::heap* heap;
  };
  std::vector<entry> entries;

  thread_heaps() = default;
  thread_heaps(const thread_heaps&) = delete;
  thread_heaps& operator=(const thread_heaps&) = delete;

  // Under live_mutex.
  static bool is_live(const pool* p, std::uint64_t id) noexcept {
    for (const pool* live = live_head; live != nullptr;
         live = live->live_next_) {
      if (live == p) {
        return live->id_ == id;
      }
    }
    return false;
  }

  ~thread_heaps() {
    // Pin every live pool under live_mutex, then give the heaps back with
    // live_mutex released: abandon_heap takes the pool's mutex_, and a
    // thread holding that mutex_ may be waiting for live_mutex (it is
    // growing the pool from an upstream that is itself a synchronized pool,
    // met for the first time on that thread). A pinned pool's destructor
    // waits until the pin is gone.
    {
      const std::lock_guard lock(live_mutex);
      for (entry& e : entries) {
        if (is_live(e.owner, e.id)) {
          e.owner->exit_pins_.fetch_add(1, std::memory_order_relaxed);
        } else {
          e.owner = nullptr;
        }
      }
    }
    for (const entry& e : entries) {
      if (e.owner != nullptr) {
        e.owner->abandon_heap(e.heap);
        // The pool may be destroyed as soon as this is seen.
        e.owner->exit_pins_.fetch_sub(1, std::memory_order_release);
      }
    }
    tl_last = {0, nullptr};
    tl_registry_gone = true;
  }
};

namespace {
thread_local thread_heaps tl_registry;
}  // namespace

// One per thread that uses the pool. The owning thread alone touches the
// first group (or whoever holds mutex_ while no thread owns the heap);
// `remote` is pushed onto by every other thread, on a cache line of its own.
struct synchronized_slot_pool_resource::heap {
  void* local = nullptr;  // LIFO free list, links via read/write_link
  // Single writer (the owner), read by stats(): relaxed load + store.
  std::atomic<std::size_t> allocated{0};
  std::atomic<std::size_t> freed{0};
  segment_header* bump_chunk = nullptr;  // chunk with never-used slots
  std::size_t bump_next = 0;             // index of the next one in it
  std::size_t next_chunk_slots = 0;
  // Slots this thread freed for one other heap, pushed onto that heap's
  // remote list in one CAS when there are remote_batch of them (or sooner:
  // see flush_pending), so the two threads share a cache line once per
  // batch rather than once per message.
  heap* pending_owner = nullptr;
  void* pending_head = nullptr;
  void* pending_tail = nullptr;
  std::size_t pending_count = 0;
  // PROTOPOOL_QUARANTINE: slots this thread freed, oldest first, linked
  // oldest to newest; handed on (route_free) after `quarantine_limit_`
  // newer frees.
  void* quarantine_oldest = nullptr;
  void* quarantine_newest = nullptr;
  std::size_t quarantined = 0;
  // Under mutex_.
  heap* next_abandoned = nullptr;
  bool abandoned = false;
  // Set (under mutex_, while abandoned) once absorb_abandoned gave this
  // heap's chunks to another heap: a free that read the old owner may still
  // push a slot it no longer owns onto `remote`, so whoever takes that list
  // from now on sorts it (keep_own). Read by the thread owning the heap,
  // which adopted it under mutex_.
  bool gave_chunks_away = false;
  // Immutable once the heap is published in all_heaps_.
  heap* next_heap = nullptr;
  // MPSC: any thread pushes (CAS), the owner takes all (exchange).
  alignas(64) std::atomic<void*> remote{nullptr};
};

// At the start of every segment (a block of segment_bytes_ aligned to
// segment_bytes_): the owner of its slots, then in checked builds a bitmap
// of its live slots. The first segment of a chunk also describes the chunk.
struct synchronized_slot_pool_resource::segment_header {
  std::atomic<heap*> owner;
  segment_header* chunk;             // first segment of this chunk
  std::size_t slots;                 // in this segment
  std::atomic<std::uint64_t>* live;  // checked builds; null otherwise
  // First segment only.
  std::size_t chunk_slots;
  std::size_t segments;
  std::size_t bytes;  // of the whole upstream block

  [[nodiscard]] std::byte* base() noexcept {
    return reinterpret_cast<std::byte*>(this);
  }
  [[nodiscard]] const std::byte* base() const noexcept {
    return reinterpret_cast<const std::byte*>(this);
  }
};

namespace {

void increment(std::atomic<std::size_t>& single_writer_counter) noexcept {
  single_writer_counter.store(
      single_writer_counter.load(std::memory_order_relaxed) + 1,
      std::memory_order_relaxed);
}

// Returns true if `owner` is `self`, hiding the equality from the
// optimizer: on the path where it holds, the code then keeps using `self`
// (this thread's heap, known early, from thread-local storage) instead of
// substituting `owner`, which comes from a load that needs the slot's
// address. Pushing through `owner` made the next pop of `self->local` wait
// on that load: W1 on one thread took about 5.0 ns instead of 3.9.
bool same_heap(const void* owner, const void* self) noexcept {
  auto differs = reinterpret_cast<std::uintptr_t>(owner) ^
                 reinterpret_cast<std::uintptr_t>(self);
#if defined(__GNUC__)
  asm("" : "+r"(differs));
#endif
  return differs == 0;
}

// For the counters written under mutex_ and read by stats() without it.
void add(std::atomic<std::size_t>& counter, std::size_t n) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

// Returns the last node of a non-empty free list.
void* list_tail(void* list) noexcept {
  for (;;) {
    void* const next = detail::read_link(list);
    if (next == nullptr) {
      return list;
    }
    list = next;
  }
}

}  // namespace

synchronized_slot_pool_resource::synchronized_slot_pool_resource(
    const slot_pool_options& options, std::pmr::memory_resource* upstream)
    : id_(next_pool_id.fetch_add(1, std::memory_order_relaxed)),
      options_(options),
      upstream_(upstream) {
  detail::validate(options, upstream);
  stride_ = detail::slot_stride(options);
  if (stride_ > std::numeric_limits<std::size_t>::max() / 8) {
    detail::throw_bad_alloc();  // no segment could ever be made
  }
  pass_through_ = detail::pass_through_requested();
  fit_bytes_ = options.slot_size;
  fit_align_ = pass_through_ ? 0 : options.slot_alignment;
#if PROTOPOOL_INSTRUMENTED
  quarantine_limit_ = detail::quarantine_requested();
#endif

  // The smallest power-of-two segment holding its header, its bitmap and
  // 16 slots (1 for huge slots).
  const std::size_t alignment =
      std::max(detail::effective_alignment(options), alignof(segment_header));
  const std::size_t wanted =
      stride_ <= std::numeric_limits<std::size_t>::max() / 64
          ? detail::min_chunk_slots
          : 1;
  std::size_t segment = std::bit_ceil(
      detail::round_up(sizeof(segment_header), alignment) + wanted * stride_);
  for (;;) {
    bitmap_words_ =
        PROTOPOOL_CHECKED
            ? (segment / stride_ + bits_per_word - 1) / bits_per_word
            : 0;
    segment_offset_ = detail::round_up(
        sizeof(segment_header) + bitmap_words_ * sizeof(std::uint64_t),
        alignment);
    if (segment_offset_ + wanted * stride_ <= segment) {
      break;
    }
    segment *= 2;
  }
  segment_bytes_ = segment;
  segment_mask_ = ~(std::uintptr_t{segment} - 1);
  slots_per_segment_ = (segment - segment_offset_) / stride_;

  detail::tool_pool_created(this);
  if (options.initial_slots != 0 && !pass_through_) {
    // The initial slots go to a heap no thread owns yet: the first thread
    // to use the pool takes it over.
    auto* initial = new heap;
    try {
      add_chunk(initial, options.initial_slots);
    } catch (...) {
      delete initial;
      detail::tool_pool_destroyed(this);
      throw;
    }
    initial->next_chunk_slots =
        detail::next_chunk_size(options, options.initial_slots);
    initial->abandoned = true;
    abandoned_ = initial;
    all_heaps_.store(initial, std::memory_order_release);
  }
  const std::lock_guard lock(live_mutex);
  live_next_ = live_head;
  if (live_head != nullptr) {
    live_head->live_prev_ = this;
  }
  live_head = this;
}

synchronized_slot_pool_resource::~synchronized_slot_pool_resource() {
  {
    // From here on, threads that exit leave this pool alone.
    const std::lock_guard lock(live_mutex);
    (live_prev_ != nullptr ? live_prev_->live_next_ : live_head) = live_next_;
    if (live_next_ != nullptr) {
      live_next_->live_prev_ = live_prev_;
    }
  }
  // Threads that pinned this pool at exit, before it was unlinked, may
  // still be giving their heaps back: wait for them (no lock is held).
  while (exit_pins_.load(std::memory_order_acquire) != 0) {
    std::this_thread::yield();
  }
  const bool slots_in_use = count_in_use() != 0;
  if (PROTOPOOL_CHECKED && slots_in_use) {
    report_slots_in_use("destruction");
  }
  if (PROTOPOOL_INSTRUMENTED && slots_in_use && !pass_through_ &&
      detail::tools_watching()) {
    keep_chunks_with_leaked_slots();
  } else {
    // Forget the pool before its chunks go back: upstream may hand the
    // same memory out again (as a pool or as anything else).
    detail::tool_pool_destroyed(this);
    release_chunks();
  }
  heap* h = all_heaps_.load(std::memory_order_acquire);
  while (h != nullptr) {
    heap* const next = h->next_heap;
    delete h;
    h = next;
  }
}

void synchronized_slot_pool_resource::release() {
  // In pass-through mode the blocks handed out are upstream's, not in any
  // chunk: they stay valid, and stay counted, until they are deallocated.
  if (PROTOPOOL_CHECKED && !pass_through_ && count_in_use() != 0) {
    report_slots_in_use("release()");
  }
  const std::lock_guard lock(mutex_);
  // Forget every slot valgrind still thinks is live before the chunks go
  // back to upstream, then start afresh.
  detail::tool_pool_destroyed(this);
  release_chunks();
  detail::tool_pool_created(this);
  const std::size_t first =
      std::min(detail::min_chunk_slots, options_.max_slots_per_chunk);
  for (heap* h = all_heaps_.load(std::memory_order_acquire); h != nullptr;
       h = h->next_heap) {
    h->local = nullptr;
    h->remote.store(nullptr, std::memory_order_relaxed);
    h->bump_chunk = nullptr;
    h->bump_next = 0;
    h->allocated.store(0, std::memory_order_relaxed);
    h->freed.store(0, std::memory_order_relaxed);
    h->next_chunk_slots = first;
    h->pending_owner = nullptr;
    h->pending_head = nullptr;
    h->pending_tail = nullptr;
    h->pending_count = 0;
    h->quarantine_oldest = nullptr;
    h->quarantine_newest = nullptr;
    h->quarantined = 0;
  }
  orphan_frees_.store(0, std::memory_order_relaxed);
  // pass_through_in_use_ stays: those blocks are upstream's, still valid.
}

slot_pool_stats synchronized_slot_pool_resource::stats() const noexcept {
  sample_high_water();
  return slot_pool_stats{
      .slots_in_use = count_in_use(),
      .high_water = high_water_.load(std::memory_order_relaxed),
      .capacity = capacity_.load(std::memory_order_relaxed),
      .chunks = chunk_count_.load(std::memory_order_relaxed),
      .upstream_bytes = upstream_bytes_.load(std::memory_order_relaxed),
      .oversize_allocations =
          oversize_allocations_.load(std::memory_order_relaxed)};
}

const synchronized_slot_pool_resource::segment_header*
synchronized_slot_pool_resource::segment_of(const void* p) const noexcept {
  return reinterpret_cast<const segment_header*>(
      reinterpret_cast<std::uintptr_t>(p) & segment_mask_);
}

bool synchronized_slot_pool_resource::owns(const void* p) const noexcept {
  return find_segment(p) != nullptr;
}

const synchronized_slot_pool_resource::segment_header*
synchronized_slot_pool_resource::find_segment(const void* p) const noexcept {
  // Compare as integers: p may belong to another object entirely.
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  // noexcept: libstdc++'s lock_shared retries EAGAIN and throws only for
  // EDEADLK, i.e. if this thread held index_mutex_ exclusively. The pool
  // holds it so only around vector updates in add_chunk and release_chunks,
  // which call no user code (not even upstream), so that cannot happen.
  const std::shared_lock lock(index_mutex_);
  auto after =
      std::upper_bound(chunks_.begin(), chunks_.end(), address,
                       [](std::uintptr_t a, const segment_header* chunk) {
                         return a < reinterpret_cast<std::uintptr_t>(chunk);
                       });
  if (after == chunks_.begin()) {
    return nullptr;
  }
  const segment_header* chunk = *(after - 1);
  const auto base = reinterpret_cast<std::uintptr_t>(chunk);
  if (address - base >= chunk->bytes) {
    return nullptr;
  }
  const segment_header* const segment = segment_of(p);
  const auto first_slot =
      reinterpret_cast<std::uintptr_t>(segment) + segment_offset_;
  if (address < first_slot ||
      address - first_slot >= segment->slots * stride_) {
    return nullptr;
  }
  return segment;
}

// ---- The hot paths ----

PROTOPOOL_DETAIL_HOT_PATH void* synchronized_slot_pool_resource::do_allocate(
    std::size_t bytes, std::size_t alignment) {
  if (bytes <= fit_bytes_ && alignment <= fit_align_) [[likely]] {
    if (PROTOPOOL_CHECKED && !detail::is_power_of_two(alignment)) {
      detail::throw_bad_alignment(alignment);
    }
    if (tl_last.id == id_) [[likely]] {
      heap* const h = static_cast<heap*>(tl_last.heap);
      void* const slot = h->local;
      if (slot != nullptr) [[likely]] {
        h->local = detail::read_link(slot);
        increment(h->allocated);
        on_slot_allocated(slot, bytes);
        return slot;
      }
    }
    return allocate_slow(bytes);
  }
  return allocate_other(bytes, alignment);
}

PROTOPOOL_DETAIL_HOT_PATH void synchronized_slot_pool_resource::do_deallocate(
    void* p, std::size_t bytes, std::size_t alignment) {
  if (bytes <= fit_bytes_ && alignment <= fit_align_) [[likely]] {
    // The tools see the free first: a double free (on any thread), or a
    // free of a slot never handed out, is their report, with the stack of
    // this call. A slot stays poisoned from its free until it is handed out
    // again, on whichever list holds it (local, pending, remote, abandoned
    // or quarantined); a live slot reached this thread after the allocation
    // that made it addressable, so a legitimate free is never reported.
    detail::tool_slot_freeing(kind, this, p, [this, p] {
      const auto* const segment =
          reinterpret_cast<const std::byte*>(find_segment(p));
      return detail::bad_free_diagnosis(
          p, segment == nullptr ? nullptr : segment + segment_offset_, stride_);
    });
    if (PROTOPOOL_CHECKED) {
      check_free(p);
    }
    detail::tool_slot_poisoned(p, stride_);
    // Acquire: pairs with absorb_abandoned's release store, so the new
    // owner heap (made on another thread) is seen whole.
    heap* const owner = segment_of(p)->owner.load(std::memory_order_acquire);
    // The likely path falls through: no taken jump before the push.
    heap* self = nullptr;
    if (tl_last.id == id_) [[likely]] {
      self = static_cast<heap*>(tl_last.heap);
      if (same_heap(owner, self) && !quarantining()) [[likely]] {
        detail::write_link(p, self->local);
        self->local = p;
        increment(self->freed);
        return;
      }
    }
    free_slow(owner, self, p);
    return;
  }
  deallocate_other(p, bytes, alignment);
}

bool synchronized_slot_pool_resource::do_is_equal(
    const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

void synchronized_slot_pool_resource::on_slot_allocated(
    [[maybe_unused]] void* slot,
    [[maybe_unused]] std::size_t bytes) const noexcept {
#if PROTOPOOL_CHECKED
  const auto address = reinterpret_cast<std::uintptr_t>(slot);
  const segment_header* const segment = segment_of(slot);
  const std::size_t index =
      (address - reinterpret_cast<std::uintptr_t>(segment) - segment_offset_) /
      stride_;
  const std::uint64_t bit = std::uint64_t{1} << (index % bits_per_word);
  if ((segment->live[index / bits_per_word].fetch_or(
           bit, std::memory_order_relaxed) &
       bit) != 0) {
    detail::diagnose(kind, this,
                     "free list corrupted: handing out a live slot "
                     "(a double free earlier?):",
                     slot);
  }
#endif
  detail::tool_slot_allocated(this, slot, bytes);
}

void synchronized_slot_pool_resource::check_free(void* p) const noexcept {
  const segment_header* segment = find_segment(p);
  if (segment == nullptr) {
    detail::diagnose(kind, this, detail::not_owned_diagnosis, p);
  }
  const std::size_t index = detail::checked_slot_index(
      kind, this,
      static_cast<std::size_t>(static_cast<const std::byte*>(p) -
                               segment->base()) -
          segment_offset_,
      stride_, p);
  const std::uint64_t bit = std::uint64_t{1} << (index % bits_per_word);
  if ((segment->live[index / bits_per_word].fetch_and(
           ~bit, std::memory_order_relaxed) &
       bit) == 0) {
    detail::diagnose(kind, this, detail::double_free_diagnosis, p);
  }
}

// ---- Cold paths ----

[[gnu::noinline]] void* synchronized_slot_pool_resource::allocate_slow(
    std::size_t bytes) {
  heap* h = this_thread_heap_or_null();
  if (h == nullptr) {
    if (tl_registry_gone) [[unlikely]] {
      return allocate_late(bytes);
    }
    h = acquire_heap();
  }
  void* const slot = take_slot(h);
  on_slot_allocated(slot, bytes);
  return slot;
}

// Late in thread exit, after this thread's registry is gone: borrow a heap
// for this one allocation and give it back, so that no heap (and none of
// the free slots it holds) is kept by a thread that can no longer return it.
[[gnu::noinline]] void* synchronized_slot_pool_resource::allocate_late(
    std::size_t bytes) {
  heap* const h = acquire_heap();
  void* slot;
  try {
    slot = take_slot(h);
  } catch (...) {
    abandon_heap(h);
    throw;
  }
  abandon_heap(h);
  on_slot_allocated(slot, bytes);
  return slot;
}

// A slot from h, which belongs to this thread (for now): its free list,
// then what other threads gave back, then a never-used slot, then a chunk.
void* synchronized_slot_pool_resource::take_slot(heap* h) {
  flush_pending(h);
  void* slot = h->local;
  if (slot == nullptr) {
    // Take every slot other threads gave back, in one go.
    slot = h->remote.exchange(nullptr, std::memory_order_acquire);
    if (h->gave_chunks_away) [[unlikely]] {
      slot = keep_own(h, slot);
    }
  }
  if (slot != nullptr) {
    h->local = detail::read_link(slot);
    increment(h->allocated);
  } else if (h->bump_chunk != nullptr &&
             h->bump_next < h->bump_chunk->chunk_slots) {
    slot = carve(h);
  } else {
    const std::lock_guard lock(mutex_);
    slot = grow(h);
  }
  return slot;
}

// Hands out the next never-used slot of h's bump chunk.
void* synchronized_slot_pool_resource::carve(heap* h) {
  const std::size_t index = h->bump_next++;
  void* const slot = h->bump_chunk->base() +
                     index / slots_per_segment_ * segment_bytes_ +
                     segment_offset_ + index % slots_per_segment_ * stride_;
  increment(h->allocated);
  // A new peak needs a never-used slot when one thread uses the pool, so
  // sampling here makes high_water exact for one thread.
  sample_high_water();
  return slot;
}

// Under mutex_: h has no free slot and no never-used one.
void* synchronized_slot_pool_resource::grow(heap* h) {
  absorb_abandoned(h);
  if (void* const slot = h->local; slot != nullptr) {
    h->local = detail::read_link(slot);
    increment(h->allocated);
    return slot;
  }
  if (h->bump_chunk == nullptr || h->bump_next == h->bump_chunk->chunk_slots) {
    std::size_t slots = h->next_chunk_slots;
    if (options_.max_slots != 0) {
      slots = std::min(slots, options_.max_slots -
                                  capacity_.load(std::memory_order_relaxed));
      if (slots == 0) {
        // At capacity: reuse this thread's quarantined slots early rather
        // than fail.
        while (h->quarantined != 0) {
          release_oldest_quarantined(h);
        }
        if (void* const slot = h->local; slot != nullptr) {
          h->local = detail::read_link(slot);
          increment(h->allocated);
          return slot;
        }
        detail::throw_bad_alloc();
      }
    }
    add_chunk(h, slots);
    h->next_chunk_slots = detail::next_chunk_size(options_, slots);
  }
  return carve(h);
}

// Under mutex_: moves the free slots of every abandoned heap into `into`
// (which has none left), so a thread that exited does not strand its cache.
// A heap's free slots move only with its chunks: `into` then owns them, so
// its thread's frees of them come back to its own list (LIFO). Once `into`
// has never-used slots, a heap that also has some is left whole for a
// later absorb or a new thread: a heap has one bump chunk, so it could not
// hand its chunks over.
void synchronized_slot_pool_resource::absorb_abandoned(heap* into) {
  for (heap* from = abandoned_; from != nullptr; from = from->next_abandoned) {
    const bool from_has_bump = from->bump_chunk != nullptr &&
                               from->bump_next < from->bump_chunk->chunk_slots;
    const bool into_has_bump = into->bump_chunk != nullptr &&
                               into->bump_next < into->bump_chunk->chunk_slots;
    if (from_has_bump && into_has_bump) {
      continue;  // `from` keeps its slots, free and never used, and chunks
    }
    void* list = from->local;
    from->local = nullptr;
    void* const remote =
        from->remote.exchange(nullptr, std::memory_order_acquire);
    if (list == nullptr) {
      list = remote;
    } else if (remote != nullptr) {
      detail::write_link(list_tail(list), remote);
    }
    if (from_has_bump) {
      into->bump_chunk = from->bump_chunk;
      into->bump_next = from->bump_next;
      from->bump_chunk = nullptr;
      from->bump_next = 0;
    }
    // `from` is empty: frees of its slots go to `into` from now on. A free
    // that read the old owner (or a batch held back since) still pushes
    // onto `from`: whoever takes `from`'s list later sorts it (keep_own).
    for (segment_header* chunk : chunks_) {
      if (chunk->owner.load(std::memory_order_relaxed) != from) {
        continue;
      }
      for (std::size_t i = 0; i < chunk->segments; ++i) {
        reinterpret_cast<segment_header*>(chunk->base() + i * segment_bytes_)
            ->owner.store(into, std::memory_order_release);
      }
    }
    from->gave_chunks_away = true;
    // After the owner change: the slots `into` now owns stay, any other
    // (an earlier stale push onto `from`) goes to its owner.
    list = keep_own(into, list);
    if (list != nullptr) {
      detail::write_link(list_tail(list), into->local);
      into->local = list;
    }
  }
}

// Returns the slots of `list` that `h` owns, in order; hands every other
// one (freed by a thread that read an owner since absorbed) to its owner's
// remote list, one by one.
void* synchronized_slot_pool_resource::keep_own(heap* h, void* list) noexcept {
  void* kept = nullptr;
  void* kept_tail = nullptr;
  while (list != nullptr) {
    void* const next = detail::read_link(list);
    heap* const owner = segment_of(list)->owner.load(std::memory_order_acquire);
    if (owner == h) {
      detail::write_link(list, nullptr);
      if (kept_tail == nullptr) {
        kept = list;
      } else {
        detail::write_link(kept_tail, list);
      }
      kept_tail = list;
    } else {
      push_remote(owner, list, list);
    }
    list = next;
  }
  return kept;
}

// A free that is not a plain push onto this thread's own list: a slot of
// another heap, this thread's first free here, or a quarantine.
void synchronized_slot_pool_resource::free_slow(heap* owner, heap* self,
                                                void* p) noexcept {
  if (self == nullptr) {
    // This thread's first free here (or it last used another pool).
    self = this_thread_heap_or_null();
    if (self == nullptr) {
      if (tl_registry_gone) {
        // Late in thread exit: this thread can no longer give a heap back,
        // so it takes none.
        give_back_alone(owner, p);
        return;
      }
      try {
        self = acquire_heap();
      } catch (...) {
        // No heap (out of memory).
        give_back_alone(owner, p);
        return;
      }
    }
  }
  increment(self->freed);
  if (quarantining()) {
    quarantine(self, p);
    return;
  }
  route_free(self, owner, p);
}

// Hands p over alone to its owner's remote list, counted as freed by the
// pool rather than by a heap.
void synchronized_slot_pool_resource::give_back_alone(heap* owner,
                                                      void* p) noexcept {
  push_remote(owner, p, p);
  orphan_frees_.fetch_add(1, std::memory_order_relaxed);
}

// Appends p (freed, counted) to self's quarantine; hands on the oldest once
// more than quarantine_limit_ wait.
void synchronized_slot_pool_resource::quarantine(heap* self, void* p) noexcept {
  detail::write_link(p, nullptr);
  if (self->quarantine_newest != nullptr) {
    detail::write_link(self->quarantine_newest, p);
  } else {
    self->quarantine_oldest = p;
  }
  self->quarantine_newest = p;
  if (++self->quarantined > quarantine_limit_) {
    release_oldest_quarantined(self);
  }
}

void synchronized_slot_pool_resource::release_oldest_quarantined(
    heap* h) noexcept {
  void* const oldest = h->quarantine_oldest;
  h->quarantine_oldest = detail::read_link(oldest);
  if (h->quarantine_oldest == nullptr) {
    h->quarantine_newest = nullptr;
  }
  --h->quarantined;
  // The owner now, not at the free: its heap may have been absorbed since.
  route_free(h, segment_of(oldest)->owner.load(std::memory_order_acquire),
             oldest);
}

// Gives freed slot p (already counted) back: onto self's list if self owns
// it, else onto the chain self holds for owner.
void synchronized_slot_pool_resource::route_free(heap* self, heap* owner,
                                                 void* p) noexcept {
  if (owner == self) {
    detail::write_link(p, self->local);
    self->local = p;
  } else {
    if (self->pending_owner != owner) {
      flush_pending(self);
      self->pending_owner = owner;
      self->pending_tail = p;
    }
    detail::write_link(p, self->pending_head);
    self->pending_head = p;
    if (++self->pending_count == remote_batch) {
      flush_pending(self);
    }
  }
}

void synchronized_slot_pool_resource::flush_pending(heap* h) noexcept {
  if (h->pending_head == nullptr) {
    return;
  }
  push_remote(h->pending_owner, h->pending_head, h->pending_tail);
  h->pending_owner = nullptr;
  h->pending_head = nullptr;
  h->pending_tail = nullptr;
  h->pending_count = 0;
}

void synchronized_slot_pool_resource::push_remote(heap* owner, void* first,
                                                  void* last) noexcept {
  // Push the chain first..last onto the owner's remote list. Only the link
  // of `last` is written (the chain is still ours); no other node is read,
  // so there is no ABA problem.
  void* head = owner->remote.load(std::memory_order_relaxed);
  do {
    detail::write_link(last, head);
  } while (!owner->remote.compare_exchange_weak(
      head, first, std::memory_order_release, std::memory_order_relaxed));
}

synchronized_slot_pool_resource::heap*
synchronized_slot_pool_resource::this_thread_heap_or_null() noexcept {
  if (tl_last.id == id_) {
    return static_cast<heap*>(tl_last.heap);
  }
  if (tl_registry_gone) {
    return nullptr;
  }
  for (const thread_heaps::entry& e : tl_registry.entries) {
    if (e.id == id_) {
      tl_last = {id_, e.heap};
      return e.heap;
    }
  }
  return nullptr;
}

// A heap for this thread: an abandoned one if any (a thread that exited),
// else a new one.
[[gnu::noinline]] synchronized_slot_pool_resource::heap*
synchronized_slot_pool_resource::acquire_heap() {
  heap* h;
  {
    const std::lock_guard lock(mutex_);
    if (abandoned_ != nullptr) {
      h = abandoned_;
      abandoned_ = h->next_abandoned;
      h->next_abandoned = nullptr;
      h->abandoned = false;
    } else {
      h = new heap;
      h->next_chunk_slots =
          std::min(detail::min_chunk_slots, options_.max_slots_per_chunk);
      h->next_heap = all_heaps_.load(std::memory_order_relaxed);
      all_heaps_.store(h, std::memory_order_release);
    }
  }
  if (tl_registry_gone) {
    // Late in thread exit: the caller gives h back before it returns.
    return h;
  }
  try {
    const std::lock_guard lock(live_mutex);
    // Forget the heaps of pools that died meanwhile.
    std::erase_if(tl_registry.entries, [](const thread_heaps::entry& e) {
      return !thread_heaps::is_live(e.owner, e.id);
    });
    tl_registry.entries.push_back({id_, this, h});
  } catch (...) {
    abandon_heap(h);
    throw;
  }
  tl_last = {id_, h};
  return h;
}

void synchronized_slot_pool_resource::abandon_heap(heap* h) noexcept {
  // Called by the thread that owns h. Under mutex_ from the start: a
  // release() on another thread resets the heaps' quarantine and pending
  // frees, and returns the chunks they point into, under mutex_ too.
  const std::lock_guard lock(mutex_);
  while (h->quarantined != 0) {
    release_oldest_quarantined(h);
  }
  flush_pending(h);
  h->abandoned = true;
  h->next_abandoned = abandoned_;
  abandoned_ = h;
  if (tl_last.id == id_ && tl_last.heap == h) {
    tl_last = {0, nullptr};
  }
}

void synchronized_slot_pool_resource::add_chunk(heap* h, std::size_t slots) {
  const std::size_t segments =
      (slots + slots_per_segment_ - 1) / slots_per_segment_;
  const std::size_t last_slots = slots - (segments - 1) * slots_per_segment_;
  std::size_t bytes;
  if (__builtin_mul_overflow(segments - 1, segment_bytes_, &bytes) ||
      __builtin_add_overflow(bytes, segment_offset_ + last_slots * stride_,
                             &bytes)) {
    detail::throw_bad_alloc();
  }
  // Nothing changes before upstream returns: if it throws, the pool is as
  // it was. (Reserve first, so recording the chunk cannot throw after.)
  {
    const std::unique_lock lock(index_mutex_);
    chunks_.reserve(chunks_.size() + 1);
  }
  auto* base =
      static_cast<std::byte*>(upstream_->allocate(bytes, segment_bytes_));
  auto* chunk = reinterpret_cast<segment_header*>(base);
  for (std::size_t i = 0; i < segments; ++i) {
    std::byte* const at = base + i * segment_bytes_;
    const std::size_t here = i + 1 < segments ? slots_per_segment_ : last_slots;
    auto* segment = ::new (at) segment_header{.owner = {h},
                                              .chunk = chunk,
                                              .slots = here,
                                              .live = nullptr,
                                              .chunk_slots = slots,
                                              .segments = segments,
                                              .bytes = bytes};
    if (PROTOPOOL_CHECKED) {
      auto* live = reinterpret_cast<std::atomic<std::uint64_t>*>(
          at + sizeof(segment_header));
      for (std::size_t w = 0; w < bitmap_words_; ++w) {
        ::new (live + w) std::atomic<std::uint64_t>(0);
      }
      segment->live = live;
    }
    detail::tool_area_retired(at + segment_offset_, here * stride_);
  }
  {
    const std::unique_lock lock(index_mutex_);
    chunks_.insert(std::upper_bound(chunks_.begin(), chunks_.end(), chunk),
                   chunk);
  }
  h->bump_chunk = chunk;
  h->bump_next = 0;
  add(capacity_, slots);
  add(chunk_count_, 1);
  add(upstream_bytes_, bytes);
}

// Returns one chunk to upstream, its segments' slot areas handed back by
// the tools first.
void synchronized_slot_pool_resource::return_chunk(
    segment_header* chunk) noexcept {
  for (std::size_t i = 0; i < chunk->segments; ++i) {
    auto* segment =
        reinterpret_cast<segment_header*>(chunk->base() + i * segment_bytes_);
    detail::tool_area_returned(segment->base() + segment_offset_,
                               segment->slots * stride_);
  }
  upstream_->deallocate(chunk, chunk->bytes, segment_bytes_);
}

// Returns every chunk to upstream (the caller has told the tools the pool
// is gone). Upstream is called without index_mutex_ held: see find_segment.
void synchronized_slot_pool_resource::release_chunks() noexcept {
  std::vector<segment_header*> chunks;
  {
    const std::unique_lock lock(index_mutex_);
    chunks.swap(chunks_);
  }
  for (segment_header* chunk : chunks) {
    return_chunk(chunk);
  }
  capacity_.store(0, std::memory_order_relaxed);
  chunk_count_.store(0, std::memory_order_relaxed);
  upstream_bytes_.store(0, std::memory_order_relaxed);
}

// The pool dies with slots in use while a memory checker watches: return
// the chunks that hold no live slot, keep the others (never freed), and
// hand valgrind's mempool to an anchor inside a kept chunk, so each leaked
// slot stays a block allocated where the program allocated it: memcheck
// reports it as lost with that stack; LeakSanitizer reports the kept chunk.
// Without the checked-build bitmap every chunk is kept.
void synchronized_slot_pool_resource::keep_chunks_with_leaked_slots() noexcept {
  const segment_header* anchor = nullptr;
  for (segment_header* chunk : chunks_) {
    bool holds_live_slots = true;  // unknown without the bitmap: keep it
    if (PROTOPOOL_CHECKED && chunk->live != nullptr) {
      holds_live_slots = false;
      for (std::size_t s = 0; s < chunk->segments && !holds_live_slots; ++s) {
        const auto* segment = reinterpret_cast<const segment_header*>(
            chunk->base() + s * segment_bytes_);
        for (std::size_t w = 0; w < bitmap_words_; ++w) {
          if (segment->live[w].load(std::memory_order_relaxed) != 0) {
            holds_live_slots = true;
            break;
          }
        }
      }
    }
    if (holds_live_slots) {
      if (anchor == nullptr) {
        anchor = chunk;
      }
      continue;
    }
    return_chunk(chunk);
  }
  if (anchor != nullptr) {
    detail::tool_pool_moved(this, anchor);
  } else {
    detail::tool_pool_destroyed(this);
  }
  chunks_.clear();
}

std::size_t synchronized_slot_pool_resource::count_in_use() const noexcept {
  // Every allocation counter first, then every free counter (acquire loads
  // keep that order): a slot is freed only after it is allocated, so a
  // thread preempted between the two passes counts frees whose
  // allocations it missed (too few in use), never allocations whose frees
  // it missed. Counting heap by heap instead let a stale free counter of
  // one heap meet a fresh allocation counter of another: a watcher calling
  // stats() saw tens of thousands of slots in use in a pool of 48. The
  // second pass starts from the list's head again: a heap published in
  // between (heaps are only ever prepended) adds its frees, not its
  // allocations.
  std::size_t allocated = 0;
  for (const heap* h = all_heaps_.load(std::memory_order_acquire); h != nullptr;
       h = h->next_heap) {
    allocated += h->allocated.load(std::memory_order_acquire);
  }
  std::size_t freed = orphan_frees_.load(std::memory_order_acquire);
  for (const heap* h = all_heaps_.load(std::memory_order_acquire); h != nullptr;
       h = h->next_heap) {
    freed += h->freed.load(std::memory_order_acquire);
  }
  // While threads run, a free may be counted before its allocation is.
  return (allocated > freed ? allocated - freed : 0) +
         pass_through_in_use_.load(std::memory_order_relaxed);
}

void synchronized_slot_pool_resource::sample_high_water() const noexcept {
  const std::size_t now = count_in_use();
  std::size_t seen = high_water_.load(std::memory_order_relaxed);
  while (now > seen && !high_water_.compare_exchange_weak(
                           seen, now, std::memory_order_relaxed)) {
  }
}

[[gnu::noinline]] void* synchronized_slot_pool_resource::allocate_other(
    std::size_t bytes, std::size_t alignment) {
  if (!detail::is_power_of_two(alignment)) {
    detail::throw_bad_alignment(alignment);
  }
  const std::lock_guard lock(mutex_);
  if (pass_through_ && bytes <= options_.slot_size &&
      alignment <= options_.slot_alignment) {
    void* const p = detail::pass_through_allocate(
        *upstream_, options_,
        pass_through_in_use_.load(std::memory_order_relaxed));
    pass_through_in_use_.fetch_add(1, std::memory_order_relaxed);
    sample_high_water();
    return p;
  }
  if (options_.oversize == oversize_policy::throw_bad_alloc) {
    detail::throw_bad_alloc();
  }
  void* const p = upstream_->allocate(bytes, alignment);
  oversize_allocations_.fetch_add(1, std::memory_order_relaxed);
  return p;
}

[[gnu::noinline]] void synchronized_slot_pool_resource::deallocate_other(
    void* p, std::size_t bytes, std::size_t alignment) {
  if (pass_through_ && bytes <= options_.slot_size &&
      alignment <= options_.slot_alignment) {
    const std::lock_guard lock(mutex_);
    detail::pass_through_deallocate(*upstream_, options_, p);
    pass_through_in_use_.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  if (PROTOPOOL_CHECKED && owns(p)) {
    detail::diagnose(kind, this, detail::too_large_for_slot_diagnosis, p);
  }
  const std::lock_guard lock(mutex_);
  upstream_->deallocate(p, bytes, alignment);
}

void synchronized_slot_pool_resource::report_slots_in_use(
    const char* when) const {
  constexpr std::size_t max_listed = 16;
  const void* listed[max_listed];
  std::size_t count = 0;
  const std::shared_lock lock(index_mutex_);
  for (const segment_header* chunk : chunks_) {
    for (std::size_t s = 0; s < chunk->segments; ++s) {
      const auto* segment = reinterpret_cast<const segment_header*>(
          chunk->base() + s * segment_bytes_);
      if (segment->live == nullptr) {
        continue;
      }
      for (std::size_t i = 0; i < segment->slots; ++i) {
        if ((segment->live[i / bits_per_word].load(std::memory_order_relaxed) >>
             (i % bits_per_word)) &
            1U) {
          if (count < max_listed) {
            listed[count] = segment->base() + segment_offset_ + i * stride_;
          }
          ++count;
        }
      }
    }
  }
  detail::report_in_use(kind, this, when, count_in_use(), listed,
                        std::min(count, max_listed));
}

}  // namespace protopool
