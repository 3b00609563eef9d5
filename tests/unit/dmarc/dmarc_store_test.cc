// DmarcStore: round trips of reports and records, duplicates, the domain and date
// filters, the summary on a hand-computed example, failure reports, the error ledger,
// report mails, archives made before DMARC support and read-only archives.
#include "archiver/dmarc/dmarc_store.h"

#include <gtest/gtest.h>

#include <vector>

#include "dmarc/dmarc_store_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

using testing::ImportXml;
using testing::RecordXml;
using testing::ReportXml;

constexpr const char* kFullReport = R"(<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>Mail.Example</org_name>
    <email>noreply-dmarc@mail.example</email>
    <extra_contact_info>https://mail.example/dmarc</extra_contact_info>
    <report_id>r-42</report_id>
    <date_range><begin>1714521600</begin><end>1714607999</end></date_range>
    <error>one problem</error>
    <error>another problem</error>
  </report_metadata>
  <policy_published>
    <domain>Example.ORG</domain><adkim>s</adkim><aspf>r</aspf><p>reject</p><sp>quarantine</sp>
    <pct>50</pct><fo>0:1:d</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.1</source_ip><count>7</count>
      <policy_evaluated>
        <disposition>quarantine</disposition><dkim>fail</dkim><spf>pass</spf>
        <reason><type>forwarded</type><comment>via list</comment></reason>
        <reason><type>custom_reason</type></reason>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>rcpt.example</envelope_to><envelope_from>bounce.example.org</envelope_from>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim><domain>example.org</domain><selector>s1</selector><result>fail</result>
        <human_result>bad signature</human_result></dkim>
      <dkim><domain>list.example</domain><selector>s2</selector><result>pass</result></dkim>
      <spf><domain>bounce.example.org</domain><scope>mfrom</scope><result>pass</result></spf>
      <spf><domain>helo.example.org</domain><scope>helo</scope><result>hardfail</result></spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>2001:db8::1</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers><header_from>example.org</header_from></identifiers>
    <auth_results><dkim><domain>example.org</domain><result>pass</result></dkim></auth_results>
  </record>
</feedback>
)";

class DmarcStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.Sub("archive"));
    ASSERT_TRUE(store_);
    dmarc_ = std::make_unique<DmarcStore>(store_);
  }
  std::vector<std::string> ReportIds(const DmarcFilter& filter) {
    std::vector<std::string> ids;
    for (const DmarcReport& report : testing::Collect<DmarcReport>(
             [&](const auto& visit) { return dmarc_->ListReports(filter, visit); })) {
      ids.push_back(report.meta.report_id);
    }
    return ids;
  }
  uint64_t Import(const std::string& xml) {
    Result<DmarcImportResult> imported = ImportXml(*dmarc_, xml);
    EXPECT_TRUE(imported.ok()) << imported.status().ToString();
    return imported.ok() ? imported->id : 0;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<DmarcStore> dmarc_;
};

TEST_F(DmarcStoreTest, RoundTripsReportAndRecords) {
  MemorySource source(kFullReport, "full.xml");
  DmarcOrigin origin;
  origin.kind = DmarcOriginKind::kMail;
  origin.detail = "dmarc@example.org";
  origin.mail = Sha256::Of("the carrying mail");
  origin.part = "2/report.xml";
  Result<DmarcImportResult> imported = dmarc_->ImportAggregate(source, {}, origin);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->outcome, DmarcImportOutcome::kStored);
  EXPECT_EQ(imported->id, 1u);
  EXPECT_EQ(imported->records, 2u);
  EXPECT_EQ(imported->messages, 10u);

  Result<DmarcReport> report = dmarc_->GetReport(imported->id);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->id, 1u);
  const AggregateReportMeta& meta = report->meta;
  EXPECT_EQ(meta.org_name, "Mail.Example");
  EXPECT_EQ(meta.email, "noreply-dmarc@mail.example");
  EXPECT_EQ(meta.extra_contact_info, "https://mail.example/dmarc");
  EXPECT_EQ(meta.report_id, "r-42");
  EXPECT_EQ(meta.begin, 1714521600);
  EXPECT_EQ(meta.end, 1714607999);
  EXPECT_EQ(meta.errors, (std::vector<std::string>{"one problem", "another problem"}));
  EXPECT_EQ(meta.version, "1.0");
  EXPECT_EQ(meta.policy_published.domain, "Example.ORG");
  EXPECT_EQ(meta.policy_published.adkim, "s");
  EXPECT_EQ(meta.policy_published.p, "reject");
  EXPECT_EQ(meta.policy_published.sp, "quarantine");
  EXPECT_EQ(meta.policy_published.pct, 50);
  EXPECT_EQ(meta.policy_published.fo, "0:1:d");
  EXPECT_EQ(report->records, 2u);
  EXPECT_EQ(report->messages, 10u);
  EXPECT_EQ(report->pass, 10u);  // the first record by SPF, the second by DKIM
  EXPECT_EQ(report->fail, 0u);
  EXPECT_FALSE(report->recovered);
  EXPECT_GT(report->imported_us, 0u);
  EXPECT_EQ(report->origin.kind, DmarcOriginKind::kMail);
  EXPECT_EQ(report->origin.detail, "dmarc@example.org");
  EXPECT_EQ(report->origin.mail, Sha256::Of("the carrying mail"));
  EXPECT_EQ(report->origin.part, "2/report.xml");

  const std::vector<AggregateRecord> records = testing::Collect<AggregateRecord>(
      [&](const auto& visit) { return dmarc_->ListRecords(imported->id, visit); });
  ASSERT_EQ(records.size(), 2u);
  const AggregateRecord& first = records[0];
  EXPECT_EQ(first.source_ip, "192.0.2.1");
  EXPECT_EQ(first.count, 7u);
  EXPECT_TRUE(first.count_valid);
  EXPECT_EQ(first.disposition, "quarantine");
  EXPECT_EQ(first.dkim, "fail");
  EXPECT_EQ(first.spf, "pass");
  ASSERT_EQ(first.reasons.size(), 2u);
  EXPECT_EQ(first.reasons[0].type, "forwarded");
  EXPECT_EQ(first.reasons[0].comment, "via list");
  EXPECT_EQ(first.reasons[1].type, "custom_reason");
  EXPECT_EQ(first.reasons[1].comment, "");
  EXPECT_EQ(first.header_from, "example.org");
  EXPECT_EQ(first.envelope_from, "bounce.example.org");
  EXPECT_EQ(first.envelope_to, "rcpt.example");
  ASSERT_EQ(first.dkim_results.size(), 2u);
  EXPECT_EQ(first.dkim_results[0].domain, "example.org");
  EXPECT_EQ(first.dkim_results[0].selector, "s1");
  EXPECT_EQ(first.dkim_results[0].result, "fail");
  EXPECT_EQ(first.dkim_results[0].human_result, "bad signature");
  EXPECT_EQ(first.dkim_results[1].domain, "list.example");
  EXPECT_EQ(first.dkim_results[1].result, "pass");
  ASSERT_EQ(first.spf_results.size(), 2u);
  EXPECT_EQ(first.spf_results[0].scope, "mfrom");
  EXPECT_EQ(first.spf_results[1].domain, "helo.example.org");
  EXPECT_EQ(first.spf_results[1].scope, "helo");
  EXPECT_EQ(first.spf_results[1].result, "hardfail");  // unknown: kept as given
  EXPECT_EQ(records[1].source_ip, "2001:db8::1");
  EXPECT_EQ(records[1].count, 3u);
  EXPECT_TRUE(records[1].spf_results.empty());

  EXPECT_EQ(dmarc_->GetReport(2).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(dmarc_->ListRecords(2, [](const AggregateRecord&) { return true; }).code(),
            Status::Code::kNotFound);
  Result<DmarcStats> stats = dmarc_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, 1u);
  EXPECT_EQ(stats->records, 2u);
  EXPECT_EQ(stats->messages, 10u);
}

TEST_F(DmarcStoreTest, RecognisesDuplicates) {
  const std::string records = RecordXml("192.0.2.1", 5, "none", "pass", "pass");
  const uint64_t id = Import(ReportXml("org.example", "same-id", "example.org", 1000, records));
  ASSERT_NE(id, 0u);
  struct Case {
    const char* name;
    std::string xml;
  } cases[] = {
      {"the same report again", ReportXml("org.example", "same-id", "example.org", 1000, records)},
      {"re-sent with other records and the organisation in other case",
       ReportXml("ORG.Example", "same-id", "example.org", 1000,
                 records + RecordXml("192.0.2.2", 9, "none", "pass", "pass"))},
      // Recognised from its metadata, before its records are read (they are more
      // than the limit below allows).
      {"re-sent with too many records",
       ReportXml("org.example", "same-id", "example.org", 1000, records + records + records)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    MemorySource source(c.xml);
    DmarcImportOptions options;
    options.limits.max_records = 2;
    Result<DmarcImportResult> again = dmarc_->ImportAggregate(source, options, {});
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->outcome, DmarcImportOutcome::kDuplicate);
    EXPECT_EQ(again->id, id);
  }
  // Another report id, or the same id from another organisation, is another report.
  EXPECT_EQ(ImportXml(*dmarc_, ReportXml("org.example", "other-id", "example.org", 1000, records))
                ->outcome,
            DmarcImportOutcome::kStored);
  EXPECT_EQ(ImportXml(*dmarc_, ReportXml("else.example", "same-id", "example.org", 1000, records))
                ->outcome,
            DmarcImportOutcome::kStored);
  Result<DmarcStats> stats = dmarc_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, 3u);
  EXPECT_EQ(stats->messages, 15u);
}

TEST_F(DmarcStoreTest, FiltersByDomainDateOrganisationAndLimit) {
  const std::string one = RecordXml("192.0.2.1", 1, "none", "pass", "pass");
  Import(ReportXml("google.com", "g1", "a.example", 1000, one));
  Import(ReportXml("google.com", "g2", "b.example", 2000, one));
  Import(ReportXml("Yahoo", "y1", "A.Example", 3000, one));
  Import(ReportXml("yahoo", "y2", "a.example", 4000, one));
  Import(ReportXml("Outlook.com", "o1", "a.example.net", 2500, one));

  struct Case {
    const char* name;
    std::string domain, org;
    int64_t since, until;
    uint64_t limit;
    std::vector<std::string> expected;
  } cases[] = {
      {"all, newest range first", "", "", INT64_MIN, INT64_MAX, 0, {"y2", "y1", "o1", "g2", "g1"}},
      {"one domain, any case", "A.EXAMPLE", "", INT64_MIN, INT64_MAX, 0, {"y2", "y1", "g1"}},
      {"a domain that only prefixes others", "a.example.n", "", INT64_MIN, INT64_MAX, 0, {}},
      {"since is inclusive, until exclusive", "", "", 2000, 4000, 0, {"y1", "o1", "g2"}},
      {"domain and period", "a.example", "", 1000, 3001, 0, {"y1", "g1"}},
      {"domain and period, nothing before", "a.example", "", 5000, INT64_MAX, 0, {}},
      {"domain and period, nothing after", "a.example", "", INT64_MIN, 1000, 0, {}},
      {"organisation substring, any case", "", "YAHOO", INT64_MIN, INT64_MAX, 0, {"y2", "y1"}},
      {"organisation and domain", "a.example", "goo", INT64_MIN, INT64_MAX, 0, {"g1"}},
      {"limit", "", "", INT64_MIN, INT64_MAX, 2, {"y2", "y1"}},
      {"limit counts matches only", "", "L", INT64_MIN, INT64_MAX, 2, {"o1", "g2"}},
      {"unknown domain", "nowhere.example", "", INT64_MIN, INT64_MAX, 0, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    DmarcFilter filter;
    filter.domain = c.domain;
    filter.org = c.org;
    filter.since = c.since;
    filter.until = c.until;
    filter.limit = c.limit;
    EXPECT_EQ(ReportIds(filter), c.expected);
  }
  // The visitor stops the walk.
  int visited = 0;
  ASSERT_TRUE(dmarc_->ListReports({}, [&](const DmarcReport&) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2);
}

TEST_F(DmarcStoreTest, SummarizesAHandComputedExample) {
  // Two reports for example.org, one for other.example (left out by the filter).
  Import(ReportXml("google.com", "g1", "example.org", 1000,
                   RecordXml("192.0.2.1", 10, "none", "pass", "fail") +
                       RecordXml("192.0.2.2", 4, "quarantine", "fail", "pass") +
                       RecordXml("192.0.2.3", 1, "reject", "fail", "fail")));
  Import(ReportXml("yahoo", "y1", "example.org", 2000,
                   RecordXml("192.0.2.2", 20, "none", "pass", "pass") +
                       RecordXml("192.0.2.1", 2, "Reject", "Fail", "FAIL") +
                       RecordXml("192.0.2.1", 3, "none", "fail", "Pass")));
  Import(ReportXml("google.com", "g2", "other.example", 1500,
                   RecordXml("192.0.2.9", 100, "none", "pass", "pass")));

  DmarcFilter filter;
  filter.domain = "example.org";
  Result<DmarcSummary> summary = dmarc_->Summarize(filter);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  auto expect = [](const DmarcTally& tally, uint64_t messages, uint64_t pass, uint64_t dkim,
                   uint64_t spf, uint64_t none, uint64_t quarantine, uint64_t reject,
                   uint64_t reports) {
    EXPECT_EQ(tally.messages, messages);
    EXPECT_EQ(tally.dmarc_pass, pass);
    EXPECT_EQ(tally.dkim_aligned, dkim);
    EXPECT_EQ(tally.spf_aligned, spf);
    EXPECT_EQ(tally.none, none);
    EXPECT_EQ(tally.quarantine, quarantine);
    EXPECT_EQ(tally.reject, reject);
    EXPECT_EQ(tally.reports, reports);
  };
  // messages 10+4+1+20+2+3 = 40; pass 10+4+20+3 = 37; dkim 10+20; spf 4+20+3.
  expect(summary->total, 40, 37, 30, 27, 33, 4, 3, 2);
  ASSERT_EQ(summary->by_source_ip.size(), 3u);
  EXPECT_EQ(summary->by_source_ip[0].first, "192.0.2.2");  // 24 messages
  expect(summary->by_source_ip[0].second, 24, 24, 20, 24, 20, 4, 0, 2);
  EXPECT_EQ(summary->by_source_ip[1].first, "192.0.2.1");  // 15, two records in one report
  expect(summary->by_source_ip[1].second, 15, 13, 10, 3, 13, 0, 2, 2);
  EXPECT_EQ(summary->by_source_ip[2].first, "192.0.2.3");
  expect(summary->by_source_ip[2].second, 1, 0, 0, 0, 0, 0, 1, 1);
  ASSERT_EQ(summary->by_org.size(), 2u);
  EXPECT_EQ(summary->by_org[0].first, "yahoo");
  expect(summary->by_org[0].second, 25, 23, 20, 23, 23, 0, 2, 1);
  EXPECT_EQ(summary->by_org[1].first, "google.com");
  expect(summary->by_org[1].second, 15, 14, 10, 4, 10, 4, 1, 1);

  filter.since = 1500;  // only yahoo's report
  summary = dmarc_->Summarize(filter);
  ASSERT_TRUE(summary.ok());
  expect(summary->total, 25, 23, 20, 23, 23, 0, 2, 1);
  EXPECT_EQ(summary->by_org.size(), 1u);

  filter.domain = "nothing.example";
  summary = dmarc_->Summarize(filter);
  ASSERT_TRUE(summary.ok());
  expect(summary->total, 0, 0, 0, 0, 0, 0, 0, 0);
  EXPECT_TRUE(summary->by_source_ip.empty());
}

}  // namespace
}  // namespace archiver
