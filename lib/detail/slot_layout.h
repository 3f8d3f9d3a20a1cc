// File: lib/detail/slot_layout.h (private)
//
// PURPOSE: what the slot pools share: option validation, slot stride and
// chunk growth, and the cold helpers that throw or diagnose.
#pragma once

#include <protopool/slot_pool_resource.h>

#include <cstddef>

// Put on the definitions of the pools' do_allocate and do_deallocate, and
// of slot_pool_resource::refill (the carve every slot of a fresh pool
// takes): each starts a 64-byte line, so its hot part (under 32 bytes) sits
// in one fetch block wherever the linker places it. Left at g++'s 16-byte
// default, the same code measured 2.75 against 3.3 ns per box and unbox in
// W1 of the hypothesis bench, depending only on how much bench code
// preceded it.
#define PROTOPOOL_DETAIL_HOT_PATH [[gnu::aligned(64)]]

namespace protopool::detail {

/// Smallest growth chunk, in slots, when no initial slots were asked for.
inline constexpr std::size_t min_chunk_slots = 16;

/// Returns true if `n` is a power of two.
constexpr bool is_power_of_two(std::size_t n) noexcept {
  return n != 0 && (n & (n - 1)) == 0;
}

/// Returns `n` rounded up to a multiple of `alignment` (a power of two).
constexpr std::size_t round_up(std::size_t n, std::size_t alignment) noexcept {
  return (n + alignment - 1) & ~(alignment - 1);
}

/// Alignment actually used for slots: `slot_alignment`, at least a pointer's.
constexpr std::size_t effective_alignment(
    const slot_pool_options& options) noexcept {
  return options.slot_alignment < alignof(void*) ? alignof(void*)
                                                 : options.slot_alignment;
}

/// Distance between slots: `slot_size` rounded up to hold a free-list link
/// and to a multiple of the slot alignment.
constexpr std::size_t slot_stride(const slot_pool_options& options) noexcept {
  const std::size_t bytes =
      options.slot_size < sizeof(void*) ? sizeof(void*) : options.slot_size;
  return round_up(bytes, effective_alignment(options));
}

/// Throws `std::invalid_argument` naming the first invalid field of
/// `options`, or of `upstream` when it is null.
void validate(const slot_pool_options& options,
              const std::pmr::memory_resource* upstream);

/// Returns the size, in slots, of the growth chunk after one of `slots`.
std::size_t next_chunk_size(const slot_pool_options& options,
                            std::size_t slots) noexcept;

/// Returns true if PROTOPOOL_PASS_THROUGH=1 is set in the environment.
bool pass_through_requested() noexcept;

/// Pass-through mode: takes one slot-sized block straight from `upstream`,
/// shaped as the pool would hand it out (`slot_size` bytes at a slot's
/// alignment), or throws `std::bad_alloc` with `in_use` blocks out at
/// `max_slots`, where the pool would. Both pools share it, so a program
/// checked in this mode gets what it gets from either pool.
[[nodiscard]] void* pass_through_allocate(std::pmr::memory_resource& upstream,
                                          const slot_pool_options& options,
                                          std::size_t in_use);
/// Returns a block from `pass_through_allocate` to `upstream`.
void pass_through_deallocate(std::pmr::memory_resource& upstream,
                             const slot_pool_options& options,
                             void* p) noexcept;

[[noreturn]] void throw_bad_alloc();
[[noreturn]] void throw_bad_alignment(std::size_t alignment);

/// Writes "protopool: <pool kind> <pool>: <what> <p>" to stderr and aborts.
[[noreturn]] void diagnose(const char* pool_kind, const void* pool,
                           const char* what, const void* p) noexcept;

/// Diagnoses shared by the pools' checked builds.
inline constexpr const char* not_owned_diagnosis =
    "deallocate of a pointer this pool does not own (foreign, or an oversize "
    "block given a slot-sized size):";
inline constexpr const char* too_large_for_slot_diagnosis =
    "deallocate with a size/alignment too large for a slot, of a slot:";
inline constexpr const char* double_free_diagnosis =
    "double free (or free of a slot never handed out):";
inline constexpr const char* inside_slot_diagnosis =
    "deallocate of a pointer inside a slot, not at its start:";

/// What is wrong with a free of `p` the tools refused (a poisoned
/// pointer): in no chunk (`first_slot`, the first slot of the chunk or
/// segment holding `p`, is null), inside a slot (not a multiple of `stride`
/// past `first_slot`), or a slot that is not live.
inline const char* bad_free_diagnosis(const void* p, const void* first_slot,
                                      std::size_t stride) noexcept {
  if (first_slot == nullptr) {
    return not_owned_diagnosis;
  }
  const auto offset =
      static_cast<std::size_t>(static_cast<const std::byte*>(p) -
                               static_cast<const std::byte*>(first_slot));
  return offset % stride != 0 ? inside_slot_diagnosis : double_free_diagnosis;
}

/// Returns the index of the slot `offset` bytes past the first slot of a
/// chunk with slots `stride` apart. Diagnoses (and aborts) a pointer `p`
/// inside a slot rather than at its start.
std::size_t checked_slot_index(const char* pool_kind, const void* pool,
                               std::size_t offset, std::size_t stride,
                               const void* p) noexcept;

/// Writes the slots still in use (count and up to 16 addresses) to stderr.
void report_in_use(const char* pool_kind, const void* pool, const char* when,
                   std::size_t count, const void* const* addresses,
                   std::size_t listed) noexcept;

}  // namespace protopool::detail
