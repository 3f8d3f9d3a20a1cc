# Sanitizer flags come from the presets (CMAKE_CXX_FLAGS). Here the build
# learns whether AddressSanitizer is on, so that config.h tells every
# translation unit the same thing (see lib/detail/tool_hooks.h).

string(TOUPPER "${CMAKE_BUILD_TYPE}" protopool_build_type)
set(protopool_all_flags
    "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${protopool_build_type}}")
if(protopool_all_flags MATCHES "-fsanitize=[^ ]*address")
  set(PROTOPOOL_ASAN ON)
else()
  set(PROTOPOOL_ASAN OFF)
endif()
if(protopool_all_flags MATCHES "-fsanitize=[^ ]*thread")
  set(PROTOPOOL_TSAN ON)
else()
  set(PROTOPOOL_TSAN OFF)
endif()
