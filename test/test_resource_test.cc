// Test plan for protopool::test_resource and
// protopool::exercise_every_allocation_failure:
// - counters: allocations, deallocations, blocks/bytes in use, maxima and
//   totals follow a sequence of allocate/deallocate calls exactly;
// - misuse (size/alignment mismatch, foreign pointer, double free) is
//   recorded, never forwarded to upstream (a counting upstream proves it),
//   and aborts with a message in strict mode (death tests);
// - a leak is reported at destruction, and aborts in strict mode;
// - set_allocation_limit(n): exactly the allocation after n more throws
//   std::bad_alloc, once;
//   an allocation upstream refuses does not count against the limit;
// - exercise_every_allocation_failure: fails each allocation of an
//   operation once, counts them (also those the operation catches), and
//   catches a leak made on the failure path (thrown or caught); a
//   std::bad_alloc it did not inject propagates, even after a caught one;
// - upstream may call the resource (no lock is held across it);
// - thread safety: several threads allocating at once keep exact counts.
#include <gtest/gtest.h>
#include <protopool/test_resource.h>
#include <unistd.h>

#include <cstdlib>
#include <memory_resource>
#include <new>
#include <thread>
#include <vector>

namespace {

using protopool::test_resource;
using protopool::test_resource_options;

TEST(TestResourceTest, CountsAllocationsBlocksAndBytes) {
  test_resource resource;
  void* a = resource.allocate(10, 8);
  void* b = resource.allocate(30, 16);
  EXPECT_EQ(resource.allocations(), 2U);
  EXPECT_EQ(resource.blocks_in_use(), 2U);
  EXPECT_EQ(resource.bytes_in_use(), 40U);
  EXPECT_TRUE(resource.is_live(a));
  resource.deallocate(a, 10, 8);
  EXPECT_FALSE(resource.is_live(a));
  void* c = resource.allocate(5, 1);
  EXPECT_EQ(resource.blocks_in_use(), 2U);
  EXPECT_EQ(resource.bytes_in_use(), 35U);
  EXPECT_EQ(resource.max_blocks_in_use(), 2U);
  EXPECT_EQ(resource.max_bytes_in_use(), 40U);
  EXPECT_EQ(resource.total_bytes_allocated(), 45U);
  resource.deallocate(b, 30, 16);
  resource.deallocate(c, 5, 1);
  EXPECT_EQ(resource.allocations(), 3U);
  EXPECT_EQ(resource.deallocations(), 3U);
  EXPECT_EQ(resource.blocks_in_use(), 0U);
  EXPECT_EQ(resource.bytes_in_use(), 0U);
  EXPECT_EQ(resource.misuse_count(), 0U);
}

TEST(TestResourceTest, ReturnsAlignedBlocksFromUpstream) {
  test_resource upstream;
  test_resource resource(&upstream);
  void* p = resource.allocate(64, 64);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0U);
  EXPECT_TRUE(upstream.is_live(p));
  resource.deallocate(p, 64, 64);
  EXPECT_EQ(upstream.blocks_in_use(), 0U);
  EXPECT_EQ(upstream.misuse_count(), 0U);
}

TEST(TestResourceTest, RecordsMismatchedSizeAndFreesWithTheRightOne) {
  test_resource upstream;
  test_resource resource(test_resource_options{.quiet = true}, &upstream);
  void* p = resource.allocate(24, 8);
  resource.deallocate(p, 16, 8);
  void* q = resource.allocate(24, 8);
  resource.deallocate(q, 24, 16);
  EXPECT_EQ(resource.mismatched_deallocations(), 2U);
  EXPECT_EQ(resource.blocks_in_use(), 0U);
  // Upstream got the allocation's own size and alignment back.
  EXPECT_EQ(upstream.misuse_count(), 0U);
  EXPECT_EQ(upstream.blocks_in_use(), 0U);
}

TEST(TestResourceTest, RecordsForeignPointerWithoutPassingItOn) {
  test_resource upstream;
  test_resource resource(test_resource_options{.quiet = true}, &upstream);
  int local = 0;
  resource.deallocate(&local, sizeof local, alignof(int));
  EXPECT_EQ(resource.foreign_deallocations(), 1U);
  EXPECT_EQ(resource.double_deallocations(), 0U);
  EXPECT_EQ(upstream.deallocations(), 0U);
  EXPECT_EQ(upstream.misuse_count(), 0U);
}

TEST(TestResourceTest, RecordsDoubleFreeWithoutPassingItOn) {
  test_resource upstream;
  test_resource resource(test_resource_options{.quiet = true}, &upstream);
  void* p = resource.allocate(8, 8);
  resource.deallocate(p, 8, 8);
  resource.deallocate(p, 8, 8);
  EXPECT_EQ(resource.double_deallocations(), 1U);
  EXPECT_EQ(resource.foreign_deallocations(), 0U);
  EXPECT_EQ(resource.deallocations(), 1U);
  EXPECT_EQ(resource.misuse_count(), 1U);
  EXPECT_EQ(upstream.deallocations(), 1U);
  EXPECT_EQ(upstream.misuse_count(), 0U);
}

TEST(TestResourceTest, AddressHandedOutAgainIsNoLongerADoubleFree) {
  test_resource resource;
  void* p = resource.allocate(8, 8);
  resource.deallocate(p, 8, 8);
  // Allocate until upstream reuses the address (it usually does at once).
  std::vector<void*> blocks;
  for (int i = 0; i < 64 && (blocks.empty() || blocks.back() != p); ++i) {
    blocks.push_back(resource.allocate(8, 8));
  }
  for (void* block : blocks) {
    resource.deallocate(block, 8, 8);
  }
  EXPECT_EQ(resource.misuse_count(), 0U);
}

TEST(TestResourceDeathTest, StrictModeAbortsOnDoubleFree) {
  EXPECT_DEATH(
      {
        test_resource resource(test_resource_options{.strict = true});
        void* p = resource.allocate(8, 8);
        resource.deallocate(p, 8, 8);
        resource.deallocate(p, 8, 8);
      },
      "double free");
}

TEST(TestResourceDeathTest, StrictModeAbortsOnForeignPointer) {
  EXPECT_DEATH(
      {
        test_resource resource(
            test_resource_options{.name = "mine", .strict = true});
        int local = 0;
        resource.deallocate(&local, sizeof local, alignof(int));
      },
      "mine .*never handed out");
}

TEST(TestResourceDeathTest, StrictModeAbortsOnMismatchedSize) {
  EXPECT_DEATH(
      {
        test_resource resource(test_resource_options{.strict = true});
        void* p = resource.allocate(24, 8);
        resource.deallocate(p, 16, 8);
      },
      "size/alignment 16/8 of a block allocated with 24/8");
}

TEST(TestResourceDeathTest, StrictModeAbortsOnLeakAtDestruction) {
  EXPECT_DEATH(
      {
        test_resource resource(test_resource_options{.strict = true});
        (void)resource.allocate(24, 8);
      },
      "leak: 1 block\\(s\\), 24 byte\\(s\\) still in use");
}

TEST(TestResourceTest, ReportsLeakAtDestructionOnStderr) {
  test_resource upstream;
  void* leaked = nullptr;
  testing::internal::CaptureStderr();
  {
    test_resource resource(test_resource_options{.name = "leaky"}, &upstream);
    leaked = resource.allocate(12, 4);
  }
  const std::string report = testing::internal::GetCapturedStderr();
  EXPECT_NE(report.find("leaky"), std::string::npos) << report;
  EXPECT_NE(report.find("1 block(s), 12 byte(s)"), std::string::npos) << report;
  // The leaked block stays allocated upstream: a leak checker sees it too.
  EXPECT_TRUE(upstream.is_live(leaked));
  upstream.deallocate(leaked, 12, 4);
}

TEST(TestResourceTest, AllocationLimitFailsExactlyTheChosenAllocation) {
  test_resource resource;
  resource.set_allocation_limit(2);
  EXPECT_EQ(resource.allocation_limit(), 2);
  void* a = resource.allocate(8, 8);
  void* b = resource.allocate(8, 8);
  EXPECT_THROW((void)resource.allocate(8, 8), std::bad_alloc);
  EXPECT_EQ(resource.failed_allocations(), 1U);
  EXPECT_LT(resource.allocation_limit(), 0);
  // Only that one: the next succeeds.
  void* c = resource.allocate(8, 8);
  EXPECT_EQ(resource.allocations(), 3U);
  EXPECT_EQ(resource.blocks_in_use(), 3U);
  for (void* p : {a, b, c}) {
    resource.deallocate(p, 8, 8);
  }
}

TEST(TestResourceTest, AllocationLimitZeroFailsTheNextAllocation) {
  test_resource resource;
  resource.set_allocation_limit(0);
  EXPECT_THROW((void)resource.allocate(1, 1), std::bad_alloc);
  EXPECT_EQ(resource.allocations(), 0U);
  resource.set_allocation_limit(0);
  resource.set_allocation_limit(-5);  // off again
  void* p = resource.allocate(1, 1);
  resource.deallocate(p, 1, 1);
}

TEST(TestResourceTest, ExerciseFailsEachAllocationOnce) {
  test_resource resource;
  int completed_runs = 0;
  const auto report =
      protopool::exercise_every_allocation_failure(resource, [&] {
        std::pmr::vector<int> numbers(&resource);
        numbers.reserve(1);  // allocation 1
        numbers.reserve(2);  // allocation 2
        numbers.reserve(4);  // allocation 3
        ++completed_runs;
      });
  EXPECT_EQ(report.failures, 3U);
  EXPECT_EQ(report.leaking_failures, 0U);
  EXPECT_EQ(completed_runs, 1);
  EXPECT_EQ(resource.failed_allocations(), 3U);
  EXPECT_LT(resource.allocation_limit(), 0);
  EXPECT_EQ(resource.blocks_in_use(), 0U);
}

TEST(TestResourceTest, ExerciseCatchesALeakOnTheFailurePath) {
  test_resource resource(test_resource_options{.quiet = true});
  std::vector<void*> leaked;
  const auto report =
      protopool::exercise_every_allocation_failure(resource, [&] {
        void* first = resource.allocate(8, 8);
        leaked.push_back(first);  // not freed if the next one throws
        void* second = resource.allocate(8, 8);
        resource.deallocate(second, 8, 8);
        resource.deallocate(first, 8, 8);
        leaked.pop_back();
      });
  EXPECT_EQ(report.failures, 2U);
  EXPECT_EQ(report.leaking_failures, 1U);
  ASSERT_EQ(leaked.size(), 1U);
  resource.deallocate(leaked.front(), 8, 8);
}

TEST(TestResourceTest, ExerciseKeepsGoingWhenTheOperationSwallowsTheFailure) {
  test_resource resource;
  int fallbacks = 0;
  const auto report =
      protopool::exercise_every_allocation_failure(resource, [&] {
        for (int i = 0; i < 3; ++i) {
          try {
            resource.deallocate(resource.allocate(8, 8), 8, 8);
          } catch (const std::bad_alloc&) {
            ++fallbacks;
          }
        }
      });
  EXPECT_EQ(report.failures, 3U);  // counted though none escaped
  EXPECT_EQ(report.leaking_failures, 0U);
  EXPECT_EQ(fallbacks, 3);  // each of the three allocations failed once
  EXPECT_EQ(resource.failed_allocations(), 3U);
}

TEST(TestResourceTest, ExerciseCatchesALeakOnASwallowedFailurePath) {
  // The operation handles the second allocation's failure itself, and
  // forgets the first block on that path.
  test_resource resource(test_resource_options{.quiet = true});
  std::vector<void*> leaked;
  const auto report =
      protopool::exercise_every_allocation_failure(resource, [&] {
        void* first = nullptr;
        try {
          first = resource.allocate(8, 8);
          void* second = resource.allocate(8, 8);
          resource.deallocate(second, 8, 8);
          resource.deallocate(first, 8, 8);
        } catch (const std::bad_alloc&) {
          if (first != nullptr) {
            leaked.push_back(first);  // the bug under test
          }
        }
      });
  EXPECT_EQ(report.failures, 2U);
  EXPECT_EQ(report.leaking_failures, 1U);
  ASSERT_EQ(leaked.size(), 1U);
  resource.deallocate(leaked.front(), 8, 8);
}

// Runs exercise_every_allocation_failure over `operation(resource)`, which
// throws a std::bad_alloc the resource did not inject: it must come out of
// the first run, with the limit turned off.
template <class Operation>
void expect_foreign_bad_alloc_propagates(Operation operation) {
  test_resource resource;
  int runs = 0;
  EXPECT_THROW(
      protopool::exercise_every_allocation_failure(resource,
                                                   [&] {
                                                     ++runs;
                                                     operation(resource);
                                                   }),
      std::bad_alloc);
  EXPECT_EQ(runs, 1);
  EXPECT_LT(resource.allocation_limit(), 0);
}

TEST(TestResourceTest, ExercisePropagatesABadAllocItDidNotInject) {
  expect_foreign_bad_alloc_propagates([](test_resource&) {
    (void)std::pmr::null_memory_resource()->allocate(8, 8);
  });
  // The operation catches the injected failure, and its fallback then
  // meets a real shortage: that one is not the resource's to swallow.
  expect_foreign_bad_alloc_propagates([](test_resource& resource) {
    try {
      resource.deallocate(resource.allocate(8, 8), 8, 8);
    } catch (const std::bad_alloc&) {
      (void)std::pmr::null_memory_resource()->allocate(8, 8);
    }
  });
}

TEST(TestResourceTest, ExercisePropagatesAnotherResourcesInjectedFailure) {
  test_resource resource;
  test_resource other;
  other.set_allocation_limit(0);
  try {
    (void)protopool::exercise_every_allocation_failure(
        resource, [&] { (void)other.allocate(8, 8); });
    ADD_FAILURE() << "the other resource's failure was swallowed";
  } catch (const protopool::injected_bad_alloc& failure) {
    EXPECT_EQ(failure.resource(), &other);
    EXPECT_STREQ(failure.what(),
                 "protopool::test_resource: allocation limit reached");
  }
  EXPECT_LT(resource.allocation_limit(), 0);
}

// An upstream whose first `failures` allocations throw std::bad_alloc.
class failing_upstream final : public std::pmr::memory_resource {
 public:
  explicit failing_upstream(int failures) : failures_(failures) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (failures_ > 0) {
      --failures_;
      throw std::bad_alloc();
    }
    return std::pmr::new_delete_resource()->allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override {
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  [[nodiscard]] bool do_is_equal(
      const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
  int failures_;
};

TEST(TestResourceTest, AnAllocationUpstreamRefusesDoesNotCountAgainstTheLimit) {
  failing_upstream upstream(1);
  test_resource resource(&upstream);
  resource.set_allocation_limit(1);
  EXPECT_THROW((void)resource.allocate(8, 8), std::bad_alloc);  // upstream's
  EXPECT_EQ(resource.allocations(), 0U);
  EXPECT_EQ(resource.failed_allocations(), 0U);
  EXPECT_EQ(resource.allocation_limit(), 1);
  void* p = resource.allocate(8, 8);  // the one allowed allocation
  EXPECT_THROW((void)resource.allocate(8, 8), protopool::injected_bad_alloc);
  resource.deallocate(p, 8, 8);
}

TEST(TestResourceDeathTest, UpstreamMayCallTheResource) {
  // Upstream reads the resource's counters from inside allocate and
  // deallocate (as a tracing upstream's sink might). With the lock held
  // across upstream calls this deadlocked: the alarm ends such a run.
  // Threadsafe style (the child re-executes this binary): under the
  // memcheck preset's valgrind, a forked child's exit would count googletest's
  // still-reachable blocks as errors.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        alarm(60);
        struct reading_upstream final : std::pmr::memory_resource {
          test_resource* outer = nullptr;
          std::size_t seen = 0;
          void* do_allocate(std::size_t bytes, std::size_t align) override {
            seen += outer->blocks_in_use();
            return std::pmr::new_delete_resource()->allocate(bytes, align);
          }
          void do_deallocate(void* p, std::size_t bytes,
                             std::size_t align) override {
            seen += outer->blocks_in_use();
            std::pmr::new_delete_resource()->deallocate(p, bytes, align);
          }
          [[nodiscard]] bool do_is_equal(
              const std::pmr::memory_resource& other) const noexcept override {
            return this == &other;
          }
        } upstream;
        test_resource resource(&upstream);
        upstream.outer = &resource;
        void* a = resource.allocate(8, 8);
        void* b = resource.allocate(8, 8);
        resource.deallocate(a, 8, 8);
        resource.deallocate(b, 8, 8);
        // blocks_in_use seen: 0 and 1 before the allocations, 1 and 0 after
        // each block left the table.
        std::_Exit(upstream.seen == 2 && resource.blocks_in_use() == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(TestResourceTest, CountsExactlyUnderConcurrentUse) {
  test_resource resource;
  constexpr int threads = 4;
  constexpr int rounds = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&resource] {
      std::vector<void*> mine;
      for (int i = 0; i < rounds; ++i) {
        mine.push_back(resource.allocate(16, 8));
        if (i % 3 == 0) {
          resource.deallocate(mine.back(), 16, 8);
          mine.pop_back();
        }
      }
      for (void* p : mine) {
        resource.deallocate(p, 16, 8);
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  EXPECT_EQ(resource.allocations(), std::size_t{threads * rounds});
  EXPECT_EQ(resource.deallocations(), std::size_t{threads * rounds});
  EXPECT_EQ(resource.blocks_in_use(), 0U);
  EXPECT_EQ(resource.misuse_count(), 0U);
  EXPECT_LE(resource.max_blocks_in_use(), std::size_t{threads * rounds});
}

}  // namespace
