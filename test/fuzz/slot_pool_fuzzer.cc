// Fuzz harness for protopool::slot_pool_resource (libFuzzer entry point;
// under g++ the same function is driven by replay_main.cc over the seed
// corpus).
//
// Input: 6 bytes of pool options (slot size, alignment, initial slots,
// max slots, chunk cap, oversize policy), then operations of 1-3 bytes:
// allocate (size and alignment exponent), deallocate (which live block) and
// release. Each is run against the pool and against a model (the live
// blocks), with a test_resource as the pool's upstream. After each step:
// every new block is aligned, overlaps no live block and is owned by the
// pool exactly when it is slot-sized; every freed block still carries its
// canary (a fill pattern written at allocation); std::bad_alloc comes
// exactly when the model says (max_slots reached, or an oversize request
// under oversize_policy::throw_bad_alloc); the pool's stats equal the
// model's; and upstream holds exactly the pool's chunks plus the oversize
// blocks. At the end the pool is destroyed and upstream must hold nothing.
#include <protopool/slot_pool_resource.h>
#include <protopool/test_resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what, std::size_t step) {
  std::fprintf(stderr, "slot_pool_fuzzer: %s (step %zu)\n", what, step);
  std::abort();
}

class input_reader {
 public:
  input_reader(const std::uint8_t* data, std::size_t size)
      : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return position_ == size_; }
  std::uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_ = 0;
};

struct live_block {
  unsigned char* p;
  std::size_t bytes;
  std::size_t alignment;
  unsigned char canary;
  bool slot;
};

bool overlaps(const live_block& a, const unsigned char* p, std::size_t bytes) {
  // Zero-byte blocks still occupy their address.
  const std::size_t a_bytes = std::max<std::size_t>(a.bytes, 1);
  bytes = std::max<std::size_t>(bytes, 1);
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a.p);
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  return begin < a_begin + a_bytes && a_begin < begin + bytes;
}

void check_canary(const live_block& block, std::size_t step) {
  for (std::size_t i = 0; i < block.bytes; ++i) {
    if (block.p[i] != block.canary) {
      fail("canary overwritten", step);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  constexpr std::size_t max_live = 512;
  constexpr std::size_t max_steps = 4096;
  input_reader in(data, size);

  protopool::slot_pool_options options;
  options.slot_size = std::size_t{1} + in.byte() % 128;
  options.slot_alignment = std::size_t{1} << (in.byte() % 7);  // 1..64
  options.initial_slots = in.byte() % 65;
  const std::uint8_t max_byte = in.byte();
  options.max_slots =
      max_byte % 4 == 0 ? options.initial_slots + max_byte / 4 : 0;
  options.max_slots_per_chunk = std::size_t{1} + in.byte() % 64;
  options.oversize = in.byte() % 4 == 0
                         ? protopool::oversize_policy::throw_bad_alloc
                         : protopool::oversize_policy::upstream;

  protopool::test_resource upstream(protopool::test_resource_options{
      .name = "fuzz upstream", .strict = true});
  std::vector<live_block> live;
  {
    protopool::slot_pool_resource pool(options, &upstream);
    std::size_t model_slots = 0;
    std::size_t model_high_water = 0;
    std::size_t model_oversize = 0;
    std::size_t oversize_bytes_live = 0;
    std::size_t oversize_blocks_live = 0;
    unsigned char next_canary = 1;

    for (std::size_t step = 0; !in.empty() && step < max_steps; ++step) {
      const std::uint8_t op = in.byte();
      if (op < 160) {  // allocate
        const std::size_t bytes = in.byte() % (2 * options.slot_size + 2);
        const std::size_t alignment = std::size_t{1} << (op % 8);  // 1..128
        const bool slot =
            bytes <= options.slot_size && alignment <= options.slot_alignment;
        const bool must_fail =
            slot ? options.max_slots != 0 && model_slots == options.max_slots
                 : options.oversize ==
                       protopool::oversize_policy::throw_bad_alloc;
        if (live.size() == max_live && !must_fail) {
          continue;
        }
        void* raw = nullptr;
        try {
          raw = pool.allocate(bytes, alignment);
        } catch (const std::bad_alloc&) {
          if (!must_fail) {
            fail("unexpected std::bad_alloc", step);
          }
          continue;
        }
        if (must_fail) {
          fail("allocation succeeded where it must fail", step);
        }
        auto* p = static_cast<unsigned char*>(raw);
        if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) {
          fail("misaligned block", step);
        }
        if (pool.owns(p) != slot) {
          fail("owns() disagrees with the size class", step);
        }
        for (const live_block& other : live) {
          if (overlaps(other, p, bytes)) {
            fail("block overlaps a live block", step);
          }
        }
        const unsigned char canary = next_canary++;
        std::fill(p, p + bytes, canary);
        live.push_back({p, bytes, alignment, canary, slot});
        if (slot) {
          model_high_water = std::max(model_high_water, ++model_slots);
        } else {
          ++model_oversize;
          oversize_bytes_live += bytes;
          ++oversize_blocks_live;
        }
      } else if (op < 250) {  // deallocate
        if (live.empty()) {
          continue;
        }
        const std::size_t index = in.byte() % live.size();
        const live_block block = live[index];
        check_canary(block, step);
        pool.deallocate(block.p, block.bytes, block.alignment);
        live[index] = live.back();
        live.pop_back();
        if (block.slot) {
          --model_slots;
        } else {
          oversize_bytes_live -= block.bytes;
          --oversize_blocks_live;
        }
      } else {  // release: every slot becomes invalid, oversize blocks stay
        for (const live_block& block : live) {
          check_canary(block, step);
        }
        pool.release();
        std::erase_if(live, [](const live_block& b) { return b.slot; });
        model_slots = 0;
      }

      const protopool::slot_pool_stats stats = pool.stats();
      if (stats.slots_in_use != model_slots) {
        fail("slots_in_use differs from the model", step);
      }
      if (stats.high_water != model_high_water) {
        fail("high_water differs from the model", step);
      }
      if (stats.oversize_allocations != model_oversize) {
        fail("oversize_allocations differs from the model", step);
      }
      if (stats.capacity < stats.slots_in_use ||
          (options.max_slots != 0 && stats.capacity > options.max_slots)) {
        fail("capacity out of bounds", step);
      }
      if (upstream.bytes_in_use() !=
              stats.upstream_bytes + oversize_bytes_live ||
          upstream.blocks_in_use() != stats.chunks + oversize_blocks_live) {
        fail("upstream holds other than the chunks and oversize blocks", step);
      }
    }

    for (const live_block& block : live) {
      check_canary(block, max_steps);
      pool.deallocate(block.p, block.bytes, block.alignment);
    }
    if (pool.stats().slots_in_use != 0) {
      fail("slots still in use after freeing all", max_steps);
    }
  }
  if (upstream.blocks_in_use() != 0 || upstream.misuse_count() != 0) {
    fail("the pool did not give upstream back everything", max_steps);
  }
  return 0;
}
