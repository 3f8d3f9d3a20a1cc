# check_demo.cmake: runs protopool_demo once and checks its exit status
# exactly, and its output line by line (CTest's PASS_REGULAR_EXPRESSION
# ignores the exit status, and WILL_FAIL cannot tell 1 from 2).
#
#   cmake -DDEMO=<path> [-DARGS=a|b|c] [-DEMULATOR=valgrind|--quiet]
#         -DEXIT=<status> [-DSTDOUT=<file>] [-DSTDOUT_REGEX=<regex>]
#         [-DSTDERR=<regex>] [-DVALGRIND_SUMMARY=ON]
#         -P check_demo.cmake
#
# STDOUT names a file with one regular expression per line: the output must
# have exactly as many lines, each matching its expression whole.
# STDOUT_REGEX and STDERR are regular expressions stdout and stderr must
# contain. VALGRIND_SUMMARY: stderr must hold a clean valgrind summary (no
# leak, not even a reachable block, and no error), which under a valgrind
# emulator with --trace-children=yes only protopool_demo_run prints
# (protopool_demo replaces itself with it).
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(
  COMMAND ${emulator} "${DEMO}" ${args}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

set(failed "")
if(NOT "${status}" STREQUAL "${EXIT}")
  string(APPEND failed "exit status ${status}, expected ${EXIT}\n")
endif()
if(DEFINED STDOUT)
  file(STRINGS "${STDOUT}" patterns)
  string(REGEX REPLACE "\n$" "" trimmed "${out}")
  string(REPLACE ";" "\\;" trimmed "${trimmed}")
  string(REPLACE "\n" ";" lines "${trimmed}")
  list(LENGTH patterns pattern_count)
  list(LENGTH lines line_count)
  if(NOT pattern_count EQUAL line_count)
    string(APPEND failed
           "${line_count} output lines, expected ${pattern_count}\n")
  else()
    math(EXPR last "${line_count} - 1")
    foreach(i RANGE ${last})
      list(GET patterns ${i} pattern)
      list(GET lines ${i} line)
      if(NOT line MATCHES "^${pattern}$")
        math(EXPR number "${i} + 1")
        string(APPEND failed
               "line ${number}: '${line}' does not match '${pattern}'\n")
      endif()
    endforeach()
  endif()
endif()
if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
  string(APPEND failed "stdout does not contain '${STDOUT_REGEX}'\n")
endif()
if(DEFINED STDERR AND NOT err MATCHES "${STDERR}")
  string(APPEND failed "stderr does not contain '${STDERR}'\n")
endif()
if(VALGRIND_SUMMARY)
  foreach(clean "All heap blocks were freed -- no leaks are possible"
                "ERROR SUMMARY: 0 errors from 0 contexts")
    if(NOT err MATCHES "${clean}")
      string(APPEND failed "stderr does not contain '${clean}' (valgrind)\n")
    endif()
  endforeach()
endif()

if(failed)
  message(FATAL_ERROR "${DEMO} ${ARGS}:\n${failed}--- stdout:\n${out}"
                      "--- stderr:\n${err}")
endif()
message(STATUS "ok: ${DEMO} ${ARGS}")
