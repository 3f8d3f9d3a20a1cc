// File: test/support/isolated_environment.cc
//
// PURPOSE: run every GoogleTest case with the pools' default behaviour,
// whatever environment the suite is started in. Before main(), it unsets
// the variables a pool reads when it is made (PROTOPOOL_QUARANTINE,
// PROTOPOOL_PASS_THROUGH) and says so on stderr: a developer who exported
// one to run their own program under a checker would otherwise see tests
// that assume LIFO reuse or chunks fail as if the pool were broken. Tests
// of those variables set them with `scoped_env`. The tests CTest runs
// without GoogleTest get the same through ENVIRONMENT_MODIFICATION
// (cmake/isolate_tests.cmake).
//
// Linked into every test executable by protopool_add_test().
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

namespace {

const bool environment_isolated = [] {
  for (const char* name : {"PROTOPOOL_QUARANTINE", "PROTOPOOL_PASS_THROUGH"}) {
    if (const char* value = std::getenv(name)) {
      std::fprintf(stderr,
                   "protopool tests: ignoring %s=\"%s\" from the environment "
                   "(the tests that need it set it themselves)\n",
                   name, value);
      ::unsetenv(name);
    }
  }
  return true;
}();

}  // namespace
