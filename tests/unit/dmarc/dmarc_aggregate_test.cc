// Tests for the DMARC aggregate report parser: each reporter quirk on a small fixture,
// hostile inputs, streaming of a large generated report, and the shared corpus.
#include "archiver/dmarc/dmarc_aggregate.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace archiver {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Fixture(const std::string& name) {
  return ReadFile(std::string(ARCHIVER_DMARC_FIXTURES) + "/" + name);
}

// Everything the callbacks saw, and the result.
struct Parsed {
  Result<AggregateSummary> result = Status::IOError("not run");
  std::vector<AggregateReportMeta> metas;
  std::vector<AggregateRecord> records;
  uint64_t records_before_meta = 0;
};

Parsed Parse(std::string_view xml, const AggregateLimits& limits = {}) {
  Parsed parsed;
  parsed.result = ParseAggregateReport(
      xml, limits,
      [&](const AggregateReportMeta& meta) {
        parsed.metas.push_back(meta);
        return Status::Ok();
      },
      [&](const AggregateRecord& record) {
        if (parsed.metas.empty()) ++parsed.records_before_meta;
        parsed.records.push_back(record);
        return Status::Ok();
      });
  return parsed;
}

Parsed ParseFixture(const std::string& name) {
  std::string xml = Fixture(name);
  EXPECT_FALSE(xml.empty()) << "fixture " << name << " missing";
  return Parse(xml);
}

TEST(DmarcAggregateTest, Rfc9990NamespacedReport) {
  Parsed parsed = ParseFixture("rfc9990_namespaced.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  const AggregateSummary& summary = *parsed.result;
  EXPECT_FALSE(summary.recovered);
  EXPECT_EQ(summary.records, 1u);
  EXPECT_EQ(summary.messages, 7u);
  ASSERT_EQ(parsed.metas.size(), 1u);
  const AggregateReportMeta& meta = parsed.metas[0];
  EXPECT_EQ(meta.schema, "rfc9990");
  EXPECT_EQ(meta.version, "1.0");
  EXPECT_EQ(meta.org_name, "receiver.example");
  EXPECT_EQ(meta.email, "dmarc-reports@receiver.example");
  EXPECT_EQ(meta.report_id, "rfc9990-1");
  EXPECT_EQ(meta.begin, 1700000000);
  EXPECT_EQ(meta.end, 1700086399);
  EXPECT_EQ(meta.generator, "Example Reporter 2.1");
  EXPECT_EQ(meta.errors, (std::vector<std::string>{"first error", "second error"}));
  const PolicyPublished& policy = meta.policy_published;
  EXPECT_EQ(policy.domain, "example.com");
  EXPECT_EQ(policy.discovery_method, "treewalk");
  EXPECT_EQ(policy.p, "reject");
  EXPECT_EQ(policy.sp, "quarantine");
  EXPECT_EQ(policy.np, "reject");
  EXPECT_EQ(policy.testing, "n");
  EXPECT_EQ(policy.fo, "0:1:d");
  EXPECT_FALSE(policy.pct.has_value());
  EXPECT_EQ(policy.adkim, "");
  ASSERT_EQ(parsed.records.size(), 1u);
  const AggregateRecord& record = parsed.records[0];
  EXPECT_EQ(record.source_ip, "192.0.2.10");
  EXPECT_EQ(record.count, 7u);
  EXPECT_EQ(record.disposition, "pass");
  EXPECT_EQ(record.dkim, "pass");
  EXPECT_EQ(record.spf, "fail");
  EXPECT_EQ(record.envelope_to, "example.net");
  EXPECT_EQ(record.envelope_from, "bounce.example.com");
  EXPECT_EQ(record.header_from, "example.com");
  ASSERT_EQ(record.dkim_results.size(), 1u);
  EXPECT_EQ(record.dkim_results[0].selector, "s2024");
  EXPECT_EQ(record.dkim_results[0].human_result, "good signature");
  ASSERT_EQ(record.spf_results.size(), 1u);
  EXPECT_EQ(record.spf_results[0].scope, "mfrom");
  EXPECT_EQ(record.spf_results[0].result, "fail");
  EXPECT_EQ(record.spf_results[0].human_result, "not in SPF record");
}

// windows-1252 and ISO-8859-1 declared in the prolog are decoded to UTF-8.
TEST(DmarcAggregateTest, LegacyEncodingsDecodedToUtf8) {
  for (const char* name : {"windows1252.xml", "iso8859-1.xml"}) {
    Parsed parsed = ParseFixture(name);
    ASSERT_TRUE(parsed.result.ok()) << name << ": " << parsed.result.status().ToString();
    EXPECT_EQ(parsed.result->meta.org_name, "M\xC3\xBCller \xC3\x89tude GmbH") << name;
    EXPECT_EQ(parsed.result->meta.schema, "rfc7489");
    EXPECT_EQ(parsed.result->messages, 3u) << name;
  }
}

TEST(DmarcAggregateTest, QuirksNormalisedAndKept) {
  Parsed parsed = ParseFixture("quirks.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  const AggregateReportMeta& meta = parsed.result->meta;
  EXPECT_EQ(meta.org_name, "quirky.example");  // trimmed, newlines included
  EXPECT_EQ(meta.email, "postmaster@quirky.example");
  EXPECT_EQ(meta.begin, 1524182400);
  EXPECT_EQ(meta.end, 1524268799);
  EXPECT_EQ(meta.policy_published.adkim, "s");
  EXPECT_EQ(meta.policy_published.aspf, "r");
  EXPECT_EQ(meta.policy_published.p, "none");
  EXPECT_EQ(meta.policy_published.sp, "quarantine");
  EXPECT_EQ(meta.policy_published.pct, 50);
  EXPECT_EQ(parsed.result->records, 2u);
  EXPECT_EQ(parsed.result->messages, 15u);
  ASSERT_EQ(parsed.records.size(), 2u);
  const AggregateRecord& first = parsed.records[0];
  EXPECT_EQ(first.source_ip, "203.0.113.5");
  EXPECT_EQ(first.count, 12u);
  EXPECT_EQ(first.disposition, "none");
  EXPECT_EQ(first.dkim, "fail");
  EXPECT_EQ(first.spf, "pass");
  struct ReasonCase {
    std::string type, comment;
  };
  const ReasonCase reasons[] = {
      {"forwarded", "via list"}, {"local_policy", ""}, {"custom_reason", "kept as given"}};
  ASSERT_EQ(first.reasons.size(), std::size(reasons));
  for (size_t i = 0; i < std::size(reasons); ++i) {
    EXPECT_EQ(first.reasons[i].type, reasons[i].type);
    EXPECT_EQ(first.reasons[i].comment, reasons[i].comment);
  }
  const DkimAuthResult dkim[] = {{"example.org", "a", "pass", ""},
                                 {"list.example", "b", "fail", ""},
                                 {"third.example", "", "temperror", ""}};
  ASSERT_EQ(first.dkim_results.size(), std::size(dkim));
  for (size_t i = 0; i < std::size(dkim); ++i) {
    EXPECT_EQ(first.dkim_results[i].domain, dkim[i].domain);
    EXPECT_EQ(first.dkim_results[i].selector, dkim[i].selector);
    EXPECT_EQ(first.dkim_results[i].result, dkim[i].result);
  }
  const SpfAuthResult spf[] = {{"example.org", "mfrom", "hardfail", ""},
                               {"helo.example.org", "helo", "softfail", ""}};
  ASSERT_EQ(first.spf_results.size(), std::size(spf));
  for (size_t i = 0; i < std::size(spf); ++i) {
    EXPECT_EQ(first.spf_results[i].domain, spf[i].domain);
    EXPECT_EQ(first.spf_results[i].scope, spf[i].scope);
    EXPECT_EQ(first.spf_results[i].result, spf[i].result);
  }
  // The second record has no SPF result and starts with fresh lists.
  const AggregateRecord& second = parsed.records[1];
  EXPECT_EQ(second.count, 3u);
  EXPECT_EQ(second.disposition, "quarantine");
  EXPECT_TRUE(second.reasons.empty());
  EXPECT_TRUE(second.spf_results.empty());
  ASSERT_EQ(second.dkim_results.size(), 1u);
  EXPECT_EQ(second.dkim_results[0].result, "none");
  EXPECT_EQ(second.envelope_from, "");
}

TEST(DmarcAggregateTest, MissingOptionalElements) {
  Parsed parsed = ParseFixture("missing_optional.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  const AggregateReportMeta& meta = parsed.result->meta;
  EXPECT_FALSE(meta.begin.has_value());
  EXPECT_FALSE(meta.end.has_value());
  EXPECT_FALSE(meta.policy_published.pct.has_value());
  EXPECT_EQ(meta.policy_published.sp, "");
  EXPECT_EQ(meta.email, "");
  EXPECT_EQ(meta.version, "");
  ASSERT_EQ(parsed.records.size(), 1u);
  EXPECT_EQ(parsed.records[0].source_ip, "2001:db8::1");
  EXPECT_EQ(parsed.records[0].disposition, "");
  EXPECT_TRUE(parsed.records[0].dkim_results.empty());
  EXPECT_TRUE(parsed.records[0].spf_results.empty());
  EXPECT_TRUE(parsed.result->parser_messages.empty());
}

// A missing or non-numeric count keeps the record (count 0, count_valid false) and says
// so in the messages: the record's identifiers and results are still worth storing.
TEST(DmarcAggregateTest, BadCountsKeepTheRecord) {
  Parsed parsed = ParseFixture("bad_counts.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  EXPECT_EQ(parsed.result->records, 3u);
  EXPECT_EQ(parsed.result->messages, 5u);
  ASSERT_EQ(parsed.records.size(), 3u);
  EXPECT_FALSE(parsed.records[0].count_valid);
  EXPECT_FALSE(parsed.records[1].count_valid);
  EXPECT_TRUE(parsed.records[2].count_valid);
  EXPECT_EQ(parsed.records[0].source_ip, "192.0.2.1");
  const std::vector<std::string>& messages = parsed.result->parser_messages;
  auto mentions = [&](const std::string& part) {
    for (const std::string& m : messages) {
      if (m.find(part) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(mentions("record 1: count 'many' is not a number"))
      << ::testing::PrintToString(messages);
  EXPECT_TRUE(mentions("record 2: no <count>"));
  EXPECT_TRUE(mentions("begin 'yesterday' is not a timestamp"));
  EXPECT_TRUE(mentions("pct 'all'"));
  EXPECT_FALSE(parsed.result->meta.begin.has_value());
  EXPECT_EQ(parsed.result->meta.end, 1524268799);
}

// on_meta comes once, before the first record, with what is known then; the summary
// has the policy published after the records.
TEST(DmarcAggregateTest, MetaBeforeFirstRecordEvenWhenPolicyComesLater) {
  Parsed parsed = ParseFixture("record_before_policy.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  ASSERT_EQ(parsed.metas.size(), 1u);
  EXPECT_EQ(parsed.records_before_meta, 0u);
  EXPECT_EQ(parsed.metas[0].org_name, "order.example");
  EXPECT_EQ(parsed.metas[0].policy_published.domain, "");
  EXPECT_EQ(parsed.result->meta.policy_published.domain, "example.com");
  EXPECT_EQ(parsed.result->meta.policy_published.p, "reject");
  EXPECT_EQ(parsed.result->messages, 5u);
}

// Strict parse stops at the bare '&'; the recover pass salvages both records, and the
// record delivered before the error is not delivered twice.
TEST(DmarcAggregateTest, MalformedIsRecovered) {
  Parsed parsed = ParseFixture("malformed_recoverable.xml");
  ASSERT_TRUE(parsed.result.ok()) << parsed.result.status().ToString();
  EXPECT_TRUE(parsed.result->recovered);
  EXPECT_FALSE(parsed.result->parser_messages.empty());
  EXPECT_EQ(parsed.metas.size(), 1u);
  EXPECT_EQ(parsed.result->records, 2u);
  EXPECT_EQ(parsed.result->messages, 10u);
  ASSERT_EQ(parsed.records.size(), 2u);
  EXPECT_EQ(parsed.records[0].source_ip, "192.0.2.1");
  EXPECT_EQ(parsed.records[1].source_ip, "192.0.2.2");
  EXPECT_EQ(parsed.result->meta.org_name, "broken.example");
}

TEST(DmarcAggregateTest, InvalidDocumentsAreErrors) {
  std::string deep = "<feedback>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  std::string huge_attribute = "<feedback x='" + std::string(10u << 20, 'a') + "'>" +
                               Fixture("missing_optional.xml").substr(22);
  struct Case {
    const char* name;
    std::string xml;
    Status::Code code;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty", "", Status::Code::kInvalidArgument, "empty report"},
      {"whitespace only", " \n", Status::Code::kInvalidArgument, "empty report"},
      {"garbage", "this is not xml at all", Status::Code::kInvalidArgument,
       "not well-formed XML, nothing recovered"},
      {"binary", std::string("\x1f\x8b\x08\x00\x00\x00", 6), Status::Code::kInvalidArgument,
       "not well-formed XML, nothing recovered"},
      {"wrong root", "<?xml version='1.0'?><invalid_root><data/></invalid_root>",
       Status::Code::kInvalidArgument, "root element is <invalid_root>"},
      {"feedback without content", "<feedback><version>1.0</version></feedback>",
       Status::Code::kInvalidArgument, "neither report_metadata nor a record"},
      {"doctype", "<!DOCTYPE feedback><feedback/>", Status::Code::kInvalidArgument,
       "DOCTYPE not allowed"},
      {"xxe",
       "<?xml version='1.0'?><!DOCTYPE f [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
       "<feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>",
       Status::Code::kInvalidArgument, "DOCTYPE not allowed"},
      {"deep nesting", deep, Status::Code::kLimitExceeded, "nested deeper than 64"},
      // Refused before libxml2 holds it (MarkupGuard), no longer by libxml2 after 10 MB.
      {"10 MB attribute", huge_attribute, Status::Code::kLimitExceeded, "XML tag longer than"},
      {"huge text",
       "<feedback><report_metadata><org_name>" + std::string(100000, 'x') +
           "</org_name></report_metadata></feedback>",
       Status::Code::kLimitExceeded, "longer than 65536 bytes"},
  };
  for (const Case& c : cases) {
    Parsed parsed = Parse(c.xml);
    ASSERT_FALSE(parsed.result.ok()) << c.name;
    EXPECT_EQ(parsed.result.status().code(), c.code)
        << c.name << ": " << parsed.result.status().ToString();
    EXPECT_NE(parsed.result.status().message().find(c.message_part), std::string::npos)
        << c.name << ": " << parsed.result.status().ToString();
    EXPECT_TRUE(parsed.records.empty()) << c.name;
  }
}

TEST(DmarcAggregateTest, LimitsApply) {
  std::string xml = Fixture("quirks.xml");
  AggregateLimits limits;
  limits.max_input_bytes = xml.size() - 1;
  Parsed parsed = Parse(xml, limits);
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().code(), Status::Code::kLimitExceeded);
  EXPECT_TRUE(parsed.metas.empty());

  limits = AggregateLimits();
  limits.max_records = 1;
  parsed = Parse(xml, limits);
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().code(), Status::Code::kLimitExceeded);
  EXPECT_EQ(parsed.records.size(), 1u);
}

TEST(DmarcAggregateTest, CallbackErrorStopsParsing) {
  std::string xml = Fixture("quirks.xml");
  int records_seen = 0;
  auto result = ParseAggregateReport(
      xml, {}, [](const AggregateReportMeta&) { return Status::Ok(); },
      [&](const AggregateRecord&) {
        ++records_seen;
        return Status::MapFull("store full");
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kMapFull);
  EXPECT_EQ(records_seen, 1);

  bool record_called = false;
  result = ParseAggregateReport(
      xml, {}, [](const AggregateReportMeta&) { return Status::IOError("meta refused"); },
      [&](const AggregateRecord&) {
        record_called = true;
        return Status::Ok();
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "meta refused");
  EXPECT_FALSE(record_called);
}

// The shared corpus: record counts and message totals computed independently (Python's
// xml.etree over the same files), not by this parser.
TEST(DmarcAggregateTest, Corpus) {
  const std::string dir = testing::DmarcCorpusDir("aggregate");
  if (dir.empty()) GTEST_SKIP() << "no DMARC corpus beside the checkout";
  struct Expected {
    const char* file;
    uint64_t records;
    uint64_t messages;
    bool recovered;
    const char* error;  // a part of the expected error, or nullptr when parsed
  };
  const Expected expected[] = {
      {"bbustin+dmarc_aggregate_parser/dmarc.xml", 1, 1, false, nullptr},
      {"christianlouis+dmarq/rfc9990-multi-auth-overrides.xml", 2, 15, false, nullptr},
      {"christianlouis+dmarq/rfc9990-namespaced-legacy-fields.xml", 1, 3, false, nullptr},
      {"christianlouis+dmarq/rfc9990-treewalk-extension.xml", 1, 5, false, nullptr},
      {"codemacherUG+dmarc-lighthouse/aggregate-report-v1.xml", 1, 12, false, nullptr},
      {"cry-inc+dmarc-report-viewer/acme.xml", 1, 2, false, nullptr},
      {"cry-inc+dmarc-report-viewer/aol.xml", 1, 1, false, nullptr},
      {"cry-inc+dmarc-report-viewer/gmxnet.xml", 1, 1, false, nullptr},
      {"cry-inc+dmarc-report-viewer/hardfail.xml", 1, 1, false, nullptr},
      {"cry-inc+dmarc-report-viewer/mailru.xml", 1, 1, false, nullptr},
      {"cry-inc+dmarc-report-viewer/outlook.xml", 2, 3, false, nullptr},
      {"cry-inc+dmarc-report-viewer/webde.xml", 1, 1, false, nullptr},
      {"domainaware+parsedmarc/!large-example.com!1711897200!1711983600.xml", 2286, 2286, false,
       nullptr},
      {"domainaware+parsedmarc/addisonfoods.com!example.com!1536105600!1536191999.xml", 1, 1, false,
       nullptr},
      {"domainaware+parsedmarc/changed-input.xml", 20, 3047, false, nullptr},
      {"domainaware+parsedmarc/empty.xml", 0, 0, false, "empty report"},
      {"domainaware+parsedmarc/empty_reason.xml", 1, 2, false, nullptr},
      {"domainaware+parsedmarc/example.net!example.com!1529366400!1529452799.xml", 1, 1, false,
       nullptr},
      {"domainaware+parsedmarc/invalid_xml.xml", 1, 1, true, nullptr},
      {"domainaware+parsedmarc/nice-input.xml", 20, 3047, false, nullptr},
      {"domainaware+parsedmarc/old_draft_from_wiki.xml", 1, 2, false, nullptr},
      {"domainaware+parsedmarc/protection.outlook.com!example.com!1711756800!1711843200.xml", 1, 1,
       false, nullptr},
      {"domainaware+parsedmarc/rfc9990-example.net!example.com!1700000000!1700086399.xml", 2, 7,
       false, nullptr},
      {"domainaware+parsedmarc/usssa.com!example.com!1538784000!1538870399.xml", 2, 2, false,
       nullptr},
      {"georgestarcher+dmarcgo/receiver.example!example.test!1782172800!1782259199!synthetic.xml",
       2, 7, false, nullptr},
      {"georgestarcher+dmarcgo/yahoo.com!georgestarcher.com!1781740800!1781827199.xml", 1, 1, false,
       nullptr},
      {"msimerson+mail-dmarc/test_dmarc.xml", 1, 1, false, nullptr},
      {"stalwartlabs+mail-auth/001.xml", 1, 123, false, nullptr},
      {"stalwartlabs+mail-auth/003.xml", 4, 9, false, nullptr},
      {"stalwartlabs+mail-auth/005.xml", 1, 1, false, nullptr},
      {"tierpod+dmarc-report-converter/test_empty.xml", 1, 0, false, nullptr},
      {"trollByte+dmarc/google-report.xml", 2, 128, false, nullptr},
      // Truncated after report_metadata: recovered, with the metadata and no record.
      {"trollByte+dmarc/malformed.xml", 0, 0, true, nullptr},
      {"trollByte+dmarc/malformed_report.xml", 0, 0, false, "root element is <invalid_root>"},
      {"trollByte+dmarc/multiple_auth_results.xml", 1, 7, false, nullptr},
      {"trollByte+dmarc/multiple_records.xml", 3, 14, false, nullptr},
      {"trollByte+dmarc/yahoo-report.xml", 3, 104, false, nullptr},
  };
  // Every plain .xml file in the corpus must be in the table.
  size_t xml_files = 0;
  if (DIR* top = opendir(dir.c_str())) {
    while (dirent* source = readdir(top)) {
      if (source->d_name[0] == '.') continue;
      if (DIR* sub = opendir((dir + "/" + source->d_name).c_str())) {
        while (dirent* file = readdir(sub)) {
          std::string name = file->d_name;
          if (name.size() > 4 && name.compare(name.size() - 4, 4, ".xml") == 0) ++xml_files;
        }
        closedir(sub);
      }
    }
    closedir(top);
  }
  EXPECT_EQ(xml_files, std::size(expected));
  for (const Expected& e : expected) {
    Parsed parsed = Parse(ReadFile(dir + "/" + e.file));
    if (e.error != nullptr) {
      ASSERT_FALSE(parsed.result.ok()) << e.file;
      EXPECT_NE(parsed.result.status().message().find(e.error), std::string::npos)
          << e.file << ": " << parsed.result.status().ToString();
      continue;
    }
    ASSERT_TRUE(parsed.result.ok()) << e.file << ": " << parsed.result.status().ToString();
    EXPECT_EQ(parsed.result->records, e.records) << e.file;
    EXPECT_EQ(parsed.result->messages, e.messages) << e.file;
    EXPECT_EQ(parsed.result->recovered, e.recovered) << e.file;
    EXPECT_EQ(parsed.records.size(), e.records) << e.file;
    EXPECT_EQ(parsed.metas.size(), 1u) << e.file;
    const AggregateReportMeta& meta = parsed.result->meta;
    EXPECT_TRUE(!meta.org_name.empty() || !meta.report_id.empty()) << e.file;
  }
}

}  // namespace
}  // namespace archiver
