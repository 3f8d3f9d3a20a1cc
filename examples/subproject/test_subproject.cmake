# The consumer_subdirectory test (cmake -P): configures, builds and runs
# examples/subproject, which add_subdirectory()s this checkout, with the
# compiler, build type and flags of the build under test.
#
# Inputs (-D): PROTOPOOL_SOURCE_DIR SUBPROJECT_SOURCE_DIR SUBPROJECT_BINARY_DIR
# CXX_COMPILER BUILD_TYPE CXX_FLAGS, and EMULATOR ('|' for ';', may be empty).
cmake_minimum_required(VERSION 3.25)

function(run_step name)
  message(STATUS "consumer_subdirectory: ${name}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer_subdirectory: ${name} failed (${result})")
  endif()
endfunction()

# Sanitizer flags go in as the parent's add_compile_options /
# add_link_options (SUBPROJECT_COMPILE_OPTIONS), not CMAKE_CXX_FLAGS: under
# the asan preset this proves protopool detects a sanitizer turned on that
# way (config.h's PROTOPOOL_ASAN agrees with the compilation).
separate_arguments(flags UNIX_COMMAND "${CXX_FLAGS}")
set(sanitizer_flags "${flags}")
list(FILTER sanitizer_flags INCLUDE REGEX "^-f(no-)?sanitize")
list(FILTER flags EXCLUDE REGEX "^-f(no-)?sanitize")
list(JOIN flags " " flags)
list(JOIN sanitizer_flags " " sanitizer_flags)

file(REMOVE_RECURSE "${SUBPROJECT_BINARY_DIR}")
run_step(
  configure
  "${CMAKE_COMMAND}" -S "${SUBPROJECT_SOURCE_DIR}" -B "${SUBPROJECT_BINARY_DIR}"
  -G Ninja
  "-DPROTOPOOL_SOURCE_DIR=${PROTOPOOL_SOURCE_DIR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DCMAKE_CXX_FLAGS=${flags}"
  "-DSUBPROJECT_COMPILE_OPTIONS=${sanitizer_flags}")
run_step(build "${CMAKE_COMMAND}" --build "${SUBPROJECT_BINARY_DIR}")
string(REPLACE "|" ";" emulator "${EMULATOR}")
run_step(run ${emulator} "${SUBPROJECT_BINARY_DIR}/consumer")
