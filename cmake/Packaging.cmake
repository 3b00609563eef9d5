# A Debian package for the Dovecot this tree is built for (`cpack` in the build dir, or
# `cmake --build build --target package`): the mail plugin, the doveadm module, on 2.4 the
# settings module, the archiver-poller, the archiver-dmarc-reader, the settings file as a
# conffile and the man pages.
# It depends on the exact Dovecot ABI it was built against (dovecot-core provides
# dovecot-abi-<ABI>: 2.3.abiv19 on Debian 12, 2.4.abiv1 on Debian 13); dpkg-shlibdeps adds
# the libraries it links (LMDB, OpenSSL, zlib, libxml2, libzip, libdeflate).
# 2.3's ABI string carries the version in parentheses ("2.3.ABIv19(2.3.19.1)"): not part of it.
string(REGEX REPLACE "\\(.*\\)$" "" _archiver_abi "${DOVECOT_ABI_VERSION}")
string(TOLOWER "dovecot-abi-${_archiver_abi}" _archiver_abi_package)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dovecot-archiver)
set(CPACK_PACKAGE_VENDOR "dovecot-archiver")
set(CPACK_PACKAGE_CONTACT "dovecot-archiver maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Dovecot plugins: archive every delivered message into LMDB, DMARC reports, remote IMAP sources")
set(CPACK_PACKAGE_DESCRIPTION
    "Archives every message Dovecot delivers over LMTP or dovecot-lda into an embedded,\n\
compressed, deduplicated and integrity-checked LMDB archive before the delivery is\n\
acknowledged; imports remote IMAP accounts through Dovecot's imapc; reads DMARC\n\
aggregate and failure reports. Operated with doveadm archive|dmarc.")
# One package per Dovecot release it is built for: the version says which.
set(CPACK_DEBIAN_PACKAGE_VERSION "${PROJECT_VERSION}+dovecot${DOVECOT_VERSION}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "dovecot-core, ${_archiver_abi_package}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${DOVECOT_LIB_DIR}")
# The man pages and anything else with a relative destination go under /usr.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The settings file is the admin's: dpkg keeps their edits on upgrade and removal.
file(WRITE "${CMAKE_BINARY_DIR}/debian/conffiles" "${ARCHIVER_CONF_DIR}/90-archiver.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_BINARY_DIR}/debian/conffiles")
include(CPack)
