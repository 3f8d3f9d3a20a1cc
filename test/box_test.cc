// Test plan: protopool::box and protopool::make_box (<protopool/protocol.h>),
// against a counting resource that checks every deallocation's size and
// alignment.
// - BoxTest (typed over msg::add, sub, mul, echo and protocol):
//   MakeBoxTakesOneBlockOfSizeofT, DestructionReturnsTheMemory,
//   MoveConstructionTransfersObjectAndResource,
//   MoveAssignmentFreesTheOldObject, ResetFreesAndKeepsTheResource,
//   ReleasedObjectCanBeAdoptedByANewBox, FitsInTwoPointers.
// - BoxPayloadTest: an echo box's and a protocol box's text live in the
//   box's resource (under a null default resource); a box from a
//   protocol-sized pool takes exactly one slot.
// - BoxExceptionTest: a throwing constructor returns the memory and the
//   exception propagates; a failing resource propagates its exception.
// - BoxLifetimeTest: the destructor of the object runs exactly once (reset,
//   destruction, move assignment, self move assignment); move assignment
//   from a box the old object owns (a boxed list's pop) takes the box
//   before it frees the old object; an empty box is false and owns nothing.
#include <gtest/gtest.h>
#include <protopool/protocol.h>
#include <protopool/slot_pool_resource.h>
#include <protopool/test_resource.h>

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "support/counting_resource.h"
#include "support/default_resource_guard.h"

namespace {

using protopool::box;
using protopool::make_box;
using protopool::protocol;
using protopool::testing::counting_resource;
using protopool::testing::default_resource_guard;
namespace msg = protopool::msg;

const std::string long_text =
    "a text long enough to need a block of its own in the resource";

// A sample value of each boxed type (its payload made with the default
// resource; make_box copies it into the box's resource).
template <class T>
T sample();
template <>
msg::add sample<msg::add>() {
  return {5, 6};
}
template <>
msg::sub sample<msg::sub>() {
  return {9, 3};
}
template <>
msg::mul sample<msg::mul>() {
  return {6, 7};
}
template <>
msg::echo sample<msg::echo>() {
  return msg::echo("hi");
}
template <>
protocol sample<protocol>() {
  return protocol(msg::add{2, 4});
}

template <class T>
class BoxTest : public ::testing::Test {
 protected:
  counting_resource resource_;
};

using boxed_types =
    ::testing::Types<msg::add, msg::sub, msg::mul, msg::echo, protocol>;
TYPED_TEST_SUITE(BoxTest, boxed_types);

TYPED_TEST(BoxTest, MakeBoxTakesOneBlockOfSizeofT) {
  const box<TypeParam> boxed =
      make_box<TypeParam>(&this->resource_, sample<TypeParam>());
  ASSERT_TRUE(boxed);
  EXPECT_EQ(*boxed, sample<TypeParam>());
  EXPECT_EQ(boxed.resource(), &this->resource_);
  ASSERT_EQ(this->resource_.allocate_calls(), 1u);
  EXPECT_EQ(this->resource_.allocation_sizes()[0], sizeof(TypeParam));
  EXPECT_EQ(this->resource_.allocation_alignments()[0], alignof(TypeParam));
  EXPECT_NE(this->resource_.find(boxed.get()), nullptr);
  EXPECT_EQ(boxed.operator->(), boxed.get());
}

TYPED_TEST(BoxTest, DestructionReturnsTheMemory) {
  {
    const auto boxed =
        make_box<TypeParam>(&this->resource_, sample<TypeParam>());
    EXPECT_EQ(this->resource_.blocks_outstanding(), 1u);
  }
  EXPECT_EQ(this->resource_.blocks_outstanding(), 0u);
  EXPECT_EQ(this->resource_.deallocate_calls(), 1u);
  EXPECT_EQ(this->resource_.mismatches(), 0u);
}

TYPED_TEST(BoxTest, MoveConstructionTransfersObjectAndResource) {
  auto source = make_box<TypeParam>(&this->resource_, sample<TypeParam>());
  TypeParam* const object = source.get();
  const box<TypeParam> target(std::move(source));
  EXPECT_EQ(target.get(), object);
  EXPECT_EQ(target.resource(), &this->resource_);
  EXPECT_FALSE(source);  // NOLINT(bugprone-use-after-move): specified
  EXPECT_EQ(source.get(), nullptr);
  EXPECT_EQ(source.resource(), nullptr);
  EXPECT_EQ(this->resource_.blocks_outstanding(), 1u);
}

TYPED_TEST(BoxTest, MoveAssignmentFreesTheOldObject) {
  counting_resource other;
  auto target = make_box<TypeParam>(&other, sample<TypeParam>());
  auto source = make_box<TypeParam>(&this->resource_, sample<TypeParam>());
  TypeParam* const object = source.get();
  target = std::move(source);
  EXPECT_EQ(other.blocks_outstanding(), 0u);
  EXPECT_EQ(target.get(), object);
  EXPECT_EQ(target.resource(), &this->resource_);
  EXPECT_FALSE(source);  // NOLINT(bugprone-use-after-move): specified
  EXPECT_EQ(this->resource_.blocks_outstanding(), 1u);
}

TYPED_TEST(BoxTest, ResetFreesAndKeepsTheResource) {
  auto boxed = make_box<TypeParam>(&this->resource_, sample<TypeParam>());
  boxed.reset();
  EXPECT_FALSE(boxed);
  EXPECT_EQ(boxed.get(), nullptr);
  EXPECT_EQ(boxed.resource(), &this->resource_);
  EXPECT_EQ(this->resource_.blocks_outstanding(), 0u);
  boxed.reset();  // an empty box: nothing to free
  EXPECT_EQ(this->resource_.deallocate_calls(), 1u);
}

TYPED_TEST(BoxTest, ReleasedObjectCanBeAdoptedByANewBox) {
  auto boxed = make_box<TypeParam>(&this->resource_, sample<TypeParam>());
  TypeParam* const object = boxed.release();
  EXPECT_FALSE(boxed);
  EXPECT_EQ(boxed.resource(), &this->resource_);
  EXPECT_EQ(this->resource_.blocks_outstanding(), 1u);
  {
    const box<TypeParam> adopted(object, boxed.resource());
    EXPECT_EQ(*adopted, sample<TypeParam>());
  }
  EXPECT_EQ(this->resource_.blocks_outstanding(), 0u);
  EXPECT_EQ(this->resource_.mismatches(), 0u);
}

TYPED_TEST(BoxTest, FitsInTwoPointers) {
  EXPECT_LE(sizeof(box<TypeParam>), 2 * sizeof(void*));
  EXPECT_FALSE(std::is_copy_constructible_v<box<TypeParam>>);
  EXPECT_FALSE(std::is_copy_assignable_v<box<TypeParam>>);
  EXPECT_TRUE(std::is_nothrow_move_constructible_v<box<TypeParam>>);
  EXPECT_TRUE(std::is_nothrow_move_assignable_v<box<TypeParam>>);
}

TEST(BoxPayloadTest, EchoTextLivesInTheBoxesResource) {
  counting_resource resource;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    const auto boxed = make_box<msg::echo>(&resource, long_text);
    EXPECT_EQ(std::string_view(boxed->text), long_text);
    EXPECT_EQ(boxed->get_allocator().resource(), &resource);
    EXPECT_NE(resource.find(boxed->text.data()), nullptr);
    EXPECT_EQ(resource.allocate_calls(), 2u);  // the echo and its text
  }
  EXPECT_EQ(resource.blocks_outstanding(), 0u);
}

TEST(BoxPayloadTest, ProtocolsEchoTextLivesInTheBoxesResource) {
  counting_resource resource;
  default_resource_guard no_default(std::pmr::null_memory_resource());
  {
    const auto boxed =
        make_box<protocol>(&resource, std::in_place_type<msg::echo>, long_text);
    EXPECT_EQ(boxed->get_allocator().resource(), &resource);
    const msg::echo* const echo = boxed->get_if<msg::echo>();
    ASSERT_NE(echo, nullptr);
    EXPECT_EQ(std::string_view(echo->text), long_text);
    EXPECT_NE(resource.find(echo->text.data()), nullptr);
    // Copying an echo in: its text is copied into the box's resource too.
    const auto copied = make_box<protocol>(&resource, *echo);
    EXPECT_NE(resource.find(copied->get_if<msg::echo>()->text.data()), nullptr);
    EXPECT_EQ(resource.allocate_calls(), 4u);
  }
  EXPECT_EQ(resource.blocks_outstanding(), 0u);
}

TEST(BoxPayloadTest, FixedMessageBoxTakesOneSlotOfAProtocolPool) {
  counting_resource upstream;
  protopool::slot_pool_resource pool(
      protopool::slot_pool_options::for_type<protocol>(2), &upstream);
  {
    const auto first = make_box<protocol>(&pool, msg::add{5, 6});
    const auto second = make_box<msg::add>(&pool, 2u, 4u);  // braces
    EXPECT_EQ(*second, (msg::add{2, 4}));
    EXPECT_TRUE(pool.owns(first.get()));
    EXPECT_EQ(pool.stats().slots_in_use, 2u);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  EXPECT_EQ(upstream.allocate_calls(), 1u);
}

// Counts constructions and destructions; throws from the constructor on
// request.
struct tracked {
  static inline int live = 0;
  static inline int destroyed = 0;
  explicit tracked(bool fail = false) {
    if (fail) {
      throw std::runtime_error("tracked: construction failed on request");
    }
    ++live;
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() {
    --live;
    ++destroyed;
  }
  double payload[3] = {};  // a size and alignment of its own
};

class BoxLifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tracked::live = 0;
    tracked::destroyed = 0;
  }
  counting_resource resource_;
};

TEST_F(BoxLifetimeTest, ThrowingConstructorReturnsTheMemory) {
  EXPECT_THROW((void)make_box<tracked>(&resource_, true), std::runtime_error);
  EXPECT_EQ(resource_.allocate_calls(), 1u);
  EXPECT_EQ(resource_.deallocate_calls(), 1u);
  EXPECT_EQ(resource_.blocks_outstanding(), 0u);
  EXPECT_EQ(resource_.mismatches(), 0u);
  EXPECT_EQ(tracked::destroyed, 0);
}

TEST_F(BoxLifetimeTest, ThrowingPayloadConstructorReturnsTheMemory) {
  counting_resource other;
  const protocol echo(std::allocator_arg, &other, std::in_place_type<msg::echo>,
                      long_text);
  // The protocol's block is allocated, then copying the text fails.
  protopool::test_resource resource;
  resource.set_allocation_limit(1);
  EXPECT_THROW((void)make_box<protocol>(&resource, echo), std::bad_alloc);
  EXPECT_EQ(resource.failed_allocations(), 1u);
  EXPECT_EQ(resource.allocations(), 1u);
  EXPECT_EQ(resource.deallocations(), 1u);
  EXPECT_EQ(resource.blocks_in_use(), 0u);
  EXPECT_EQ(resource.mismatched_deallocations(), 0u);
}

TEST_F(BoxLifetimeTest, FailingResourcePropagatesItsException) {
  resource_.set_failing(true);
  EXPECT_THROW((void)make_box<tracked>(&resource_),
               protopool::testing::upstream_failure);
  EXPECT_EQ(tracked::live, 0);
}

TEST_F(BoxLifetimeTest, ObjectIsDestroyedExactlyOnce) {
  {
    auto first = make_box<tracked>(&resource_);
    auto second = make_box<tracked>(&resource_);
    EXPECT_EQ(tracked::live, 2);
    first = std::move(second);  // destroys first's object
    EXPECT_EQ(tracked::destroyed, 1);
    auto& alias = first;
    first = std::move(alias);  // self move: no effect
    EXPECT_TRUE(first);
    EXPECT_EQ(tracked::destroyed, 1);
    first.reset();
    EXPECT_EQ(tracked::destroyed, 2);
    auto third = make_box<tracked>(&resource_);
  }
  EXPECT_EQ(tracked::destroyed, 3);
  EXPECT_EQ(tracked::live, 0);
  EXPECT_EQ(resource_.blocks_outstanding(), 0u);
  EXPECT_EQ(resource_.mismatches(), 0u);
}

// A singly linked list of boxes: each node owns the next.
struct list_node {
  int value;
  box<list_node> next;
};

TEST_F(BoxLifetimeTest, MoveAssignmentFromABoxTheOldObjectOwns) {
  // head = std::move(head->next) drops the first node only: the box takes
  // the second node before it frees the first (which held that box).
  auto head = make_box<list_node>(&resource_, 1, box<list_node>());
  head->next = make_box<list_node>(&resource_, 2, box<list_node>());
  head->next->next = make_box<list_node>(&resource_, 3, box<list_node>());
  list_node* const second = head->next.get();
  head = std::move(head->next);
  ASSERT_EQ(head.get(), second);
  EXPECT_EQ(head.resource(), &resource_);
  EXPECT_EQ(head->value, 2);
  ASSERT_TRUE(head->next);
  EXPECT_EQ(head->next->value, 3);
  EXPECT_EQ(resource_.deallocate_calls(), 1u);
  EXPECT_EQ(resource_.blocks_outstanding(), 2u);
  head = std::move(head->next);
  EXPECT_EQ(head->value, 3);
  EXPECT_FALSE(head->next);
  head = std::move(head->next);  // the last node; head is now empty
  EXPECT_FALSE(head);
  EXPECT_EQ(head.resource(), nullptr);
  EXPECT_EQ(resource_.blocks_outstanding(), 0u);
  EXPECT_EQ(resource_.mismatches(), 0u);
}

template <class T, class... Args>
constexpr bool boxable = requires(std::pmr::memory_resource* resource,
                                  Args&&... args) {
  make_box<T>(resource, std::forward<Args>(args)...);
};

TEST(BoxTypeTest, MakeBoxAcceptsExactlyTheArgumentsThatBuildTheObject) {
  static_assert(boxable<msg::add, std::uint64_t, unsigned>);
  static_assert(boxable<msg::add, const msg::add&>);
  static_assert(boxable<msg::echo, const char*>);
  static_assert(boxable<protocol, msg::add>);
  // An aggregate is brace-initialized: no narrowing, no extra fields.
  static_assert(!boxable<msg::add, int, int>);
  static_assert(!boxable<msg::add, std::uint64_t, double>);
  static_assert(!boxable<msg::add, std::uint64_t, std::uint64_t, int>);
  static_assert(!boxable<msg::echo, int>);
  static_assert(!boxable<protocol, std::string>);
  SUCCEED();
}

TEST_F(BoxLifetimeTest, BoxOfAConstObjectReturnsItsMemory) {
  {
    const protopool::box<const msg::add> boxed =
        make_box<const msg::add>(&resource_, 1u, 2u);
    EXPECT_EQ(boxed->right, 2U);
    EXPECT_EQ(resource_.blocks_outstanding(), 1U);
  }
  protopool::box<const msg::add> reset = make_box<const msg::add>(&resource_);
  reset.reset();
  EXPECT_EQ(resource_.blocks_outstanding(), 0U);
  EXPECT_EQ(resource_.deallocate_calls(), 2U);
  EXPECT_EQ(resource_.mismatches(), 0U);
}

TEST_F(BoxLifetimeTest, EmptyBoxIsFalseAndOwnsNothing) {
  box<tracked> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.get(), nullptr);
  EXPECT_EQ(empty.resource(), nullptr);
  empty.reset();
  EXPECT_EQ(empty.release(), nullptr);
  box<tracked> moved(std::move(empty));
  EXPECT_FALSE(moved);
  EXPECT_EQ(resource_.allocate_calls(), 0u);
}

}  // namespace
