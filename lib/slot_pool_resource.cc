// File: lib/slot_pool_resource.cc
#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <protopool/slot_pool_resource.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>

#include "detail/slot_layout.h"
#include "detail/tool_hooks.h"

namespace protopool {

namespace {
constexpr const char* kind = "slot_pool_resource";
constexpr std::size_t bits_per_word = 64;
}  // namespace

// One upstream block: this header, in checked builds a bitmap of live slots
// (one bit per slot), padding to the slot alignment, then the slots.
struct slot_pool_resource::chunk_header {
  chunk_header* next;
  std::byte* first_slot;
  std::size_t slots;
  std::size_t bytes;      // of the whole upstream block
  std::size_t alignment;  // of the whole upstream block
  std::uint64_t* live;    // checked builds; null otherwise

  [[nodiscard]] bool contains(const void* p) const noexcept {
    const auto* byte = static_cast<const std::byte*>(p);
    // Compare as integers: p may belong to another object entirely.
    const auto address = reinterpret_cast<std::uintptr_t>(byte);
    const auto first = reinterpret_cast<std::uintptr_t>(first_slot);
    return address >= first && address - first < slots_bytes;
  }
  std::size_t slots_bytes;
};

#if PROTOPOOL_CHECKED
// The checked builds' address -> chunk index. The address space is cut into
// granules of 2^shift bytes, the largest power of two not above the slot
// area of a full-size chunk (max_slots_per_chunk slots); each granule maps
// to the chunks whose slot areas overlap it. A full-size chunk overlaps at
// most three granules and a granule at most two full-size chunks, so a
// lookup is one hash probe and one or two range checks. Only the smaller
// chunks of the first growth steps (or one cut short by max_slots) can add
// a few more candidates to a granule. A chunk spanning more than three
// granules (only the first one can, when initial_slots is above
// max_slots_per_chunk) is kept in `large` instead, so the index costs the
// same for a first chunk of 16 slots and of millions; there is at most one
// such chunk, tried after the hash probe.
struct slot_pool_resource::chunk_index {
  explicit chunk_index(std::size_t full_chunk_bytes)
      : shift(static_cast<unsigned>(std::bit_width(full_chunk_bytes) - 1)) {}

  [[nodiscard]] std::uintptr_t first_granule(
      const chunk_header& chunk) const noexcept {
    return reinterpret_cast<std::uintptr_t>(chunk.first_slot) >> shift;
  }
  [[nodiscard]] std::uintptr_t last_granule(
      const chunk_header& chunk) const noexcept {
    return (reinterpret_cast<std::uintptr_t>(chunk.first_slot) +
            chunk.slots_bytes - 1) >>
           shift;
  }

  // Strong guarantee: if the global heap throws, the index is as it was.
  void insert(const chunk_header& chunk) {
    const std::uintptr_t last = last_granule(chunk);
    std::uintptr_t g = first_granule(chunk);
    if (last - g > 2) {
      large.push_back(&chunk);
      return;
    }
    try {
      for (; g <= last; ++g) {
        granules[g].push_back(&chunk);
      }
    } catch (...) {
      for (std::uintptr_t undo = first_granule(chunk); undo < g; ++undo) {
        remove(undo, chunk);
      }
      throw;
    }
  }

  [[nodiscard]] const chunk_header* find(const void* p) const noexcept {
    const auto it = granules.find(reinterpret_cast<std::uintptr_t>(p) >> shift);
    if (it != granules.end()) {
      for (const chunk_header* chunk : it->second) {
        if (chunk->contains(p)) {
          return chunk;
        }
      }
    }
    for (const chunk_header* chunk : large) {
      if (chunk->contains(p)) {
        return chunk;
      }
    }
    return nullptr;
  }

  void clear() noexcept {
    granules.clear();
    large.clear();
  }

  void remove(std::uintptr_t granule, const chunk_header& chunk) noexcept {
    const auto it = granules.find(granule);
    if (it == granules.end()) {
      return;
    }
    auto& chunks = it->second;
    chunks.erase(std::remove(chunks.begin(), chunks.end(), &chunk),
                 chunks.end());
    if (chunks.empty()) {
      granules.erase(it);
    }
  }

  unsigned shift;
  absl::flat_hash_map<std::uintptr_t,
                      absl::InlinedVector<const chunk_header*, 2>>
      granules;
  absl::InlinedVector<const chunk_header*, 1> large;
};

void slot_pool_resource::chunk_index_deleter::operator()(
    chunk_index* index) const noexcept {
  delete index;
}
#endif

slot_pool_resource::slot_pool_resource(const slot_pool_options& options,
                                       std::pmr::memory_resource* upstream)
    : options_(options), upstream_(upstream) {
  detail::validate(options, upstream);
  stride_ = detail::slot_stride(options);
  pass_through_ = detail::pass_through_requested();
  fit_bytes_ = options.slot_size;
  // Pass-through: no request fits (every alignment is >= 1), so every one
  // takes the out-of-line path to upstream; the hot path stays the same.
  fit_align_ = pass_through_ ? 0 : options.slot_alignment;
  next_chunk_slots_ =
      options.initial_slots == 0
          ? std::min(detail::min_chunk_slots, options.max_slots_per_chunk)
          : detail::next_chunk_size(options, options.initial_slots);
  if (options.max_slots != 0) {
    next_chunk_slots_ = std::min(next_chunk_slots_, options.max_slots);
  }
#if PROTOPOOL_INSTRUMENTED
  quarantine_limit_ = detail::quarantine_requested();
#endif
#if PROTOPOOL_CHECKED
  // The slot area of a full-size chunk (saturating: the options allow
  // sizes whose product does not fit).
  const std::size_t full_chunk_bytes =
      options.max_slots_per_chunk >
              std::numeric_limits<std::size_t>::max() / stride_
          ? std::numeric_limits<std::size_t>::max()
          : options.max_slots_per_chunk * stride_;
  index_.reset(new chunk_index(full_chunk_bytes));
#endif
  detail::tool_pool_created(this);
  if (options.initial_slots != 0 && !pass_through_) {
    try {
      add_chunk(options.initial_slots);
    } catch (...) {
      detail::tool_pool_destroyed(this);
      throw;
    }
  }
}

slot_pool_resource::~slot_pool_resource() {
  if (PROTOPOOL_CHECKED && slots_in_use_ != 0) {
    report_slots_in_use("destruction");
  }
#if PROTOPOOL_INSTRUMENTED
  if (slots_in_use_ != 0 && !pass_through_ && detail::tools_watching()) {
    keep_chunks_with_leaked_slots();
    return;
  }
#endif
  // Forget the pool before its chunks go back: upstream may hand the same
  // memory out again (as a pool or as anything else).
  detail::tool_pool_destroyed(this);
  release_chunks();
}

void slot_pool_resource::release() {
  // In pass-through mode the blocks handed out are upstream's, not in any
  // chunk: they stay valid, and stay counted, until they are deallocated.
  if (PROTOPOOL_CHECKED && slots_in_use_ != 0 && !pass_through_) {
    report_slots_in_use("release()");
  }
  // Forget every slot valgrind still thinks is live before the chunks go
  // back to upstream, then start afresh.
  detail::tool_pool_destroyed(this);
  release_chunks();
  detail::tool_pool_created(this);
  next_chunk_slots_ =
      std::min(detail::min_chunk_slots, options_.max_slots_per_chunk);
  if (options_.max_slots != 0) {
    next_chunk_slots_ = std::min(next_chunk_slots_, options_.max_slots);
  }
}

slot_pool_stats slot_pool_resource::stats() const noexcept {
  std::size_t in_use = slots_in_use_;
  std::size_t high_water = high_water_;
  if (counts_derived()) {
    // Every slot carved is in use unless it is on the free list. A slot is
    // carved only when the free list is empty, that is when every slot
    // carved before it is in use: each carve is a new peak.
    const std::size_t carved = carved_slots();
    std::size_t free = 0;
    for (const free_slot* slot = free_list_; slot != nullptr;
         slot = slot->next) {
      ++free;
    }
    in_use = carved - free;
    high_water = std::max(high_water, carved);
  }
  return slot_pool_stats{.slots_in_use = in_use,
                         .high_water = high_water,
                         .capacity = capacity_,
                         .chunks = chunk_count_,
                         .upstream_bytes = upstream_bytes_,
                         .oversize_allocations = oversize_allocations_};
}

std::size_t slot_pool_resource::carved_slots() const noexcept {
  return capacity_ - static_cast<std::size_t>(bump_end_ - bump_) / stride_;
}

bool slot_pool_resource::owns(const void* p) const noexcept {
  return find_chunk(p) != nullptr;
}

const slot_pool_resource::chunk_header* slot_pool_resource::find_chunk(
    const void* p) const noexcept {
#if PROTOPOOL_INSTRUMENTED
  // The checked paths look up every slot they hand out or take back; frees
  // cluster in a chunk, so the chunk of the last lookup is tried first.
  // Then checked builds ask the index (O(1)); the others walk the chunks,
  // newest first.
  if (last_found_ != nullptr && last_found_->contains(p)) {
    return last_found_;
  }
#endif
#if PROTOPOOL_CHECKED
  const chunk_header* const found = index_->find(p);
  if (found != nullptr) {
    last_found_ = found;
  }
  return found;
#else
  for (const chunk_header* chunk = chunks_; chunk != nullptr;
       chunk = chunk->next) {
    if (chunk->contains(p)) {
#if PROTOPOOL_INSTRUMENTED
      last_found_ = chunk;
#endif
      return chunk;
    }
  }
  return nullptr;
#endif
}

PROTOPOOL_DETAIL_HOT_PATH void* slot_pool_resource::do_allocate(
    std::size_t bytes, std::size_t alignment) {
  if (bytes <= fit_bytes_ && alignment <= fit_align_) [[likely]] {
#if PROTOPOOL_INSTRUMENTED
    if (PROTOPOOL_CHECKED && !detail::is_power_of_two(alignment)) {
      detail::throw_bad_alignment(alignment);
    }
    return allocate_slot_instrumented(bytes);
#else
    return allocate_slot();
#endif
  }
  return allocate_other(bytes, alignment);
}

PROTOPOOL_DETAIL_HOT_PATH void slot_pool_resource::do_deallocate(
    void* p, std::size_t bytes, std::size_t alignment) {
  if (bytes <= fit_bytes_ && alignment <= fit_align_) [[likely]] {
#if PROTOPOOL_INSTRUMENTED
    deallocate_slot_instrumented(p, "deallocate");
#else
    free_slot* const slot = static_cast<free_slot*>(p);
    slot->next = free_list_;
    free_list_ = slot;
#endif
    return;
  }
  deallocate_other(p, bytes, alignment);
}

bool slot_pool_resource::do_is_equal(
    const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

[[gnu::noinline]] PROTOPOOL_DETAIL_HOT_PATH void* slot_pool_resource::refill() {
  if (pass_through_) [[unlikely]] {
    return allocate_pass_through();
  }
  // Carve the next never-handed-out slot of the newest chunk. Release
  // builds carve inline (allocate_slot) and come here only to grow, or in
  // pass-through mode; instrumented builds carve here. Growing is a tail
  // call, so the carve needs no stack frame.
  if (bump_ == bump_end_) [[unlikely]] {
    return grow_and_refill();
  }
  void* const slot = bump_;
  bump_ += stride_;
  if (!counts_derived()) {
    ++slots_in_use_;
    high_water_ = std::max(high_water_, slots_in_use_);
  }
  return slot;
}

[[gnu::noinline]] void* slot_pool_resource::grow_and_refill() {
  std::size_t slots = next_chunk_slots_;
  if (options_.max_slots != 0) {
    slots = std::min(slots, options_.max_slots - capacity_);
    if (slots == 0) {
      detail::throw_bad_alloc();
    }
  }
  add_chunk(slots);
  next_chunk_slots_ = detail::next_chunk_size(options_, slots);
  return refill();
}

[[gnu::noinline]] void* slot_pool_resource::allocate_pass_through() {
  // Every slot-class request gets the same upstream block, so the pmr and
  // the static paths may free each other's blocks.
  void* const slot =
      detail::pass_through_allocate(*upstream_, options_, slots_in_use_);
  ++slots_in_use_;
  high_water_ = std::max(high_water_, slots_in_use_);
  return slot;
}

[[gnu::noinline]] void* slot_pool_resource::allocate_other(
    std::size_t bytes, std::size_t alignment) {
  if (!detail::is_power_of_two(alignment)) {
    detail::throw_bad_alignment(alignment);
  }
  if (pass_through_ && bytes <= options_.slot_size &&
      alignment <= options_.slot_alignment) {
    return refill();
  }
  if (options_.oversize == oversize_policy::throw_bad_alloc) {
    detail::throw_bad_alloc();
  }
  void* p = upstream_->allocate(bytes, alignment);
  ++oversize_allocations_;
  return p;
}

[[gnu::noinline]] void slot_pool_resource::deallocate_other(
    void* p, std::size_t bytes, std::size_t alignment) {
  if (pass_through_ && bytes <= options_.slot_size &&
      alignment <= options_.slot_alignment) {
    deallocate_pass_through(p, bytes, alignment);
    return;
  }
  if (PROTOPOOL_CHECKED && owns(p)) {
    detail::diagnose(kind, this, detail::too_large_for_slot_diagnosis, p);
  }
  upstream_->deallocate(p, bytes, alignment);
}

void slot_pool_resource::deallocate_pass_through(void* p, std::size_t,
                                                 std::size_t) noexcept {
  detail::pass_through_deallocate(*upstream_, options_, p);
  --slots_in_use_;
}

void slot_pool_resource::add_chunk(std::size_t slots) {
  const std::size_t alignment =
      std::max(detail::effective_alignment(options_), alignof(chunk_header));
  const std::size_t bitmap_words =
      PROTOPOOL_CHECKED ? (slots + bits_per_word - 1) / bits_per_word : 0;
  const std::size_t offset = detail::round_up(
      sizeof(chunk_header) + bitmap_words * sizeof(std::uint64_t), alignment);
  const std::size_t slots_bytes = slots * stride_;
  const std::size_t bytes = offset + slots_bytes;
  // Nothing changes before upstream returns: if it throws, the pool is as
  // it was.
  void* block = upstream_->allocate(bytes, alignment);
  auto* base = static_cast<std::byte*>(block);
  auto* chunk = ::new (block) chunk_header{.next = chunks_,
                                           .first_slot = base + offset,
                                           .slots = slots,
                                           .bytes = bytes,
                                           .alignment = alignment,
                                           .live = nullptr,
                                           .slots_bytes = slots_bytes};
  if (PROTOPOOL_CHECKED) {
    chunk->live =
        ::new (base + sizeof(chunk_header)) std::uint64_t[bitmap_words]();
  }
#if PROTOPOOL_CHECKED
  try {
    index_->insert(*chunk);
  } catch (...) {
    upstream_->deallocate(block, bytes, alignment);
    throw;
  }
#endif
  detail::tool_area_retired(chunk->first_slot, slots_bytes);
  chunks_ = chunk;
  bump_ = chunk->first_slot;
  bump_end_ = chunk->first_slot + slots_bytes;
  capacity_ += slots;
  ++chunk_count_;
  upstream_bytes_ += bytes;
}

void slot_pool_resource::release_chunks() noexcept {
  if (counts_derived()) {
    high_water_ = std::max(high_water_, carved_slots());
  }
  chunk_header* chunk = chunks_;
  while (chunk != nullptr) {
    chunk_header* const next = chunk->next;
    detail::tool_area_returned(chunk->first_slot, chunk->slots_bytes);
    upstream_->deallocate(chunk, chunk->bytes, chunk->alignment);
    chunk = next;
  }
  forget_chunks();
}

// The pool holds no chunk, and nothing in it points into one: neither into
// chunks returned to upstream nor into chunks kept for the memory checkers
// (if the pool's storage outlives it, a static or a std::optional member,
// LeakSanitizer would scan a stale pointer and call a kept chunk
// reachable).
void slot_pool_resource::forget_chunks() noexcept {
  chunks_ = nullptr;
  free_list_ = nullptr;
#if PROTOPOOL_CHECKED
  index_->clear();
#endif
#if PROTOPOOL_INSTRUMENTED
  last_found_ = nullptr;
  quarantine_oldest_ = nullptr;
  quarantine_newest_ = nullptr;
  quarantined_ = 0;
#endif
  bump_ = nullptr;
  bump_end_ = nullptr;
  capacity_ = 0;
  chunk_count_ = 0;
  upstream_bytes_ = 0;
  if (!pass_through_) {
    slots_in_use_ = 0;
  }
}

void slot_pool_resource::report_slots_in_use(const char* when) const noexcept {
  constexpr std::size_t max_listed = 16;
  const void* listed[max_listed];
  std::size_t count = 0;
  for (const chunk_header* chunk = chunks_; chunk != nullptr;
       chunk = chunk->next) {
    if (chunk->live == nullptr) {
      continue;
    }
    for (std::size_t i = 0; i < chunk->slots; ++i) {
      if ((chunk->live[i / bits_per_word] >> (i % bits_per_word)) & 1U) {
        if (count < max_listed) {
          listed[count] = chunk->first_slot + i * stride_;
        }
        ++count;
      }
    }
  }
  detail::report_in_use(kind, this, when, slots_in_use_, listed,
                        std::min(count, max_listed));
}

void* slot_pool_resource::allocate_slot_instrumented(std::size_t bytes) {
  if (pass_through_) {
    return refill();
  }
#if PROTOPOOL_INSTRUMENTED
  if (free_list_ == nullptr && quarantined_ != 0 && bump_ == bump_end_ &&
      options_.max_slots != 0 && capacity_ >= options_.max_slots) {
    // At capacity: reuse a quarantined slot early rather than fail.
    reuse_oldest_quarantined();
  }
#endif
  void* slot;
  if (free_list_ != nullptr) {
    slot = free_list_;
    free_list_ = static_cast<free_slot*>(detail::read_link(slot));
    ++slots_in_use_;
    high_water_ = std::max(high_water_, slots_in_use_);
  } else {
    slot = refill();
  }
  if (PROTOPOOL_CHECKED) {
    const chunk_header* chunk = find_chunk(slot);
    const std::size_t index =
        static_cast<std::size_t>(static_cast<std::byte*>(slot) -
                                 chunk->first_slot) /
        stride_;
    chunk->live[index / bits_per_word] |= std::uint64_t{1}
                                          << (index % bits_per_word);
  }
  detail::tool_slot_allocated(this, slot, bytes);
  return slot;
}

void slot_pool_resource::deallocate_slot_instrumented(
    void* p, const char* caller) noexcept {
  if (pass_through_) {
    deallocate_pass_through(p, options_.slot_size, options_.slot_alignment);
    return;
  }
  // The tools see the free first: a double free, or a free of a slot never
  // handed out, is their report, with the stack of this call.
  detail::tool_slot_freeing(kind, this, p, [this, p] {
    const chunk_header* const chunk = find_chunk(p);
    return detail::bad_free_diagnosis(
        p, chunk == nullptr ? nullptr : chunk->first_slot, stride_);
  });
  if (PROTOPOOL_CHECKED) {
    const chunk_header* chunk = find_chunk(p);
    if (chunk == nullptr) {
      detail::diagnose(kind, this,
                       caller == std::string_view("deallocate")
                           ? detail::not_owned_diagnosis
                           : "deallocate_slot of a pointer this pool does "
                             "not own:",
                       p);
    }
    const std::size_t index = detail::checked_slot_index(
        kind, this,
        static_cast<std::size_t>(static_cast<std::byte*>(p) -
                                 chunk->first_slot),
        stride_, p);
    std::uint64_t& word = chunk->live[index / bits_per_word];
    const std::uint64_t bit = std::uint64_t{1} << (index % bits_per_word);
    if ((word & bit) == 0) {
      detail::diagnose(kind, this, detail::double_free_diagnosis, p);
    }
    word &= ~bit;
  }
  detail::tool_slot_poisoned(p, stride_);
  --slots_in_use_;
#if PROTOPOOL_INSTRUMENTED
  if (quarantine_limit_ != 0) {
    auto* const slot = static_cast<free_slot*>(p);
    detail::write_link(slot, nullptr);
    if (quarantine_newest_ != nullptr) {
      detail::write_link(quarantine_newest_, slot);
    } else {
      quarantine_oldest_ = slot;
    }
    quarantine_newest_ = slot;
    if (++quarantined_ > quarantine_limit_) {
      reuse_oldest_quarantined();
    }
    return;
  }
#endif
  detail::write_link(p, free_list_);
  free_list_ = static_cast<free_slot*>(p);
}

void slot_pool_resource::reuse_oldest_quarantined() noexcept {
#if PROTOPOOL_INSTRUMENTED
  free_slot* const oldest = quarantine_oldest_;
  quarantine_oldest_ = static_cast<free_slot*>(detail::read_link(oldest));
  if (quarantine_oldest_ == nullptr) {
    quarantine_newest_ = nullptr;
  }
  --quarantined_;
  detail::write_link(oldest, free_list_);
  free_list_ = oldest;
#endif
}

// The pool dies with slots in use while a memory checker watches: return
// the chunks that hold no live slot, keep the others (never freed), and
// hand valgrind's mempool to an anchor inside a kept chunk, so each leaked
// slot stays a block allocated where the program allocated it: memcheck
// reports it as lost with that stack; LeakSanitizer reports the kept chunk.
void slot_pool_resource::keep_chunks_with_leaked_slots() noexcept {
  chunk_header* kept = nullptr;
  chunk_header* chunk = chunks_;
  while (chunk != nullptr) {
    chunk_header* const next = chunk->next;
    bool holds_live_slots = true;  // unknown without the bitmap: keep it
    if (PROTOPOOL_CHECKED && chunk->live != nullptr) {
      const std::size_t words =
          (chunk->slots + bits_per_word - 1) / bits_per_word;
      holds_live_slots =
          std::any_of(chunk->live, chunk->live + words,
                      [](std::uint64_t word) { return word != 0; });
    }
    if (holds_live_slots) {
      chunk->next = kept;
      kept = chunk;
    } else {
      detail::tool_area_returned(chunk->first_slot, chunk->slots_bytes);
      upstream_->deallocate(chunk, chunk->bytes, chunk->alignment);
    }
    chunk = next;
  }
  if (kept != nullptr) {
    detail::tool_pool_moved(this, kept);
  } else {
    detail::tool_pool_destroyed(this);
  }
  forget_chunks();
}

}  // namespace protopool
