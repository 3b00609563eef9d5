// DmarcStore: failure reports (round trip, deduplication, domain and arrival filters),
// the error ledger (idempotency, ForgetErrorsOf) and the report mails seen.
#include <gtest/gtest.h>

#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_store_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

FailureReport Failure(const std::string& domain, std::optional<int64_t> arrival,
                      const std::string& subject) {
  FailureReport report;
  report.feedback_type = "auth-failure";
  report.version = "1";
  report.user_agent = "Reporter/1.0";
  report.arrival_date = "Wed, 1 May 2024 12:00:00 +0000";
  report.arrival_time = arrival;
  report.source_ip = "192.0.2.7";
  report.reported_domain = domain;
  report.reporting_mta = "dns; mx.reporter.example";
  report.original_envelope_id = "env-1";
  report.original_mail_from = "bounce@" + domain;
  report.original_rcpt_to = {"a@rcpt.example", "b@rcpt.example"};
  report.authentication_results = "mx.reporter.example; dmarc=fail header.from=" + domain;
  report.auth_failure = "dmarc";
  report.delivery_result = "reject";
  report.identity_alignment = "dkim, spf";
  report.dkim_domain = domain;
  report.dkim_identity = "@" + domain;
  report.dkim_selector = "sel";
  report.spf_dns = "txt : " + domain + " : v=spf1 -all";
  report.fields = {{"Feedback-Type", "auth-failure"},
                   {"Reported-Domain", domain},
                   {"Arrival-Date", report.arrival_date}};
  report.is_dmarc = true;
  report.original_headers = "From: x@" + domain + "\r\nSubject: " + subject + "\r\n";
  report.original_from = "x@" + domain;
  report.original_to = "a@rcpt.example";
  report.original_subject = subject;
  report.original_date = "Wed, 1 May 2024 11:59:00 +0000";
  report.original_message_id = "<m1@" + domain + ">";
  report.policy_domain = domain;
  return report;
}

DmarcOrigin MailOrigin(const MessageId& mail, const std::string& part) {
  DmarcOrigin origin;
  origin.kind = DmarcOriginKind::kMail;
  origin.detail = "dmarc@example.org";
  origin.mail = mail;
  origin.part = part;
  return origin;
}

class DmarcLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenTestStore(dir_.Sub("archive"));
    ASSERT_TRUE(store_);
    dmarc_ = std::make_unique<DmarcStore>(store_);
  }
  std::vector<std::string> FailureSubjects(const DmarcFilter& filter) {
    std::vector<std::string> subjects;
    for (const DmarcFailure& failure : testing::Collect<DmarcFailure>(
             [&](const auto& visit) { return dmarc_->ListFailures(filter, visit); })) {
      subjects.push_back(failure.report.original_subject);
    }
    return subjects;
  }
  std::vector<DmarcError> Errors() {
    return testing::Collect<DmarcError>(
        [&](const auto& visit) { return dmarc_->ListErrors(visit); });
  }
  std::vector<std::string> ErrorReasons() {
    std::vector<std::string> reasons;
    for (const DmarcError& error : Errors()) reasons.push_back(error.reason);
    return reasons;
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<DmarcStore> dmarc_;
};

TEST_F(DmarcLedgerTest, FailureReportsRoundTripAndDeduplicate) {
  const MessageId mail = Sha256::Of("mail");
  const FailureReport report = Failure("Example.ORG", 1714564800, "first");
  Result<DmarcImportResult> stored = dmarc_->ImportFailure(report, MailOrigin(mail, "2"));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->outcome, DmarcImportOutcome::kStored);
  EXPECT_EQ(stored->id, 1u);

  Result<DmarcFailure> read = dmarc_->GetFailure(stored->id);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->id, 1u);
  EXPECT_GT(read->imported_us, 0u);
  EXPECT_EQ(read->origin.mail, mail);
  EXPECT_EQ(read->origin.part, "2");
  const FailureReport& got = read->report;
  EXPECT_EQ(got.feedback_type, report.feedback_type);
  EXPECT_EQ(got.version, report.version);
  EXPECT_EQ(got.user_agent, report.user_agent);
  EXPECT_EQ(got.arrival_date, report.arrival_date);
  EXPECT_EQ(got.arrival_time, report.arrival_time);
  EXPECT_EQ(got.source_ip, report.source_ip);
  EXPECT_EQ(got.reported_domain, report.reported_domain);
  EXPECT_EQ(got.reporting_mta, report.reporting_mta);
  EXPECT_EQ(got.original_envelope_id, report.original_envelope_id);
  EXPECT_EQ(got.original_mail_from, report.original_mail_from);
  EXPECT_EQ(got.original_rcpt_to, report.original_rcpt_to);
  EXPECT_EQ(got.authentication_results, report.authentication_results);
  EXPECT_EQ(got.auth_failure, report.auth_failure);
  EXPECT_EQ(got.delivery_result, report.delivery_result);
  EXPECT_EQ(got.identity_alignment, report.identity_alignment);
  EXPECT_EQ(got.dkim_domain, report.dkim_domain);
  EXPECT_EQ(got.dkim_identity, report.dkim_identity);
  EXPECT_EQ(got.dkim_selector, report.dkim_selector);
  EXPECT_EQ(got.spf_dns, report.spf_dns);
  EXPECT_EQ(got.fields, report.fields);
  EXPECT_TRUE(got.is_dmarc);
  EXPECT_EQ(got.original_headers, report.original_headers);
  EXPECT_EQ(got.original_from, report.original_from);
  EXPECT_EQ(got.original_to, report.original_to);
  EXPECT_EQ(got.original_subject, report.original_subject);
  EXPECT_EQ(got.original_date, report.original_date);
  EXPECT_EQ(got.original_message_id, report.original_message_id);
  EXPECT_EQ(got.policy_domain, report.policy_domain);

  // The same fields and headers, from another mail: the same report.
  Result<DmarcImportResult> again =
      dmarc_->ImportFailure(report, MailOrigin(Sha256::Of("other mail"), "3"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, DmarcImportOutcome::kDuplicate);
  EXPECT_EQ(again->id, 1u);
  // Other original headers, or another field value: another report.
  EXPECT_EQ(dmarc_->ImportFailure(Failure("Example.ORG", 1714564800, "second"), {})->outcome,
            DmarcImportOutcome::kStored);
  FailureReport other_field = report;
  other_field.fields.emplace_back("Source-IP", "192.0.2.8");
  EXPECT_EQ(dmarc_->ImportFailure(other_field, {})->outcome, DmarcImportOutcome::kStored);
  EXPECT_EQ(dmarc_->GetFailure(9).status().code(), Status::Code::kNotFound);
  Result<DmarcStats> stats = dmarc_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->failures, 3u);
}

TEST_F(DmarcLedgerTest, ListsFailuresByDomainAndArrival) {
  ASSERT_TRUE(dmarc_->ImportFailure(Failure("a.example", 1000, "a-1000"), {}).ok());
  ASSERT_TRUE(dmarc_->ImportFailure(Failure("b.example", 2000, "b-2000"), {}).ok());
  ASSERT_TRUE(dmarc_->ImportFailure(Failure("A.example", 3000, "a-3000"), {}).ok());
  // No arrival date: listed by its import time (now), so newest.
  ASSERT_TRUE(dmarc_->ImportFailure(Failure("a.example", std::nullopt, "a-now"), {}).ok());

  struct Case {
    const char* name;
    std::string domain;
    int64_t since, until;
    uint64_t limit;
    std::vector<std::string> expected;
  } cases[] = {
      {"all", "", INT64_MIN, INT64_MAX, 0, {"a-now", "a-3000", "b-2000", "a-1000"}},
      {"domain, any case", "a.EXAMPLE", INT64_MIN, INT64_MAX, 0, {"a-now", "a-3000", "a-1000"}},
      {"arrival period", "", 1000, 3000, 0, {"b-2000", "a-1000"}},
      {"domain and period", "a.example", 1001, 1000000, 0, {"a-3000"}},
      {"limit", "a.example", INT64_MIN, INT64_MAX, 1, {"a-now"}},
      {"unknown domain", "c.example", INT64_MIN, INT64_MAX, 0, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    DmarcFilter filter;
    filter.domain = c.domain;
    filter.since = c.since;
    filter.until = c.until;
    filter.limit = c.limit;
    EXPECT_EQ(FailureSubjects(filter), c.expected);
  }
}

TEST_F(DmarcLedgerTest, ErrorLedgerIsIdempotentAndForgetsPerMail) {
  const MessageId mail_a = Sha256::Of("mail a"), mail_b = Sha256::Of("mail b");
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "gzip: invalid header", MailOrigin(mail_a, "2")).ok());
  ASSERT_TRUE(
      dmarc_->RecordError(DmarcItemKind::kAggregate, "XML: DOCTYPE not allowed", MailOrigin(mail_a, "3")).ok());
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kMail, "no DMARC report found", MailOrigin(mail_b, "")).ok());
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "zip: not a zip", testing::FileOrigin("/r.zip")).ok());
  // Again: the same (mail, part, reason) and (file, part, reason) are recorded once;
  // the same reason in another part or mail is another entry.
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "gzip: invalid header", MailOrigin(mail_a, "2")).ok());
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "zip: not a zip", testing::FileOrigin("/r.zip")).ok());
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "gzip: invalid header", MailOrigin(mail_b, "2")).ok());
  EXPECT_EQ(ErrorReasons(), (std::vector<std::string>{
                                "gzip: invalid header", "zip: not a zip", "no DMARC report found",
                                "XML: DOCTYPE not allowed", "gzip: invalid header"}));
  const std::vector<DmarcError> errors = Errors();
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors.back().id, 1u);
  EXPECT_EQ(errors.back().kind, DmarcItemKind::kPayload);
  EXPECT_EQ(errors.back().origin.mail, mail_a);
  EXPECT_EQ(errors.back().origin.part, "2");
  EXPECT_GT(errors.back().time_us, 0u);
  EXPECT_EQ(errors[1].origin.kind, DmarcOriginKind::kFile);
  EXPECT_EQ(errors[1].origin.detail, "/r.zip");
  EXPECT_FALSE(errors[1].origin.mail.has_value());

  ASSERT_TRUE(dmarc_->ForgetErrorsOf(mail_a).ok());
  EXPECT_EQ(ErrorReasons(), (std::vector<std::string>{"gzip: invalid header", "zip: not a zip",
                                                      "no DMARC report found"}));
  ASSERT_TRUE(dmarc_->ForgetErrorsOf(mail_a).ok());  // nothing left: still fine
  // Forgotten errors are recorded again when the mail is processed again.
  ASSERT_TRUE(dmarc_->RecordError(DmarcItemKind::kPayload, "gzip: invalid header", MailOrigin(mail_a, "2")).ok());
  EXPECT_EQ(ErrorReasons().size(), 4u);
  Result<DmarcStats> stats = dmarc_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->errors, 4u);
}

TEST_F(DmarcLedgerTest, NotesReportMails) {
  DmarcMail first;
  first.mail = Sha256::Of("mail 1");
  first.processed_us = 1714564800000000;
  first.user = "dmarc";
  first.mailbox = "INBOX";
  first.reports = 2;
  first.errors = 1;
  DmarcMail second = first;
  second.mail = Sha256::Of("mail 2");
  second.failures = 1;
  EXPECT_FALSE(*dmarc_->MailNoted(first.mail));  // no DMARC databases yet
  ASSERT_TRUE(dmarc_->NoteMail(first).ok());
  EXPECT_TRUE(*dmarc_->MailNoted(first.mail));
  EXPECT_FALSE(*dmarc_->MailNoted(second.mail));
  ASSERT_TRUE(dmarc_->NoteMail(second).ok());
  first.errors = 0;  // processed again, fixed
  first.reports = 3;
  ASSERT_TRUE(dmarc_->NoteMail(first).ok());

  const std::vector<DmarcMail> mails =
      testing::Collect<DmarcMail>([&](const auto& visit) { return dmarc_->ListMails(visit); });
  ASSERT_EQ(mails.size(), 2u);
  EXPECT_LT(ToHex(mails[0].mail), ToHex(mails[1].mail));  // id order
  const DmarcMail& got = mails[0].mail == first.mail ? mails[0] : mails[1];
  EXPECT_EQ(got.processed_us, first.processed_us);
  EXPECT_EQ(got.user, "dmarc");
  EXPECT_EQ(got.mailbox, "INBOX");
  EXPECT_EQ(got.reports, 3u);
  EXPECT_EQ(got.failures, 0u);
  EXPECT_EQ(got.errors, 0u);
  Result<DmarcStats> stats = dmarc_->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->mails, 2u);
}

}  // namespace
}  // namespace archiver
