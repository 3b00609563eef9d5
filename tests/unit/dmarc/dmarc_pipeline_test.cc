// DmarcMailPipeline: each payload quirk, ARF pairing, Exim text reports, what is skipped,
// and that only the store's own failures fail a call (hostile inputs:
// dmarc_pipeline_hostile_test.cc).
#include "archiver/dmarc/dmarc_pipeline.h"

#include <gtest/gtest.h>

#include "dmarc/dmarc_pipeline_test_util.h"

namespace archiver {
namespace {

using namespace pipeline_testing;

TEST(DmarcPipelineTest, AggregatePayloadQuirks) {
  const std::string xml = Fixture("aggregate.xml");
  const struct {
    const char* name;
    const char* type;
    const char* filename;
    const char* path;
    std::string body;
    const char* stored_part;  // DmarcOrigin::part of the report
    const char* note;         // a part of the expected note, or nullptr
  } cases[] = {
      {"xml", "application/xml", "report.xml", "2", xml, "2", nullptr},
      {"text/xml without a name", "text/xml", "", "2", xml, "2", nullptr},
      {"gzip", "application/gzip", "r.xml.gz", "2", GzipOf(xml), "2", nullptr},
      {"gzip in gzip", "application/gzip", "r.xml.gz.gz", "3", GzipOf(GzipOf(xml)), "3", nullptr},
      {"gzip, trailing garbage", "application/x-gzip", "r.xml.gz", "2",
       GzipOf(xml) + "\r\n-- garbage --\r\n", "2", "bytes after the gzip stream ignored"},
      {"zip", "application/zip", "r.zip", "2", ZipOf({{"report.xml", xml}}), "2/report.xml",
       nullptr},
      {"zip, empty entry name", "application/zip", "r.zip", "2", ZipOf({{"", xml}}), "2/", nullptr},
      {"zip, a text entry beside", "application/zip", "r.zip", "2",
       ZipOf({{"readme.txt", "hello"}, {"r.xml", xml}}), "2/r.xml", "zip entry \"readme.txt\""},
      {"zlib", "application/octet-stream", "r.zlib", "2", ZlibOf(xml), "2", nullptr},
      {".xml named .txt, octet-stream", "application/octet-stream", "report.txt", "2", xml, "2",
       nullptr},
      {"gzip named .zip, typed text/plain", "text/plain", "report.zip", "1.2", GzipOf(xml), "1.2",
       nullptr},
      {"inline XML body, no type", "", "", "1", xml, "1", nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Archive archive;
    std::vector<DmarcItem> items = Feed(archive, {Part("text/plain", "", "1", "See attached."),
                                                  Part(c.type, c.filename, c.path, c.body)});
    ASSERT_EQ(items.size(), 1u);
    const DmarcItem& item = items[0];
    EXPECT_EQ(item.kind, DmarcItemKind::kAggregate);
    ASSERT_EQ(item.result, DmarcItemResult::kOk) << item.reason;
    EXPECT_EQ(item.part, c.stored_part);
    EXPECT_EQ(item.records, 2u);
    EXPECT_EQ(item.messages, 7u);
    EXPECT_FALSE(item.recovered);
    if (c.note != nullptr) {
      ASSERT_EQ(item.notes.size(), 1u);
      EXPECT_NE(item.notes[0].find(c.note), std::string::npos) << item.notes[0];
    } else {
      EXPECT_TRUE(item.notes.empty());
    }
    auto report = archive.dmarc->GetReport(item.id);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->meta.report_id, "pipeline-fixture-1");
    EXPECT_EQ(report->records, 2u);
    EXPECT_EQ(report->messages, 7u);
    EXPECT_EQ(report->origin.part, c.stored_part);
    EXPECT_EQ(report->origin.kind, DmarcOriginKind::kMail);
    EXPECT_EQ(report->origin.detail, "dmarc@receiver.example INBOX");
    EXPECT_TRUE(archive.Errors().empty());
  }
}

TEST(DmarcPipelineTest, SeveralDocumentsAndDuplicates) {
  const std::string xml = Fixture("aggregate.xml");
  std::string other = xml;
  other.replace(other.find("pipeline-fixture-1"), 18, "pipeline-fixture-2");
  Archive archive;
  std::string zipped = ZipOf({{"a.xml", xml}, {"b.xml", other}});
  std::vector<DmarcItem> items = Feed(archive, {Part("application/zip", "two.zip", "2", zipped),
                                                Part("application/xml", "again.xml", "3", xml)});
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].part, "2/a.xml");
  EXPECT_EQ(items[1].part, "2/b.xml");
  EXPECT_EQ(items[0].result, DmarcItemResult::kOk);
  EXPECT_EQ(items[1].result, DmarcItemResult::kOk);
  EXPECT_NE(items[0].id, items[1].id);
  EXPECT_EQ(items[2].result, DmarcItemResult::kDuplicate);
  EXPECT_EQ(items[2].id, items[0].id);
  auto stats = archive.dmarc->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, 2u);
  EXPECT_EQ(stats->records, 4u);
}

// Feeds `parts` as one mail that must yield exactly one failure report, stored from
// `part` with no ledger error; returns it as stored.
DmarcFailure OneFailure(Archive& archive, const std::vector<DmarcPart>& parts,
                        const std::string& part) {
  std::vector<DmarcItem> items = Feed(archive, parts);
  EXPECT_EQ(items.size(), 1u);
  if (items.size() != 1) return {};
  EXPECT_EQ(items[0].kind, DmarcItemKind::kFailure);
  EXPECT_EQ(items[0].result, DmarcItemResult::kOk) << items[0].reason;
  EXPECT_EQ(items[0].part, part);
  EXPECT_TRUE(archive.Errors().empty());
  auto failure = archive.dmarc->GetFailure(items[0].id);
  EXPECT_TRUE(failure.ok()) << failure.status().ToString();
  if (!failure.ok()) return {};
  EXPECT_EQ(failure->origin.part, part);
  return *failure;
}

TEST(DmarcPipelineTest, ArfPairedWithItsOriginal) {
  const std::string feedback = Fixture("feedback-report.txt");
  const std::string headers = Fixture("original-headers.txt");
  const std::string original = headers + "\n<html>Pay now</html>\n";
  const struct {
    const char* name;
    std::vector<DmarcPart> parts;
  } cases[] = {
      {"text/rfc822-headers",
       {Part("text/plain", "", "1", "This is an authentication failure report."),
        Part("message/feedback-report", "", "2", feedback),
        Part("text/rfc822-headers", "", "3", headers)}},
      // The original's own parts follow it: even one that looks like a broken report
      // attachment is the original's business, not a report.
      {"message/rfc822 and its parts",
       {Part("text/plain", "", "1", "This is an authentication failure report."),
        Part("message/feedback-report", "", "2", feedback),
        Part("message/rfc822", "", "3", original),
        Part("text/html", "", "3.1", "<html>Pay now</html>"),
        Part("application/gzip", "invoice.gz", "3.2", "\x1f\x8b not really")}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Archive archive;
    FailureReport report = OneFailure(archive, c.parts, "2").report;
    EXPECT_TRUE(report.is_dmarc);
    EXPECT_EQ(report.feedback_type, "auth-failure");
    EXPECT_EQ(report.source_ip, "198.51.100.7");
    EXPECT_EQ(report.original_subject, "Your invoice is overdue");
    EXPECT_EQ(report.policy_domain, "example.com");
  }
}

TEST(DmarcPipelineTest, ArfWithoutOriginalIsStoredAtFinish) {
  Archive archive;
  const std::string feedback = Fixture("feedback-report.txt");
  FailureReport report = OneFailure(archive,
                                    {Part("text/plain", "", "1", "A failure report."),
                                     Part("message/feedback-report", "", "2", feedback)},
                                    "2")
                             .report;
  EXPECT_TRUE(report.is_dmarc);
  EXPECT_TRUE(report.original_headers.empty());
  EXPECT_EQ(report.policy_domain, "example.com");
}

TEST(DmarcPipelineTest, NonDmarcArfIsStoredAsSuch) {
  Archive archive;
  const std::string feedback = Fixture("abuse-feedback-report.txt");
  const std::string original = Fixture("original-headers.txt");
  FailureReport report = OneFailure(archive,
                                    {Part("text/plain", "", "1", "This is an abuse report."),
                                     Part("message/feedback-report", "", "2", feedback),
                                     Part("message/rfc822", "", "3", original)},
                                    "2")
                             .report;
  EXPECT_EQ(report.feedback_type, "abuse");
  EXPECT_FALSE(report.is_dmarc);
  EXPECT_EQ(report.original_subject, "Your invoice is overdue");
}

TEST(DmarcPipelineTest, BrokenFeedbackPartIsALedgerError) {
  Archive archive;
  const std::string headers = Fixture("original-headers.txt");
  DmarcError error =
      OneError(archive,
               {Part("message/feedback-report", "", "2", "this is not a header block\n"),
                Part("text/rfc822-headers", "", "3", headers)},
               "failure");
  EXPECT_EQ(error.origin.part, "2");
  EXPECT_FALSE(error.reason.empty());
}

TEST(DmarcPipelineTest, EximTextReport) {
  const std::string exim = Fixture("exim-report.txt");
  const std::string feedback = Fixture("feedback-report.txt");
  const std::string headers = Fixture("original-headers.txt");
  {
    Archive archive;
    FailureReport report = OneFailure(archive, {Part("text/plain", "", "1", exim)}, "1").report;
    EXPECT_EQ(report.feedback_type, "auth-failure");
    EXPECT_EQ(report.auth_failure, "dmarc");
    EXPECT_EQ(report.source_ip, "203.0.113.68");
    EXPECT_EQ(report.original_subject, "Urgent wire transfer");
  }
  {
    // The same text as the human-readable part of an ARF report: only the ARF part counts.
    Archive archive;
    FailureReport report = OneFailure(archive,
                                      {Part("text/plain", "", "1", exim),
                                       Part("message/feedback-report", "", "2", feedback),
                                       Part("text/rfc822-headers", "", "3", headers)},
                                      "2")
                               .report;
    EXPECT_EQ(report.source_ip, "198.51.100.7");
  }
}

TEST(DmarcPipelineTest, MailWithoutReport) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  const std::string headers = Fixture("original-headers.txt");
  const std::vector<DmarcPart> parts = {
      Part("text/plain", "", "1", "Hello,\nno report here.\n"),
      Part("text/plain", "", "2", "hb: begins like a zlib header\n"),
      Part("text/html", "", "3", "<!DOCTYPE html><html><body>Hi</body></html>"),
      Part("image/png", "logo.png", "4", png),
      Part("application/pkcs7-signature", "smime.p7s", "5", std::string_view("0\x82\x06\x1f", 4)),
      Part("application/pdf", "invoice.pdf", "6", "%PDF-1.7\n"),
      Part("text/rfc822-headers", "", "7", headers),
  };
  {
    Archive archive;
    DmarcError error = OneError(archive, parts, "mail");
    EXPECT_EQ(error.reason, "no DMARC report found in the mail");
    EXPECT_EQ(error.origin.part, "");
    EXPECT_EQ(error.origin.detail, "dmarc@receiver.example INBOX");
  }
  {
    Archive archive;
    EXPECT_TRUE(Feed(archive, parts, /*quiet=*/true).empty());
    EXPECT_TRUE(archive.Errors().empty());
  }
}

// An error the caller found (a part over the MIME walk's size limit) is recorded like
// the pipeline's own, and the mail is then not "without a report".
TEST(DmarcPipelineTest, ErrorsFoundOutsideThePipeline) {
  Archive archive;
  DmarcMailPipeline pipeline(*archive.dmarc, {}, MailOrigin());
  ASSERT_TRUE(pipeline.AddPart(Part("text/plain", "", "1", "Report attached.")).ok());
  ASSERT_TRUE(pipeline.RecordError(DmarcItemKind::kPayload, "2", "part of 20 MB exceeds 10485760 bytes").ok());
  auto items = pipeline.Finish();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].kind, DmarcItemKind::kPayload);
  EXPECT_EQ((*items)[0].part, "2");
  std::vector<DmarcError> errors = archive.Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason, "part of 20 MB exceeds 10485760 bytes");
  EXPECT_EQ(errors[0].origin.part, "2");
}

// Only the store's own failures are returned: a read-only archive refuses both the
// report and the error that a broken part would leave.
TEST(DmarcPipelineTest, StoreFailuresAreReturned) {
  Archive archive;
  ASSERT_EQ(Feed(archive, {Part("application/xml", "a.xml", "1", Fixture("aggregate.xml"))}).size(),
            1u);
  archive.Reopen(/*read_only=*/true);
  std::string other = Fixture("aggregate.xml");
  other.replace(other.find("pipeline-fixture-1"), 18, "pipeline-fixture-9");
  {
    DmarcMailPipeline pipeline(*archive.dmarc, {}, MailOrigin());
    Status status = pipeline.AddPart(Part("application/xml", "b.xml", "1", other));
    EXPECT_FALSE(status.ok());
  }
  {
    DmarcMailPipeline pipeline(*archive.dmarc, {}, MailOrigin());
    Status status = pipeline.AddPart(Part("application/gzip", "b.gz", "1", "\x1f\x8bjunk"));
    EXPECT_FALSE(status.ok());
  }
  {
    DmarcMailPipeline pipeline(*archive.dmarc, {}, MailOrigin());
    EXPECT_FALSE(pipeline.Finish().ok());  // "no DMARC report found" cannot be recorded
  }
}

}  // namespace
}  // namespace archiver
