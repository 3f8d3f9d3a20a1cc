// Test plan for protopool::slot_allocator<T>:
// - allocate(1)/deallocate(p, 1) of a slot-sized T take the pool's static
//   path: the same slots, LIFO reuse and stats as the pmr interface.
// - allocate(n > 1), and a T larger or more aligned than a slot, go through
//   the memory_resource interface (oversize counter, strict mode throws).
// - allocate(n) with n * sizeof(T) overflowing throws bad_array_new_length.
// - rebind keeps the pool; == is pool identity; propagation traits match
//   polymorphic_allocator (never propagate).
// - std::list<T, slot_allocator<T>> and a std::pmr::list on one pool share
//   it: stats count both, and a slot freed by one is reused by the other.
// - construct() is uses-allocator construction with the pool, as
//   polymorphic_allocator's: pmr strings in a list or a map's pairs take
//   the pool as their resource; other elements are built from the args.
// - Containers: list, map and vector churn against a model, with the pool
//   empty at the end.
#include <gtest/gtest.h>
#include <protopool/slot_allocator.h>
#include <protopool/slot_pool_resource.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory_resource>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace {

using protopool::slot_allocator;
using protopool::slot_pool_options;
using protopool::slot_pool_resource;

// A 24-byte message, the size the benchmark's messages have.
struct message {
  std::uint64_t id;
  std::uint64_t a;
  std::uint64_t b;
};
static_assert(sizeof(message) == 24);

struct alignas(64) over_aligned {
  char bytes[8];
};

// Counts upstream calls, to tell slot traffic from oversize traffic.
class counting_resource final : public std::pmr::memory_resource {
 public:
  std::size_t allocations = 0;
  std::size_t deallocations = 0;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    ++allocations;
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    ++deallocations;
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const memory_resource& other) const noexcept override {
    return this == &other;
  }
};

TEST(SlotAllocatorTest, SingleObjectsAreSlotsOfThePool) {
  slot_pool_resource pool(slot_pool_options::for_type<message>(4));
  slot_allocator<message> allocator(pool);
  message* first = allocator.allocate(1);
  message* second = allocator.allocate(1);
  EXPECT_NE(first, second);
  EXPECT_TRUE(pool.owns(first));
  EXPECT_TRUE(pool.owns(second));
  EXPECT_EQ(pool.stats().slots_in_use, 2u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);
  allocator.deallocate(first, 1);
  EXPECT_EQ(pool.stats().slots_in_use, 1u);
  EXPECT_EQ(allocator.allocate(1), first) << "the last freed slot comes first";
  allocator.deallocate(first, 1);
  allocator.deallocate(second, 1);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SlotAllocatorTest, ArraysGoThroughTheResourceInterface) {
  counting_resource upstream;
  slot_pool_resource pool(slot_pool_options::for_type<message>(), &upstream);
  slot_allocator<message> allocator(pool);
  message* array = allocator.allocate(3);
  EXPECT_FALSE(pool.owns(array));
  EXPECT_EQ(pool.stats().oversize_allocations, 1u);
  EXPECT_EQ(upstream.allocations, 1u);
  allocator.deallocate(array, 3);
  EXPECT_EQ(upstream.deallocations, 1u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

TEST(SlotAllocatorTest, TypesThatDoNotFitASlotAreOversize) {
  counting_resource upstream;
  slot_pool_resource pool({.slot_size = 16, .slot_alignment = 8}, &upstream);
  slot_allocator<message> too_large(pool);
  message* big = too_large.allocate(1);
  EXPECT_FALSE(pool.owns(big));
  slot_allocator<over_aligned> too_aligned(pool);
  over_aligned* aligned = too_aligned.allocate(1);
  EXPECT_FALSE(pool.owns(aligned));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 64, 0u);
  EXPECT_EQ(pool.stats().oversize_allocations, 2u);
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  too_large.deallocate(big, 1);
  too_aligned.deallocate(aligned, 1);
  EXPECT_EQ(upstream.deallocations, upstream.allocations);
}

TEST(SlotAllocatorTest, StrictPoolRefusesArrays) {
  slot_pool_options options = slot_pool_options::for_type<message>();
  options.oversize = protopool::oversize_policy::throw_bad_alloc;
  slot_pool_resource pool(options);
  slot_allocator<message> allocator(pool);
  EXPECT_THROW((void)allocator.allocate(2), std::bad_alloc);
  message* one = allocator.allocate(1);
  allocator.deallocate(one, 1);
}

TEST(SlotAllocatorTest, OverflowingCountThrowsBadArrayNewLength) {
  slot_pool_resource pool(slot_pool_options::for_type<message>());
  slot_allocator<message> allocator(pool);
  EXPECT_THROW((void)allocator.allocate(SIZE_MAX / 2),
               std::bad_array_new_length);
}

TEST(SlotAllocatorTest, FullPoolThrowsBadAlloc) {
  slot_pool_options options = slot_pool_options::for_type<message>(2);
  options.max_slots = 2;
  slot_pool_resource pool(options);
  slot_allocator<message> allocator(pool);
  message* a = allocator.allocate(1);
  message* b = allocator.allocate(1);
  EXPECT_THROW((void)allocator.allocate(1), std::bad_alloc);
  allocator.deallocate(a, 1);
  message* c = allocator.allocate(1);
  EXPECT_EQ(c, a);
  allocator.deallocate(b, 1);
  allocator.deallocate(c, 1);
}

TEST(SlotAllocatorTest, RebindAndCopiesShareThePool) {
  slot_pool_resource pool(slot_pool_options::for_type<message>());
  slot_pool_resource other(slot_pool_options::for_type<message>());
  slot_allocator<message> allocator(pool);
  using int_allocator =
      std::allocator_traits<slot_allocator<message>>::rebind_alloc<int>;
  static_assert(std::is_same_v<int_allocator, slot_allocator<int>>);
  int_allocator rebound(allocator);
  EXPECT_EQ(&rebound.resource(), &pool);
  EXPECT_TRUE(rebound == allocator);
  EXPECT_TRUE(slot_allocator<message>(rebound) == allocator);
  EXPECT_FALSE(slot_allocator<message>(other) == allocator);
  EXPECT_TRUE(slot_allocator<message>(other) != allocator);
  int* i = rebound.allocate(1);
  EXPECT_TRUE(pool.owns(i));
  rebound.deallocate(i, 1);
}

TEST(SlotAllocatorTest, PropagatesLikePolymorphicAllocator) {
  using traits = std::allocator_traits<slot_allocator<message>>;
  using pmr_traits =
      std::allocator_traits<std::pmr::polymorphic_allocator<message>>;
  static_assert(traits::propagate_on_container_copy_assignment::value ==
                pmr_traits::propagate_on_container_copy_assignment::value);
  static_assert(traits::propagate_on_container_move_assignment::value ==
                pmr_traits::propagate_on_container_move_assignment::value);
  static_assert(traits::propagate_on_container_swap::value ==
                pmr_traits::propagate_on_container_swap::value);
  static_assert(!traits::is_always_equal::value);

  // Move assignment between lists on different pools moves the elements
  // into the target's pool; the source pool gets its slots back.
  slot_pool_resource pool(slot_pool_options::for_type<message>());
  slot_pool_resource other(slot_pool_options::for_type<message>());
  std::list<int, slot_allocator<int>> target{slot_allocator<int>(pool)};
  std::list<int, slot_allocator<int>> source{slot_allocator<int>(other)};
  source.assign({1, 2, 3});
  target = std::move(source);
  EXPECT_EQ(&target.get_allocator().resource(), &pool);
  EXPECT_EQ(target, (std::list<int, slot_allocator<int>>(
                        {1, 2, 3}, slot_allocator<int>(other))));
  EXPECT_EQ(pool.stats().slots_in_use, 3u);
  source.clear();
  EXPECT_EQ(other.stats().slots_in_use, 0u);
}

TEST(SlotAllocatorTest, StaticAndPmrUsersShareOnePool) {
  // A list node is two links and the message: 40 bytes.
  slot_pool_resource pool(
      slot_pool_options{.slot_size = 40, .slot_alignment = 8});
  std::list<message, slot_allocator<message>> fast{
      slot_allocator<message>(pool)};
  std::pmr::list<message> generic(&pool);
  for (std::uint64_t i = 0; i < 10; ++i) {
    fast.push_back({i, i, i});
    generic.push_back({i, i, i});
  }
  EXPECT_EQ(pool.stats().slots_in_use, 20u);
  EXPECT_EQ(pool.stats().oversize_allocations, 0u);

  // A node freed by the static user is the next node of the pmr user.
  const message* freed = &fast.back();
  fast.pop_back();
  generic.push_back({99, 0, 0});
  EXPECT_TRUE(pool.owns(&generic.back()));
  // Both lists have the same node layout, so the message lands where the
  // freed one was.
  EXPECT_EQ(&generic.back(), freed);
  EXPECT_EQ(pool.stats().slots_in_use, 20u);
  fast.clear();
  generic.clear();
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  EXPECT_EQ(pool.stats().high_water, 20u);
}

TEST(SlotAllocatorTest, AllocatorAwareElementsTakeThePoolAsTheirResource) {
  // As in a std::pmr container over the pool: the element's own memory
  // comes from the same pool (here, oversize: through to upstream).
  // 80 bytes: a list node of a pmr string (56) and a map node of a pair
  // of int and pmr string (80) are slots; 101 characters are not.
  counting_resource upstream;
  slot_pool_resource pool(slot_pool_options{.slot_size = 80}, &upstream);
  const std::string text(100, 'x');
  {
    std::list<std::pmr::string, slot_allocator<std::pmr::string>> strings{
        slot_allocator<std::pmr::string>(pool)};
    strings.emplace_back(text);
    strings.push_back(strings.front());  // a copy is built in the pool too
    for (const std::pmr::string& s : strings) {
      EXPECT_EQ(s.get_allocator().resource(), &pool);
      EXPECT_EQ(std::string_view(s), text);
    }
    EXPECT_EQ(pool.stats().slots_in_use, 2u);          // the two nodes
    EXPECT_EQ(pool.stats().oversize_allocations, 2u);  // the two texts

    // A map's node holds a pair: its second member gets the pool.
    std::map<int, std::pmr::string, std::less<>,
             slot_allocator<std::pair<const int, std::pmr::string>>>
        map{slot_allocator<std::pair<const int, std::pmr::string>>(pool)};
    map.emplace(1, text);
    map.try_emplace(2, "short");
    EXPECT_EQ(map.at(1).get_allocator().resource(), &pool);
    EXPECT_EQ(map.at(2).get_allocator().resource(), &pool);
    EXPECT_EQ(pool.stats().oversize_allocations, 3u);

    // An element that is not allocator-aware is built from its arguments.
    std::list<message, slot_allocator<message>> messages{
        slot_allocator<message>(pool)};
    messages.push_back({1, 2, 3});
    EXPECT_EQ(messages.front().b, 3u);
  }
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
  // Every text went back to upstream; only the pool's chunks are held.
  EXPECT_EQ(upstream.allocations - upstream.deallocations, pool.stats().chunks);
}

TEST(SlotAllocatorTest, ContainerChurnMatchesAModel) {
  slot_pool_resource pool(
      slot_pool_options{.slot_size = 64, .slot_alignment = 8});
  using allocator = slot_allocator<std::pair<const int, message>>;
  std::map<int, message, std::less<>, allocator> map{allocator(pool)};
  std::map<int, message> model;
  std::vector<int, slot_allocator<int>> keys{slot_allocator<int>(pool)};
  std::mt19937 random(42);
  for (int step = 0; step < 5000; ++step) {
    const int key = static_cast<int>(random() % 200);
    if (random() % 2 == 0) {
      const message m{static_cast<std::uint64_t>(key), 1, 2};
      map.insert_or_assign(key, m);
      model.insert_or_assign(key, m);
      keys.push_back(key);
    } else {
      EXPECT_EQ(map.erase(key), model.erase(key));
    }
    ASSERT_EQ(map.size(), model.size());
  }
  EXPECT_TRUE(std::equal(map.begin(), map.end(), model.begin(), model.end(),
                         [](const auto& a, const auto& b) {
                           return a.first == b.first &&
                                  a.second.id == b.second.id;
                         }));
  // The map's nodes are slots; the vector's buffer (n > 1) is oversize.
  ASSERT_GT(keys.capacity(), 1u);
  EXPECT_EQ(pool.stats().slots_in_use, map.size());
  EXPECT_GT(pool.stats().oversize_allocations, 0u);
  map.clear();
  keys = decltype(keys)(slot_allocator<int>(pool));
  EXPECT_EQ(pool.stats().slots_in_use, 0u);
}

}  // namespace
