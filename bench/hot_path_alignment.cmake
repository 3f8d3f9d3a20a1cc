# hot_path_alignment.cmake: fails unless both pools' do_allocate and
# do_deallocate, and slot_pool_resource::refill (the carve every slot of a
# fresh pool takes), start a 64-byte line in a linked program, as
# PROTOPOOL_DETAIL_HOT_PATH (lib/detail/slot_layout.h) asks. At g++'s default
# 16-byte alignment their place, and the time of a call through
# memory_resource*, moved with the size of unrelated code linked before them.
# Called by the CTest test `perf.hot_paths_start_a_line` (cmake -P) with:
#   NM      nm executable
#   BINARY  a program that links both pools (protopool_bench)
cmake_minimum_required(VERSION 3.25)

execute_process(
  COMMAND "${NM}" "${BINARY}"
  OUTPUT_VARIABLE symbols
  ERROR_VARIABLE errors
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "hot paths: ${NM} ${BINARY} failed:\n${errors}")
endif()

set(misplaced "")
set(hot_paths
    _ZN9protopool18slot_pool_resource11do_allocateEmm
    _ZN9protopool18slot_pool_resource13do_deallocateEPvmm
    _ZN9protopool18slot_pool_resource6refillEv
    _ZN9protopool31synchronized_slot_pool_resource11do_allocateEmm
    _ZN9protopool31synchronized_slot_pool_resource13do_deallocateEPvmm)
foreach(symbol IN LISTS hot_paths)
  if(NOT symbols MATCHES "([0-9a-f]+) [Tt] ${symbol}\n")
    message(FATAL_ERROR "hot paths: ${symbol} not found in ${BINARY}")
  endif()
  set(address "${CMAKE_MATCH_1}")
  string(LENGTH "${address}" digits)
  math(EXPR start "${digits} - 2")
  string(SUBSTRING "${address}" ${start} 2 low_byte)
  math(EXPR offset "0x${low_byte} % 64")
  message(STATUS "hot paths: ${symbol} at 0x${address}, "
                 "${offset} bytes into a 64-byte line")
  if(NOT offset EQUAL 0)
    list(APPEND misplaced "${symbol} (0x${address})")
  endif()
endforeach()
if(misplaced)
  list(JOIN misplaced ", " misplaced)
  message(FATAL_ERROR "hot paths: not on a 64-byte line: ${misplaced}")
endif()
