# Every test runs with the pools' default behaviour, whatever environment
# `ctest` is started in: a PROTOPOOL_QUARANTINE or PROTOPOOL_PASS_THROUGH
# exported to run one's own program under a checker would otherwise change
# what the demo prints, what the checkers find and what the perf probe
# counts. protopool_isolate_tests() at the top of a directory that adds
# tests with add_test() unsets them, through ENVIRONMENT_MODIFICATION, for
# each of its tests, once the directory is processed, except where the
# test's own ENVIRONMENT sets one. GoogleTest cases (discovered when they
# run, so unknown here) unset them in-process:
# test/support/isolated_environment.cc.
set(protopool_environment_variables PROTOPOOL_QUARANTINE
                                    PROTOPOOL_PASS_THROUGH)

function(protopool_unset_environment_of_tests)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property("${test}" ENVIRONMENT environment)
    foreach(variable IN LISTS protopool_environment_variables)
      if(NOT environment MATCHES "(^|;)${variable}=")
        set_property(TEST "${test}" APPEND PROPERTY ENVIRONMENT_MODIFICATION
                                                    "${variable}=unset:")
      endif()
    endforeach()
  endforeach()
endfunction()

macro(protopool_isolate_tests)
  set_property(DIRECTORY PROPERTY PROTOPOOL_TESTS_ISOLATED TRUE)
  cmake_language(DEFER CALL protopool_unset_environment_of_tests)
endmacro()

# protopool_check_tests_isolated(<dir>): a configure error for any directory
# at or below <dir> that adds tests without protopool_isolate_tests(), so a
# new test directory cannot forget it. Call it after add_subdirectory().
function(protopool_check_tests_isolated dir)
  get_property(tests DIRECTORY "${dir}" PROPERTY TESTS)
  get_property(isolated DIRECTORY "${dir}" PROPERTY PROTOPOOL_TESTS_ISOLATED)
  if(tests AND NOT isolated)
    message(FATAL_ERROR "${dir} adds tests (${tests}) but does not call "
                        "protopool_isolate_tests() (cmake/isolate_tests.cmake)")
  endif()
  get_property(subdirectories DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    protopool_check_tests_isolated("${subdirectory}")
  endforeach()
endfunction()
