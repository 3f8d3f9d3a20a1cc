// File: examples/protopool_demo.cc
//
// PURPOSE: the `cargo run` of the original experiment, in C++: box protocol
// messages in a memory resource (the slot pool by default), print them and
// the resource's trace, drop them, and show that every block came back.
//
// USAGE:
//   protopool_demo [--resource=pool|new_delete|unsync_pool|sync_pool|monotonic]
//                  [--count=N] [--trace|--notrace] [--help]
//
// With no flags it prints (addresses vary):
//   main:+
//   main inner:+
//   pool:+ slots=10 slot_size=56
//   allocate: p=0x4e5c0a0 bytes=56 align=8
//   main inner: m=Add { left: 5, right: 6 }
//   allocate: p=0x4e5c0d8 bytes=56 align=8
//   main inner: m=Add { left: 2, right: 4 }
//   main inner:-
//   deallocate: p=0x4e5c0a0 bytes=56 align=8
//   deallocate: p=0x4e5c0d8 bytes=56 align=8
//   pool:- in_use=0 high_water=2
//   main:-
// Every --resource goes through the same pmr code path (make_box over a
// memory_resource*). A bad flag value or an unknown flag is reported on
// stderr with exit status 2; --help prints the flags and exits with 0.
//
// Two programs. This one parses and validates the flags (Abseil flags),
// then replaces itself (execv) with protopool_demo_run, found next to it,
// which does the work. The reason: Abseil's flag registry and program name
// are allocated once per process and never freed, by design, so a process
// that links Abseil flags always ends with ~480 bytes "still reachable"
// under valgrind. The process that makes and drops the messages links no
// flag library, and valgrind (--trace-children=yes) can say of it "All heap
// blocks were freed".
#include <absl/flags/flag.h>
#include <absl/flags/internal/program_name.h>
#include <absl/flags/internal/usage.h>
#include <absl/flags/parse.h>
#include <absl/flags/reflection.h>
#include <absl/flags/usage.h>
#include <absl/flags/usage_config.h>
#include <absl/strings/numbers.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protopool_demo_options.h"

// Values are taken as strings and checked here: Debian's Abseil exits with
// status 1 on a value it cannot parse, and the demo promises status 2.
ABSL_FLAG(std::string, resource, "pool",
          "the memory resource the messages live in: pool "
          "(protopool::slot_pool_resource, 10 protocol-sized slots), "
          "new_delete, unsync_pool, sync_pool (the std pool resources) or "
          "monotonic (std::pmr::monotonic_buffer_resource)");
ABSL_FLAG(std::string, count, "2",
          "how many messages to box (0..1000000): Add, Add, Sub, Mul, Echo, "
          "and again");
ABSL_FLAG(bool, trace, true,
          "print every allocate/deallocate the messages make (--notrace: "
          "don't)");

namespace {

constexpr int bad_usage = 2;

int fail(std::string_view message) {
  std::cerr << "protopool_demo: " << message
            << "\nTry 'protopool_demo --help'.\n";
  return bad_usage;
}

// The arguments before a "--" (after it, nothing is a flag).
std::vector<std::string_view> flag_arguments(int argc, char** argv) {
  std::vector<std::string_view> flags;
  for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    flags.emplace_back(argv[i]);
  }
  return flags;
}

// The name and value of "--name=value" or "-name=value"; the whole rest if
// there is no '='.
std::string_view flag_body(std::string_view argument) {
  if (argument.starts_with("--")) return argument.substr(2);
  if (argument.starts_with("-")) return argument.substr(1);
  return {};
}

// Abseil checks --trace=<value> itself, and exits with 1 on a bad one: check
// it first, with the demo's status.
std::optional<std::string> check_trace_values(
    const std::vector<std::string_view>& flags) {
  for (const std::string_view argument : flags) {
    const std::string_view body = flag_body(argument);
    bool value = false;
    if (body.starts_with("trace=") &&
        !absl::SimpleAtob(absl::string_view(body.data() + 6, body.size() - 6),
                          &value)) {
      return "bad value for --trace: '" + std::string(body.substr(6)) +
             "' (use --trace, --notrace, --trace=true or --trace=false)";
    }
    if (body.starts_with("notrace=")) {
      return "--notrace takes no value: use --notrace or --trace=false";
    }
  }
  return std::nullopt;
}

// Abseil reports a flag it does not know and exits with 1: find it first,
// with the demo's status. A name Abseil knows (ours, or one of its own such
// as --flagfile) passes, and so does --noNAME for a bool; so do the usage
// flags Abseil handles without registering them (--helpfull, ...).
constexpr std::string_view abseil_usage_flags[] = {
    "help",    "helpfull",        "helpshort", "helppackage",
    "version", "only_check_args", "helpon",    "helpmatch"};

std::optional<std::string> check_flag_names(
    const std::vector<std::string_view>& flags) {
  for (const std::string_view argument : flags) {
    const std::string_view body = flag_body(argument);
    if (body.empty()) continue;  // a positional argument, or "-"
    const std::string_view name = body.substr(0, body.find('='));
    if (std::ranges::find(abseil_usage_flags, name) !=
        std::end(abseil_usage_flags)) {
      continue;
    }
    // Debian's absl::string_view is its own type, not std::string_view.
    const absl::string_view absl_name(name.data(), name.size());
    if (absl::FindCommandLineFlag(absl_name) != nullptr) continue;
    if (name.starts_with("no")) {
      const absl::CommandLineFlag* flag =
          absl::FindCommandLineFlag(absl_name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) continue;
    }
    return "unknown flag '--" + std::string(name) +
           "' (the flags are --resource, --count, --trace/--notrace, "
           "--help)";
  }
  return std::nullopt;
}

bool help_requested(const std::vector<std::string_view>& flags) {
  for (const std::string_view argument : flags) {
    if (flag_body(argument) == "help") return true;
  }
  return false;
}

// The directory this program was started from, with a trailing '/'.
std::string program_directory(const char* argv0) {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  std::string self = length > 0
                         ? std::string(path, static_cast<std::size_t>(length))
                         : std::string(argv0);
  const std::size_t slash = self.rfind('/');
  return slash == std::string::npos ? "./" : self.substr(0, slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "boxes protocol messages in a memory resource and traces every "
      "allocation.\nUsage: protopool_demo [--resource=pool|new_delete|"
      "unsync_pool|sync_pool|monotonic] [--count=N] [--trace|--notrace]");
  const std::vector<std::string_view> flags = flag_arguments(argc, argv);
  if (help_requested(flags)) {
    absl::flags_internal::SetProgramInvocationName(argv[0]);
    // Only this program's flags, as Abseil's --help shows them.
    absl::flags_internal::FlagsHelp(
        std::cout, "protopool_demo.",
        absl::flags_internal::HelpFormat::kHumanReadable,
        absl::ProgramUsageMessage());
    return 0;
  }
  if (const auto error = check_flag_names(flags)) {
    return fail(*error);
  }
  if (const auto error = check_trace_values(flags)) {
    return fail(*error);
  }

  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return fail("unexpected argument '" + std::string(positional[1]) + "'");
  }
  std::string resource = absl::GetFlag(FLAGS_resource);
  if (!demo::parse_resource(resource)) {
    return fail("bad value for --resource: '" + resource + "' (use one of " +
                std::string(demo::resource_names) + ")");
  }
  std::string count = absl::GetFlag(FLAGS_count);
  if (!demo::parse_count(count)) {
    return fail("bad value for --count: '" + count +
                "' (use a whole number from 0 to " +
                std::to_string(demo::max_count) + ")");
  }

  std::string runner = program_directory(argv[0]) + "protopool_demo_run";
  std::string trace = absl::GetFlag(FLAGS_trace) ? "1" : "0";
  std::vector<char*> arguments = {runner.data(), resource.data(), count.data(),
                                  trace.data(), nullptr};
  std::cout.flush();
  execv(runner.c_str(), arguments.data());
  std::cerr << "protopool_demo: cannot run " << runner << ": "
            << std::strerror(errno) << '\n';
  return 1;
}
