# Sanitizer flags come from the presets (CMAKE_CXX_FLAGS), or from a parent
# project (add_compile_options, CMAKE_CXX_FLAGS_<CONFIG>). Here the build
# learns whether AddressSanitizer and ThreadSanitizer are on, so that
# config.h tells every translation unit the same thing (see
# lib/detail/tool_hooks.h). Rather than parse flags, it asks the compiler:
# a probe compiled with every flag this directory's targets get says whether
# __SANITIZE_ADDRESS__ / __has_feature(address_sanitizer) is defined, which is
# exactly what tool_hooks.h tests. Flags a parent adds later to protopool's
# target itself (target_compile_options) cannot be seen here.

include(CheckCXXSourceCompiles)

# The flags a target defined in this directory is compiled with: the
# directory's compile options (a parent's add_compile_options is inherited)
# and definitions, then CMAKE_CXX_FLAGS and CMAKE_CXX_FLAGS_<CONFIG> (which
# try_compile adds itself for CMAKE_TRY_COMPILE_CONFIGURATION). Generator
# expressions cannot be evaluated here and are left out.
get_directory_property(protopool_dir_options COMPILE_OPTIONS)
get_directory_property(protopool_dir_definitions COMPILE_DEFINITIONS)
list(FILTER protopool_dir_options EXCLUDE REGEX "\\$<")
list(FILTER protopool_dir_definitions EXCLUDE REGEX "\\$<")
list(TRANSFORM protopool_dir_definitions PREPEND "-D")

string(TOUPPER "${CMAKE_BUILD_TYPE}" protopool_build_type)

# Rerun the probes whenever anything they depend on changes.
string(MD5 protopool_probe_key
       "${CMAKE_CXX_COMPILER};${CMAKE_BUILD_TYPE};${CMAKE_CXX_FLAGS};\
${CMAKE_CXX_FLAGS_${protopool_build_type}};${protopool_dir_options};\
${protopool_dir_definitions}")
if(NOT protopool_probe_key STREQUAL "$CACHE{PROTOPOOL_SANITIZER_PROBE_KEY}")
  unset(PROTOPOOL_COMPILER_HAS_ASAN CACHE)
  unset(PROTOPOOL_COMPILER_HAS_TSAN CACHE)
  set(PROTOPOOL_SANITIZER_PROBE_KEY "${protopool_probe_key}"
      CACHE INTERNAL "The flags the sanitizer probes last ran with")
endif()

# protopool_probe_sanitizer(<result> <gcc macro> <clang feature>)
function(protopool_probe_sanitizer result macro feature)
  set(CMAKE_REQUIRED_QUIET ON)
  set(CMAKE_REQUIRED_DEFINITIONS ${protopool_dir_options}
                                 ${protopool_dir_definitions})
  # Compile only: a parent may pass -fsanitize to the compiler and the
  # linker separately, and only the compiler's view matters here.
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  if(CMAKE_BUILD_TYPE)
    set(CMAKE_TRY_COMPILE_CONFIGURATION "${CMAKE_BUILD_TYPE}")
  endif()
  check_cxx_source_compiles(
    "
#if defined(${macro})
#elif defined(__has_feature)
#if !__has_feature(${feature})
#error not on
#endif
#else
#error not on
#endif
int protopool_probe;"
    ${result})
endfunction()


protopool_probe_sanitizer(PROTOPOOL_COMPILER_HAS_ASAN __SANITIZE_ADDRESS__
                          address_sanitizer)
protopool_probe_sanitizer(PROTOPOOL_COMPILER_HAS_TSAN __SANITIZE_THREAD__
                          thread_sanitizer)
foreach(sanitizer ASAN TSAN)
  if(PROTOPOOL_COMPILER_HAS_${sanitizer})
    set(PROTOPOOL_${sanitizer} ON)
  else()
    set(PROTOPOOL_${sanitizer} OFF)
  endif()
endforeach()
message(STATUS "protopool: AddressSanitizer ${PROTOPOOL_ASAN}, "
               "ThreadSanitizer ${PROTOPOOL_TSAN}")
