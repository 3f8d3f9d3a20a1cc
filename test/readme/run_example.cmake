# Runs one README example (cmake -P): it must exit with 0 and, when EXPECTED
# names a file, print exactly that file's text on stdout.
#
# Inputs (-D): PROGRAM, EXPECTED (may be empty), EMULATOR ('|' for ';', may
# be empty).
cmake_minimum_required(VERSION 3.25)

string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(
  COMMAND ${emulator} "${PROGRAM}"
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} failed (${result})\n"
                      "stdout:\n${out}\nstderr:\n${err}")
endif()
if(EXPECTED)
  file(READ "${EXPECTED}" expected)
  if(NOT out STREQUAL expected)
    message(FATAL_ERROR "${PROGRAM}: stdout is not the README's output\n"
                        "expected:\n${expected}\nactual:\n${out}")
  endif()
endif()
message(STATUS "${PROGRAM}: ok")
