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
  cmake_language(DEFER CALL protopool_unset_environment_of_tests)
endmacro()
