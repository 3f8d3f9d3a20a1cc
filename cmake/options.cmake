# Build options. Everything here is a cache variable a user or a preset sets.

include(GNUInstallDirs)

option(PROTOPOOL_BUILD_TESTS "Build the tests" "${PROJECT_IS_TOP_LEVEL}")
option(PROTOPOOL_BUILD_EXAMPLES "Build the examples" "${PROJECT_IS_TOP_LEVEL}")
option(PROTOPOOL_BUILD_BENCH "Build the hypothesis benchmark"
       "${PROJECT_IS_TOP_LEVEL}")
option(PROTOPOOL_BUILD_FUZZERS
       "Build the libFuzzer harnesses (clang; the fuzz preset)" OFF)
set(PROTOPOOL_FUZZ_SECONDS 10 CACHE STRING
    "How long the fuzz preset's CTest test fuzzes, in seconds")

# Checked builds diagnose misuse; on by default in Debug builds (also under
# add_subdirectory), off otherwise. The dev presets set it explicitly.
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(protopool_debug_default ON)
else()
  set(protopool_debug_default OFF)
endif()
option(PROTOPOOL_CHECKED "Diagnose pool misuse (double free, foreign pointer)"
       "${protopool_debug_default}")

# valgrind client requests need valgrind's headers; default on in Debug
# builds where they are installed.
include(CheckIncludeFileCXX)
check_include_file_cxx(valgrind/memcheck.h PROTOPOOL_HAVE_VALGRIND_H)
if(protopool_debug_default AND PROTOPOOL_HAVE_VALGRIND_H)
  set(protopool_valgrind_default ON)
else()
  set(protopool_valgrind_default OFF)
endif()
option(PROTOPOOL_VALGRIND "Describe pool slots to valgrind (mempool requests)"
       "${protopool_valgrind_default}")
if(PROTOPOOL_VALGRIND AND NOT PROTOPOOL_HAVE_VALGRIND_H)
  message(FATAL_ERROR "PROTOPOOL_VALGRIND is ON but valgrind/memcheck.h was "
                      "not found: install valgrind (Debian: valgrind).")
endif()

include(cmake/sanitizers.cmake)

foreach(flag CHECKED VALGRIND ASAN)
  if(PROTOPOOL_${flag})
    set(PROTOPOOL_${flag}_VALUE 1)
  else()
    set(PROTOPOOL_${flag}_VALUE 0)
  endif()
endforeach()
