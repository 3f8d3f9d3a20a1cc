// File: lib/tracing_resource.cc
#include <absl/strings/str_format.h>
#include <protopool/tracing_resource.h>

#include <iostream>
#include <utility>

namespace protopool {

tracing_resource::tracing_resource(std::pmr::memory_resource* upstream)
    : tracing_resource(upstream, std::clog) {}

tracing_resource::tracing_resource(std::pmr::memory_resource* upstream,
                                   std::ostream& out)
    : tracing_resource(upstream, stream_sink(out)) {}

tracing_resource::tracing_resource(std::pmr::memory_resource* upstream,
                                   sink_type sink)
    : upstream_(upstream), sink_(std::move(sink)) {}

tracing_resource::sink_type tracing_resource::stream_sink(std::ostream& out) {
  return [&out](const trace_event& event) {
    absl::Format(&out, "%s: p=%p bytes=%d align=%d\n",
                 event.kind == trace_kind::allocate ? "allocate" : "deallocate",
                 event.pointer, event.bytes, event.alignment);
  };
}

void* tracing_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  void* const p = upstream_->allocate(bytes, alignment);
  if (sink_) {
    try {
      sink_(trace_event{trace_kind::allocate, p, bytes, alignment});
    } catch (...) {
      upstream_->deallocate(p, bytes, alignment);
      throw;
    }
  }
  return p;
}

void tracing_resource::do_deallocate(void* p, std::size_t bytes,
                                     std::size_t alignment) {
  upstream_->deallocate(p, bytes, alignment);
  if (sink_) {
    sink_(trace_event{trace_kind::deallocate, p, bytes, alignment});
  }
}

bool tracing_resource::do_is_equal(
    const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

}  // namespace protopool
