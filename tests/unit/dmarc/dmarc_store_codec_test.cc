// The DMARC value and key layouts: round trips of extreme values, key order, and damaged
// values (every truncation, a newer version, a corrupt count) reported as Corruption,
// also through DmarcStore when a stored record is damaged.
#include "dmarc/dmarc_store_codec.h"

#include <gtest/gtest.h>

#include <limits>

#include "dmarc/dmarc_store_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;

AggregateRecord SampleRecord() {
  AggregateRecord record;
  record.source_ip = "2001:db8::7";
  record.count = std::numeric_limits<uint64_t>::max();
  record.count_valid = false;
  record.disposition = "reject";
  record.dkim = "Pass";  // not a token as written: stored as a string
  record.spf = "";
  record.reasons = {{"trusted_forwarder", ""}, {"made_up", "comment"}};
  record.header_from = std::string("with\0nul", 8);
  record.dkim_results = {{"d.example", "sel", "temperror", "human"}};
  record.spf_results = {{"s.example", "helo", "hardfail", ""}, {"t.example", "", "pass", "x"}};
  return record;
}

TEST(DmarcStoreCodec, RecordRoundTripsAndItsCoreReadsWithoutCopying) {
  const AggregateRecord record = SampleRecord();
  std::string value;
  codec::EncodeRecord(record, &value);
  AggregateRecord decoded;
  ASSERT_TRUE(codec::DecodeRecord(value, &decoded).ok());
  EXPECT_EQ(decoded.source_ip, record.source_ip);
  EXPECT_EQ(decoded.count, record.count);
  EXPECT_FALSE(decoded.count_valid);
  EXPECT_EQ(decoded.disposition, "reject");
  EXPECT_EQ(decoded.dkim, "Pass");
  EXPECT_EQ(decoded.spf, "");
  ASSERT_EQ(decoded.reasons.size(), 2u);
  EXPECT_EQ(decoded.reasons[1].type, "made_up");
  EXPECT_EQ(decoded.reasons[1].comment, "comment");
  EXPECT_EQ(decoded.header_from, record.header_from);
  ASSERT_EQ(decoded.dkim_results.size(), 1u);
  EXPECT_EQ(decoded.dkim_results[0].human_result, "human");
  ASSERT_EQ(decoded.spf_results.size(), 2u);
  EXPECT_EQ(decoded.spf_results[0].scope, "helo");
  EXPECT_EQ(decoded.spf_results[1].human_result, "x");

  codec::RecordCore core;
  ASSERT_TRUE(codec::DecodeRecordCore(value, &core).ok());
  EXPECT_EQ(core.source_ip, record.source_ip);
  EXPECT_EQ(core.count, record.count);
  EXPECT_EQ(core.disposition, "reject");
  EXPECT_EQ(core.dkim, "Pass");
}

TEST(DmarcStoreCodec, ReportRoundTripsExtremeTimes) {
  codec::StoredReport stored;
  stored.importing = true;
  stored.owner_pid = 4242;
  stored.heartbeat_us = 99;
  stored.range_key = std::numeric_limits<int64_t>::min();
  stored.report.meta.begin = std::numeric_limits<int64_t>::min();
  stored.report.meta.end = std::numeric_limits<int64_t>::max();
  stored.report.meta.policy_published.pct = -1;
  stored.report.origin.mail = Sha256::Of("m");
  stored.report.records = 3;
  stored.tally.messages = 10;
  stored.tally.dmarc_pass = 4;
  stored.report.parser_messages = {"line 3: recovered"};
  codec::StoredReport decoded;
  ASSERT_TRUE(codec::DecodeReport(codec::EncodeReport(stored), &decoded).ok());
  EXPECT_TRUE(decoded.importing);
  EXPECT_EQ(decoded.owner_pid, 4242u);
  EXPECT_EQ(decoded.heartbeat_us, 99u);
  EXPECT_EQ(decoded.range_key, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(decoded.report.meta.begin, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(decoded.report.meta.end, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(decoded.report.meta.policy_published.pct, -1);
  EXPECT_EQ(decoded.report.origin.mail, Sha256::Of("m"));
  EXPECT_EQ(decoded.report.records, 3u);
  EXPECT_EQ(decoded.report.messages, 10u);
  EXPECT_EQ(decoded.report.pass, 4u);
  EXPECT_EQ(decoded.report.fail, 6u);
  EXPECT_EQ(decoded.report.parser_messages, stored.report.parser_messages);
}

TEST(DmarcStoreCodec, ReportVersionOneReadsAsNotRolledUp) {
  codec::StoredReport stored;
  stored.report.records = 5;
  stored.tally.messages = 9;
  stored.rolled_up = 5;
  stored.source_ips = 3;
  const std::string v2 = codec::EncodeReport(stored);
  EXPECT_EQ(v2[0], 2);
  codec::StoredReport decoded;
  ASSERT_TRUE(codec::DecodeReport(v2, &decoded).ok());
  EXPECT_EQ(decoded.rolled_up, 5u);
  EXPECT_EQ(decoded.source_ips, 3u);
  // Version 1 ends before the rollup fields (two one-byte varints here).
  std::string v1 = v2.substr(0, v2.size() - 2);
  v1[0] = 1;
  ASSERT_TRUE(codec::DecodeReport(v1, &decoded).ok());
  EXPECT_EQ(decoded.rolled_up, 0u);
  EXPECT_EQ(decoded.source_ips, 0u);
  EXPECT_EQ(decoded.report.records, 5u);
  EXPECT_EQ(decoded.report.messages, 9u);
}

TEST(DmarcStoreCodec, RollupKeysGroupByReportAndOrderByMessages) {
  const DmarcTally tally{.messages = 12, .dmarc_pass = 10, .dkim_aligned = 9, .spf_aligned = 1,
                         .none = 2, .quarantine = 3, .reject = 7, .reports = 4};
  DmarcTally decoded;
  ASSERT_TRUE(codec::DecodeRollup(codec::EncodeRollup(tally), &decoded).ok());
  EXPECT_EQ(decoded.messages, 12u);
  EXPECT_EQ(decoded.reject, 7u);
  EXPECT_EQ(decoded.reports, 1u);  // one report's: not stored
  // Within a report: sources, then the order; most messages first; reports apart.
  EXPECT_LT(codec::RollupSourceKey(1, "zz"), codec::RollupTopKey(1, 0, "a"));
  EXPECT_LT(codec::RollupTopKey(1, 1000, "b"), codec::RollupTopKey(1, 999, "a"));
  EXPECT_LT(codec::RollupTopKey(1, 5, "a"), codec::RollupTopKey(1, 5, "b"));
  EXPECT_LT(codec::RollupTopKey(1, 0, "z"), codec::RollupSourceKey(2, ""));
  uint64_t report = 0, messages = 0;
  char kind = 0;
  std::string_view ip;
  const std::string top = codec::RollupTopKey(7, 123456789, "192.0.2.1");
  ASSERT_TRUE(codec::DecodeRollupPrefix(top, &report, &kind));
  EXPECT_EQ(report, 7u);
  EXPECT_EQ(kind, codec::kRollupTop);
  ASSERT_TRUE(codec::DecodeRollupTopKey(top, &messages, &ip));
  EXPECT_EQ(messages, 123456789u);
  EXPECT_EQ(ip, "192.0.2.1");
  EXPECT_EQ(codec::RollupSourceOf(codec::RollupSourceKey(7, "2001:db8::1")), "2001:db8::1");
  EXPECT_FALSE(codec::DecodeRollupTopKey("short", &messages, &ip));
}

TEST(DmarcStoreCodec, TimeKeysSortInTimeOrder) {
  const int64_t times[] = {std::numeric_limits<int64_t>::min(), -86400, -1, 0, 1, 1714521600,
                           std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i + 1 < std::size(times); ++i) {
    EXPECT_LT(codec::View(codec::EncodeTimeKey(times[i], 9)),
              codec::View(codec::EncodeTimeKey(times[i + 1], 1)));
  }
  int64_t time = 0;
  uint64_t id = 0;
  ASSERT_TRUE(codec::DecodeTimeKey(codec::View(codec::EncodeTimeKey(-5, 77)), &time, &id));
  EXPECT_EQ(time, -5);
  EXPECT_EQ(id, 77u);
  EXPECT_LT(codec::View(codec::EncodeRecordKey(1, 0xFFFFFFFF)),
            codec::View(codec::EncodeRecordKey(2, 0)));
}

TEST(DmarcStoreCodec, DamagedValuesAreCorruption) {
  std::string record;
  codec::EncodeRecord(SampleRecord(), &record);
  DmarcError error;
  error.kind = DmarcItemKind::kPayload;
  error.reason = "gzip: invalid header";
  error.origin.mail = Sha256::Of("m");
  DmarcMail mail;
  mail.user = "dmarc";
  DmarcFailure failure;
  failure.report.fields = {{"Feedback-Type", "auth-failure"}};
  codec::StoredReport report;
  report.report.meta.org_name = "org";
  struct Case {
    const char* name;
    std::string value;
    std::function<Status(std::string_view)> decode;
  } cases[] = {
      {"record", record,
       [](std::string_view v) {
         AggregateRecord out;
         return codec::DecodeRecord(v, &out);
       }},
      {"report", codec::EncodeReport(report),
       [](std::string_view v) {
         codec::StoredReport out;
         return codec::DecodeReport(v, &out);
       }},
      {"failure", codec::EncodeFailure(failure),
       [](std::string_view v) {
         DmarcFailure out;
         return codec::DecodeFailure(v, &out);
       }},
      {"error", codec::EncodeError(error),
       [](std::string_view v) {
         DmarcError out;
         return codec::DecodeError(v, &out);
       }},
      {"mail", codec::EncodeMail(mail),
       [](std::string_view v) {
         DmarcMail out;
         return codec::DecodeMail(v, &out);
       }},
      {"rollup", codec::EncodeRollup(DmarcTally{.messages = 300, .reject = 7}),
       [](std::string_view v) {
         DmarcTally out;
         return codec::DecodeRollup(v, &out);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.decode(c.value).ok());
    for (size_t length = 0; length < c.value.size(); ++length) {
      EXPECT_EQ(c.decode(c.value.substr(0, length)).code(), Status::Code::kCorruption)
          << "cut at " << length;
    }
    std::string newer = c.value;
    newer[0] = static_cast<char>(c.value[0] + 1);
    Status refused = c.decode(newer);
    EXPECT_EQ(refused.code(), Status::Code::kCorruption);
    EXPECT_NE(refused.message().find("unknown version"), std::string::npos);
    // Bytes after the known fields (a later version's additions) are ignored.
    EXPECT_TRUE(c.decode(c.value + "later fields").ok());
  }
  // A list count larger than the value: refused without allocating for it.
  std::string huge_count = record.substr(0, 1);
  // count valid, count 1, source "", three "" tokens, then 2^32 - 1 reasons.
  huge_count += std::string("\x01\x01\x00\x01\x01\x01\xFF\xFF\xFF\xFF\x0F", 11);
  AggregateRecord out;
  EXPECT_EQ(codec::DecodeRecord(huge_count, &out).code(), Status::Code::kCorruption);
}

// Kinds are enums in memory and their names on disk (the format keeps the text).
TEST(DmarcStoreCodec, KindsAreStoredByNameAndAnUnknownNameIsCorruption) {
  DmarcError error;
  error.kind = DmarcItemKind::kPayload;
  error.reason = "r";
  error.origin.kind = DmarcOriginKind::kImap;
  const std::string value = codec::EncodeError(error);
  ASSERT_NE(value.find("\x07payload"), std::string::npos);
  const size_t origin_kind = value.find("\x04imap");
  ASSERT_NE(origin_kind, std::string::npos);
  DmarcError decoded;
  ASSERT_TRUE(codec::DecodeError(value, &decoded).ok());
  EXPECT_EQ(decoded.kind, DmarcItemKind::kPayload);
  EXPECT_EQ(decoded.origin.kind, DmarcOriginKind::kImap);
  for (const char* other : {"pop3", "IMAP", "file"}) {
    std::string changed = value;
    changed.replace(origin_kind + 1, 4, other);
    Status status = codec::DecodeError(changed, &decoded);
    if (std::string(other) == "file") {
      EXPECT_TRUE(status.ok());
      EXPECT_EQ(decoded.origin.kind, DmarcOriginKind::kFile);
    } else {
      EXPECT_EQ(status.code(), Status::Code::kCorruption) << other;
    }
  }
}

TEST(DmarcStoreCodec, DamagedStoredRecordIsReportedByTheStore) {
  testing::TempDir dir;
  const std::string path = dir.Sub("archive");
  {
    auto store = testing::OpenTestStore(path);
    DmarcStore dmarc(store);
    ASSERT_TRUE(testing::ImportXml(dmarc, testing::ReportXml("o", "r", "example.org", 1,
                                                             testing::NumberedRecords(3)))
                    .ok());
  }
  testing::ModifyArchive(path, [](MDB_txn* txn, MDB_dbi (*open)(MDB_txn*, const char*)) {
    MDB_dbi records = open(txn, "dmarc_records");
    const codec::RecordKey key = codec::EncodeRecordKey(1, 1);
    MDB_val key_val = {key.size(), const_cast<char*>(key.data())};
    MDB_val value = {3, const_cast<char*>("\x01\x01\x05")};
    EXPECT_EQ(mdb_put(txn, records, &key_val, &value, 0), 0);
    // And the rollup of a source, which the summary reads instead of the records.
    std::string rollup_key = codec::RollupSourceKey(1, "10.0.0.2");
    MDB_val rollup_key_val = {rollup_key.size(), rollup_key.data()};
    MDB_val rollup = {2, const_cast<char*>("\x01\x05")};
    EXPECT_EQ(mdb_put(txn, open(txn, "dmarc_rollups"), &rollup_key_val, &rollup, 0), 0);
  });
  auto store = testing::OpenTestStore(path);
  DmarcStore dmarc(store);
  int visited = 0;
  Status listed = dmarc.ListRecords(1, [&](const AggregateRecord&) { return ++visited > 0; });
  EXPECT_EQ(listed.code(), Status::Code::kCorruption);
  EXPECT_NE(listed.message().find("DMARC report 1 record 1"), std::string::npos)
      << listed.ToString();
  EXPECT_EQ(visited, 1);
  DmarcFilter filter;
  Result<DmarcSummary> summary = dmarc.Summarize(filter);
  EXPECT_EQ(summary.status().code(), Status::Code::kCorruption);
  EXPECT_NE(summary.status().message().find("rollup value"), std::string::npos)
      << summary.status().ToString();
}

}  // namespace
}  // namespace archiver
