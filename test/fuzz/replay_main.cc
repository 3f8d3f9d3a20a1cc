// Replays fuzz inputs without libFuzzer: each argument is a file or a
// directory of files, each file is fed once to LLVMFuzzerTestOneInput (a
// failed check aborts). Lets every build, g++ included, run the committed
// seed corpus as an ordinary test.
//
// The exit status is the verdict (CTest reads nothing else): 1 when no
// input was replayed; under valgrind (--error-exitcode) or ASan, any error
// or any byte still in use at exit fails the run too. `--plant-leak` (the
// first argument) leaks one block on purpose, so that a test can prove a
// leak fails the replay.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size);

namespace {

void replay_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(file),
                                std::istreambuf_iterator<char>()};
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                         bytes.size());
}

// A block nobody frees, and nothing points to once this returns.
[[gnu::noinline]] void plant_leak() {
  void* volatile block = std::malloc(48);
  std::memset(block, 0x5a, 48);
  block = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (argc > 1 && std::string_view(argv[1]) == "--plant-leak") {
    plant_leak();
    first = 2;
  }
  std::size_t replayed = 0;
  for (int i = first; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) {
          replay_file(entry.path());
          ++replayed;
        }
      }
    } else {
      replay_file(path);
      ++replayed;
    }
  }
  std::printf("replayed %zu input(s)\n", replayed);
  return replayed == 0 ? 1 : 0;
}
