// The glue's pure logic without a running Dovecot (issue 14, item 7): the archiver_*
// settings as ParseArchiverSettings reads them (2.3 hands it the plugin { } strings, 2.4
// the typed values as text), and which deliveries are DMARC report deliveries.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/archiver-settings.h"

extern "C" {
#include "config.h"
#include "lib.h"
#if DOVECOT_PREREQ(2, 4, 0)
#include "common/archiver-settings-dovecot24.h"
#endif
}

namespace archiver::plugin {
namespace {

// The message of a failed parse, "" when valid (a failure is always InvalidArgument).
std::string ErrorOf(const Status& status) {
  EXPECT_TRUE(status.ok() || status.code() == Status::Code::kInvalidArgument) << status.ToString();
  return status.ok() ? "" : status.message();
}

// Parses `values` (archiver_path set unless given); returns the error, "" when valid.
std::string Parse(std::map<std::string, std::string> values, ArchiverSettings* settings) {
  values.emplace("archiver_path", "/var/lib/archive");
  return ErrorOf(ParseArchiverSettings(
      [&values](const char* name) -> const char* {
        auto found = values.find(name);
        return found == values.end() ? nullptr : found->second.c_str();
      },
      true, settings));
}

TEST(SettingsTest, DefaultsAreTheDocumentedOnes) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({}, &s), "");
  EXPECT_EQ(s.path, "/var/lib/archive");
  EXPECT_EQ(s.failure, FailureMode::kTempfail);
  EXPECT_TRUE(s.capture_delivery);
  EXPECT_FALSE(s.capture_append);
  EXPECT_EQ(s.compression_level, 6);
  EXPECT_EQ(s.map_size, 16ULL << 30);
  EXPECT_TRUE(s.fsync);
  EXPECT_TRUE(s.fsync_meta);
  EXPECT_EQ(s.lock_timeout_ms, 30'000u);
  EXPECT_TRUE(s.dmarc_mailboxes.empty());
  EXPECT_EQ(s.dmarc_max_size, 10ULL << 20);
  EXPECT_EQ(s.dmarc_max_ratio, 100u);
  EXPECT_EQ(s.dmarc_max_space, 0u);
  EXPECT_EQ(s.dmarc_max_time_ms, 20'000u);
  EXPECT_EQ(s.dmarc_wait_ms, 1'000u);
  const DmarcPipelineOptions options = s.DmarcOptions();
  EXPECT_EQ(options.unpack.max_output_bytes, 10ULL << 20);
  EXPECT_EQ(options.budget.max_time.count(), 20'000);
}

TEST(SettingsTest, ValuesAreRead) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({{"archiver_failure", "continue"},
                   {"archiver_capture", "delivery append"},
                   {"archiver_compression", "zlib:1"},
                   {"archiver_map_size", "2G"},
                   {"archiver_fsync", "once"},
                   {"archiver_lock_timeout", "2 min"},
                   {"archiver_dmarc_max_time", "5s"},
                   {"archiver_dmarc_wait", "500ms"},
                   {"archiver_dmarc_max_space", "64M"}},
                  &s),
            "");
  EXPECT_EQ(s.failure, FailureMode::kContinue);
  EXPECT_TRUE(s.capture_append);
  EXPECT_EQ(s.compression_level, 1);
  EXPECT_EQ(s.map_size, 2ULL << 30);
  EXPECT_TRUE(s.fsync);
  EXPECT_FALSE(s.fsync_meta);
  EXPECT_EQ(s.lock_timeout_ms, 120'000u);
  EXPECT_EQ(s.dmarc_max_time_ms, 5'000u);
  EXPECT_EQ(s.dmarc_wait_ms, 500u);
  EXPECT_EQ(s.dmarc_max_space, 64ULL << 20);
  EXPECT_EQ(s.StoreOptionsFor(false).map_size, 2ULL << 30);
}

TEST(SettingsTest, WordListsSplitAtAnyWhiteSpace) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({{"archiver_exclude_users", "  bob*\t\tcarol \r\n\v\fdave  "},
                   {"archiver_exclude_mailboxes", "Trash"},
                   {"archiver_dmarc_senders", " \t "},
                   {"archiver_capture", "\tappend   delivery\n"}},
                  &s),
            "");
  EXPECT_EQ(s.exclude_users, (std::vector<std::string>{"bob*", "carol", "dave"}));
  EXPECT_EQ(s.exclude_mailboxes, (std::vector<std::string>{"Trash"}));
  EXPECT_TRUE(s.dmarc_senders.empty());
  EXPECT_TRUE(s.capture_delivery);
  EXPECT_TRUE(s.capture_append);
}

TEST(SettingsTest, EachBadValueIsNamedWithWhatWasExpected) {
  const std::map<std::string, std::string> bad = {
      {"archiver_failure", "maybe"},        {"archiver_capture", "everything"},
      {"archiver_compression", "lzma"},     {"archiver_map_size", "lots"},
      {"archiver_fsync", "perhaps"},        {"archiver_lock_timeout", "0"},
      {"archiver_dmarc_max_size", "0"},     {"archiver_dmarc_max_ratio", "x"},
      {"archiver_dmarc_max_space", "10k"},  {"archiver_dmarc_max_time", "0"},
      {"archiver_dmarc_wait", "11min"},     {"archiver_dmarc_mailboxes", "dmarc"},
      {"archiver_sources_key", "rel/key"},  {"archiver_map_size", "512k"},
  };
  for (const auto& [name, value] : bad) {
    ArchiverSettings s;
    const std::string error = Parse({{name, value}}, &s);
    EXPECT_EQ(error.rfind("Invalid " + name + "=" + value + ": ", 0), 0u) << error;
  }
  ArchiverSettings s;
  EXPECT_NE(ErrorOf(ParseArchiverSettings([](const char*) { return nullptr; }, true, &s)), "");
  EXPECT_EQ(ErrorOf(ParseArchiverSettings([](const char*) { return nullptr; }, false, &s)), "");
  // DMARC data may not take the whole map.
  EXPECT_NE(Parse({{"archiver_map_size", "64M"}, {"archiver_dmarc_max_space", "64M"}}, &s), "");
}

TEST(SettingsTest, TheTableDefaultsAreTheStructDefaults) {
  ArchiverSettings expected;
  expected.path = "/var/lib/archive";
  ArchiverSettings unset;
  ASSERT_EQ(Parse({}, &unset), "");
  EXPECT_EQ(unset, expected);
  // An empty value and each default written out stand for the default too.
  std::map<std::string, std::string> empty, defaults;
  for (const SettingDefinition& setting : ArchiverSettingDefinitions()) {
    if (std::string(setting.name) == "archiver_path") continue;
    empty[setting.name] = "";
    defaults[setting.name] = setting.default_value;
  }
  EXPECT_EQ(empty.size(), 17u);
  ArchiverSettings parsed;
  ASSERT_EQ(Parse(empty, &parsed), "");
  EXPECT_EQ(parsed, expected);
  ASSERT_EQ(Parse(defaults, &parsed), "");
  EXPECT_EQ(parsed, expected);
}

#if DOVECOT_PREREQ(2, 4, 0)
// Dovecot 2.4 knows a key only when archiver-settings-dovecot24.c declares it: the
// declarations and the parser's table name the same settings, plus the poller's interval
// (read by the poller, checked by the settings' check function).
TEST(SettingsTest, Dovecot24DeclaresEverySettingOfTheTable) {
  std::set<std::string> declared;
  for (const struct setting_define* def = archiver_setting_parser_info.defines;
       def->key != nullptr; def++)
    declared.insert(def->key);
  std::set<std::string> parsed = {"archiver_sources_poll_interval"};
  for (const SettingDefinition& setting : ArchiverSettingDefinitions())
    parsed.insert(setting.name);
  EXPECT_EQ(declared, parsed);
}
#endif

TEST(SettingsTest, TheFirstInvalidSettingInTableOrderIsReported) {
  ArchiverSettings s;
  EXPECT_EQ(Parse({{"archiver_sources_key", "key"}, {"archiver_failure", "maybe"}}, &s),
            "Invalid archiver_failure=maybe: expected tempfail or continue");
  // A missing archiver_path comes before every other error.
  EXPECT_EQ(ErrorOf(ParseArchiverSettings(
                        [](const char* name) {
                          return std::string(name) == "archiver_failure" ? "maybe" : nullptr;
                        },
                        true, &s))
                .rfind("archiver_path is not set: ", 0),
            0u);
  EXPECT_EQ(Parse({{"archiver_map_size", "64M"}, {"archiver_dmarc_max_space", "64M"}}, &s),
            "Invalid archiver_dmarc_max_space=64M: must be less than archiver_map_size, or "
            "DMARC reports could fill the archive that mail needs");
  EXPECT_EQ(Parse({{"archiver_sources_key", "keys/sources.key"}}, &s),
            "Invalid archiver_sources_key=keys/sources.key: expected an absolute path");
  EXPECT_EQ(Parse({{"archiver_dmarc_mailboxes", "dmarc@example.org /INBOX"}}, &s),
            "Invalid archiver_dmarc_mailboxes=dmarc@example.org /INBOX: \"/INBOX\" needs both "
            "a user and a mailbox (USER/MAILBOX, wildcards allowed)");
  // A failed parse leaves the settings as they were.
  ArchiverSettings before;
  before.path = "/kept";
  s = before;
  EXPECT_NE(Parse({{"archiver_fsync", "perhaps"}}, &s), "");
  EXPECT_EQ(s, before);
}

TEST(SettingsTest, FsyncCaptureAndCompressionWords) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({{"archiver_fsync", "no"}, {"archiver_capture", "none"},
                   {"archiver_compression", "none"}},
                  &s),
            "");
  EXPECT_FALSE(s.fsync);
  EXPECT_TRUE(s.fsync_meta);
  EXPECT_FALSE(s.capture_delivery);
  EXPECT_FALSE(s.capture_append);
  EXPECT_EQ(s.compression_level, 0);
  ASSERT_EQ(Parse({{"archiver_fsync", "true"}, {"archiver_capture", "append"}}, &s), "");
  EXPECT_TRUE(s.fsync);
  EXPECT_FALSE(s.capture_delivery);
  EXPECT_TRUE(s.capture_append);
  EXPECT_NE(Parse({{"archiver_compression", "zlib:0"}}, &s), "");
  EXPECT_NE(Parse({{"archiver_compression", "zlib:10"}}, &s), "");
}

TEST(SettingsTest, ReportDeliveriesByRecipientOrByUserAndMailbox) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({{"archiver_dmarc_mailboxes", "DMARC@Example.org */Reports reports/INB?X"}},
                  &s),
            "");
  // The recipient: case and +detail do not matter.
  EXPECT_TRUE(s.IsDmarcDelivery("dmarc@example.org", "dave", "INBOX", "", "", ""));
  EXPECT_TRUE(s.IsDmarcDelivery("Dmarc+ruf@EXAMPLE.org", "dave", "INBOX", "", "", ""));
  EXPECT_FALSE(s.IsDmarcDelivery("dmarc@example.net", "dave", "INBOX", "", "", ""));
  EXPECT_FALSE(s.IsDmarcDelivery("dmarcx@example.org", "dave", "INBOX", "", "", ""));
  // USER/MAILBOX wildcards, case-insensitive.
  EXPECT_TRUE(s.IsDmarcDelivery("", "alice", "reports", "", "", ""));
  EXPECT_TRUE(s.IsDmarcDelivery("", "reports", "INBOX", "", "", ""));
  EXPECT_FALSE(s.IsDmarcDelivery("", "alice", "INBOX", "", "", ""));
  EXPECT_FALSE(s.IsDmarcDelivery("", "alice", "Reports/2024", "", "", ""));
}

TEST(SettingsTest, SenderAndSubjectFiltersNarrowTheReportDeliveries) {
  ArchiverSettings s;
  ASSERT_EQ(Parse({{"archiver_dmarc_mailboxes", "dmarc@example.org"},
                   {"archiver_dmarc_senders", "*@google.com dmarc*@*"},
                   {"archiver_dmarc_subjects", "Report*domain:*"}},
                  &s),
            "");
  const std::string rcpt = "dmarc@example.org";
  EXPECT_TRUE(s.IsDmarcDelivery(rcpt, "d", "INBOX", "noreply@google.com", "", "Report domain: x"));
  // The From address serves when the envelope sender does not match.
  EXPECT_TRUE(s.IsDmarcDelivery(rcpt, "d", "INBOX", "bounce@mx", "dmarc-noreply@yahoo.com",
                                "report DOMAIN: y"));
  EXPECT_FALSE(s.IsDmarcDelivery(rcpt, "d", "INBOX", "spam@evil.example", "spam@evil.example",
                                 "Report domain: z"));
  EXPECT_FALSE(s.IsDmarcDelivery(rcpt, "d", "INBOX", "noreply@google.com", "", "Hello"));
}

}  // namespace
}  // namespace archiver::plugin
