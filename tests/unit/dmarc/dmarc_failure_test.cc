// Tests for the failure-report parsers: one fixture per family of shapes real reporters
// send (OpenDMARC, Netease-style CRLF, lowercase and folded, RFC 6591 DKIM fields, a
// non-DMARC abuse report, Exim's text form), the original message's headers, and input
// that is not a report.
#include "archiver/dmarc/dmarc_failure.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace archiver {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(ARCHIVER_DMARC_FIXTURES) + "/failure/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  EXPECT_FALSE(out.str().empty()) << "fixture " << name << " missing";
  return out.str();
}

FailureReport ParseFixtures(const std::string& feedback, const std::string& original = "") {
  Result<FailureReport> parsed =
      ParseFailureReport(Fixture(feedback), original.empty() ? "" : Fixture(original));
  EXPECT_TRUE(parsed.ok()) << feedback << ": " << parsed.status().ToString();
  return parsed.ok() ? std::move(parsed.value()) : FailureReport();
}

TEST(DmarcFailureTest, OpenDmarcWithHeadersPart) {
  FailureReport report = ParseFixtures("opendmarc.feedback", "opendmarc.headers");
  EXPECT_EQ(report.feedback_type, "auth-failure");
  EXPECT_EQ(report.version, "1");
  EXPECT_EQ(report.user_agent, "OpenDMARC-Filter/1.4.2");
  EXPECT_EQ(report.auth_failure, "dmarc");
  EXPECT_EQ(report.authentication_results,
            "mx.receiver.example; dmarc=fail header.from=shop.example");
  EXPECT_EQ(report.original_envelope_id, "4QX2bT0Zz9");
  EXPECT_EQ(report.original_mail_from, "bounce@mailer.shop.example");
  EXPECT_EQ(report.source_ip, "198.51.100.23");  // "(relay.mailer.example)" dropped
  EXPECT_EQ(report.reported_domain, "shop.example");
  EXPECT_EQ(report.arrival_date, "");
  EXPECT_FALSE(report.arrival_time.has_value());
  EXPECT_TRUE(report.is_dmarc);
  EXPECT_EQ(report.policy_domain, "shop.example");
  ASSERT_EQ(report.fields.size(), 9u);
  EXPECT_EQ(report.fields[7], (std::pair<std::string, std::string>(
                                  "Source-IP", "198.51.100.23 (relay.mailer.example)")));
  // The original's headers, RFC 2047 decoded.
  EXPECT_EQ(report.original_from, "Gr\xC3\xBCne Wiese Shop <news@Shop.Example>");
  EXPECT_EQ(report.original_to, "Anna <anna@receiver.example>");
  EXPECT_EQ(report.original_subject, "Ihre Bestellung f\xC3\xBCr M\xC3\xA4rz");
  EXPECT_EQ(report.original_date, "Tue, 14 May 2024 07:12:40 +0000");
  EXPECT_EQ(report.original_message_id, "<20240514071240.5512@shop.example>");
  EXPECT_EQ(report.original_headers, Fixture("opendmarc.headers"));
}

// CRLF, no final line break, Version 1, a bracketed Original-Mail-From, a folded
// Authentication-Results, "spf,dkim"; the original is a whole message.
TEST(DmarcFailureTest, CrlfReportWithWholeOriginalMessage) {
  FailureReport report = ParseFixtures("netease.feedback", "netease.eml");
  EXPECT_EQ(report.feedback_type, "auth-failure");
  EXPECT_EQ(report.user_agent, "ExampleDmarcReporter/2.0");
  EXPECT_EQ(report.original_mail_from, "bounces+77-ab=webmail.example@mail.crm.example");
  EXPECT_EQ(report.arrival_date, "Sat, 06 Jul 2024 18:02:11 +0800");
  EXPECT_EQ(report.arrival_time, 1720260131);
  EXPECT_EQ(report.source_ip, "203.0.113.77");
  EXPECT_EQ(report.reported_domain, "Tenant.Example");  // as given ...
  EXPECT_EQ(report.policy_domain, "tenant.example");    // ... and lowercased
  EXPECT_EQ(report.original_envelope_id, "rX8AAAbcd--.1234S2");
  EXPECT_EQ(report.authentication_results,
            "webmail.example; dkim=pass header.d=crm.example; spf=pass "
            "smtp.mailfrom=bounces+77-ab=webmail.example@mail.crm.example");
  EXPECT_EQ(report.dkim_domain, "crm.example");
  EXPECT_EQ(report.delivery_result, "delivered");
  EXPECT_EQ(report.identity_alignment, "spf,dkim");
  EXPECT_TRUE(report.is_dmarc);
  EXPECT_EQ(report.fields.size(), 12u);
  EXPECT_EQ(report.original_from, "Tenant Portal <portal@tenant.example>");
  EXPECT_EQ(report.original_to, "\"Lee, Min\" <min.lee@webmail.example>");
  EXPECT_EQ(report.original_subject, "Rent reminder");
  EXPECT_EQ(report.original_message_id, "<abcDEF123@mail.crm.example>");
  // Only the header block is kept: not the body, nor a "From:" line in it.
  EXPECT_TRUE(report.original_headers.starts_with("Received: from mail.crm.example"));
  EXPECT_TRUE(report.original_headers.ends_with("charset=\"us-ascii\"\r\n"));
  EXPECT_EQ(report.original_headers.find("rent is due"), std::string::npos);
}

// Lowercase names, no Version, several Reported-Domain and Original-Rcpt-To, an empty
// Original-Mail-From, an IPv6 Source-IP in brackets, a date without weekday, a field
// folded over lines with tabs, an unknown field; no original.
TEST(DmarcFailureTest, LowercaseFoldedAndRepeatedFields) {
  FailureReport report = ParseFixtures("lowercase_folded.feedback");
  EXPECT_EQ(report.feedback_type, "auth-failure");
  EXPECT_EQ(report.version, "");
  EXPECT_EQ(report.user_agent, "Example-MTA/3.1");
  EXPECT_EQ(report.auth_failure, "dmarc");
  EXPECT_EQ(report.arrival_date, "8 Jun 2024 20:15:58 +0000 (GMT)");
  EXPECT_EQ(report.arrival_time, 1717877758);
  EXPECT_EQ(report.source_ip, "2001:DB8::25");
  EXPECT_EQ(report.reported_domain, "first.example");
  EXPECT_EQ(report.original_rcpt_to,
            (std::vector<std::string>{"ops@receiver.example", "audit@receiver.example"}));
  EXPECT_EQ(report.original_mail_from, "");
  EXPECT_EQ(report.authentication_results,
            "mx1.receiver.example; dkim=fail (bodyhash mismatch) header.d=first.example; "
            "spf=softfail smtp.mailfrom=first.example; dmarc=fail header.from=first.example");
  EXPECT_EQ(report.delivery_result, "reject");
  EXPECT_TRUE(report.is_dmarc);
  EXPECT_EQ(report.policy_domain, "first.example");
  ASSERT_EQ(report.fields.size(), 13u);
  EXPECT_EQ(report.fields[6].first, "reported-domain");
  EXPECT_EQ(report.fields[6].second, "second.example");
  EXPECT_EQ(report.fields[9].first, "ORIGINAL-MAIL-FROM");
  EXPECT_EQ(report.fields[9].second, "");
  EXPECT_EQ(report.fields[12].first, "x-custom-note");
  EXPECT_EQ(report.fields[12].second, "kept too");
  EXPECT_TRUE(report.original_headers.empty());
  EXPECT_TRUE(report.original_from.empty());
}

// RFC 6591's DKIM and SPF fields; Auth-Failure other than dmarc.
TEST(DmarcFailureTest, Rfc6591DkimFields) {
  FailureReport report = ParseFixtures("bodyhash.feedback");
  EXPECT_EQ(report.auth_failure, "bodyhash");
  EXPECT_TRUE(report.is_dmarc);  // an auth-failure report
  EXPECT_EQ(report.dkim_domain, "bank.example");
  EXPECT_EQ(report.dkim_identity, "@bank.example");
  EXPECT_EQ(report.dkim_selector, "mail2024");
  EXPECT_EQ(report.spf_dns, "txt : bank.example : \"v=spf1 ip4:192.0.2.0/24 -all\"");
  EXPECT_EQ(report.reporting_mta, "dns; mta7.receiver.example");
  EXPECT_EQ(report.authentication_results,
            "mta7.receiver.example; dkim=fail (bodyhash) header.d=bank.example");
  EXPECT_EQ(report.arrival_time, 1727900158);
  EXPECT_EQ(report.source_ip, "192.0.2.55");
  bool saw_body = false;
  for (const auto& [name, value] : report.fields) {
    if (name == "DKIM-Canonicalized-Body") {
      saw_body = true;
      EXPECT_EQ(value, "VGhpcyBib2R5IHdhcyBjaGFuZ2VkIG9u IHRoZSB3YXku");
    }
  }
  EXPECT_TRUE(saw_body);
  EXPECT_EQ(report.fields.back().first, "Reported-URI");
}

// An ARF report that is not about DMARC; no Reported-Domain, so the policy domain is the
// original From's; the original starts with an mbox separator line.
TEST(DmarcFailureTest, AbuseReportIsNotDmarc) {
  FailureReport report = ParseFixtures("abuse.feedback", "abuse.eml");
  EXPECT_EQ(report.feedback_type, "abuse");
  EXPECT_FALSE(report.is_dmarc);
  EXPECT_EQ(report.reported_domain, "");
  EXPECT_EQ(report.policy_domain, "news.example");
  EXPECT_EQ(report.original_mail_from, "list@news.example");
  EXPECT_EQ(report.original_rcpt_to, std::vector<std::string>{"member@isp.example"});
  EXPECT_EQ(report.arrival_time, 1722520800);
  EXPECT_EQ(report.original_from, "\"Weekly News\" <list@NEWS.Example>");
  EXPECT_EQ(report.original_subject, "This week");
  EXPECT_TRUE(report.original_headers.starts_with("Received: from out.news.example"));
}

TEST(DmarcFailureTest, IsDmarcFromTheFields) {
  struct Case {
    const char* report;
    bool is_dmarc;
  };
  const Case cases[] = {
      {"Feedback-Type: auth-failure\n", true},
      {"Feedback-Type: AUTH-FAILURE\n", true},
      {"Feedback-Type: abuse\n", false},
      {"Feedback-Type: fraud\nAuth-Failure: dkim\n", false},
      {"Feedback-Type: other\nAuth-Failure: DMARC\n", true},
      {"Feedback-Type: other\nIdentity-Alignment: none\n", true},
      {"Feedback-Type: abuse\nAuthentication-Results: x; dmarc=fail\n", false},
  };
  for (const Case& c : cases) {
    Result<FailureReport> parsed = ParseFailureReport(c.report, "");
    ASSERT_TRUE(parsed.ok()) << c.report;
    EXPECT_EQ(parsed->is_dmarc, c.is_dmarc) << c.report;
  }
}

// The same report written with LF, CRLF and lone CR line ends reads the same.
TEST(DmarcFailureTest, LineEndingsReadAlike) {
  const std::string lf = Fixture("lowercase_folded.feedback");
  auto with_ending = [&lf](std::string_view ending) {
    std::string out;
    for (char c : lf) {
      if (c == '\n') {
        out.append(ending);
      } else {
        out.push_back(c);
      }
    }
    return out;
  };
  Result<FailureReport> expected = ParseFailureReport(lf, "");
  ASSERT_TRUE(expected.ok());
  for (std::string_view ending : {"\r\n", "\r"}) {
    Result<FailureReport> parsed = ParseFailureReport(with_ending(ending), "");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->fields, expected->fields);
    EXPECT_EQ(parsed->authentication_results, expected->authentication_results);
    EXPECT_EQ(parsed->original_rcpt_to, expected->original_rcpt_to);
    EXPECT_EQ(parsed->arrival_time, expected->arrival_time);
  }
}

TEST(DmarcFailureTest, SourceIpForms) {
  struct Case {
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"192.0.2.1", "192.0.2.1"},
      {"[192.0.2.1]", "192.0.2.1"},
      {"192.0.2.1 (mail.example.net)", "192.0.2.1"},
      {"(mail.example.net) 192.0.2.1", "192.0.2.1"},
      {"2001:db8::1", "2001:db8::1"},
      {"[2001:db8::1]", "2001:db8::1"},
      {"IPv6:2001:db8::1", "2001:db8::1"},
      {"[ipv6:::ffff:192.0.2.1]", "::ffff:192.0.2.1"},
      {"unknown", "unknown"},
      {"(only a comment)", "(only a comment)"},
  };
  for (const Case& c : cases) {
    Result<FailureReport> parsed =
        ParseFailureReport(std::string("Feedback-Type: auth-failure\nSource-IP: ") + c.value, "");
    ASSERT_TRUE(parsed.ok()) << c.value;
    EXPECT_EQ(parsed->source_ip, c.expected) << c.value;
  }
}

TEST(DmarcFailureTest, NotAReportIsAnError) {
  struct Case {
    const char* name;
    std::string report;
    Status::Code code;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty", "", Status::Code::kInvalidArgument, "no header fields"},
      {"blank lines", "\r\n\r\n \r\n", Status::Code::kInvalidArgument, "no header fields"},
      {"prose", "This is an email abuse report.\nPlease see below.\n",
       Status::Code::kInvalidArgument, "no header fields"},
      {"binary", std::string("\x1f\x8b\x08\x00\xff\xfe\x00\x01", 8), Status::Code::kInvalidArgument,
       "no header fields"},
      {"headers but no Feedback-Type", "Subject: hello\nFrom: a@example.com\n",
       Status::Code::kInvalidArgument, "no Feedback-Type"},
      {"too large", "Feedback-Type: abuse\nX-Filler: " + std::string(2u << 20, 'x') + "\n",
       Status::Code::kLimitExceeded, "exceeds the limit"},
  };
  for (const Case& c : cases) {
    Result<FailureReport> parsed = ParseFailureReport(c.report, "From: a@example.com\n");
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_EQ(parsed.status().code(), c.code) << c.name << ": " << parsed.status().ToString();
    EXPECT_NE(parsed.status().message().find(c.message_part), std::string::npos)
        << c.name << ": " << parsed.status().ToString();
  }
}

// The original's header block is kept up to 64 KiB, cut at a line end; an original
// that is junk or absent never fails the report.
TEST(DmarcFailureTest, OriginalHeadersAreCapped) {
  const std::string report = "Feedback-Type: auth-failure\nReported-Domain: example.org\n";
  std::string original = "From: Someone <someone@example.org>\n";
  for (int i = 0; original.size() < 100000; ++i) {
    original += "X-Filler-" + std::to_string(i) + ": " + std::string(60, 'f') + "\n";
  }
  original += "Subject: after the cap\n\nbody\n";
  Result<FailureReport> parsed = ParseFailureReport(report, original);
  ASSERT_TRUE(parsed.ok());
  EXPECT_LE(parsed->original_headers.size(), 64u << 10);
  EXPECT_GT(parsed->original_headers.size(), (64u << 10) - 100);
  EXPECT_TRUE(parsed->original_headers.ends_with("\n"));
  EXPECT_TRUE(original.starts_with(parsed->original_headers));
  EXPECT_EQ(parsed->original_from, "Someone <someone@example.org>");
  EXPECT_EQ(parsed->original_subject, "");  // beyond the cap

  std::string one_long_line = "X-Long: " + std::string(100000, 'l') + "\n\n";
  parsed = ParseFailureReport(report, one_long_line);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->original_headers.size(), 64u << 10);

  for (std::string junk :
       {std::string(), std::string("\n\n\n"), std::string("\x00\x01\x02\xff garbage", 13)}) {
    parsed = ParseFailureReport(report, junk);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->policy_domain, "example.org");
    EXPECT_EQ(parsed->original_from, "");
  }
  parsed = ParseFailureReport("Feedback-Type: abuse\n", "");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->policy_domain, "");  // nothing names a domain
}

TEST(DmarcFailureTest, PolicyDomainIsTheFirstReportedDomain) {
  struct Case {
    const char* reported;
    const char* policy;
  };
  const Case cases[] = {
      {"Example.ORG", "example.org"},
      {"first.example, second.example", "first.example"},
      {"first.example; second.example", "first.example"},
      {"first.example second.example", "first.example"},
      {"", "from.example"},  // empty: the original From's domain
  };
  for (const Case& c : cases) {
    Result<FailureReport> parsed = ParseFailureReport(
        std::string("Feedback-Type: auth-failure\nReported-Domain: ") + c.reported + "\n",
        "From: Someone <someone@From.Example>\n");
    ASSERT_TRUE(parsed.ok()) << c.reported;
    EXPECT_EQ(parsed->policy_domain, c.policy) << c.reported;
  }
}

TEST(DmarcFailureTest, EximTextReport) {
  Result<FailureReport> parsed = ParseTextFailureReport(Fixture("exim.txt"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const FailureReport& report = *parsed;
  EXPECT_EQ(report.feedback_type, "auth-failure");
  EXPECT_EQ(report.auth_failure, "dmarc");
  EXPECT_TRUE(report.is_dmarc);
  EXPECT_EQ(report.reported_domain, "payroll.example");
  EXPECT_EQ(report.policy_domain, "payroll.example");
  EXPECT_EQ(report.source_ip, "203.0.113.9");
  EXPECT_EQ(report.arrival_date, "Fri, 11 Oct 2024 08:30:00 +0200");
  EXPECT_EQ(report.arrival_time, 1728628200);
  EXPECT_EQ(report.identity_alignment, "dkim");
  ASSERT_EQ(report.fields.size(), 6u);
  EXPECT_EQ(report.fields[5].first, "DMARC Results");
  EXPECT_EQ(report.fields[5].second, "Reject, Reject");
  EXPECT_EQ(report.original_from, "\"The Boss\" <boss@payroll.example>");
  EXPECT_EQ(report.original_subject, "Urgent: update your bank details");
  EXPECT_EQ(report.original_message_id, "<C0FFEE-1234@payroll.example>");
  EXPECT_TRUE(report.original_headers.starts_with("Received: from [203.0.113.9]"));
  EXPECT_TRUE(report.original_headers.ends_with("header.from=payroll.example\n"));
}

TEST(DmarcFailureTest, TextReportAlignment) {
  struct Case {
    const char* spf;
    const char* dkim;
    const char* expected;
  };
  const Case cases[] = {{"no", "no", "none"},
                        {"yes", "no", "spf"},
                        {"No", "YES", "dkim"},
                        {"yes", "yes", "dkim, spf"}};
  for (const Case& c : cases) {
    std::string text = std::string("Sender Domain: example.com\nSPF Alignment: ") + c.spf +
                       "\nDKIM Alignment: " + c.dkim + "\n";
    Result<FailureReport> parsed = ParseTextFailureReport(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed->identity_alignment, c.expected) << text;
    EXPECT_TRUE(parsed->original_headers.empty());
  }
}

TEST(DmarcFailureTest, TextThatIsNotAReportIsNotFound) {
  const std::string cases[] = {
      "",
      "This is an email abuse report for an email message received from IP 192.0.2.1.\n",
      Fixture("opendmarc.feedback"),
      "Sender Domain: example.com\nNothing else: here\n",  // no results
      "SPF Alignment: no\nDKIM Alignment: no\n",           // no domain
  };
  for (const std::string& text : cases) {
    Result<FailureReport> parsed = ParseTextFailureReport(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), Status::Code::kNotFound) << text;
  }
}

}  // namespace
}  // namespace archiver
