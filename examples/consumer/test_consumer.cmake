# The consumer_package test (cmake -P): installs the protopool build tree
# into a prefix inside it, then configures, builds and runs the consumer
# project against that prefix, with the compiler, build type and flags of
# the build under test. Any failing step fails the test.
#
# Inputs (-D): PROTOPOOL_BINARY_DIR CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR
# CONSUMER_PREFIX CXX_COMPILER BUILD_TYPE CXX_FLAGS, and EMULATOR (the
# build's CMAKE_CROSSCOMPILING_EMULATOR with '|' for ';', may be empty).
cmake_minimum_required(VERSION 3.25)

foreach(input PROTOPOOL_BINARY_DIR CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR
              CONSUMER_PREFIX CXX_COMPILER)
  if(NOT DEFINED ${input} OR "${${input}}" STREQUAL "")
    message(FATAL_ERROR "test_consumer.cmake: ${input} is not set")
  endif()
endforeach()

function(run_step name)
  message(STATUS "consumer_package: ${name}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer_package: ${name} failed (${result})")
  endif()
endfunction()

# Start clean: a stale prefix or cache must not hide a broken package.
file(REMOVE_RECURSE "${CONSUMER_PREFIX}" "${CONSUMER_BINARY_DIR}")

run_step(install "${CMAKE_COMMAND}" --install "${PROTOPOOL_BINARY_DIR}"
         --prefix "${CONSUMER_PREFIX}")

run_step(
  configure
  "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}"
  -G Ninja
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
  "-DCMAKE_PREFIX_PATH=${CONSUMER_PREFIX}"
  # Only the installed package may satisfy find_package(protopool).
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

# The package found must be the one just installed.
file(STRINGS "${CONSUMER_BINARY_DIR}/CMakeCache.txt" found_dir
     REGEX "^protopool_DIR:")
string(REGEX REPLACE "^[^=]*=" "" found_dir "${found_dir}")
file(REAL_PATH "${CONSUMER_PREFIX}" real_prefix)
string(FIND "${found_dir}" "${CONSUMER_PREFIX}/" at)
string(FIND "${found_dir}" "${real_prefix}/" real_at)
if(NOT at EQUAL 0 AND NOT real_at EQUAL 0)
  message(FATAL_ERROR "consumer_package: protopool came from '${found_dir}', "
                      "not from the installed prefix '${CONSUMER_PREFIX}'")
endif()

run_step(build "${CMAKE_COMMAND}" --build "${CONSUMER_BINARY_DIR}")

string(REPLACE "|" ";" emulator "${EMULATOR}")
run_step(run ${emulator} "${CONSUMER_BINARY_DIR}/consumer")
