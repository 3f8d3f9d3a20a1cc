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
//
// A pool destroyed with slots still in use, while a tool watches
// (tools_watching()), keeps the chunks holding them instead of returning
// them: valgrind then reports each leaked slot as a lost block with the
// stack of its allocation (the mempool moves to an anchor inside a kept
// chunk), and LeakSanitizer reports the chunk with the stack of the
// allocation that carved it.
#pragma once

#include <protopool/config.h>

#include <cstddef>
#include <cstdlib>

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
/// number.
inline std::size_t quarantine_requested() noexcept {
  const char* value = std::getenv("PROTOPOOL_QUARANTINE");
  if (value == nullptr || *value == '\0') {
    return 0;
  }
  char* end = nullptr;
  const unsigned long long k = std::strtoull(value, &end, 10);
  return *end == '\0' && value[0] != '-' ? static_cast<std::size_t>(k) : 0;
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

/// Slot `p` (`bytes` usable) is handed out.
inline void tool_slot_allocated([[maybe_unused]] const void* pool,
                                [[maybe_unused]] void* p,
                                [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_DETAIL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
#if PROTOPOOL_VALGRIND
  VALGRIND_MEMPOOL_ALLOC(pool, p, bytes);
#endif
}

/// Slot `p` (`bytes` usable) is given back.
inline void tool_slot_freed([[maybe_unused]] const void* pool,
                            [[maybe_unused]] void* p,
                            [[maybe_unused]] std::size_t bytes) noexcept {
#if PROTOPOOL_VALGRIND
  VALGRIND_MEMPOOL_FREE(pool, p);
#endif
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
