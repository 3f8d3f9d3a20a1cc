// File: lib/slot_layout.cc
#include "detail/slot_layout.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <string_view>

namespace protopool::detail {
namespace {

[[noreturn, gnu::cold]] void throw_invalid(const std::string& message) {
  throw std::invalid_argument(absl::StrCat("protopool: ", message));
}

}  // namespace

void validate(const slot_pool_options& options,
              const std::pmr::memory_resource* upstream) {
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  if (options.slot_size == 0) {
    throw_invalid("slot_pool_options.slot_size must be > 0");
  }
  if (!is_power_of_two(options.slot_alignment)) {
    throw_invalid(absl::StrCat("slot_pool_options.slot_alignment (",
                               options.slot_alignment,
                               ") must be a power of two"));
  }
  if (options.max_slots_per_chunk == 0) {
    throw_invalid("slot_pool_options.max_slots_per_chunk must be > 0");
  }
  if (options.max_slots != 0 && options.max_slots < options.initial_slots) {
    throw_invalid(absl::StrCat(
        "slot_pool_options.max_slots (", options.max_slots,
        ") must be 0 or >= initial_slots (", options.initial_slots, ")"));
  }
  if (options.oversize != oversize_policy::upstream &&
      options.oversize != oversize_policy::throw_bad_alloc) {
    throw_invalid("slot_pool_options.oversize is not an oversize_policy");
  }
  // Keep every chunk size computation far from overflow: a chunk is at most
  // a header, padding to the alignment, and slots * stride.
  if (options.slot_size > max / 4) {
    throw_invalid(absl::StrCat("slot_pool_options.slot_size (",
                               options.slot_size, ") is too large"));
  }
  if (options.slot_alignment > max / 4) {
    throw_invalid(absl::StrCat("slot_pool_options.slot_alignment (",
                               options.slot_alignment, ") is too large"));
  }
  const std::size_t stride = slot_stride(options);
  const std::size_t room = max / 2 / stride;
  if (options.max_slots_per_chunk > room) {
    throw_invalid(absl::StrCat("slot_pool_options.max_slots_per_chunk (",
                               options.max_slots_per_chunk,
                               ") times the slot stride overflows"));
  }
  if (options.initial_slots > room) {
    throw_invalid(absl::StrCat("slot_pool_options.initial_slots (",
                               options.initial_slots,
                               ") times the slot stride overflows"));
  }
  if (upstream == nullptr) {
    throw_invalid("upstream resource must not be null");
  }
}

std::size_t next_chunk_size(const slot_pool_options& options,
                            std::size_t slots) noexcept {
  const std::size_t doubled = slots * 2;
  return doubled < options.max_slots_per_chunk ? doubled
                                               : options.max_slots_per_chunk;
}

bool pass_through_requested() noexcept {
  const char* value = std::getenv("PROTOPOOL_PASS_THROUGH");
  return value != nullptr && std::string_view(value) == "1";
}

void* pass_through_allocate(std::pmr::memory_resource& upstream,
                            const slot_pool_options& options,
                            std::size_t in_use) {
  if (options.max_slots != 0 && in_use >= options.max_slots) {
    throw_bad_alloc();
  }
  return upstream.allocate(options.slot_size, effective_alignment(options));
}

void pass_through_deallocate(std::pmr::memory_resource& upstream,
                             const slot_pool_options& options,
                             void* p) noexcept {
  upstream.deallocate(p, options.slot_size, effective_alignment(options));
}

void throw_bad_alloc() { throw std::bad_alloc(); }

void throw_bad_alignment(std::size_t alignment) {
  throw std::invalid_argument(absl::StrCat("protopool: alignment ", alignment,
                                           " is not a power of two"));
}

void diagnose(const char* pool_kind, const void* pool, const char* what,
              const void* p) noexcept {
  absl::FPrintF(stderr, "protopool: %s %p: %s %p\n", pool_kind, pool, what, p);
  std::fflush(stderr);
  std::abort();
}

std::size_t checked_slot_index(const char* pool_kind, const void* pool,
                               std::size_t offset, std::size_t stride,
                               const void* p) noexcept {
  if (offset % stride != 0) {
    diagnose(pool_kind, pool, inside_slot_diagnosis, p);
  }
  return offset / stride;
}

void report_in_use(const char* pool_kind, const void* pool, const char* when,
                   std::size_t count, const void* const* addresses,
                   std::size_t listed) noexcept {
  absl::FPrintF(stderr,
                "protopool: %s %p: %d slot(s) still in use at %s:", pool_kind,
                pool, count, when);
  for (std::size_t i = 0; i < listed; ++i) {
    absl::FPrintF(stderr, " %p", addresses[i]);
  }
  absl::FPrintF(stderr, "%s\n", listed < count ? " ..." : "");
  std::fflush(stderr);
}

}  // namespace protopool::detail
