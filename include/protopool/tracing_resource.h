// File: protopool/tracing_resource.h
//
// PURPOSE: a memory_resource that forwards every call to an upstream
// resource and reports it (pointer, bytes, alignment) to a sink: to watch
// what a container, a box or a pool asks for.
//
// CLASSES:
//   protopool::trace_kind        allocate or deallocate
//   protopool::trace_event       one reported call
//   protopool::tracing_resource  the forwarding, reporting resource
//
// USAGE:
//   protopool::slot_pool_resource pool(
//       protopool::slot_pool_options::for_type<protopool::protocol>(10));
//   protopool::tracing_resource traced(&pool, std::cout);
//   auto m = protopool::make_box<protopool::protocol>(
//       &traced, protopool::msg::add{5, 6});
//   // prints: allocate: p=0x55f0c2a4 bytes=56 align=8
//
// Placed between a resource and its users, it shows every request the users
// make (one line per message); placed as a pool's upstream, it shows the
// pool's chunk traffic instead.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory_resource>
#include <utility>

namespace protopool {

/// What a reported call was.
enum class trace_kind { allocate, deallocate };

/// One call a `tracing_resource` forwarded.
struct trace_event {
  trace_kind kind;
  void* pointer;          ///< returned by allocate; given to deallocate
  std::size_t bytes;      ///< as requested
  std::size_t alignment;  ///< as requested
};

/// A `std::pmr::memory_resource` that forwards every `allocate` and
/// `deallocate` to an upstream resource unchanged and reports each one to a
/// sink.
///
/// Use it to see (or count, or check) the requests some pmr-aware code
/// makes. Do not use it on a hot path: each call costs a `std::function`
/// call on top of the upstream's.
///
/// Behaviour:
/// - `allocate` calls upstream, then reports
///   `{trace_kind::allocate, p, bytes, alignment}`. If upstream throws,
///   nothing is reported and the exception propagates. If the sink throws,
///   the block is returned to upstream and the exception propagates.
/// - `deallocate` returns the block to upstream, then reports
///   `{trace_kind::deallocate, p, bytes, alignment}`; an exception from the
///   sink propagates (the block is already returned).
/// - The default sink writes one line per event to a `std::ostream`
///   (`std::clog` unless another is given): `allocate: p=0x... bytes=N
///   align=N` or `deallocate: p=0x... bytes=N align=N`.
/// - `is_equal` is identity.
///
/// Thread safety: as its upstream and its sink; the resource itself adds no
/// state but the sink. `set_sink` must not race with any other call.
class tracing_resource final : public std::pmr::memory_resource {
 public:
  using sink_type = std::function<void(const trace_event&)>;

  /// Forwards to `upstream` and writes each event to `std::clog`.
  /// Behaviour is undefined unless `upstream` is a valid resource that
  /// outlives this one.
  explicit tracing_resource(
      std::pmr::memory_resource* upstream = std::pmr::get_default_resource());

  /// Forwards to `upstream` and writes each event to `out`. Behaviour is
  /// undefined unless both outlive this resource.
  tracing_resource(std::pmr::memory_resource* upstream, std::ostream& out);

  /// Forwards to `upstream` and calls `sink` with each event (an empty
  /// `sink` reports nothing). Behaviour is undefined unless `upstream`
  /// outlives this resource.
  tracing_resource(std::pmr::memory_resource* upstream, sink_type sink);

  tracing_resource(const tracing_resource&) = delete;
  tracing_resource& operator=(const tracing_resource&) = delete;
  ~tracing_resource() override = default;

  /// Reports every later event to `sink` instead (nothing, if it is empty).
  void set_sink(sink_type sink) { sink_ = std::move(sink); }

  /// Writes every later event to `out` as the default sink does. Behaviour
  /// is undefined unless `out` outlives this resource or the next
  /// `set_sink`/`set_stream`.
  void set_stream(std::ostream& out) { sink_ = stream_sink(out); }

  /// Returns a sink that writes each event to `out` as one line:
  /// `allocate: p=0x... bytes=N align=N` (or `deallocate: ...`).
  [[nodiscard]] static sink_type stream_sink(std::ostream& out);

  /// Returns the resource every call is forwarded to.
  [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept {
    return upstream_;
  }

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override;

  std::pmr::memory_resource* upstream_;
  sink_type sink_;
};

}  // namespace protopool
