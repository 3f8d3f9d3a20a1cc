// Test plan: pmr containers of protocol messages under allocation failure.
// Every operation runs under protopool::exercise_every_allocation_failure,
// so each allocation it makes from the resource under test fails once, in
// turn; every test asserts that at least one allocation was exercised and
// that no failed run leaked (blocks in use back where they were). The
// messages come from a second resource, so copies cross resources.
// - strong guarantee where the standard promises it (checked in the failure
//   path against a snapshot): vector push_back/emplace_back at the end,
//   list push/emplace/insert, map emplace/try_emplace, protocol assignment
//   and emplace of a message of another type;
// - no leak (basic guarantee) for the rest: vector insert in the middle,
//   copies of whole containers into another resource, container assignment
//   across resources, make_box, and a list over a slot pool whose upstream
//   fails.
#include <gtest/gtest.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/test_resource.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory_resource>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using protopool::exercise_every_allocation_failure;
using protopool::protocol;
using protopool::test_resource;
using protopool::test_resource_options;
namespace msg = protopool::msg;

// Longer than any small-string buffer: an echo's text is an allocation.
constexpr std::string_view long_text =
    "a payload long enough to need its own allocation";

// Makes the i-th message of a mix of all four kinds, in `alloc`'s resource.
protocol message(std::uint64_t i, const protocol::allocator_type& alloc) {
  switch (i % 4) {
    case 0:
      return protocol(std::allocator_arg, alloc, msg::add{i, i + 1});
    case 1:
      return protocol(std::allocator_arg, alloc, msg::sub{i, 1});
    case 2:
      return protocol(std::allocator_arg, alloc, msg::mul{i, 2});
    default:
      return protocol(std::allocator_arg, alloc, std::in_place_type<msg::echo>,
                      long_text);
  }
}

protocol echo_message(const protocol::allocator_type& alloc) {
  return message(3, alloc);
}

class ExceptionSafetyTest : public testing::Test {
 protected:
  // Asserts the report shows exercised allocations and no leak.
  static void expect_clean(const protopool::allocation_failure_report& report,
                           std::size_t at_least) {
    EXPECT_GE(report.failures, at_least);
    EXPECT_EQ(report.leaking_failures, 0U);
  }

  void TearDown() override {
    EXPECT_EQ(resource_.misuse_count(), 0U);
    EXPECT_EQ(source_.misuse_count(), 0U);
  }

  test_resource resource_{test_resource_options{.name = "under test"}};
  test_resource source_{test_resource_options{.name = "source"}};
};

TEST_F(ExceptionSafetyTest, VectorPushBackAndEmplaceBackAreStrong) {
  std::pmr::vector<protocol> messages(&resource_);
  for (std::uint64_t i = 0; i < 4; ++i) {
    messages.push_back(message(i, &source_));
  }
  messages.shrink_to_fit();  // so the next push reallocates
  const protocol incoming = echo_message(&source_);
  std::pmr::vector<protocol> before(messages, &source_);

  expect_clean(
      exercise_every_allocation_failure(resource_,
                                        [&] {
                                          try {
                                            messages.push_back(incoming);
                                          } catch (...) {
                                            EXPECT_EQ(messages, before);
                                            throw;
                                          }
                                        }),
      2);  // the new buffer and the echo's text
  ASSERT_EQ(messages.size(), 5U);
  EXPECT_EQ(messages.back(), incoming);
  EXPECT_EQ(messages.back().get_allocator().resource(), &resource_);

  before = messages;
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     try {
                       messages.emplace_back(std::in_place_type<msg::echo>,
                                             long_text);
                     } catch (...) {
                       EXPECT_EQ(messages, before);
                       throw;
                     }
                   }),
               1);
  EXPECT_EQ(messages.back(), incoming);
}

TEST_F(ExceptionSafetyTest, ListPushEmplaceAndInsertAreStrong) {
  std::pmr::list<protocol> messages(&resource_);
  for (std::uint64_t i = 0; i < 3; ++i) {
    messages.push_back(message(i, &source_));
  }
  const protocol incoming = echo_message(&source_);
  const std::pmr::list<protocol> before(messages, &source_);
  const auto strong = [&](auto&& operation) {
    return [&, operation] {
      try {
        operation();
      } catch (...) {
        EXPECT_EQ(messages, before);
        throw;
      }
    };
  };

  expect_clean(exercise_every_allocation_failure(
                   resource_, strong([&] { messages.push_back(incoming); })),
               2);  // node and text
  messages.pop_back();
  expect_clean(exercise_every_allocation_failure(
                   resource_, strong([&] { messages.push_front(incoming); })),
               2);
  messages.pop_front();
  expect_clean(exercise_every_allocation_failure(
                   resource_, strong([&] {
                     messages.emplace(std::next(messages.begin()),
                                      std::in_place_type<msg::echo>, long_text);
                   })),
               2);
  messages.erase(std::next(messages.begin()));
  // A range insert of a list is all or nothing too.
  const std::pmr::list<protocol> more{
      {message(3, &source_), message(7, &source_), message(0, &source_)},
      &source_};
  expect_clean(exercise_every_allocation_failure(
                   resource_, strong([&] {
                     messages.insert(messages.end(), more.begin(), more.end());
                   })),
               5);  // three nodes, two texts
  EXPECT_EQ(messages.size(), 6U);
  for (const protocol& m : messages) {
    EXPECT_EQ(m.get_allocator().resource(), &resource_);
  }
}

TEST_F(ExceptionSafetyTest, MapEmplaceAndTryEmplaceAreStrong) {
  std::pmr::map<std::uint64_t, protocol> index(&resource_);
  for (std::uint64_t i = 0; i < 5; ++i) {
    index.emplace(i, message(i, &source_));
  }
  const std::pmr::map<std::uint64_t, protocol> before(index, &source_);
  const protocol incoming = echo_message(&source_);

  expect_clean(exercise_every_allocation_failure(resource_,
                                                 [&] {
                                                   try {
                                                     index.emplace(10,
                                                                   incoming);
                                                   } catch (...) {
                                                     EXPECT_EQ(index, before);
                                                     throw;
                                                   }
                                                 }),
               2);
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     try {
                       index.try_emplace(11, std::in_place_type<msg::echo>,
                                         long_text);
                     } catch (...) {
                       EXPECT_EQ(index.size(), before.size() + 1);
                       throw;
                     }
                   }),
               2);
  EXPECT_EQ(index.at(10), incoming);
  EXPECT_EQ(index.at(11), incoming);
}

TEST_F(ExceptionSafetyTest, ProtocolAssignmentOfAnotherTypeIsStrong) {
  protocol target(std::allocator_arg, &resource_, msg::add{1, 2});
  const protocol incoming = echo_message(&source_);
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     try {
                       target = incoming;
                     } catch (...) {
                       EXPECT_EQ(target, protocol(msg::add{1, 2}));
                       throw;
                     }
                   }),
               1);
  EXPECT_EQ(target, incoming);
  EXPECT_EQ(target.get_allocator().resource(), &resource_);

  protocol other(std::allocator_arg, &resource_, msg::mul{3, 4});
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     try {
                       other.emplace<msg::echo>(long_text);
                     } catch (...) {
                       EXPECT_EQ(other, protocol(msg::mul{3, 4}));
                       throw;
                     }
                   }),
               1);
  EXPECT_EQ(other, incoming);
}

TEST_F(ExceptionSafetyTest, VectorInsertInTheMiddleLeaksNothing) {
  std::pmr::vector<protocol> prototype(&source_);
  for (std::uint64_t i = 0; i < 6; ++i) {
    prototype.push_back(message(i, &source_));
  }
  const protocol incoming = echo_message(&source_);
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     std::pmr::vector<protocol> messages(prototype, &resource_);
                     messages.insert(messages.begin() + 2, incoming);
                     messages.insert(messages.begin() + 1, 3, incoming);
                     ASSERT_EQ(messages.size(), 10U);
                     EXPECT_EQ(messages[2], incoming);
                   }),
               4);
  EXPECT_EQ(resource_.blocks_in_use(), 0U);
}

TEST_F(ExceptionSafetyTest, ContainerCopiesIntoAnotherResourceLeakNothing) {
  std::pmr::vector<protocol> vector_prototype(&source_);
  std::pmr::list<protocol> list_prototype(&source_);
  std::pmr::map<std::uint64_t, protocol> map_prototype(&source_);
  for (std::uint64_t i = 0; i < 8; ++i) {
    vector_prototype.push_back(message(i, &source_));
    list_prototype.push_back(message(i, &source_));
    map_prototype.emplace(i, message(i, &source_));
  }
  const auto report = exercise_every_allocation_failure(resource_, [&] {
    const std::pmr::vector<protocol> vector_copy(vector_prototype, &resource_);
    const std::pmr::list<protocol> list_copy(list_prototype, &resource_);
    const std::pmr::map<std::uint64_t, protocol> map_copy(map_prototype,
                                                          &resource_);
    EXPECT_EQ(vector_copy, vector_prototype);
    EXPECT_EQ(list_copy, list_prototype);
    EXPECT_EQ(map_copy, map_prototype);
  });
  // vector: 1 buffer + 2 texts; list: 8 nodes + 2 texts; map: 8 + 2.
  EXPECT_EQ(report.failures, 23U);
  EXPECT_EQ(report.leaking_failures, 0U);
  EXPECT_EQ(resource_.blocks_in_use(), 0U);
}

TEST_F(ExceptionSafetyTest, AssignmentAcrossResourcesLeaksNothing) {
  std::pmr::vector<protocol> vector_prototype(&source_);
  std::pmr::list<protocol> list_prototype(&source_);
  for (std::uint64_t i = 0; i < 8; ++i) {
    vector_prototype.push_back(message(i + 1, &source_));
    list_prototype.push_back(message(i + 1, &source_));
  }
  expect_clean(exercise_every_allocation_failure(
                   resource_,
                   [&] {
                     std::pmr::vector<protocol> vector_target(&resource_);
                     std::pmr::list<protocol> list_target(&resource_);
                     vector_target.push_back(echo_message(&source_));
                     list_target.push_back(message(0, &source_));
                     vector_target = vector_prototype;  // copy assignment
                     list_target = list_prototype;
                     std::pmr::vector<protocol> moved_from(vector_prototype,
                                                           &source_);
                     vector_target = std::move(moved_from);  // unequal: copies
                     EXPECT_EQ(vector_target, vector_prototype);
                     EXPECT_EQ(list_target, list_prototype);
                     for (const protocol& m : list_target) {
                       EXPECT_EQ(m.get_allocator().resource(), &resource_);
                     }
                   }),
               10);
  EXPECT_EQ(resource_.blocks_in_use(), 0U);
}

TEST_F(ExceptionSafetyTest, MakeBoxReturnsTheMemoryWhenConstructionThrows) {
  const protocol incoming = echo_message(&source_);
  const auto report = exercise_every_allocation_failure(resource_, [&] {
    auto boxed = protopool::make_box<protocol>(&resource_, incoming);
    EXPECT_EQ(*boxed, incoming);
  });
  EXPECT_EQ(report.failures, 2U);  // the box, then the text
  EXPECT_EQ(report.leaking_failures, 0U);
}

TEST_F(ExceptionSafetyTest, ListOverAPoolSurvivesUpstreamFailures) {
  const auto report = exercise_every_allocation_failure(resource_, [&] {
    protopool::slot_pool_resource pool(
        protopool::slot_pool_options{.slot_size = 128,
                                     .max_slots_per_chunk = 4},
        &resource_);
    std::pmr::list<protocol> messages(&pool);
    for (std::uint64_t i = 0; i < 40; ++i) {
      const std::size_t before = pool.stats().slots_in_use;
      try {
        messages.push_back(message(i, &source_));
      } catch (...) {
        // The failed push took nothing from the pool.
        EXPECT_EQ(pool.stats().slots_in_use, before);
        throw;
      }
    }
    EXPECT_EQ(pool.stats().slots_in_use, 50U);  // 40 nodes, 10 texts
  });
  // The pool takes chunks of 4 slots: 50 slots, 13 chunks.
  EXPECT_EQ(report.failures, 13U);
  EXPECT_EQ(report.leaking_failures, 0U);
}

}  // namespace
