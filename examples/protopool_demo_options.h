// File: examples/protopool_demo_options.h
//
// PURPOSE: the options of examples/protopool_demo and their validation,
// shared by the flag-parsing front end (protopool_demo.cc) and the process
// that does the work (protopool_demo_run.cc).
//
// CLASSES:
//   demo::resource_kind  the memory resource under test
//   demo::options        one validated run
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace demo {

/// The memory resource the demo's messages are boxed in.
enum class resource_kind {
  pool,
  new_delete,
  unsync_pool,
  sync_pool,
  monotonic
};

/// Every `--resource` value, for messages.
inline constexpr std::string_view resource_names =
    "pool|new_delete|unsync_pool|sync_pool|monotonic";

/// Most messages one run boxes.
inline constexpr std::size_t max_count = 1'000'000;

/// One validated run.
struct options {
  resource_kind resource = resource_kind::pool;
  std::size_t count = 2;
  bool trace = true;
};

/// Returns the kind named `name` (exactly one of `resource_names`), or
/// nothing.
inline std::optional<resource_kind> parse_resource(std::string_view name) {
  if (name == "pool") return resource_kind::pool;
  if (name == "new_delete") return resource_kind::new_delete;
  if (name == "unsync_pool") return resource_kind::unsync_pool;
  if (name == "sync_pool") return resource_kind::sync_pool;
  if (name == "monotonic") return resource_kind::monotonic;
  return std::nullopt;
}

/// Returns the name `parse_resource` takes for `kind`.
inline std::string_view resource_name(resource_kind kind) {
  switch (kind) {
    case resource_kind::pool:
      return "pool";
    case resource_kind::new_delete:
      return "new_delete";
    case resource_kind::unsync_pool:
      return "unsync_pool";
    case resource_kind::sync_pool:
      return "sync_pool";
    case resource_kind::monotonic:
      return "monotonic";
  }
  return "?";
}

/// Returns `text` as a count if it is a decimal number in [0, max_count]
/// with nothing around it (no sign, no spaces), or nothing.
inline std::optional<std::size_t> parse_count(std::string_view text) {
  std::size_t count = 0;
  const char* const end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data(), end, count);
  if (text.empty() || error != std::errc() || rest != end ||
      count > max_count) {
    return std::nullopt;
  }
  return count;
}

}  // namespace demo
