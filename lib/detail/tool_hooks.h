// File: lib/detail/tool_hooks.h (private)
//
// PURPOSE: tell AddressSanitizer and valgrind which pool memory is live, so
// that a use-after-free of a pool slot is reported as it would be with
// malloc. Every function is a no-op unless the library is compiled with
// AddressSanitizer or with PROTOPOOL_VALGRIND.
//
// Slot life cycle, as the tools see it:
//   chunk acquired  -> whole slot area no-access (poisoned)
//   slot handed out -> slot addressable (valgrind: undefined contents)
//   slot freed      -> slot no-access again
// The free-list link inside a free slot is read and written only through
// read_link/write_link, which open the link word for that one access.
// A free is shown to the tools before the pool's checked diagnosis runs
// (tool_slot_freeing), so that the tools themselves report a double free or
// a free of a slot never handed out, with the stack of the deallocation.
//
// A pool destroyed with slots still in use, while a tool watches
// (tools_watching()), keeps the chunks holding them instead of returning
// them: valgrind then reports each leaked slot as a lost block with the
// stack of its allocation (the mempool moves to an anchor inside a kept
// chunk), and LeakSanitizer reports the chunk with the stack of the
// allocation that carved it.
#pragma once

#include <absl/strings/numbers.h>
#include <protopool/config.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include "slot_layout.h"

#if defined(__SANITIZE_ADDRESS__)
#define PROTOPOOL_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROTOPOOL_DETAIL_ASAN 1
#endif
#endif
#ifndef PROTOPOOL_DETAIL_ASAN
#define PROTOPOOL_DETAIL_ASAN 0
#endif

#if PROTOPOOL_DETAIL_ASAN != PROTOPOOL_ASAN
#error "protopool: config.h PROTOPOOL_ASAN disagrees with this compilation"
#endif

#if PROTOPOOL_DETAIL_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if PROTOPOOL_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace protopool::detail {

/// A pool (identified by `pool`) comes to life / dies.
inline void tool_pool_created([[maybe_unused]] const void* pool) noexcept {
#if PROTOPOOL_VALGRIND
  VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
#endif
}
inline void tool_pool_destroyed([[maybe_unused]] const void* pool) noexcept {
#if PROTOPOOL_VALGRIND
  VALGRIND_DESTROY_MEMPOOL(pool);
#endif
}

/// Returns true if a memory checker watches this process: the library is
/// built with AddressSanitizer, or runs under valgrind with PROTOPOOL_VALGRIND.
inline bool tools_watching() noexcept {
#if PROTOPOOL_DETAIL_ASAN
  return true;
#elif PROTOPOOL_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}

/// The pool anchored at `from` is now anchored at `to`, with its live slots.
inline void tool_pool_moved([[maybe_unused]] const void* from,
                            [[maybe_unused]] const void* to) noexcept {
#if PROTOPOOL_VALGRIND
  VALGRIND_MOVE_MEMPOOL(from, to);
#endif
}

/// Returns K from PROTOPOOL_QUARANTINE=K in the environment (a freed slot
/// is reused only after K other frees), or 0 if it is unset or not a
/// non-negative decimal number (surrounding whitespace allowed). A sign
/// after leading blanks (" -1") is not a number: strtoull would have read
/// it as a huge K and switched reuse off for good.
inline std::size_t quarantine_requested() noexcept {
  const char* value = std::getenv("PROTOPOOL_QUARANTINE");
  std::size_t k = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &k)) {
    return 0;
  }
  return k;
}

/// `bytes` at `p`, fresh from upstream, become slots nobody may touch yet.
inline void tool_area_retired([[maybe_unused]] void* p,
                              [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(p, bytes);
#endif
}

/// `bytes` at `p` go back to upstream: make them ordinary memory again.
inline void tool_area_returned([[maybe_unused]] void* p,
                               [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_UNDEFINED(p, bytes);
#endif
}

/// Slot `p` (`bytes` usable) is handed out. For ASan, at least its first
/// byte becomes addressable (as malloc(0) takes one byte), so that
/// tool_slot_freeing tells a live slot from a free one.
inline void tool_slot_allocated([[maybe_unused]] const void* pool,
                                [[maybe_unused]] void* p,
                                [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, bytes == 0 ? 1 : bytes);
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MEMPOOL_ALLOC(pool, p, bytes);
#endif
}

/// ASan saw the free of poisoned `p` (tool_slot_freeing): writes the pool's
/// diagnosis (`pool_kind` `pool`: `what` `p`), then reads `p`, so that ASan
/// reports use-after-poison with the stack of the deallocation (and stops,
/// unless it was told to recover).
[[gnu::cold, gnu::noinline]] inline void tool_report_poisoned_free(
    [[maybe_unused]] const char* pool_kind, [[maybe_unused]] const void* pool,
    [[maybe_unused]] const char* what, [[maybe_unused]] void* p) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  std::fprintf(stderr, "protopool: %s %p: %s %p\n", pool_kind, pool, what, p);
  std::fflush(stderr);
  static_cast<void>(*static_cast<const volatile char*>(p));  // ASan reports
#endif
}

/// Slot `p` of `pool` (a `pool_kind`) is being given back: the tools see
/// the free before the pool looks at it, so a double free or a free of a
/// slot never handed out is reported by the tool itself, with the stack of
/// the deallocation. valgrind: the mempool forgets the slot (MEMPOOL_FREE),
/// which makes it no-access; an address the pool never handed out, or
/// freed already, is an "Invalid free()". ASan: a slot handed out has its
/// first byte addressable, so a poisoned `p` is free, never handed out,
/// inside a slot past its requested bytes, or no live block at all; the
/// pool's one-line diagnosis (`diagnosis()`, called only then, says which)
/// comes first, then ASan's report. Follow with tool_slot_poisoned once the
/// pool accepts the free.
template <class Diagnosis>
inline void tool_slot_freeing([[maybe_unused]] const char* pool_kind,
                              [[maybe_unused]] const void* pool,
                              [[maybe_unused]] void* p,
                              [[maybe_unused]] Diagnosis diagnosis) noexcept {
#if PROTOPOOL_VALGRIND
  VALGRIND_MEMPOOL_FREE(pool, p);
#endif
#if PROTOPOOL_DETAIL_ASAN
  if (__asan_address_is_poisoned(p) != 0) [[unlikely]] {
    tool_report_poisoned_free(pool_kind, pool, diagnosis(), p);
  }
#endif
}

/// After tool_slot_freeing: the `bytes` of slot `p` become no-access for
/// ASan (valgrind's part was done by tool_slot_freeing).
inline void tool_slot_poisoned([[maybe_unused]] void* p,
                               [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
}

/// Reads the free-list link stored in free slot `slot`.
inline void* read_link(void* slot) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(slot, sizeof(void*));
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(slot, sizeof(void*));
#endif
  void* next = *static_cast<void**>(slot);
#if PROTOPOOL_DETAIL_ASAN
  ASAN_POISON_MEMORY_REGION(slot, sizeof(void*));
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(slot, sizeof(void*));
#endif
  return next;
}

/// Stores `next` as the free-list link of free slot `slot`.
inline void write_link(void* slot, void* next) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(slot, sizeof(void*));
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_UNDEFINED(slot, sizeof(void*));
#endif
  *static_cast<void**>(slot) = next;
#if PROTOPOOL_DETAIL_ASAN
  ASAN_POISON_MEMORY_REGION(slot, sizeof(void*));
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(slot, sizeof(void*));
#endif
}

}  // namespace protopool::detail
