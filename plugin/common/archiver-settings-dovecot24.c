/* The archiver_* settings declared for Dovecot 2.4's settings API (see the header). */
#include "config.h"
#include "lib.h"
#include "array.h"
#include "common/archiver-settings-dovecot24.h"

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct archiver_settings)

static const struct setting_define archiver_setting_defines[] = {
	DEF(STR, archiver_path),
	DEF(ENUM, archiver_failure),
	DEF(BOOLLIST, archiver_capture),
	DEF(STR_NOVARS, archiver_compression),
	DEF(SIZE, archiver_map_size),
	DEF(ENUM, archiver_fsync),
	DEF(TIME, archiver_lock_timeout),
	DEF(STR_NOVARS, archiver_exclude_users),
	DEF(STR_NOVARS, archiver_exclude_mailboxes),
	DEF(STR_NOVARS, archiver_dmarc_mailboxes),
	DEF(SIZE, archiver_dmarc_max_size),
	DEF(UINT, archiver_dmarc_max_ratio),
	DEF(SIZE, archiver_dmarc_max_space),
	DEF(TIME, archiver_dmarc_max_time),
	DEF(TIME_MSECS, archiver_dmarc_wait),
	DEF(STR_NOVARS, archiver_dmarc_senders),
	DEF(STR_NOVARS, archiver_dmarc_subjects),
	DEF(STR, archiver_sources_key),
	DEF(TIME, archiver_sources_poll_interval),
	SETTING_DEFINE_LIST_END
};

/* The defaults the 2.3 parser applies to an unset key, stated for doveconf to show. */
static const struct archiver_settings archiver_default_settings = {
	.archiver_path = "",
	.archiver_failure = "tempfail:continue",
	.archiver_capture = ARRAY_INIT,
	.archiver_compression = "zlib",
	.archiver_map_size = 16ULL * 1024 * 1024 * 1024,
	.archiver_fsync = "yes:once:no",
	.archiver_lock_timeout = 30,
	.archiver_exclude_users = "",
	.archiver_exclude_mailboxes = "",
	.archiver_dmarc_mailboxes = "",
	.archiver_dmarc_max_size = 10 * 1024 * 1024,
	.archiver_dmarc_max_ratio = 100,
	.archiver_dmarc_max_space = 0,
	.archiver_dmarc_max_time = 20,
	.archiver_dmarc_wait = 1000,
	.archiver_dmarc_senders = "",
	.archiver_dmarc_subjects = "",
	.archiver_sources_key = "",
	.archiver_sources_poll_interval = 60,
};

static const struct setting_keyvalue archiver_default_settings_keyvalue[] = {
	{ "archiver_capture", "delivery" },
	{ NULL, NULL }
};

static bool archiver_settings_check(void *set, pool_t pool ATTR_UNUSED,
				    const char **error_r)
{
	return archiver_settings_check_values(set, error_r);
}

const struct setting_parser_info archiver_setting_parser_info = {
	.name = "archiver",
	.defines = archiver_setting_defines,
	.defaults = &archiver_default_settings,
	.default_settings = archiver_default_settings_keyvalue,
	.struct_size = sizeof(struct archiver_settings),
	.pool_offset1 = 1 + offsetof(struct archiver_settings, pool),
	.check_func = archiver_settings_check,
};

int archiver_settings_lookup(struct event *event, enum settings_get_flags flags,
			     const struct archiver_settings **set_r,
			     const char **error_r)
{
	return settings_get(event, &archiver_setting_parser_info, flags,
			    set_r, error_r);
}

void archiver_settings_release(const struct archiver_settings **set)
{
	settings_free(*set);
}
