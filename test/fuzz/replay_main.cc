// Replays fuzz inputs without libFuzzer: each argument is a file or a
// directory of files, each file is fed once to LLVMFuzzerTestOneInput (a
// failed check aborts). Lets every build, g++ included, run the committed
// seed corpus as an ordinary test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
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

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
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
