/* The archiver_* settings as Dovecot 2.4 declares them (C: Dovecot's settings macros do not
   compile as C++). One definition, compiled into every binary that reads the settings: the
   settings module Dovecot's config process loads (libarchiver_settings.so), the mail plugin,
   the doveadm module and the archiver-poller. Dovecot 2.4 only; include it after lib.h. */
#ifndef ARCHIVER_SETTINGS_DOVECOT24_H
#define ARCHIVER_SETTINGS_DOVECOT24_H

#include "settings-parser.h"
#include "settings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Typed where Dovecot has a type (doveconf validates and prints them); the pattern lists
   stay space-separated strings without %variables, as on 2.3. */
struct archiver_settings {
	pool_t pool;
	const char *archiver_path;
	const char *archiver_failure;               /* tempfail | continue */
	ARRAY_TYPE(const_string) archiver_capture;  /* delivery, append, none */
	const char *archiver_compression;
	uoff_t archiver_map_size;
	unsigned int archiver_lock_timeout; /* seconds */
	const char *archiver_fsync;                 /* yes | once | no */
	const char *archiver_exclude_users;
	const char *archiver_exclude_mailboxes;
	const char *archiver_dmarc_mailboxes;
	uoff_t archiver_dmarc_max_size;
	unsigned int archiver_dmarc_max_ratio;
	uoff_t archiver_dmarc_max_space;            /* 0: an eighth of archiver_map_size */
	unsigned int archiver_dmarc_max_time;       /* seconds */
	unsigned int archiver_dmarc_wait;           /* milliseconds; 0: do not wait */
	const char *archiver_dmarc_senders;
	const char *archiver_dmarc_subjects;
	const char *archiver_sources_key;
	unsigned int archiver_sources_poll_interval; /* seconds */
};

extern const struct setting_parser_info archiver_setting_parser_info;

/* settings_get() and settings_free() for C++ callers (both are C macros). */
int archiver_settings_lookup(struct event *event, enum settings_get_flags flags,
			     const struct archiver_settings **set_r,
			     const char **error_r);
void archiver_settings_release(const struct archiver_settings **set);

/* The check Dovecot runs on every lookup and when it loads the configuration (doveconf,
   start, reload): implemented in C++ (archiver-settings-dovecot24-view.cc) with the same
   parser as on 2.3. Values holding %{variables} are not known in the config process and
   are skipped there. */
bool archiver_settings_check_values(const struct archiver_settings *set,
				    const char **error_r);

#ifdef __cplusplus
}
#endif

#endif
