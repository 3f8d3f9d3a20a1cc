# Warnings: protopool's own warning set (g++ and clang), applied to
# protopool's own targets only, and only when protopool is the top-level
# project. Pulled in with add_subdirectory, protopool adds no flag to the
# parent's targets nor to its own (the parent's warning policy rules), and
# nothing reaches consumers through INTERFACE options.
#
# Included from the top-level CMakeLists.txt after the dependencies (so a
# FetchContent fallback is not compiled with them) and before the targets.

option(PROTOPOOL_WARNINGS_AS_ERRORS
       "Turn protopool's warnings into errors (-Werror); top level only" OFF)

set(PROTOPOOL_WARNING_FLAGS -Wall -Wextra -Wpedantic)
if(PROTOPOOL_WARNINGS_AS_ERRORS)
  list(APPEND PROTOPOOL_WARNING_FLAGS -Werror)
endif()
list(APPEND PROTOPOOL_WARNING_FLAGS -Wconversion -Wshadow -Wnon-virtual-dtor)

if(NOT PROJECT_IS_TOP_LEVEL)
  set(PROTOPOOL_WARNING_FLAGS "")
elseif(NOT CMAKE_CXX_COMPILER_ID MATCHES "^(GNU|Clang)$")
  message(STATUS "protopool: no warning set for ${CMAKE_CXX_COMPILER_ID}")
  set(PROTOPOOL_WARNING_FLAGS "")
endif()

# A directory property: every target defined from here down (the library,
# tests, benchmark, examples) gets the flags; none leave this project.
add_compile_options(${PROTOPOOL_WARNING_FLAGS})
