# Finds Dovecot's development files through dovecot-config (Debian: dovecot-dev).
# Sets DOVECOT_FOUND, DOVECOT_INCLUDE_DIR, DOVECOT_MODULE_DIR, DOVECOT_DOVEADM_MODULE_DIR,
# DOVECOT_ABI_VERSION, DOVECOT_LIB_DIR, DOVECOT_LIBEXEC_DIR (where service executables go) and
# ARCHIVER_CONF_DIR (where 90-archiver.conf goes).

set(DOVECOT_CONFIG "/usr/lib/dovecot/dovecot-config" CACHE FILEPATH "Path of dovecot-config")
set(ARCHIVER_CONF_DIR "/etc/dovecot/conf.d" CACHE PATH "Where cmake --install puts 90-archiver.conf")
set(DOVECOT_FOUND FALSE)

if(EXISTS "${DOVECOT_CONFIG}")
  file(STRINGS "${DOVECOT_CONFIG}" _dovecot_lines)
  foreach(_line IN LISTS _dovecot_lines)
    if(_line MATCHES "^dovecot_pkgincludedir=(.*)$")
      set(DOVECOT_INCLUDE_DIR "${CMAKE_MATCH_1}")
    elseif(_line MATCHES "^dovecot_moduledir=(.*)$")
      set(DOVECOT_MODULE_DIR "${CMAKE_MATCH_1}")
    elseif(_line MATCHES "^dovecot_pkglibdir=(.*)$")
      set(DOVECOT_LIB_DIR "${CMAKE_MATCH_1}")
    elseif(_line MATCHES "^dovecot_pkglibexecdir=(.*)$")
      set(DOVECOT_LIBEXEC_DIR "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(DOVECOT_INCLUDE_DIR AND EXISTS "${DOVECOT_INCLUDE_DIR}/config.h")
    file(STRINGS "${DOVECOT_INCLUDE_DIR}/config.h" _abi REGEX "define DOVECOT_ABI_VERSION")
    string(REGEX REPLACE ".*\"(.*)\".*" "\\1" DOVECOT_ABI_VERSION "${_abi}")
    set(DOVECOT_DOVEADM_MODULE_DIR "${DOVECOT_MODULE_DIR}/doveadm")
    set(DOVECOT_FOUND TRUE)
    message(STATUS "Dovecot ${DOVECOT_ABI_VERSION}: headers ${DOVECOT_INCLUDE_DIR}, modules ${DOVECOT_MODULE_DIR}")
  endif()
endif()
