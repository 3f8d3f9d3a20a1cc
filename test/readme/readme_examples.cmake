# README examples, compiled verbatim. Each fenced ```cpp block in README.md
# that follows a line
#   <!-- compiled-example: NAME -->
# is copied, byte for byte, into the build tree as readme/NAME.cc, built as
# the program readme_example_NAME (against protopool, with the project's
# warnings, and asserts on in every build type) and run by the CTest test
# readme_example.NAME. A block that follows
#   <!-- compiled-example-output: NAME -->
# is what that program must print on stdout, exactly. README.md is a
# configure dependency, so an edit to it re-extracts at the next build: the
# README cannot drift from what is compiled.

# protopool_add_readme_examples(<README.md> REQUIRE <name>...): extracts and
# registers every example; configuring fails if one of the names is missing
# or a marker is not followed by a fenced block.
function(protopool_add_readme_examples readme)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "REQUIRE")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${readme}")
  file(READ "${readme}" rest)
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/readme")
  set(names "")
  set(marker_regex "^<!-- compiled-example(-output)?: ([a-z0-9_]+) -->\n")
  while(TRUE)
    string(FIND "${rest}" "<!-- compiled-example" at)
    if(at EQUAL -1)
      break()
    endif()
    string(SUBSTRING "${rest}" ${at} -1 rest)
    string(REGEX MATCH "${marker_regex}" marker "${rest}")
    if(NOT marker)
      string(SUBSTRING "${rest}" 0 60 line)
      message(FATAL_ERROR "${readme}: malformed example marker: ${line}")
    endif()
    set(kind "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    string(LENGTH "${marker}" length)
    string(SUBSTRING "${rest}" ${length} -1 rest)
    # The fenced block right after the marker: ```cpp for code, any fence
    # for output.
    if(kind STREQUAL "")
      set(fence_regex "^```cpp\n")
    else()
      set(fence_regex "^```[a-z]*\n")
    endif()
    string(REGEX MATCH "${fence_regex}" fence "${rest}")
    if(NOT fence)
      message(FATAL_ERROR "${readme}: the '${name}' example marker is not "
                          "followed by a ${fence_regex} fenced block")
    endif()
    string(LENGTH "${fence}" length)
    string(SUBSTRING "${rest}" ${length} -1 rest)
    string(FIND "${rest}" "\n```\n" end)
    if(end EQUAL -1)
      message(FATAL_ERROR "${readme}: the '${name}' block is not closed")
    endif()
    math(EXPR end "${end} + 1")
    string(SUBSTRING "${rest}" 0 ${end} block)
    string(SUBSTRING "${rest}" ${end} -1 rest)

    if(kind STREQUAL "")
      if(name IN_LIST names)
        message(FATAL_ERROR "${readme}: two examples named '${name}'")
      endif()
      list(APPEND names ${name})
      set(file "${out_dir}/${name}.cc")
    else()
      if(NOT name IN_LIST names)
        message(FATAL_ERROR "${readme}: output of '${name}' before its code")
      endif()
      set(file "${out_dir}/${name}.expected")
    endif()
    # Rewritten only when it changed, so an unrelated README edit does not
    # rebuild the examples.
    set(old "")
    if(EXISTS "${file}")
      file(READ "${file}" old)
    endif()
    if(NOT old STREQUAL block)
      file(WRITE "${file}" "${block}")
    endif()
  endwhile()

  foreach(name IN LISTS arg_REQUIRE)
    if(NOT name IN_LIST names)
      message(FATAL_ERROR "${readme}: no compiled example '${name}' "
                          "(<!-- compiled-example: ${name} --> before a "
                          "```cpp block)")
    endif()
  endforeach()

  string(REPLACE ";" "|" emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
  foreach(name IN LISTS names)
    set(target readme_example_${name})
    add_executable(${target} "${out_dir}/${name}.cc")
    target_link_libraries(${target} PRIVATE protopool::protopool)
    # The examples check their claims with assert: keep it in Release too.
    target_compile_options(${target} PRIVATE -UNDEBUG)
    set(expected "")
    if(EXISTS "${out_dir}/${name}.expected")
      set(expected "${out_dir}/${name}.expected")
    endif()
    add_test(
      NAME readme_example.${name}
      COMMAND
        "${CMAKE_COMMAND}" "-DPROGRAM=$<TARGET_FILE:${target}>"
        "-DEXPECTED=${expected}" "-DEMULATOR=${emulator}" -P
        "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/run_example.cmake")
    set_tests_properties(readme_example.${name} PROPERTIES LABELS readme)
  endforeach()
  list(LENGTH names count)
  message(STATUS "protopool: ${count} README examples compiled as tests")
endfunction()
