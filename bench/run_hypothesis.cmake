# run_hypothesis.cmake: runs every protopool_bench binary, then the report.
# Called by the CTest test `hypothesis` (cmake -P), with:
#   BENCHES      benchmark executables, separated by "|"
#   REPORT       the protopool_report executable
#   OUT_DIR      where the JSON, TSV, report.md and the chart go
#   GNUPLOT      gnuplot executable, or empty (then the tables only)
#   REPETITIONS  repetitions per benchmark (medians are taken over them)
#   MIN_TIME     minimum seconds per repetition
cmake_minimum_required(VERSION 3.25)

foreach(variable BENCHES REPORT OUT_DIR REPETITIONS MIN_TIME)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_hypothesis.cmake: ${variable} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" BENCHES "${BENCHES}")
file(MAKE_DIRECTORY "${OUT_DIR}")
set(tsv_files "")
# Each binary runs twice. W7_cross_thread starts threads, and once a process
# has started one, glibc's malloc leaves its single-thread fast path for
# good (atomic and locked paths: +11 % for new_delete_resource in W2, +25 %
# for malloc). Run in one process with the repetitions shuffled, some
# single-threaded repetitions of the other workloads ran before the first
# W7 and most after, so glibc's rows mixed the two modes and its ratios
# favoured the pool. Now every single-threaded workload runs in a process
# that never starts a thread, and W7 in a second process.
set(passes "single" "-W7_cross_thread" "threads" "W7_cross_thread")
foreach(bench IN LISTS BENCHES)
  get_filename_component(name "${bench}" NAME_WE)
  set(rest ${passes})
  while(rest)
    list(POP_FRONT rest pass filter)
    set(stem "${name}")
    if(pass STREQUAL "threads")
      set(stem "${name}_threads")
    endif()
    set(tsv "${OUT_DIR}/${stem}.tsv")
    file(REMOVE "${tsv}")
    message(STATUS "hypothesis: running ${name} (${pass}: ${filter})")
    execute_process(
      COMMAND "${bench}" "--tsv=${tsv}" "--benchmark_out=${OUT_DIR}/${stem}.json"
              --benchmark_out_format=json "--benchmark_filter=${filter}"
              --benchmark_repetitions=${REPETITIONS}
              --benchmark_min_time=${MIN_TIME} --benchmark_color=false
              # Repetitions of all contenders interleaved in random order:
              # a change of load on the machine hits every contender alike.
              --benchmark_enable_random_interleaving=true
      RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "hypothesis: ${name} (${pass}) failed (${result})")
    endif()
    list(APPEND tsv_files "${tsv}")
  endwhile()
endforeach()

set(report_args "--out=${OUT_DIR}")
if(GNUPLOT)
  list(APPEND report_args "--gnuplot=${GNUPLOT}")
endif()
execute_process(COMMAND "${REPORT}" ${report_args} ${tsv_files}
                RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "hypothesis: protopool_report failed (${result})")
endif()
message(STATUS "hypothesis: report ${OUT_DIR}/report.md")
if(GNUPLOT)
  message(STATUS "hypothesis: chart ${OUT_DIR}/hypothesis.svg")
endif()
message(STATUS "hypothesis: JSON of every run in ${OUT_DIR}/*.json")
