# Install rules: find_package(tftp) gives tftp::tftp (the core).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tftp EXPORT tftpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/libtftp/generated/tftp/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tftp)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libtftp/include/tftp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tftpTargets NAMESPACE tftp:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tftp)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tftpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tftpConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tftp)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tftpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tftpConfig.cmake ${PROJECT_BINARY_DIR}/tftpConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tftp)

if(TFTP_BUILD_PROGRAMS)
  install(TARGETS tftp-server DESTINATION ${CMAKE_INSTALL_SBINDIR})
  install(TARGETS tftp-client DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

if(TFTP_BUILD_PROGRAMS)
  include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
endif()
