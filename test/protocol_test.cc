// Test plan: <protopool/protocol.h>, basic_protocol and the msg:: set.
// Propagation is proven, not assumed: the container tests run with the pmr
// default resource set to std::pmr::null_memory_resource() (any allocation
// that misses the chosen resource throws), and count the chosen resource's
// bytes through a counting upstream.
// - ProtocolMessageTest (typed over add, sub, mul, echo):
//   RoundTripsThroughAVector/AList/AMap on a pool: holds<M>, get_if<M>, the
//   value, and the resource of the protocol and of its payload; the list's
//   and map's pool has slots sized for their node (measured), and every
//   node (and echo text) is a slot of it, none an oversize block;
//   CopiesIntoAContainerWithAnotherResourceUseThatResource; HoldsAndGetIf
//   answer for the held type only; FormatsAsTheMessageDoes (operator<< and
//   absl %s of the protocol equal the message's own).
// - ProtocolPropagationTest: long echo texts in vector/list/map under a null
//   default resource, every byte accounted to the chosen resource.
// - UserProtocolTest: a test-defined protocol (a std::pmr::vector payload
//   with trailing-allocator constructors, a two-std::pmr::string payload
//   with allocator_arg constructors) gets the same propagation.
// - ProtocolSemanticsTest: default construction, the allocator rules of
//   every constructor and assignment (resource kept, move vs copy), emplace,
//   strong guarantee of a failed assignment, a throwing move leaving it
//   valueless until assigned (its copies and moves valueless too, a vector
//   holding it still grows), move assignment from a protocol its own
//   message owns, ==, visit.
// - ProtocolTypeTest: copyable exactly when every message is (a vector of
//   a move-only protocol grows); in-place construction is constructible
//   exactly when it builds (braces for aggregates: no narrowing).
// - ProtocolFormatTest: the exact shapes `Add { left: 5, right: 6 }`,
//   `Echo { text: "hi" }`, and the escaping of echo texts: every ASCII and
//   Latin-1 character as rustc's `{:?}` prints it, other bytes as they are.
// - ProtocolSlotTest: the fixed messages and a protocol fit one slot of
//   slot_pool_options::for_type<protocol>().
// - ProtocolUsageTest: the USAGE block of <protopool/protocol.h> and the
//   README's "protocol in a std::pmr::list over a pool" example run and do
//   what their comments say.
#include <absl/strings/str_format.h>
#include <gtest/gtest.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support/counting_resource.h"
#include "support/default_resource_guard.h"

namespace {

using protopool::protocol;
using protopool::slot_pool_options;
using protopool::slot_pool_resource;
using protopool::testing::counting_resource;
using protopool::testing::default_resource_guard;
namespace msg = protopool::msg;
using allocator = std::pmr::polymorphic_allocator<>;

constexpr int messages_per_test = 8;

// A text well beyond any small-string buffer, distinct for each `i`.
std::string long_text(int i) {
  return "message " + std::to_string(i) +
         ": a text long enough to need its own block in the resource";
}

// The i-th sample of each message type, made with `alloc`.
template <class M>
M sample(int i, const allocator& alloc);
template <>
msg::add sample<msg::add>(int i, const allocator&) {
  return {5 + static_cast<std::uint64_t>(i), 6};
}
template <>
msg::sub sample<msg::sub>(int i, const allocator&) {
  return {9, static_cast<std::uint64_t>(i)};
}
template <>
msg::mul sample<msg::mul>(int i, const allocator&) {
  return {static_cast<std::uint64_t>(i), 7};
}
template <>
msg::echo sample<msg::echo>(int i, const allocator& alloc) {
  return msg::echo(long_text(i), alloc);
}

// Checks that `p` holds the i-th sample of M, and that it and its payload
// use `resource`.
template <class M>
void expect_sample_in(const protocol& p, int i,
                      std::pmr::memory_resource* resource) {
  ASSERT_TRUE(p.holds<M>());
  ASSERT_NE(p.get_if<M>(), nullptr);
  EXPECT_EQ(*p.get_if<M>(),
            sample<M>(i, allocator(std::pmr::new_delete_resource())));
  EXPECT_EQ(p.get_allocator().resource(), resource);
  if constexpr (std::is_same_v<M, msg::echo>) {
    EXPECT_EQ(p.get_if<msg::echo>()->text.get_allocator().resource(), resource);
  }
}

// Puts `message` into a list (at the back) or a map (at key `i`).
template <class M>
void put(std::pmr::list<protocol>& list, int, M&& message) {
  list.emplace_back(std::forward<M>(message));
}
template <class M>
void put(std::pmr::map<int, protocol>& map, int i, M&& message) {
  map.try_emplace(i, std::forward<M>(message));
}

// The bytes one node of `Container` (a list or map of protocols) takes,
// measured: the one block an empty container asks for to hold one message.
template <class Container>
std::size_t node_bytes() {
  counting_resource probe;
  {
    Container container(&probe);
    put(container, 0, msg::add{1, 2});
  }
  EXPECT_EQ(probe.allocate_calls(), 1u);
  return probe.allocation_sizes().at(0);
}

// Options for a pool whose slots hold one node of `Container`, or one
// long_text() (an echo's payload): every block of a round trip fits a slot.
template <class Container>
slot_pool_options node_slot_options() {
  const std::size_t text_bytes = long_text(messages_per_test).size() + 1;
  return {.slot_size = std::max(node_bytes<Container>(), text_bytes)};
}

// Checks that `pool` holds `count` messages of type M in slots and nothing
// as an oversize block: one slot per node, and one per echo's text.
template <class M>
void expect_every_block_a_slot(const slot_pool_resource& pool, int count) {
  const std::size_t blocks_per_message = std::is_same_v<M, msg::echo> ? 2u : 1u;
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  EXPECT_EQ(pool.stats().slots_in_use,
            blocks_per_message * static_cast<std::size_t>(count));
}

template <class M>
class ProtocolMessageTest : public ::testing::Test {
 protected:
  counting_resource upstream_;
  slot_pool_resource pool_{slot_pool_options::for_type<protocol>(), &upstream_};
};

using message_types = ::testing::Types<msg::add, msg::sub, msg::mul, msg::echo>;
TYPED_TEST_SUITE(ProtocolMessageTest, message_types);

TYPED_TEST(ProtocolMessageTest, RoundTripsThroughAVector) {
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    std::pmr::vector<protocol> messages(&this->pool_);
    for (int i = 0; i < messages_per_test; ++i) {
      messages.emplace_back(sample<TypeParam>(i, &this->pool_));
    }
    ASSERT_EQ(messages.size(), std::size_t{messages_per_test});
    for (int i = 0; i < messages_per_test; ++i) {
      expect_sample_in<TypeParam>(messages[static_cast<std::size_t>(i)], i,
                                  &this->pool_);
    }
  }
  EXPECT_EQ(this->pool_.stats().slots_in_use, 0u);
  EXPECT_GT(this->upstream_.allocate_calls(), 0u);
}

TYPED_TEST(ProtocolMessageTest, RoundTripsThroughAList) {
  using list = std::pmr::list<protocol>;
  counting_resource upstream;
  slot_pool_resource pool(node_slot_options<list>(), &upstream);
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    list messages(&pool);
    for (int i = 0; i < messages_per_test; ++i) {
      put(messages, i, sample<TypeParam>(i, &pool));
    }
    expect_every_block_a_slot<TypeParam>(pool, messages_per_test);
    int i = 0;
    for (const protocol& p : messages) {
      EXPECT_TRUE(pool.owns(&p)) << "node " << i << " is not a slot";
      expect_sample_in<TypeParam>(p, i++, &pool);
    }
    EXPECT_EQ(i, messages_per_test);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TYPED_TEST(ProtocolMessageTest, RoundTripsThroughAMap) {
  using map = std::pmr::map<int, protocol>;
  counting_resource upstream;
  slot_pool_resource pool(node_slot_options<map>(), &upstream);
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    map messages(&pool);
    for (int i = 0; i < messages_per_test; ++i) {
      put(messages, i, sample<TypeParam>(i, &pool));
    }
    ASSERT_EQ(messages.size(), std::size_t{messages_per_test});
    expect_every_block_a_slot<TypeParam>(pool, messages_per_test);
    for (const auto& [i, p] : messages) {
      EXPECT_TRUE(pool.owns(&p)) << "node " << i << " is not a slot";
      expect_sample_in<TypeParam>(p, i, &pool);
    }
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TYPED_TEST(ProtocolMessageTest,
           CopiesIntoAContainerWithAnotherResourceUseThatResource) {
  counting_resource other_upstream;
  slot_pool_resource other_pool(slot_pool_options::for_type<protocol>(),
                                &other_upstream);
  default_resource_guard no_default(std::pmr::null_memory_resource());
  std::pmr::vector<protocol> original(&this->pool_);
  for (int i = 0; i < messages_per_test; ++i) {
    original.emplace_back(sample<TypeParam>(i, &this->pool_));
  }
  const std::size_t upstream_calls = this->upstream_.allocate_calls();

  std::pmr::vector<protocol> copy(original, &other_pool);
  std::pmr::list<protocol> list_copy(original.begin(), original.end(),
                                     &other_pool);
  std::pmr::list<protocol> assigned(&other_pool);
  assigned.emplace_back(msg::add{1, 1});
  assigned.front() = original.back();

  for (int i = 0; i < messages_per_test; ++i) {
    expect_sample_in<TypeParam>(copy[static_cast<std::size_t>(i)], i,
                                &other_pool);
  }
  int i = 0;
  for (const protocol& p : list_copy) {
    expect_sample_in<TypeParam>(p, i++, &other_pool);
  }
  expect_sample_in<TypeParam>(assigned.front(), messages_per_test - 1,
                              &other_pool);
  EXPECT_EQ(this->upstream_.allocate_calls(), upstream_calls)
      << "copying took memory from the source's resource";
  EXPECT_GT(other_upstream.allocate_calls(), 0u);
}

TYPED_TEST(ProtocolMessageTest, HoldsAndGetIfAnswerForTheHeldTypeOnly) {
  protocol p(std::allocator_arg, &this->pool_,
             sample<TypeParam>(3, &this->pool_));
  const protocol& cp = p;
  EXPECT_EQ(p.holds<msg::add>(), (std::is_same_v<TypeParam, msg::add>));
  EXPECT_EQ(p.holds<msg::sub>(), (std::is_same_v<TypeParam, msg::sub>));
  EXPECT_EQ(p.holds<msg::mul>(), (std::is_same_v<TypeParam, msg::mul>));
  EXPECT_EQ(p.holds<msg::echo>(), (std::is_same_v<TypeParam, msg::echo>));
  EXPECT_EQ(cp.get_if<msg::add>() != nullptr,
            (std::is_same_v<TypeParam, msg::add>));
  EXPECT_EQ(cp.get_if<msg::echo>() != nullptr,
            (std::is_same_v<TypeParam, msg::echo>));
  ASSERT_NE(p.get_if<TypeParam>(), nullptr);
  EXPECT_EQ(*p.get_if<TypeParam>(), sample<TypeParam>(3, &this->pool_));
}

TYPED_TEST(ProtocolMessageTest, FormatsAsTheMessageDoes) {
  const TypeParam message = sample<TypeParam>(2, &this->pool_);
  const protocol p(std::allocator_arg, &this->pool_, message);
  std::ostringstream message_text;
  message_text << message;
  std::ostringstream protocol_text;
  protocol_text << p;
  EXPECT_FALSE(message_text.str().empty());
  EXPECT_EQ(protocol_text.str(), message_text.str());
  EXPECT_EQ(absl::StrFormat("%s", p), message_text.str());
  EXPECT_EQ(absl::StrFormat("%s", message), message_text.str());
  EXPECT_EQ(absl::StrFormat("<%s|%s>", p, message),
            "<" + message_text.str() + "|" + message_text.str() + ">");
}

// ---- every byte in the chosen resource ----

std::size_t text_block_bytes(const protocol& p) {
  const msg::echo* echo = p.get_if<msg::echo>();
  return echo == nullptr ? 0 : echo->text.capacity() + 1;  // + terminator
}

TEST(ProtocolPropagationTest, VectorOfLongEchoesPutsEveryByteInItsResource) {
  counting_resource chosen;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    std::pmr::vector<protocol> messages(&chosen);
    messages.reserve(messages_per_test);
    std::size_t text_bytes = 0;
    for (int i = 0; i < messages_per_test; ++i) {
      text_bytes += text_block_bytes(
          messages.emplace_back(std::in_place_type<msg::echo>, long_text(i)));
    }
    EXPECT_EQ(chosen.bytes_outstanding(),
              messages.capacity() * sizeof(protocol) + text_bytes);
    EXPECT_EQ(chosen.allocate_calls(), 1u + messages_per_test);
  }
  EXPECT_EQ(chosen.bytes_outstanding(), 0u);
}

TEST(ProtocolPropagationTest, ListOfLongEchoesOnAPoolTakesNothingElsewhere) {
  counting_resource upstream;
  {
    slot_pool_resource pool(
        slot_pool_options{.slot_size = 128, .initial_slots = 16}, &upstream);
    default_resource_guard no_default(std::pmr::null_memory_resource());
    std::pmr::list<protocol> messages(&pool);
    std::size_t text_bytes = 0;
    for (int i = 0; i < messages_per_test; ++i) {
      text_bytes += text_block_bytes(
          messages.emplace_back(std::in_place_type<msg::echo>, long_text(i)));
    }
    // Nodes and texts (< 128 bytes) are all slots of the one chunk.
    EXPECT_EQ(pool.stats().slots_in_use, 2u * messages_per_test);
    EXPECT_EQ(pool.stats().oversize_allocations, 0u);
    EXPECT_EQ(upstream.allocate_calls(), 1u);
    EXPECT_GT(text_bytes, std::size_t{messages_per_test} * 50);
    for (const protocol& p : messages) {
      EXPECT_TRUE(pool.owns(p.get_if<msg::echo>()->text.data()));
      EXPECT_TRUE(pool.owns(&p));
    }
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(ProtocolPropagationTest, MapOfLongEchoesOnAPoolOverflowsOnlyToUpstream) {
  counting_resource upstream;
  {
    // Slots too small for the texts: they go to the pool's upstream,
    // which is still the chosen resource, never the default.
    slot_pool_resource pool(slot_pool_options{.slot_size = 96}, &upstream);
    default_resource_guard no_default(std::pmr::null_memory_resource());
    std::pmr::map<int, protocol> messages(&pool);
    std::string big(300, 'x');
    for (int i = 0; i < messages_per_test; ++i) {
      messages.try_emplace(i, std::in_place_type<msg::echo>,
                           big + std::to_string(i));
    }
    EXPECT_EQ(pool.stats().slots_in_use, std::size_t{messages_per_test});
    EXPECT_EQ(pool.stats().oversize_allocations,
              std::size_t{messages_per_test});
    for (const auto& [i, p] : messages) {
      EXPECT_EQ(std::string_view(p.get_if<msg::echo>()->text),
                big + std::to_string(i));
      EXPECT_NE(upstream.find(p.get_if<msg::echo>()->text.data()), nullptr);
    }
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

// ---- a protocol the test defines ----

// A payload with a vector, trailing-allocator constructors.
struct reading {
  using allocator_type = allocator;
  std::pmr::vector<std::uint32_t> values;

  reading() = default;
  explicit reading(const allocator_type& alloc) : values(alloc) {}
  reading(std::initializer_list<std::uint32_t> init,
          const allocator_type& alloc = {})
      : values(init, alloc) {}
  reading(const reading& other, const allocator_type& alloc)
      : values(other.values, alloc) {}
  reading(reading&& other, const allocator_type& alloc)
      : values(std::move(other.values), alloc) {}
  reading(const reading&) = default;
  reading(reading&&) = default;
  reading& operator=(const reading&) = default;
  reading& operator=(reading&&) = default;
  ~reading() = default;
  friend bool operator==(const reading&, const reading&) = default;
};

// A payload with two strings, allocator_arg constructors.
struct contact {
  using allocator_type = allocator;
  std::pmr::string first;
  std::pmr::string last;

  contact() = default;
  contact(std::allocator_arg_t, const allocator_type& alloc)
      : first(alloc), last(alloc) {}
  contact(std::allocator_arg_t, const allocator_type& alloc,
          std::string_view first_name, std::string_view last_name)
      : first(first_name, alloc), last(last_name, alloc) {}
  contact(std::allocator_arg_t, const allocator_type& alloc,
          const contact& other)
      : first(other.first, alloc), last(other.last, alloc) {}
  contact(std::allocator_arg_t, const allocator_type& alloc, contact&& other)
      : first(std::move(other.first), alloc),
        last(std::move(other.last), alloc) {}
  contact(const contact&) = default;
  contact(contact&&) = default;
  contact& operator=(const contact&) = default;
  contact& operator=(contact&&) = default;
  ~contact() = default;
  friend bool operator==(const contact&, const contact&) = default;
};

using user_protocol = protopool::basic_protocol<reading, contact>;

const std::string long_first(40, 'f');
const std::string long_last(50, 'l');

void expect_user_message_in(const user_protocol& p, int i,
                            std::pmr::memory_resource* resource) {
  EXPECT_EQ(p.get_allocator().resource(), resource);
  if (i % 2 == 0) {
    ASSERT_TRUE(p.holds<reading>());
    const auto& values = p.get_if<reading>()->values;
    EXPECT_EQ(values.size(), 20u + static_cast<std::size_t>(i));
    EXPECT_EQ(values.get_allocator().resource(), resource);
  } else {
    ASSERT_TRUE(p.holds<contact>());
    const contact& c = *p.get_if<contact>();
    EXPECT_EQ(std::string_view(c.first), long_first);
    EXPECT_EQ(std::string_view(c.last), long_last + std::to_string(i));
    EXPECT_EQ(c.first.get_allocator().resource(), resource);
    EXPECT_EQ(c.last.get_allocator().resource(), resource);
  }
}

TEST(UserProtocolTest, PayloadsLiveInTheVectorsResource) {
  counting_resource chosen;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    std::pmr::vector<user_protocol> messages(&chosen);
    messages.reserve(messages_per_test);
    std::size_t payload_bytes = 0;
    for (int i = 0; i < messages_per_test; ++i) {
      if (i % 2 == 0) {
        auto& values = messages.emplace_back(std::in_place_type<reading>)
                           .get_if<reading>()
                           ->values;
        values.assign(20u + static_cast<std::size_t>(i), 7u);
        payload_bytes += values.capacity() * sizeof(std::uint32_t);
      } else {
        const contact& c =
            *messages
                 .emplace_back(std::in_place_type<contact>, long_first,
                               long_last + std::to_string(i))
                 .get_if<contact>();
        payload_bytes += c.first.capacity() + 1 + c.last.capacity() + 1;
      }
    }
    for (int i = 0; i < messages_per_test; ++i) {
      expect_user_message_in(messages[static_cast<std::size_t>(i)], i, &chosen);
    }
    EXPECT_EQ(chosen.bytes_outstanding(),
              messages.capacity() * sizeof(user_protocol) + payload_bytes);
  }
  EXPECT_EQ(chosen.bytes_outstanding(), 0u);
}

TEST(UserProtocolTest, PayloadsLiveInTheListsAndMapsPool) {
  counting_resource upstream;
  {
    slot_pool_resource pool(slot_pool_options{.slot_size = 256}, &upstream);
    default_resource_guard no_default(std::pmr::null_memory_resource());
    std::pmr::list<user_protocol> list(&pool);
    std::pmr::map<int, user_protocol> map(&pool);
    for (int i = 0; i < messages_per_test; ++i) {
      if (i % 2 == 0) {
        list.emplace_back(std::in_place_type<reading>)
            .get_if<reading>()
            ->values.assign(20u + static_cast<std::size_t>(i), 7u);
        map.try_emplace(i, list.back());  // a copy, made in the map's pool
      } else {
        list.emplace_back(std::in_place_type<contact>, long_first,
                          long_last + std::to_string(i));
        map.try_emplace(i, std::in_place_type<contact>, long_first,
                        long_last + std::to_string(i));
      }
    }
    int i = 0;
    for (const user_protocol& p : list) {
      expect_user_message_in(p, i++, &pool);
    }
    for (const auto& [key, p] : map) {
      expect_user_message_in(p, key, &pool);
    }
    EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  }
  EXPECT_EQ(upstream.bytes_outstanding(), 0u);
}

TEST(UserProtocolTest, CopiesIntoAnotherResourceUseThatResource) {
  counting_resource source;
  counting_resource target;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  std::pmr::vector<user_protocol> original(&source);
  original.emplace_back(std::in_place_type<contact>, long_first,
                        long_last + "1");
  original.emplace_back(std::in_place_type<reading>)
      .get_if<reading>()
      ->values.assign(22u, 7u);
  const std::size_t source_calls = source.allocate_calls();

  std::pmr::vector<user_protocol> copy(original, &target);
  std::pmr::vector<user_protocol> moved(std::move(original), &target);

  expect_user_message_in(copy[0], 1, &target);
  expect_user_message_in(copy[1], 2, &target);  // 22 values: i == 2
  expect_user_message_in(moved[0], 1, &target);
  EXPECT_TRUE(copy == moved);  // the payloads compare equal, resources aside
  EXPECT_FALSE(copy[0] == copy[1]);
  EXPECT_EQ(source.allocate_calls(), source_calls);
  // vector buffer and, per vector, 2 strings + 1 vector: 2 * 4 blocks.
  EXPECT_EQ(target.allocate_calls(), 8u);
}

// ---- the allocator rules ----

TEST(ProtocolSemanticsTest, DefaultConstructedHoldsAValueInitializedFirst) {
  counting_resource chosen;
  const protocol p;
  EXPECT_TRUE(p.holds<msg::add>());
  EXPECT_EQ(*p.get_if<msg::add>(), (msg::add{0, 0}));
  EXPECT_EQ(p.index(), 0u);
  EXPECT_EQ(p.get_allocator().resource(), std::pmr::get_default_resource());
  const protocol q(std::allocator_arg, &chosen);
  EXPECT_EQ(q.get_allocator().resource(), &chosen);
  const protopool::basic_protocol<msg::echo, msg::add> e(std::allocator_arg,
                                                         &chosen);
  EXPECT_EQ(e.get_if<msg::echo>()->get_allocator().resource(), &chosen);
}

TEST(ProtocolSemanticsTest, CopyConstructorUsesTheDefaultResource) {
  counting_resource source;
  counting_resource fallback;
  const protocol original(std::allocator_arg, &source,
                          std::in_place_type<msg::echo>, long_text(1));
  default_resource_guard default_is_fallback(&fallback);
  const protocol copy(original);
  EXPECT_EQ(copy.get_allocator().resource(), &fallback);
  EXPECT_EQ(copy.get_if<msg::echo>()->get_allocator().resource(), &fallback);
  EXPECT_EQ(fallback.allocate_calls(), 1u);
  EXPECT_EQ(copy, original);
}

TEST(ProtocolSemanticsTest, MoveConstructorTakesTheSourcesResourceAndBuffer) {
  counting_resource source;
  protocol original(std::allocator_arg, &source, std::in_place_type<msg::echo>,
                    long_text(1));
  const char* const buffer = original.get_if<msg::echo>()->text.data();
  const protocol moved(std::move(original));
  EXPECT_EQ(moved.get_allocator().resource(), &source);
  EXPECT_EQ(moved.get_if<msg::echo>()->text.data(), buffer);
  EXPECT_EQ(source.allocate_calls(), 1u);
}

TEST(ProtocolSemanticsTest, AllocatorExtendedMoveWithinOneResourceMoves) {
  counting_resource source;
  protocol original(std::allocator_arg, &source, std::in_place_type<msg::echo>,
                    long_text(1));
  const char* const buffer = original.get_if<msg::echo>()->text.data();
  const protocol moved(std::move(original), &source);
  EXPECT_EQ(moved.get_if<msg::echo>()->text.data(), buffer);
  EXPECT_EQ(source.allocate_calls(), 1u);
}

TEST(ProtocolSemanticsTest, AllocatorExtendedMoveToAnotherResourceCopies) {
  counting_resource source;
  counting_resource target;
  protocol original(std::allocator_arg, &source, std::in_place_type<msg::echo>,
                    long_text(1));
  const char* const buffer = original.get_if<msg::echo>()->text.data();
  const protocol moved(std::allocator_arg, &target, std::move(original));
  EXPECT_EQ(moved.get_allocator().resource(), &target);
  EXPECT_NE(moved.get_if<msg::echo>()->text.data(), buffer);
  EXPECT_EQ(std::string_view(moved.get_if<msg::echo>()->text), long_text(1));
  EXPECT_EQ(target.allocate_calls(), 1u);
  EXPECT_NE(target.find(moved.get_if<msg::echo>()->text.data()), nullptr);
}

TEST(ProtocolSemanticsTest, CopyAssignmentKeepsTheTargetsResource) {
  counting_resource source;
  counting_resource target;
  const protocol echo(std::allocator_arg, &source,
                      std::in_place_type<msg::echo>, long_text(1));
  protocol same_type(std::allocator_arg, &target, std::in_place_type<msg::echo>,
                     "short");
  protocol other_type(std::allocator_arg, &target, msg::add{1, 2});

  same_type = echo;
  other_type = echo;

  for (const protocol* p : {&same_type, &other_type}) {
    EXPECT_EQ(*p, echo);
    EXPECT_EQ(p->get_allocator().resource(), &target);
    EXPECT_EQ(p->get_if<msg::echo>()->get_allocator().resource(), &target);
    EXPECT_NE(target.find(p->get_if<msg::echo>()->text.data()), nullptr);
  }
  EXPECT_EQ(source.allocate_calls(), 1u);
}

TEST(ProtocolSemanticsTest, MoveAssignmentAcrossResourcesCopiesIntoTarget) {
  counting_resource source;
  counting_resource target;
  protocol echo(std::allocator_arg, &source, std::in_place_type<msg::echo>,
                long_text(1));
  protocol other_type(std::allocator_arg, &target, msg::mul{1, 2});
  other_type = std::move(echo);
  EXPECT_EQ(other_type.get_allocator().resource(), &target);
  EXPECT_EQ(std::string_view(other_type.get_if<msg::echo>()->text),
            long_text(1));
  EXPECT_NE(target.find(other_type.get_if<msg::echo>()->text.data()), nullptr);
}

TEST(ProtocolSemanticsTest, MoveAssignmentWithinOneResourceMoves) {
  counting_resource chosen;
  protocol echo(std::allocator_arg, &chosen, std::in_place_type<msg::echo>,
                long_text(1));
  const char* const buffer = echo.get_if<msg::echo>()->text.data();
  protocol other_type(std::allocator_arg, &chosen, msg::mul{1, 2});
  other_type = std::move(echo);
  EXPECT_EQ(other_type.get_if<msg::echo>()->text.data(), buffer);
  EXPECT_EQ(chosen.allocate_calls(), 1u);
}

TEST(ProtocolSemanticsTest,
     EmplaceAndMessageAssignmentUseTheProtocolsResource) {
  counting_resource chosen;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  protocol p(std::allocator_arg, &chosen, msg::add{1, 2});
  msg::echo& e = p.emplace<msg::echo>(long_text(3));
  EXPECT_EQ(&e, p.get_if<msg::echo>());
  EXPECT_EQ(e.get_allocator().resource(), &chosen);
  p = msg::sub{4, 5};
  EXPECT_EQ(*p.get_if<msg::sub>(), (msg::sub{4, 5}));
  p = msg::echo(long_text(4), &chosen);
  EXPECT_EQ(p.get_if<msg::echo>()->get_allocator().resource(), &chosen);
  EXPECT_EQ(chosen.bytes_outstanding(),
            p.get_if<msg::echo>()->text.capacity() + 1);
}

TEST(ProtocolSemanticsTest, FailedAssignmentLeavesTheTargetUnchanged) {
  counting_resource source;
  counting_resource target;
  const protocol echo(std::allocator_arg, &source,
                      std::in_place_type<msg::echo>, long_text(1));
  protocol p(std::allocator_arg, &target, msg::add{5, 6});
  target.set_failing(true);
  EXPECT_THROW(p = echo, protopool::testing::upstream_failure);
  EXPECT_THROW(p.emplace<msg::echo>(long_text(2)),
               protopool::testing::upstream_failure);
  EXPECT_EQ(p, protocol(msg::add{5, 6}));
}

// A message whose move constructor may throw, and does on request.
struct fragile_move {
  static inline bool fail_next_move = false;
  int value = 0;
  explicit fragile_move(int v) : value(v) {}
  fragile_move(const fragile_move&) = default;
  fragile_move(fragile_move&& other) noexcept(false) : value(other.value) {
    if (std::exchange(fail_next_move, false)) {
      throw std::runtime_error("fragile_move: move failed on request");
    }
  }
  fragile_move& operator=(const fragile_move&) = default;
  fragile_move& operator=(fragile_move&&) = default;
  ~fragile_move() = default;
  friend bool operator==(const fragile_move&, const fragile_move&) = default;
};

TEST(ProtocolSemanticsTest, AThrowingMoveLeavesItValuelessUntilAssigned) {
  using fragile_protocol = protopool::basic_protocol<msg::add, fragile_move>;
  fragile_protocol p(msg::add{5, 6});
  EXPECT_FALSE(p.valueless_by_exception());
  const fragile_protocol source(std::in_place_type<fragile_move>, 7);
  fragile_move::fail_next_move = true;  // built, then moved into place
  EXPECT_THROW(p = source, std::runtime_error);
  EXPECT_TRUE(p.valueless_by_exception());
  EXPECT_EQ(p.index(), std::variant_npos);
  EXPECT_FALSE(p.holds<msg::add>());
  EXPECT_THROW(p.visit([](const auto&) { return 0; }), std::bad_variant_access);
  p = msg::add{1, 2};  // assignment brings it back
  EXPECT_FALSE(p.valueless_by_exception());
  EXPECT_EQ(p, fragile_protocol(msg::add{1, 2}));
  fragile_move::fail_next_move = true;
  EXPECT_THROW(p.emplace<fragile_move>(8), std::runtime_error);
  EXPECT_TRUE(p.valueless_by_exception());
  p.emplace<fragile_move>(9);
  EXPECT_EQ(p.get_if<fragile_move>()->value, 9);
  // protocol's own messages never get there: they move without throwing.
  EXPECT_TRUE(std::is_nothrow_move_constructible_v<msg::echo>);
  EXPECT_TRUE(std::is_nothrow_move_constructible_v<msg::add>);
}

TEST(ProtocolSemanticsTest, CopiesAndMovesOfAValuelessProtocolAreValueless) {
  using fragile_protocol = protopool::basic_protocol<msg::add, fragile_move>;
  counting_resource other;
  std::pmr::vector<fragile_protocol> inbox;
  inbox.reserve(1);
  inbox.emplace_back(msg::add{1, 2});
  fragile_move::fail_next_move = true;
  EXPECT_THROW(inbox[0].emplace<fragile_move>(7), std::runtime_error);
  const fragile_protocol& valueless = inbox[0];
  ASSERT_TRUE(valueless.valueless_by_exception());
  // As a std::variant: copies are valueless, nothing throws.
  const fragile_protocol copy(valueless);
  EXPECT_TRUE(copy.valueless_by_exception());
  const fragile_protocol elsewhere(std::allocator_arg, &other, valueless);
  EXPECT_TRUE(elsewhere.valueless_by_exception());
  fragile_protocol moved(std::allocator_arg, &other, fragile_protocol(copy));
  EXPECT_TRUE(moved.valueless_by_exception());
  fragile_protocol target(msg::add{3, 4});
  target = valueless;
  EXPECT_TRUE(target.valueless_by_exception());
  fragile_protocol far(std::allocator_arg, &other, msg::add{3, 4});
  far = fragile_protocol(copy);  // across resources
  EXPECT_TRUE(far.valueless_by_exception());
  // A container holding one still grows (it copies or moves it).
  inbox.emplace_back(msg::add{5, 6});
  EXPECT_TRUE(inbox[0].valueless_by_exception());
  EXPECT_EQ(inbox[1], fragile_protocol(msg::add{5, 6}));
  EXPECT_EQ(other.bytes_outstanding(), 0U);
}

// A message that can be moved (not noexcept) but not copied.
struct move_only_message {
  std::unique_ptr<int> value;
  explicit move_only_message(int v) : value(std::make_unique<int>(v)) {}
  move_only_message(move_only_message&& other) noexcept(false)
      : value(std::move(other.value)) {}
  move_only_message& operator=(move_only_message&&) = default;
  ~move_only_message() = default;
};

TEST(ProtocolTypeTest, IsCopyableExactlyWhenEveryMessageIs) {
  using move_only_protocol =
      protopool::basic_protocol<msg::add, move_only_message>;
  static_assert(std::is_copy_constructible_v<protocol>);
  static_assert(std::is_copy_assignable_v<protocol>);
  static_assert(!std::is_copy_constructible_v<move_only_protocol>);
  static_assert(!std::is_copy_assignable_v<move_only_protocol>);
  static_assert(std::is_move_constructible_v<move_only_protocol>);
  static_assert(
      !std::is_constructible_v<move_only_protocol, const move_only_message&>);
  // So a vector grows by moving, as with std::variant.
  std::vector<move_only_protocol> messages;
  for (int i = 0; i < 5; ++i) {
    messages.emplace_back(std::in_place_type<move_only_message>, i);
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(*messages[static_cast<std::size_t>(i)]
                   .get_if<move_only_message>()
                   ->value,
              i);
  }
}

TEST(ProtocolTypeTest, InPlaceConstructionAnswersAsItBuilds) {
  using add_in_place = std::in_place_type_t<msg::add>;
  static_assert(std::is_constructible_v<protocol, add_in_place, std::uint64_t,
                                        std::uint64_t>);
  static_assert(std::is_constructible_v<protocol, add_in_place, unsigned>);
  static_assert(std::is_constructible_v<protocol, add_in_place, msg::add>);
  // Braces: a narrowing conversion does not compile, on every compiler.
  static_assert(!std::is_constructible_v<protocol, add_in_place, int, int>);
  static_assert(
      !std::is_constructible_v<protocol, add_in_place, std::uint64_t, double>);
  static_assert(!std::is_constructible_v<protocol, add_in_place, std::string>);
  static_assert(!std::is_constructible_v<protocol, add_in_place, std::uint64_t,
                                         std::uint64_t, std::uint64_t>);
  static_assert(
      std::is_constructible_v<protocol, std::in_place_type_t<msg::echo>,
                              const char*>);
  static_assert(
      !std::is_constructible_v<protocol, std::in_place_type_t<msg::echo>, int>);
  const protocol p(std::in_place_type<msg::add>, std::uint64_t{5}, 6U);
  EXPECT_EQ(p, protocol(msg::add{5, 6}));
}

// A resource that overwrites every block it takes back (as a reusing
// allocator would): reading freed memory gives 0xdd bytes, not the value.
class scribbling_resource final : public std::pmr::memory_resource {
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    std::memset(p, 0xdd, bytes);
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
};

struct tree_node;
using tree = protopool::basic_protocol<msg::add, tree_node>;
struct tree_node {
  protopool::box<tree> child;
};

TEST(ProtocolSemanticsTest, MoveAssignmentFromAProtocolItsMessageOwns) {
  scribbling_resource resource;
  tree t(std::allocator_arg, &resource, std::in_place_type<tree_node>);
  t.get_if<tree_node>()->child =
      protopool::make_box<tree>(&resource, msg::add{5, 6});
  // Another type, one resource: the node (and the box holding the source)
  // is destroyed only after the source has been moved out.
  t = std::move(*t.get_if<tree_node>()->child);
  ASSERT_TRUE(t.holds<msg::add>());
  EXPECT_EQ(t.get_if<msg::add>()->left, 5U);
  EXPECT_EQ(t.get_if<msg::add>()->right, 6U);
}

TEST(ProtocolSemanticsTest, EqualityComparesTypeAndValueNotResource) {
  counting_resource first;
  counting_resource second;
  EXPECT_EQ(protocol(std::allocator_arg, &first, msg::add{5, 6}),
            protocol(std::allocator_arg, &second, msg::add{5, 6}));
  EXPECT_NE(protocol(msg::add{5, 6}), protocol(msg::add{5, 7}));
  EXPECT_NE(protocol(msg::add{5, 6}), protocol(msg::sub{5, 6}));
  EXPECT_EQ(protocol(std::allocator_arg, &first, msg::echo("hi", &first)),
            protocol(std::allocator_arg, &second, msg::echo("hi", &second)));
  EXPECT_NE(protocol(msg::echo("hi")), protocol(msg::echo("ho")));
}

TEST(ProtocolSemanticsTest, VisitCallsWithTheHeldMessage) {
  const auto evaluate = [](const auto& message) -> std::uint64_t {
    using message_type = std::remove_cvref_t<decltype(message)>;
    if constexpr (std::is_same_v<message_type, msg::add>) {
      return message.left + message.right;
    } else if constexpr (std::is_same_v<message_type, msg::sub>) {
      return message.left - message.right;
    } else if constexpr (std::is_same_v<message_type, msg::mul>) {
      return message.left * message.right;
    } else {
      return message.text.size();
    }
  };
  EXPECT_EQ(protocol(msg::add{5, 6}).visit(evaluate), 11u);
  EXPECT_EQ(protocol(msg::sub{9, 4}).visit(evaluate), 5u);
  const protocol product(msg::mul{6, 7});
  EXPECT_EQ(product.visit(evaluate), 42u);
  EXPECT_EQ(visit(evaluate, protocol(msg::echo("four"))), 4u);

  // An rvalue protocol hands its message over as an rvalue.
  protocol echo(msg::echo(long_text(1)));
  const char* const buffer = echo.get_if<msg::echo>()->text.data();
  const msg::echo taken = std::move(echo).visit([](auto&& message) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(message)>,
                                 msg::echo>) {
      return msg::echo(std::move(message));
    } else {
      return msg::echo();
    }
  });
  EXPECT_EQ(std::string_view(taken.text), long_text(1));
  EXPECT_EQ(taken.text.data(), buffer);
}

// ---- formatting ----

template <class T>
std::string streamed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

TEST(ProtocolFormatTest, PrintsTheOriginalExperimentsShapes) {
  EXPECT_EQ(streamed(msg::add{5, 6}), "Add { left: 5, right: 6 }");
  EXPECT_EQ(streamed(msg::sub{7, 2}), "Sub { left: 7, right: 2 }");
  EXPECT_EQ(streamed(msg::mul{6, 7}), "Mul { left: 6, right: 7 }");
  EXPECT_EQ(streamed(msg::echo("hi")), R"(Echo { text: "hi" })");
  EXPECT_EQ(streamed(protocol(msg::add{2, 4})), "Add { left: 2, right: 4 }");
  EXPECT_EQ(absl::StrFormat("m=%s", protocol(msg::echo("hi"))),
            R"(m=Echo { text: "hi" })");
  EXPECT_EQ(streamed(msg::mul{18446744073709551615u, 0}),
            "Mul { left: 18446744073709551615, right: 0 }");
}

TEST(ProtocolFormatTest, EscapesEchoTextsAsRustDebugDoes) {
  EXPECT_EQ(streamed(msg::echo(R"(say "hi")")),
            R"(Echo { text: "say \"hi\"" })");
  EXPECT_EQ(streamed(msg::echo(R"(C:\tmp)")), R"(Echo { text: "C:\\tmp" })");
  EXPECT_EQ(streamed(msg::echo("a\tb\nc\rd")),
            R"(Echo { text: "a\tb\nc\rd" })");
  EXPECT_EQ(streamed(msg::echo(std::string_view("\x01\x1f\x7f\0z", 5))),
            R"(Echo { text: "\u{1}\u{1f}\u{7f}\0z" })");
  EXPECT_EQ(streamed(msg::echo("it's")), R"(Echo { text: "it's" })");
  EXPECT_EQ(streamed(msg::echo("caf\xc3\xa9")),
            "Echo { text: \"caf\xc3\xa9\" }");
  EXPECT_EQ(streamed(msg::echo("")), R"(Echo { text: "" })");
  EXPECT_EQ(absl::StrFormat("%s", msg::echo("\"\\")),
            R"(Echo { text: "\"\\" })");
}

// What `println!("{:?}", s)` prints (rustc 1.95) for `s` = every ASCII
// character, U+0000 to U+007F, in order.
constexpr std::string_view rust_debug_of_ascii =
    R"rust("\0\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{e}\u{f})rust"
    R"rust(\u{10}\u{11}\u{12}\u{13}\u{14}\u{15}\u{16}\u{17}\u{18}\u{19}\u{1a}\u{1b})rust"
    R"rust(\u{1c}\u{1d}\u{1e}\u{1f} !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLM)rust"
    R"rust(NOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\u{7f}")rust";

// The same for every Latin-1 character, U+0080 to U+00FF, in order.
constexpr std::string_view rust_debug_of_latin1 =
    R"rust("\u{80}\u{81}\u{82}\u{83}\u{84}\u{85}\u{86}\u{87}\u{88}\u{89}\u{8a})rust"
    R"rust(\u{8b}\u{8c}\u{8d}\u{8e}\u{8f}\u{90}\u{91}\u{92}\u{93}\u{94}\u{95})rust"
    R"rust(\u{96}\u{97}\u{98}\u{99}\u{9a}\u{9b}\u{9c}\u{9d}\u{9e}\u{9f}\u{a0})rust"
    R"rust(¡¢£¤¥¦§¨©ª«¬\u{ad}®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜ)rust"
    R"rust(ÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ")rust";

TEST(ProtocolFormatTest, EscapesEveryAsciiCharacterAsRustDebugDoes) {
  std::string ascii;
  for (int c = 0; c < 0x80; ++c) {
    ascii.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(streamed(msg::echo(ascii)),
            "Echo { text: " + std::string(rust_debug_of_ascii) + " }");
}

TEST(ProtocolFormatTest, EscapesEveryLatin1CharacterAsRustDebugDoes) {
  std::string latin1;  // UTF-8: two bytes each
  for (unsigned c = 0x80; c < 0x100; ++c) {
    latin1.push_back(static_cast<char>(0xc0 | (c >> 6)));
    latin1.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
  EXPECT_EQ(streamed(msg::echo(latin1)),
            "Echo { text: " + std::string(rust_debug_of_latin1) + " }");
}

TEST(ProtocolFormatTest, WritesOtherBytesAsTheyAre) {
  // Characters above U+00FF, and bytes that are not UTF-8 (a lone lead
  // byte, one before ASCII, a stray continuation byte).
  EXPECT_EQ(streamed(msg::echo("\xe2\x82\xac \xf0\x9f\x98\x80")),
            "Echo { text: \"\xe2\x82\xac \xf0\x9f\x98\x80\" }");
  EXPECT_EQ(streamed(msg::echo("\xc2")), "Echo { text: \"\xc2\" }");
  EXPECT_EQ(streamed(msg::echo("\xc2\x41\x80\xff")),
            "Echo { text: \"\xc2\x41\x80\xff\" }");
}

// ---- slots ----

static_assert(std::is_trivially_copyable_v<msg::add>);
static_assert(std::is_trivially_copyable_v<msg::sub>);
static_assert(std::is_trivially_copyable_v<msg::mul>);
static_assert(!std::is_trivially_copyable_v<msg::echo>);
static_assert(std::uses_allocator_v<protocol, allocator>);
static_assert(std::uses_allocator_v<msg::echo, allocator>);
static_assert(!std::uses_allocator_v<msg::add, allocator>);

TEST(ProtocolSlotTest, MessagesAndProtocolsFitOneSlotOfAProtocolPool) {
  counting_resource upstream;
  slot_pool_resource pool(slot_pool_options::for_type<protocol>(4), &upstream);
  void* const add = pool.allocate(sizeof(msg::add), alignof(msg::add));
  void* const mul = pool.allocate(sizeof(msg::mul), alignof(msg::mul));
  {
    const auto boxed = protopool::make_box<protocol>(&pool, msg::sub{1, 2});
    EXPECT_EQ(pool.stats().slots_in_use, 3u);
  }
  pool.deallocate(mul, sizeof(msg::mul), alignof(msg::mul));
  pool.deallocate(add, sizeof(msg::add), alignof(msg::add));
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  EXPECT_EQ(pool.stats().high_water, 3u);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
}

// Sends std::cout to a string for its lifetime.
class cout_capture {
 public:
  cout_capture() : previous_(std::cout.rdbuf(text_.rdbuf())) {}
  cout_capture(const cout_capture&) = delete;
  cout_capture& operator=(const cout_capture&) = delete;
  ~cout_capture() { std::cout.rdbuf(previous_); }
  [[nodiscard]] std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::streambuf* previous_;
};

TEST(ProtocolUsageTest, HeaderSnippetRuns) {
  const cout_capture capture;
  // clang-format off
  protopool::slot_pool_resource pool({.slot_size = 128});
  std::pmr::list<protopool::protocol> inbox(&pool);
  inbox.emplace_back(protopool::msg::add{5, 6});
  inbox.emplace_back(std::in_place_type<protopool::msg::echo>,
                     "a text too long for the small-string buffer");
  // Both list nodes and the echo's characters live in `pool`.
  std::cout << inbox.front();  // Add { left: 5, right: 6 }

  auto boxed = protopool::make_box<protopool::protocol>(
      &pool, protopool::msg::mul{6, 7});  // one slot; freed with the box
  // clang-format on
  EXPECT_EQ(capture.text(), "Add { left: 5, right: 6 }");
  EXPECT_EQ(pool.stats().slots_in_use, 4u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  boxed.reset();
  EXPECT_EQ(pool.stats().slots_in_use, 3u);
}

TEST(ProtocolUsageTest, ReadmeSnippetRuns) {
  const cout_capture capture;
  counting_resource global_heap_stand_in;
  default_resource_guard no_default(&global_heap_stand_in);
  // clang-format off
  // One pool for the list's nodes and the echo's text: a 128-byte slot holds
  // a node (two pointers and a protocol) or a short text.
  protopool::slot_pool_resource pool({.slot_size = 128, .initial_slots = 64});
  std::pmr::list<protopool::protocol> inbox(&pool);
  inbox.emplace_back(protopool::msg::add{5, 6});
  inbox.emplace_back(std::in_place_type<protopool::msg::echo>,
                     "hello from a text longer than the small-string buffer");
  for (const protopool::protocol& m : inbox) {
    std::cout << m << '\n';
  }
  // Add { left: 5, right: 6 }
  // Echo { text: "hello from a text longer than the small-string buffer" }
  // pool.stats().slots_in_use == 3: two nodes and one text, all in the pool.
  // clang-format on
  EXPECT_EQ(capture.text(),
            "Add { left: 5, right: 6 }\n"
            "Echo { text: \"hello from a text longer than the small-string "
            "buffer\" }\n");
  EXPECT_EQ(pool.stats().slots_in_use, 3u);
  // The pool's one chunk came from the default resource; nothing else did.
  EXPECT_EQ(global_heap_stand_in.allocate_calls(), 1u);
}

}  // namespace
