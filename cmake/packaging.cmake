# Installation layout and the .deb (CPack): binary, systemd unit, default configuration as a
# conffile, man page, reference consumer, maintainer scripts; Depends from dpkg-shlibdeps.
include(GNUInstallDirs)

set(PKG_DIR ${CMAKE_CURRENT_SOURCE_DIR}/packaging)
set(PKG_GEN ${CMAKE_CURRENT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${PKG_GEN})

# Compressed documentation, as Debian policy wants it (reproducible: gzip -n).
foreach(doc whagent.1 changelog)
    add_custom_command(OUTPUT ${PKG_GEN}/${doc}.gz
        COMMAND gzip -9n -c ${PKG_DIR}/${doc} > ${PKG_GEN}/${doc}.gz
        DEPENDS ${PKG_DIR}/${doc})
endforeach()
add_custom_target(package_docs ALL DEPENDS ${PKG_GEN}/whagent.1.gz ${PKG_GEN}/changelog.gz)

install(TARGETS whagent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Debian 12 keeps units in /lib/systemd/system (usrmerge aliases it).
install(FILES ${PKG_DIR}/whagent.service DESTINATION /lib/systemd/system)
install(FILES ${PKG_DIR}/whagent.conf DESTINATION /etc/whagent)
install(FILES ${PKG_GEN}/whagent.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PKG_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PKG_GEN}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PKG_DIR}/whagent-alerts.yml DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(PROGRAMS ${PKG_DIR}/consumer/whagent_consumer.py
    DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The wire contract, for the reference consumer and the central integration team.
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/proto/whagent DESTINATION ${CMAKE_INSTALL_DATADIR}/whagent/proto)

if(NOT WHAGENT_DEB_ARCH)
    execute_process(COMMAND dpkg --print-architecture
        OUTPUT_VARIABLE WHAGENT_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME whagent)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "whagent maintainers <whagent@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "warehouse edge agent: WMS capture, durable journal, MQTT uplink")
set(CPACK_PACKAGE_DESCRIPTION "whagent captures picks, receipts, inventory adjustments, transfers
and shipment confirmations from a local WMS (spool-folder files), validates
them into canonical protobuf events, journals them in SQLite before the source
is acknowledged, and publishes them over MQTT with TLS to a central platform,
in order, gapless and resent until acknowledged.")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/whagent")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${WHAGENT_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libodbc2")
# The table input's ODBC drivers: the one for the WMS's database (a DSN may name another).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "odbc-postgresql, odbc-mariadb")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PKG_DIR}/debian/conffiles ${PKG_DIR}/debian/postinst ${PKG_DIR}/debian/prerm
    ${PKG_DIR}/debian/postrm)
include(CPack)
