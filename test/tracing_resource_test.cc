// Test plan: protopool::tracing_resource (<protopool/tracing_resource.h>),
// over a counting upstream.
// - ForwardsAllocateAndReportsIt / ForwardsDeallocateAndReportsIt: the
//   upstream sees the very call, the sink gets {kind, pointer, bytes,
//   alignment}, in order.
// - StreamSinkWritesOneLinePerEvent: the default line format, exactly.
// - DefaultSinkWritesToClog: with no sink given, lines go to std::clog.
// - UpstreamFailureReportsNothing: an upstream exception propagates and no
//   event is reported.
// - ThrowingSinkReturnsTheBlock: a sink throwing on allocate does not leak.
// - SetSinkReplacesTheSink / EmptySinkReportsNothing / SetStreamRedirects.
// - IsEqualIsIdentity.
// - SeesEveryAllocationOfAProtocolContainer: between a pmr list of
//   protocols and a pool, the trace shows each node and each echo text.
// - TracingUsageTest.HeaderSnippetRuns: the USAGE block of the header prints
//   what its comment says.
#include <gtest/gtest.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/tracing_resource.h>

#include <cstddef>
#include <iostream>
#include <list>
#include <memory_resource>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/counting_resource.h"

namespace {

using protopool::trace_event;
using protopool::trace_kind;
using protopool::tracing_resource;
using protopool::testing::counting_resource;

// A sink that keeps every event.
struct recorder {
  std::vector<trace_event> events;
  tracing_resource::sink_type sink() {
    return [this](const trace_event& event) { events.push_back(event); };
  }
};

TEST(TracingResourceTest, ForwardsAllocateAndReportsIt) {
  counting_resource upstream;
  recorder record;
  tracing_resource traced(&upstream, record.sink());
  void* const p = traced.allocate(24, 8);
  ASSERT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_NE(upstream.find(p), nullptr);
  EXPECT_EQ(upstream.allocation_sizes()[0], 24u);
  EXPECT_EQ(upstream.allocation_alignments()[0], 8u);
  ASSERT_EQ(record.events.size(), 1u);
  EXPECT_EQ(record.events[0].kind, trace_kind::allocate);
  EXPECT_EQ(record.events[0].pointer, p);
  EXPECT_EQ(record.events[0].bytes, 24u);
  EXPECT_EQ(record.events[0].alignment, 8u);
  traced.deallocate(p, 24, 8);
}

TEST(TracingResourceTest, ForwardsDeallocateAndReportsIt) {
  counting_resource upstream;
  recorder record;
  tracing_resource traced(&upstream, record.sink());
  void* const p = traced.allocate(100, 32);
  traced.deallocate(p, 100, 32);
  EXPECT_EQ(upstream.deallocate_calls(), 1u);
  EXPECT_EQ(upstream.blocks_outstanding(), 0u);
  EXPECT_EQ(upstream.mismatches(), 0u);
  ASSERT_EQ(record.events.size(), 2u);
  EXPECT_EQ(record.events[1].kind, trace_kind::deallocate);
  EXPECT_EQ(record.events[1].pointer, p);
  EXPECT_EQ(record.events[1].bytes, 100u);
  EXPECT_EQ(record.events[1].alignment, 32u);
  EXPECT_EQ(traced.upstream_resource(), &upstream);
}

std::string pointer_text(const void* p) {
  std::ostringstream out;
  out << p;  // 0x... on glibc, as %p
  return out.str();
}

TEST(TracingResourceTest, StreamSinkWritesOneLinePerEvent) {
  counting_resource upstream;
  std::ostringstream out;
  tracing_resource traced(&upstream, out);
  void* const p = traced.allocate(56, 8);
  traced.deallocate(p, 56, 8);
  EXPECT_EQ(out.str(), "allocate: p=" + pointer_text(p) +
                           " bytes=56 align=8\n"
                           "deallocate: p=" +
                           pointer_text(p) + " bytes=56 align=8\n");
  EXPECT_TRUE(std::regex_match(
      out.str(), std::regex("allocate: p=0x[0-9a-f]+ bytes=56 align=8\n"
                            "deallocate: p=0x[0-9a-f]+ bytes=56 align=8\n")));
}

// Sends `stream` (std::clog, std::cout) to a string for its lifetime.
class stream_capture {
 public:
  explicit stream_capture(std::ostream& stream)
      : stream_(stream), previous_(stream.rdbuf(text_.rdbuf())) {}
  stream_capture(const stream_capture&) = delete;
  stream_capture& operator=(const stream_capture&) = delete;
  ~stream_capture() { stream_.rdbuf(previous_); }
  [[nodiscard]] std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::ostream& stream_;
  std::streambuf* previous_;
};

TEST(TracingResourceTest, DefaultSinkWritesToClog) {
  counting_resource upstream;
  const stream_capture capture(std::clog);
  tracing_resource traced(&upstream);
  void* const p = traced.allocate(16, 16);
  traced.deallocate(p, 16, 16);
  EXPECT_EQ(capture.text(), "allocate: p=" + pointer_text(p) +
                                " bytes=16 align=16\ndeallocate: p=" +
                                pointer_text(p) + " bytes=16 align=16\n");
}

TEST(TracingResourceTest, UpstreamFailureReportsNothing) {
  counting_resource upstream;
  recorder record;
  tracing_resource traced(&upstream, record.sink());
  upstream.set_failing(true);
  EXPECT_THROW((void)traced.allocate(8, 8),
               protopool::testing::upstream_failure);
  EXPECT_TRUE(record.events.empty());
}

TEST(TracingResourceTest, ThrowingSinkReturnsTheBlock) {
  counting_resource upstream;
  tracing_resource traced(&upstream, [](const trace_event&) {
    throw std::runtime_error("sink failed");
  });
  EXPECT_THROW((void)traced.allocate(8, 8), std::runtime_error);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_EQ(upstream.blocks_outstanding(), 0u);
}

TEST(TracingResourceTest, SetSinkReplacesTheSink) {
  counting_resource upstream;
  recorder first;
  recorder second;
  tracing_resource traced(&upstream, first.sink());
  void* const p = traced.allocate(8, 8);
  traced.set_sink(second.sink());
  traced.deallocate(p, 8, 8);
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].kind, trace_kind::allocate);
  ASSERT_EQ(second.events.size(), 1u);
  EXPECT_EQ(second.events[0].kind, trace_kind::deallocate);
}

TEST(TracingResourceTest, EmptySinkReportsNothing) {
  counting_resource upstream;
  const stream_capture capture(std::clog);
  tracing_resource traced(&upstream, tracing_resource::sink_type{});
  void* const p = traced.allocate(8, 8);
  traced.deallocate(p, 8, 8);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
  EXPECT_EQ(upstream.blocks_outstanding(), 0u);
  EXPECT_EQ(capture.text(), "");
}

TEST(TracingResourceTest, SetStreamRedirects) {
  counting_resource upstream;
  std::ostringstream first;
  std::ostringstream second;
  tracing_resource traced(&upstream, first);
  void* const p = traced.allocate(8, 8);
  traced.set_stream(second);
  traced.deallocate(p, 8, 8);
  EXPECT_EQ(first.str().rfind("allocate: ", 0), 0u);
  EXPECT_EQ(second.str().rfind("deallocate: ", 0), 0u);
  EXPECT_EQ(first.str().find('\n'), first.str().size() - 1);
}

TEST(TracingResourceTest, IsEqualIsIdentity) {
  counting_resource upstream;
  tracing_resource first(&upstream, tracing_resource::sink_type{});
  tracing_resource second(&upstream, tracing_resource::sink_type{});
  EXPECT_TRUE(first.is_equal(first));
  EXPECT_FALSE(first.is_equal(second));
  EXPECT_FALSE(first.is_equal(upstream));
}

TEST(TracingResourceTest, SeesEveryAllocationOfAProtocolContainer) {
  counting_resource upstream;
  protopool::slot_pool_resource pool({.slot_size = 128}, &upstream);
  recorder record;
  tracing_resource traced(&pool, record.sink());
  {
    std::pmr::list<protopool::protocol> messages(&traced);
    messages.emplace_back(protopool::msg::add{5, 6});
    messages.emplace_back(std::in_place_type<protopool::msg::echo>,
                          "a text long enough to need its own block");
    EXPECT_EQ(record.events.size(), 3u);  // two nodes, one text
    EXPECT_EQ(pool.stats().slots_in_use, 3u);
  }
  ASSERT_EQ(record.events.size(), 6u);
  std::size_t allocated = 0;
  for (const trace_event& event : record.events) {
    allocated += event.kind == trace_kind::allocate ? event.bytes : 0;
    allocated -= event.kind == trace_kind::deallocate ? event.bytes : 0;
  }
  EXPECT_EQ(allocated, 0u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(TracingUsageTest, HeaderSnippetRuns) {
  const stream_capture capture(std::cout);
  {
    // clang-format off
    protopool::slot_pool_resource pool(
        protopool::slot_pool_options::for_type<protopool::protocol>(10));
    protopool::tracing_resource traced(&pool, std::cout);
    auto m = protopool::make_box<protopool::protocol>(
        &traced, protopool::msg::add{5, 6});
    // prints: allocate: p=0x55f0c2a4 bytes=56 align=8
    // clang-format on
    EXPECT_TRUE(std::regex_match(
        capture.text(),
        std::regex("allocate: p=0x[0-9a-f]+ bytes=56 align=8\n")));
    EXPECT_TRUE(pool.owns(m.get()));
  }
  EXPECT_TRUE(std::regex_search(
      capture.text(),
      std::regex("\ndeallocate: p=0x[0-9a-f]+ bytes=56 align=8\n$")));
}

}  // namespace
