// DmarcMailBudget: what one report mail may cost in all its parts together (bytes, records,
// time); past it one "mail" error, the remaining parts unread, the reports before kept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dmarc/dmarc_pipeline_test_util.h"

namespace archiver {
namespace {

using pipeline_testing::Archive;
using pipeline_testing::Feed;
using pipeline_testing::Fixture;
using pipeline_testing::Part;

// The fixture report (two records) with its own report id.
std::string Report(int number) {
  std::string xml = Fixture("aggregate.xml");
  xml.replace(xml.find("pipeline-fixture-1"), 18, "budget-report-" + std::to_string(number));
  return xml;
}

std::vector<std::string> Results(const std::vector<DmarcItem>& items) {
  std::vector<std::string> results;
  for (const DmarcItem& item : items)
    results.push_back(std::string(DmarcItemKindName(item.kind)) + " " +
                      DmarcItemResultName(item.result));
  return results;
}

TEST(DmarcMailBudgetTest, BytesOverAllParts) {
  std::vector<std::string> reports;
  for (int i = 0; i < 5; ++i) reports.push_back(Report(i));
  DmarcPipelineOptions options;
  options.budget.max_bytes = 3 * reports[0].size() + 10;
  Archive archive;
  std::vector<DmarcPart> parts;
  for (int i = 0; i < 5; ++i)
    parts.push_back(Part("application/xml", "r.xml", std::to_string(i + 2), reports[i]));
  std::vector<DmarcItem> items = Feed(archive, parts, false, options);
  EXPECT_EQ(Results(items), (std::vector<std::string>{"aggregate ok", "aggregate ok",
                                                      "aggregate ok", "mail error"}));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[3].part, "5");
  EXPECT_NE(items[3].reason.find("over the mail's budget"), std::string::npos) << items[3].reason;
  EXPECT_NE(items[3].reason.find("bytes of reports"), std::string::npos) << items[3].reason;
  ASSERT_EQ(archive.Errors().size(), 1u);
  EXPECT_EQ(archive.dmarc->GetStats()->reports, 3u);
}

TEST(DmarcMailBudgetTest, CompressedPartsCountDecompressed) {
  std::vector<std::string> zipped;
  for (int i = 0; i < 3; ++i) zipped.push_back(pipeline_testing::GzipOf(Report(i)));
  DmarcPipelineOptions options;
  options.budget.max_bytes = Report(0).size() + 10;  // one report's XML
  Archive archive;
  std::vector<DmarcItem> items =
      Feed(archive, {Part("application/gzip", "a.xml.gz", "2", zipped[0]),
                     Part("application/gzip", "b.xml.gz", "3", zipped[1]),
                     Part("application/gzip", "c.xml.gz", "4", zipped[2])},
           false, options);
  EXPECT_EQ(Results(items), (std::vector<std::string>{"aggregate ok", "mail error"}));
}

TEST(DmarcMailBudgetTest, RecordsOverAllReports) {
  DmarcPipelineOptions options;
  options.budget.max_records = 5;  // two records per report
  Archive archive;
  std::vector<std::string> reports;
  for (int i = 0; i < 4; ++i) reports.push_back(Report(i));
  std::vector<DmarcItem> items =
      Feed(archive, {Part("application/xml", "a.xml", "2", reports[0]),
                     Part("application/xml", "b.xml", "3", reports[1]),
                     Part("application/xml", "c.xml", "4", reports[2]),
                     Part("application/xml", "d.xml", "5", reports[3])},
           false, options);
  // 2 + 2 records; the third report may have one more and has two: refused alone; then
  // the budget still has one record, the fourth report refused the same way.
  EXPECT_EQ(Results(items), (std::vector<std::string>{"aggregate ok", "aggregate ok",
                                                      "aggregate error", "aggregate error"}));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_NE(items[2].reason.find("more than 1 records"), std::string::npos) << items[2].reason;
  EXPECT_EQ(archive.dmarc->GetStats()->records, 4u);
}

TEST(DmarcMailBudgetTest, TimeIsCheckedBeforeEachPart) {
  DmarcPipelineOptions options;
  options.budget.max_time = std::chrono::milliseconds(0);
  Archive archive;
  std::vector<DmarcItem> items =
      Feed(archive, {Part("application/xml", "a.xml", "2", Report(0))}, false, options);
  EXPECT_EQ(Results(items), (std::vector<std::string>{"mail error"}));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_NE(items[0].reason.find("ms of reading"), std::string::npos) << items[0].reason;
}

TEST(DmarcMailBudgetTest, DefaultsLeaveOrdinaryMailAlone) {
  Archive archive;
  std::vector<DmarcPart> parts;
  std::vector<std::string> reports;
  for (int i = 0; i < 20; ++i) reports.push_back(Report(i));
  for (int i = 0; i < 20; ++i)
    parts.push_back(Part("application/xml", "r.xml", std::to_string(i + 2), reports[i]));
  std::vector<DmarcItem> items = Feed(archive, parts);
  EXPECT_EQ(items.size(), 20u);
  EXPECT_TRUE(archive.Errors().empty());
}

}  // namespace
}  // namespace archiver
