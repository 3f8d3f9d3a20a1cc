# Install rules and the package config: find_package(protopool CONFIG) gives
# protopool::protopool.

include(CMakePackageConfigHelpers)

install(DIRECTORY include/protopool DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${PROJECT_BINARY_DIR}/include/protopool/config.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/protopool")
install(
  TARGETS protopool_protopool
  EXPORT protopoolTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

set(protopool_config_dir "${CMAKE_INSTALL_LIBDIR}/cmake/protopool")
install(
  EXPORT protopoolTargets
  NAMESPACE protopool::
  DESTINATION "${protopool_config_dir}")
configure_package_config_file(
  cmake/protopool-config.cmake.in
  "${PROJECT_BINARY_DIR}/protopool-config.cmake"
  INSTALL_DESTINATION "${protopool_config_dir}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/protopool-config-version.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/protopool-config.cmake"
              "${PROJECT_BINARY_DIR}/protopool-config-version.cmake"
        DESTINATION "${protopool_config_dir}")
