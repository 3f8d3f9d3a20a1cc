# The report in docs/ is what protopool_report says of the runs kept beside
# it: write the report again from docs/run/*.tsv and compare. A change to
# the report's code or words must come with docs/ written again:
#   build/hypothesis/bench/protopool_report --out=<dir> docs/run/*.tsv
#   cp <dir>/report.md docs/hypothesis_report.md
#   REPORT    the protopool_report executable
#   DOCS_DIR  docs/
#   OUT_DIR   a scratch directory
foreach(variable REPORT DOCS_DIR OUT_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "docs_report_test.cmake: -D${variable}=... is required")
  endif()
endforeach()
file(GLOB runs "${DOCS_DIR}/run/*.tsv")
list(SORT runs)
if(NOT runs)
  message(FATAL_ERROR "docs_report_test: no TSV file in ${DOCS_DIR}/run")
endif()
file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
execute_process(COMMAND "${REPORT}" "--out=${OUT_DIR}" ${runs}
                OUTPUT_QUIET RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "docs_report_test: protopool_report failed (${status})")
endif()
file(READ "${OUT_DIR}/report.md" written)
file(READ "${DOCS_DIR}/hypothesis_report.md" kept)
if(NOT written STREQUAL kept)
  message(FATAL_ERROR
          "docs_report_test: docs/hypothesis_report.md is not what the "
          "report says of docs/run/*.tsv; compare it with "
          "${OUT_DIR}/report.md and write docs/ again (see this script)")
endif()
message(STATUS "docs_report_test: docs/hypothesis_report.md is its runs' report")
