# The report's words follow its numbers: run protopool_report on synthetic
# runs in which the pool loses, and check what it says.
#   REPORT    the protopool_report executable
#   DATA_DIR  bench/testdata
#   OUT_DIR   a scratch directory
foreach(variable REPORT DATA_DIR OUT_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "report_test.cmake: -D${variable}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${OUT_DIR}")
execute_process(
  COMMAND "${REPORT}" "--out=${OUT_DIR}"
          "${DATA_DIR}/report_pool_loses.tsv"
          "${DATA_DIR}/report_pool_loses_mimalloc.tsv"
  OUTPUT_VARIABLE report
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "protopool_report failed (${status}):\n${report}")
endif()
set(required
    "The hypothesis does not hold on this machine: boxing one message"
    "(2.0x slower) and 4.00 ns with mimalloc:malloc"
    "| W6_memory: pool upstream bytes per live message <= 1.02x the 24-byte slot | not measured | MISS |"
    "are raw, not normalized: this workload has no floor to scale them by."
    "are raw, not normalized: its floor is wall time, mostly scheduling."
    "| mimalloc:new_delete | 50.00 |"
    "| mimalloc:malloc | 4.00 |"
    "2 of 19 targets hold in this run")
set(forbidden
    "The hypothesis holds"
    "separates 20.00 ns")
set(failed "")
foreach(text IN LISTS required)
  string(FIND "${report}" "${text}" at)
  if(at EQUAL -1)
    string(APPEND failed "  missing: ${text}\n")
  endif()
endforeach()
foreach(text IN LISTS forbidden)
  string(FIND "${report}" "${text}" at)
  if(NOT at EQUAL -1)
    string(APPEND failed "  present: ${text}\n")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "report_test: the report says the wrong thing:\n"
                      "${failed}\nThe report:\n${report}")
endif()
message(STATUS "report_test: the report says what its numbers show")
