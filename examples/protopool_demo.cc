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
// memory_resource*). A bad or missing flag value, an unknown flag, or one
// of Abseil's --flagfile, --fromenv, --tryfromenv and --undefok (not
// supported here) is reported on stderr, naming the flag, with exit status
// 2. --help in any form (--help=false, --helpfull, --helpshort, ...) prints
// the demo's flags and exits with 0; --version and --only_check_args are
// left to Abseil (status 0), after the checks.
//
// Two programs. This one parses and validates the flags (Abseil flags),
// then replaces itself (execv) with protopool_demo_run, found next to it,
// which does the work. The reason: Abseil's flag registry and program name
// are allocated once per process and never freed, by design, so a process
// that links Abseil flags always ends with several hundred bytes "still
// reachable" under valgrind (775 in 14 blocks with --only_check_args). The
// process that makes and drops the messages links no flag library, and valgrind
// (--trace-children=yes) can say of it "All heap blocks were freed".
#include <absl/flags/commandlineflag.h>
#include <absl/flags/flag.h>
#include <absl/flags/parse.h>
#include <absl/flags/reflection.h>
#include <absl/flags/usage.h>
#include <absl/strings/numbers.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <iostream>
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

// One flag as Abseil reads it: "--name=value" or "-name=value"; "--name";
// or "--name value" for a flag that takes a value (the next argument, even
// one that starts with '-').
struct flag_argument {
  std::string_view name;
  std::optional<std::string_view> value;
};

// The demo's flags that take a value (the others are bools).
bool takes_value(std::string_view name) {
  return name == "resource" || name == "count";
}

// The flags before a "--" (after it, nothing is a flag), read as Abseil
// reads them; positional arguments are left out.
std::vector<flag_argument> read_flags(int argc, char** argv) {
  std::vector<flag_argument> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--") break;
    std::string_view body;
    if (argument.starts_with("--")) {
      body = argument.substr(2);
    } else if (argument.starts_with("-")) {
      body = argument.substr(1);
    }
    if (body.empty()) continue;  // a positional argument, or "-"
    const std::size_t equals = body.find('=');
    flag_argument flag{body.substr(0, equals), std::nullopt};
    if (equals != std::string_view::npos) {
      flag.value = body.substr(equals + 1);
    } else if (takes_value(flag.name) && i + 1 < argc) {
      flag.value = argv[++i];
    }
    flags.push_back(flag);
  }
  return flags;
}

// Abseil's help flags exit with status 1, and --help=false still prints
// help: the demo answers every one of them with its own help and status 0.
bool is_help(std::string_view name) {
  return name == "help" || name == "helpfull" || name == "helpshort" ||
         name == "helppackage" || name == "helpon" || name == "helpmatch";
}

// Abseil's flags that read flags from elsewhere: it reports their errors
// (a missing file, a bad value inside) with status 1, so the demo, whose
// flags fit on one line, does not take them.
bool is_unsupported(std::string_view name) {
  return name == "flagfile" || name == "fromenv" || name == "tryfromenv" ||
         name == "undefok";
}

// Abseil's usage flags that end the program with status 0 after parsing
// (and after the checks below).
bool is_abseil_usage(std::string_view name) {
  return name == "version" || name == "only_check_args";
}

constexpr std::string_view the_flags =
    "the flags are --resource, --count, --trace/--notrace, --help";

std::string bad_resource(std::string_view value) {
  return "bad value for --resource: '" + std::string(value) + "' (use one of " +
         std::string(demo::resource_names) + ")";
}

std::string bad_count(std::string_view value) {
  return "bad value for --count: '" + std::string(value) +
         "' (use a whole number from 0 to " + std::to_string(demo::max_count) +
         ")";
}

// Returns what is wrong with `flag`, or nothing. Everything Abseil would
// reject with status 1 (an unknown flag, a missing or bad value) is caught
// here first, to be reported with the demo's status.
std::optional<std::string> check_flag(const flag_argument& flag) {
  const std::string name(flag.name);
  if (is_help(flag.name) || is_abseil_usage(flag.name)) return std::nullopt;
  if (is_unsupported(flag.name)) {
    return "--" + name + " is not supported by the demo (" +
           std::string(the_flags) + ")";
  }
  if (takes_value(flag.name) && !flag.value) {
    return "missing value for --" + name + " (use --" + name + "=VALUE)";
  }
  if (flag.name == "resource") {
    if (!demo::parse_resource(*flag.value)) return bad_resource(*flag.value);
    return std::nullopt;
  }
  if (flag.name == "count") {
    if (!demo::parse_count(*flag.value)) return bad_count(*flag.value);
    return std::nullopt;
  }
  if (flag.name == "trace") {
    bool value = false;
    if (flag.value && !absl::SimpleAtob(absl::string_view(flag.value->data(),
                                                          flag.value->size()),
                                        &value)) {
      return "bad value for --trace: '" + std::string(*flag.value) +
             "' (use --trace, --notrace, --trace=true or --trace=false)";
    }
    return std::nullopt;
  }
  if (flag.name == "notrace") {
    if (flag.value) {
      return "--notrace takes no value: use --notrace or --trace=false";
    }
    return std::nullopt;
  }
  return "unknown flag '--" + name + "' (" + std::string(the_flags) + ")";
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
  const std::vector<flag_argument> flags = read_flags(argc, argv);
  if (std::ranges::any_of(flags, [](const flag_argument& flag) {
        return is_help(flag.name);
      })) {
    // Only this program's flags, through Abseil's public flag reflection
    // (its own help also offers --helpfull and --help=substring, which the
    // demo answers with this same text).
    std::cout << "protopool_demo: " << absl::ProgramUsageMessage()
              << "\n\nFlags:\n";
    for (const char* name : {"resource", "count", "trace"}) {
      const absl::CommandLineFlag* const flag = absl::FindCommandLineFlag(name);
      std::cout << "  --" << name << ": " << flag->Help()
                << " (default: " << flag->DefaultValue() << ")\n";
    }
    return 0;
  }
  for (const flag_argument& flag : flags) {
    if (const auto error = check_flag(flag)) {
      return fail(*error);
    }
  }

  // Every flag is known and good: Abseil cannot fail here.
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return fail("unexpected argument '" + std::string(positional[1]) + "'");
  }
  std::string resource = absl::GetFlag(FLAGS_resource);
  if (!demo::parse_resource(resource)) {
    return fail(bad_resource(resource));
  }
  std::string count = absl::GetFlag(FLAGS_count);
  if (!demo::parse_count(count)) {
    return fail(bad_count(count));
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
