# perf_probe.cmake: counts, with callgrind, the instructions of one allocate +
# deallocate pair through memory_resource* (loop included) and fails above
# MAX. Called by the CTest test `perf` (cmake -P) with:
#   VALGRIND  valgrind executable
#   PROBE     protopool_perf_probe executable
#   WORK_DIR  where callgrind writes its output
#   PAIRS     pairs in the shorter run (the longer one runs twice as many)
#   MAX       the bound, instructions per pair
cmake_minimum_required(VERSION 3.25)

function(count_instructions pairs out_var)
  set(out "${WORK_DIR}/callgrind.perf.${pairs}")
  file(REMOVE "${out}")
  execute_process(
    COMMAND "${VALGRIND}" --tool=callgrind "--callgrind-out-file=${out}"
            "${PROBE}" ${pairs}
    RESULT_VARIABLE result
    OUTPUT_QUIET ERROR_VARIABLE log)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "perf: the probe failed under callgrind:\n${log}")
  endif()
  file(STRINGS "${out}" summary REGEX "^(summary|totals):")
  list(GET summary 0 summary)
  string(REGEX MATCH "[0-9]+" instructions "${summary}")
  set(${out_var} ${instructions} PARENT_SCOPE)
endfunction()

file(MAKE_DIRECTORY "${WORK_DIR}")
count_instructions(${PAIRS} short_run)
math(EXPR long_pairs "${PAIRS} * 2")
count_instructions(${long_pairs} long_run)
# Tenths of an instruction, rounded to nearest.
math(EXPR tenths "((${long_run} - ${short_run}) * 10 + ${PAIRS} / 2) / ${PAIRS}")
math(EXPR whole "${tenths} / 10")
math(EXPR fraction "${tenths} % 10")
message(STATUS "perf: ${whole}.${fraction} instructions per allocate + "
               "deallocate pair through memory_resource* (loop included; "
               "bound ${MAX}); ${short_run} Ir for ${PAIRS} pairs, "
               "${long_run} Ir for ${long_pairs}")
math(EXPR bound_tenths "${MAX} * 10")
if(tenths GREATER bound_tenths)
  message(FATAL_ERROR "perf: ${whole}.${fraction} instructions per pair is "
                      "above the bound of ${MAX}")
endif()
