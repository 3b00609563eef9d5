// ArchiverSettings: the plugin { archiver_* } settings, parsed once per user (mail
// processes) or per command (doveadm) into a typed struct. An invalid value is an error
// naming the setting and the value; nothing falls back silently to a default.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/status.h"
#include "archiver/store/store.h"

namespace archiver::plugin {

enum class FailureMode { kTempfail, kContinue };

// One entry of archiver_dmarc_mailboxes: either an envelope recipient ("dmarc@example.com":
// no "/"; compared case-insensitively with +detail removed on both sides) or a user and
// mailbox ("dmarc/INBOX", "*/DMARC": split at the first "/", wildcards * and ?).
struct DmarcMailboxRule {
  std::string rcpt;             // lowercased address without +detail, or ""
  std::string user_pattern;     // set when rcpt is ""
  std::string mailbox_pattern;

  bool operator==(const DmarcMailboxRule&) const = default;
};

struct ArchiverSettings {
  std::string path;                           // archiver_path (required)
  FailureMode failure = FailureMode::kTempfail;   // archiver_failure
  bool capture_delivery = true;               // archiver_capture contains "delivery"
  bool capture_append = false;                // archiver_capture contains "append"
  int compression_level = 6;                  // archiver_compression: zlib[:N] | none
  uint64_t map_size = 16ULL << 30;            // archiver_map_size
  bool fsync = true;                          // archiver_fsync: yes, once or no
  bool fsync_meta = true;                     // archiver_fsync = yes (not once)
  uint64_t lock_timeout_ms = 30'000;          // archiver_lock_timeout: the longest a write
                                              // waits for another process's write
  std::vector<std::string> exclude_users;     // archiver_exclude_users (wildcards)
  std::vector<std::string> exclude_mailboxes; // archiver_exclude_mailboxes (wildcards)

  // DMARC report processing (all off while archiver_dmarc_mailboxes is empty).
  std::vector<DmarcMailboxRule> dmarc_mailboxes;  // archiver_dmarc_mailboxes
  uint64_t dmarc_max_size = 10ULL << 20;      // archiver_dmarc_max_size: per attachment,
                                              // decompressed
  uint64_t dmarc_max_ratio = 100;             // archiver_dmarc_max_ratio: decompressed /
                                              // compressed of any one container
  uint64_t dmarc_max_space = 0;               // archiver_dmarc_max_space: the most DMARC
                                              // data may take of the map (0 = an eighth)
  uint64_t dmarc_max_time_ms = 20'000;        // archiver_dmarc_max_time: the reading time
                                              // one report mail may take
  uint64_t dmarc_wait_ms = 1'000;             // archiver_dmarc_wait: how long a delivery
                                              // waits for its reports to be read
  std::vector<std::string> dmarc_senders;     // archiver_dmarc_senders: envelope sender or
                                              // header From address patterns ("" = any)
  std::vector<std::string> dmarc_subjects;    // archiver_dmarc_subjects: subject patterns,
                                              // case-insensitive; no spaces: * and ? match
                                              // them ("" = any)

  // Remote IMAP sources (doveadm archive source …).
  std::string sources_key;                    // archiver_sources_key: absolute path of the
                                              // key that encrypts source passwords
                                              // ("" = one per archive in Dovecot's
                                              // state_dir: doveadm-archive-source.cc)

  // True when a delivery with this envelope recipient, Dovecot user and mailbox, from
  // these senders and with this subject, is a DMARC report to process.
  bool IsDmarcDelivery(const std::string& rcpt, const std::string& user,
                       const std::string& mailbox, const std::string& envelope_from,
                       const std::string& header_from, const std::string& subject) const;

  // The report pipeline's limits: archiver_dmarc_max_size (or `max_size` when not 0)
  // for each decompressed payload and XML document, archiver_dmarc_max_ratio.
  DmarcPipelineOptions DmarcOptions(uint64_t max_size = 0) const;

  // Store options for this archive (read_only for queries).
  StoreOptions StoreOptionsFor(bool read_only) const;

  bool operator==(const ArchiverSettings&) const = default;
};

// One archiver_* setting: its full name, the text an unset or empty setting stands for,
// and how a value is read into ArchiverSettings (InvalidArgument saying what was expected,
// e.g. "expected tempfail or continue"; `settings` may then be half-written).
struct SettingDefinition {
  const char* name;
  const char* default_value;
  Status (*parse)(const std::string& value, ArchiverSettings* settings);
};

// Every setting ParseArchiverSettings reads, in the order it checks them.
std::span<const SettingDefinition> ArchiverSettingDefinitions();

// Looks a setting up by its full name ("archiver_path"); nullptr or "" when unset.
using SettingLookup = std::function<const char*(const char* name)>;

// Parses every archiver_* setting (ArchiverSettingDefinitions, in order; the first invalid
// one is reported). OK with `*settings` written, else InvalidArgument with `*settings`
// unchanged and a message such as "Invalid archiver_failure=maybe: expected tempfail or
// continue" (the caller adds nothing but its prefix, e.g. "archiver: " in user->error).
// `require_path`: an unset archiver_path is an error.
Status ParseArchiverSettings(const SettingLookup& lookup, bool require_path,
                             ArchiverSettings* settings);

// True when any of the wildcard `patterns` (* and ?) matches `text`, ASCII letters
// compared case-insensitively.
bool AnyWildcardMatches(const std::vector<std::string>& patterns, const std::string& text);

}  // namespace archiver::plugin
