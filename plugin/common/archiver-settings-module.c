/* libarchiver_settings.so, the settings module of Dovecot 2.4: its config process (and
   doveconf) load every module in modules/settings and look up, by the file name,
   archiver_settings_set_infos (the archiver_* keys, types, defaults and check) and
   archiver_settings_version (the ABI it was built for). */
#include "config.h"
#include "lib.h"
#include "common/archiver-settings-dovecot24.h"

#define ARCHIVER_SETTINGS_EXPORT __attribute__((visibility("default")))

extern ARCHIVER_SETTINGS_EXPORT const struct setting_parser_info *archiver_settings_set_infos[];
const struct setting_parser_info *archiver_settings_set_infos[] = {
	&archiver_setting_parser_info,
	NULL
};

extern ARCHIVER_SETTINGS_EXPORT const char *archiver_settings_version;
const char *archiver_settings_version = DOVECOT_ABI_VERSION;
