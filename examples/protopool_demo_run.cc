// File: examples/protopool_demo_run.cc
//
// PURPOSE: the work of examples/protopool_demo: box `count` protocol
// messages in the chosen memory resource, print each, drop them, and show
// that every block came back. protopool_demo parses the flags and runs this
// program with the validated values; it links no flag library, so its heap
// is empty at exit (see protopool_demo.cc for why that needs two programs).
//
// USAGE (normally run by protopool_demo):
//   protopool_demo_run <pool|new_delete|unsync_pool|sync_pool|monotonic>
//                      <count> <trace: 0|1>
//
// The resource under test sits below a protopool::tracing_resource, and the
// boxes are made in the tracing resource: so the trace shows every request
// the messages make (each protocol's block and each echo text), and the
// pool:- line can report what is still in use for every resource kind. A
// tracing resource above the pool's upstream would show only the pool's
// chunk traffic.
#include <absl/strings/str_format.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/tracing_resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protopool_demo_options.h"

namespace {

using protopool::protocol;
namespace msg = protopool::msg;

/// The resource under test, made per `demo::resource_kind`, behind a
/// tracing resource that counts blocks in use and prints each event when
/// tracing. Prints `pool:+ ...` when made and `pool:- in_use=N
/// high_water=N` when destroyed (before the resource under test goes).
class traced_resource {
 public:
  traced_resource(demo::resource_kind kind, bool trace, std::ostream& out)
      : out_(out),
        under_test_(make_resource(kind)),
        traced_(under_test_, [this, trace](const protopool::trace_event& e) {
          record(e, trace);
        }) {
    if (pool_) {
      absl::Format(&out_, "pool:+ slots=%d slot_size=%d\n",
                   pool_->options().initial_slots, pool_->options().slot_size);
    } else {
      absl::Format(&out_, "pool:+ resource=%s\n", demo::resource_name(kind));
    }
  }

  traced_resource(const traced_resource&) = delete;
  traced_resource& operator=(const traced_resource&) = delete;

  ~traced_resource() {
    // The pool reports its own counters; the others are counted here.
    const std::size_t in_use = pool_ ? pool_->stats().slots_in_use : in_use_;
    const std::size_t high_water =
        pool_ ? pool_->stats().high_water : high_water_;
    absl::Format(&out_, "pool:- in_use=%d high_water=%d\n", in_use, high_water);
  }

  /// Returns the resource the demo's messages are made in.
  std::pmr::memory_resource* get() noexcept { return &traced_; }

 private:
  std::pmr::memory_resource* make_resource(demo::resource_kind kind) {
    std::pmr::memory_resource* const upstream = std::pmr::new_delete_resource();
    switch (kind) {
      case demo::resource_kind::pool:
        // The original experiment's pool: ten slots, each one protocol.
        return &pool_.emplace(
            protopool::slot_pool_options::for_type<protocol>(10), upstream);
      case demo::resource_kind::new_delete:
        return upstream;
      case demo::resource_kind::unsync_pool:
        return &unsync_pool_.emplace(upstream);
      case demo::resource_kind::sync_pool:
        return &sync_pool_.emplace(upstream);
      case demo::resource_kind::monotonic:
        return &monotonic_.emplace(upstream);
    }
    return upstream;
  }

  void record(const protopool::trace_event& event, bool trace) {
    if (event.kind == protopool::trace_kind::allocate) {
      high_water_ = std::max(high_water_, ++in_use_);
    } else {
      --in_use_;
    }
    if (trace) {
      write_line_(event);
    }
  }

  std::ostream& out_;
  protopool::tracing_resource::sink_type write_line_ =
      protopool::tracing_resource::stream_sink(out_);
  std::size_t in_use_ = 0;
  std::size_t high_water_ = 0;
  // At most one of these is made; they outlive `traced_`.
  std::optional<protopool::slot_pool_resource> pool_;
  std::optional<std::pmr::unsynchronized_pool_resource> unsync_pool_;
  std::optional<std::pmr::synchronized_pool_resource> sync_pool_;
  std::optional<std::pmr::monotonic_buffer_resource> monotonic_;
  std::pmr::memory_resource* under_test_;
  protopool::tracing_resource traced_;
};

/// Boxes the i-th message of the demo in `resource`: Add { 5, 6 },
/// Add { 2, 4 } (the original experiment's two), then Sub, Mul and an Echo
/// whose text needs a block of its own; the next five add one to `left`.
protopool::box<protocol> make_message(std::size_t i,
                                      std::pmr::memory_resource* resource) {
  const std::uint64_t round = i / 5;
  switch (i % 5) {
    case 0:
      return protopool::make_box<protocol>(resource, msg::add{5 + round, 6});
    case 1:
      return protopool::make_box<protocol>(resource, msg::add{2 + round, 4});
    case 2:
      return protopool::make_box<protocol>(resource, msg::sub{9 + round, 3});
    case 3:
      return protopool::make_box<protocol>(resource, msg::mul{6 + round, 7});
    default:
      return protopool::make_box<protocol>(
          resource, std::in_place_type<msg::echo>,
          absl::StrFormat("message %d says hello from the resource", i));
  }
}

void main_inner(const demo::options& options, std::ostream& out) {
  out << "main inner:+\n";
  traced_resource resource(options.resource, options.trace, out);
  std::vector<protopool::box<protocol>> messages;
  messages.reserve(options.count);
  for (std::size_t i = 0; i < options.count; ++i) {
    messages.push_back(make_message(i, resource.get()));
    out << "main inner: m=" << *messages.back() << '\n';
  }
  out << "main inner:-\n";
  // `messages` goes first (deallocate lines), then `resource` (pool:-).
}

std::optional<demo::options> parse_arguments(int argc, char** argv) {
  if (argc != 4) {
    return std::nullopt;
  }
  const auto resource = demo::parse_resource(argv[1]);
  const auto count = demo::parse_count(argv[2]);
  const std::string_view trace = argv[3];
  if (!resource || !count || (trace != "0" && trace != "1")) {
    return std::nullopt;
  }
  return demo::options{*resource, *count, trace == "1"};
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<demo::options> options = parse_arguments(argc, argv);
  if (!options) {
    std::cerr << "usage: protopool_demo_run <" << demo::resource_names
              << "> <count: 0.." << demo::max_count
              << "> <trace: 0|1>\n(normally run by protopool_demo)\n";
    return 2;
  }
  try {
    std::cout << "main:+\n";
    main_inner(*options, std::cout);
    std::cout << "main:-\n";
  } catch (const std::exception& error) {
    std::cout.flush();
    std::cerr << "protopool_demo: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
