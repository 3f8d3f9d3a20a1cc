# Dependencies: the installed package first; when it is missing, a
# FetchContent fallback pinned to a release tag (for machines with internet
# and no packages; CI proves the installed-package path).

include(FetchContent)

# Abseil: formatting and synchronization, used by the library itself.
find_package(absl CONFIG QUIET)
if(NOT absl_FOUND)
  message(STATUS "protopool: Abseil not installed, fetching 20220623.1")
  set(ABSL_PROPAGATE_CXX_STD ON)
  set(ABSL_ENABLE_INSTALL ON)
  FetchContent_Declare(
    absl
    GIT_REPOSITORY https://github.com/abseil/abseil-cpp.git
    GIT_TAG 20220623.1)
  FetchContent_MakeAvailable(absl)
endif()

# GoogleTest: the tests only.
if(PROTOPOOL_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND)
    message(STATUS "protopool: GoogleTest not installed, fetching v1.12.1")
    set(INSTALL_GTEST OFF)
    FetchContent_Declare(
      googletest
      GIT_REPOSITORY https://github.com/google/googletest.git
      GIT_TAG release-1.12.1)
    FetchContent_MakeAvailable(googletest)
  endif()
endif()

# Google Benchmark: the hypothesis benchmark only.
if(PROTOPOOL_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT benchmark_FOUND)
    message(STATUS "protopool: Google Benchmark not installed, fetching v1.7.1")
    set(BENCHMARK_ENABLE_TESTING OFF)
    set(BENCHMARK_ENABLE_INSTALL OFF)
    FetchContent_Declare(
      benchmark
      GIT_REPOSITORY https://github.com/google/benchmark.git
      GIT_TAG v1.7.1)
    FetchContent_MakeAvailable(benchmark)
  endif()
endif()
