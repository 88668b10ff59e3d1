# What an administrator installs: programs, man pages, systemd units, the defaults file, and a .deb
# (cpack -G DEB in a release build; see README "Install and package").
include(GNUInstallDirs)

set(TFTP_DIST ${PROJECT_SOURCE_DIR}/dist)

# Man pages from scdoc sources (Debian package scdoc); without scdoc the pages are simply not built.
find_program(SCDOC_EXECUTABLE scdoc)
if(SCDOC_EXECUTABLE)
  set(man_pages)
  foreach(page tftp-server.8 tftp-client.1)
    string(REGEX MATCH "[0-9]$" section ${page})
    add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/man/${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${SCDOC_EXECUTABLE} < ${TFTP_DIST}/man/${page}.scd > ${PROJECT_BINARY_DIR}/man/${page}
      DEPENDS ${TFTP_DIST}/man/${page}.scd VERBATIM)
    list(APPEND man_pages ${PROJECT_BINARY_DIR}/man/${page})
    install(FILES ${PROJECT_BINARY_DIR}/man/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${man_pages})
else()
  message(STATUS "scdoc not found: man pages are not built (scripts/setup.sh installs it)")
endif()

# Debian look, whatever the prefix.
install(FILES ${TFTP_DIST}/systemd/tftp-server.service ${TFTP_DIST}/systemd/tftp-server.socket
        DESTINATION lib/systemd/system)
install(FILES ${TFTP_DIST}/default/tftp-server DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default)

# The .deb: one package with the programs, the library and its headers.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tftp-suite)
set(CPACK_PACKAGE_VENDOR "tftp-suite developers")
set(CPACK_PACKAGE_CONTACT "tftp-suite developers <tftp-suite@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TFTP server, client and library (RFC 1350, 2347-2349, 7440)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "TFTP server, client and library (RFC 1350, 2347-2349, 7440)
 tftp-server serves a directory over TFTP: many clients at once, confined to its root, read-only unless
 told otherwise, atomic uploads, limits against abuse. tftp-client downloads and uploads files with exact
 exit codes and never leaves a partial file. Both speak blksize, timeout, tsize and windowsize.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${TFTP_DIST}/debian/conffiles ${TFTP_DIST}/debian/postinst ${TFTP_DIST}/debian/prerm ${TFTP_DIST}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
