// The shared corpus of real failure reports (Netease, LinkedIn, Domino, OpenDMARC,
// sisimai and stalwart samples, Exim's text form): each mail's parts are found by a
// small top-level MIME splitter (the plugin uses Dovecot's parser; this is only enough
// for the corpus) and every report must parse. Expected values read off the files.
#include <dirent.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "archiver/dmarc/dmarc_failure.h"
#include "base/ascii.h"
#include "dmarc/dmarc_failure_internal.h"
#include "test_util.h"

namespace archiver {
namespace {

struct Part {
  std::string content_type;  // lowercased, parameters dropped
  std::string body;          // transfer-decoded
};

std::string FieldValue(const std::vector<failure::Field>& fields, std::string_view name) {
  for (const auto& [field, value] : fields) {
    if (ascii::EqualsIgnoreCase(field, name)) return value;
  }
  return "";
}

std::string Base64Decode(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
  }
  std::string out(compact.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(compact.data()),
                          static_cast<int>(compact.size()));
  if (n < 0) return "";
  out.resize(static_cast<size_t>(n));
  size_t padding = compact.size() - compact.find_last_not_of('=') - 1;
  out.resize(out.size() - std::min(out.size(), padding));
  return out;
}

// An entity's header block and body, split at the first empty line.
std::pair<std::string_view, std::string_view> SplitEntity(std::string_view entity) {
  failure::LineReader lines(entity);
  std::string_view line;
  size_t header_end = 0;
  while (lines.Next(&line)) {
    if (line.empty()) return {entity.substr(0, header_end), entity.substr(lines.offset())};
    header_end = lines.offset();
  }
  return {entity, std::string_view()};
}

// The top-level parts of a multipart message.
std::vector<Part> SplitParts(std::string_view message) {
  auto [message_headers, body] = SplitEntity(message);
  std::string content_type = FieldValue(failure::ReadFields(message_headers), "Content-Type");
  size_t at = ascii::Lowercase(content_type).find("boundary=");
  if (at == std::string::npos) return {};
  std::string boundary = content_type.substr(at + 9);
  if (boundary.starts_with('"')) boundary = boundary.substr(1, boundary.find('"', 1) - 1);
  boundary = std::string(ascii::Trim(boundary.substr(0, boundary.find(';')), " \t"));
  const std::string delimiter = "--" + boundary;
  std::vector<Part> parts;
  size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos && !body.substr(pos + delimiter.size()).starts_with("--")) {
    size_t start = body.find('\n', pos);
    if (start == std::string_view::npos) break;
    size_t next = body.find("\n" + delimiter, start);
    std::string_view entity = body.substr(
        start + 1, next == std::string_view::npos ? std::string_view::npos : next - start);
    auto [headers, part_body] = SplitEntity(entity);
    auto fields = failure::ReadFields(headers);
    std::string type = ascii::Lowercase(FieldValue(fields, "Content-Type"));
    Part part;
    part.content_type = std::string(ascii::Trim(type.substr(0, type.find(';')), " \t"));
    bool base64 =
        ascii::EqualsIgnoreCase(FieldValue(fields, "Content-Transfer-Encoding"), "base64");
    part.body = base64 ? Base64Decode(part_body) : std::string(part_body);
    parts.push_back(std::move(part));
    pos = next == std::string_view::npos ? next : next + 1;
  }
  return parts;
}

// The report a mail carries: its feedback-report part with the original after it, else
// a text part of Exim's form.
Result<FailureReport> ReportOf(std::string_view message) {
  std::vector<Part> parts = SplitParts(message);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].content_type != "message/feedback-report") continue;
    std::string original;
    for (size_t j = i + 1; j < parts.size(); ++j) {
      if (parts[j].content_type == "message/rfc822" ||
          parts[j].content_type == "text/rfc822-headers") {
        original = parts[j].body;
        break;
      }
    }
    return ParseFailureReport(parts[i].body, original);
  }
  for (const Part& part : parts) {
    if (part.content_type != "text/plain") continue;
    Result<FailureReport> text = ParseTextFailureReport(part.body);
    if (text.status().code() != Status::Code::kNotFound) return text;
  }
  return Status::NotFound("no report part");
}

TEST(DmarcFailureCorpusTest, EveryReportParses) {
  const std::string dir = testing::DmarcCorpusDir("forensic");
  if (dir.empty()) GTEST_SKIP() << "no DMARC corpus beside the checkout";
  struct Expected {
    const char* file;
    const char* policy_domain;
    const char* source_ip;
    const char* auth_failure;
    const char* original_subject;
    bool has_arrival_time;
  };
  const Expected expected[] = {
      {"domainaware+parsedmarc/DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de,"
       " ip=10.10.10.10).eml",
       "domain.de", "10.10.10.10", "dmarc", "Subject", true},
      {"domainaware+parsedmarc/[Netease DMARC Failure Report] Rent Reminder.eml", "cardinal.com",
       "167.89.69.24", "", "Rent Reminder", true},
      {"domainaware+parsedmarc/dmarc_ruf_report_linkedin.crlf.eml", "example.com", "10.10.10.10",
       "dmarc", "Subject line, could be UTF8 encoded", true},
      {"domainaware+parsedmarc/exim_plain_text_only_no_arf_part.eml", "example.com", "203.0.113.68",
       "dmarc", "Payment from your account.", true},
      {"sisimai+set-of-emails/arf-19.eml", "example.net", "203.0.113.2", "", "Nyaan", true},
      {"sisimai+set-of-emails/arf-20.eml", "example.net", "203.0.113.2", "dmarc", "Nyaan", false},
      {"stalwartlabs+mail-auth/004.eml", "interpublication.org", "148.163.85.135", "dmarc",
       "Wir kaufen dein Auto!", false},
      {"stalwartlabs+mail-auth/005.eml", "a.sender.example", "192.0.2.1", "bodyhash",
       "You have a new bill from your bank", true},
  };
  size_t files = 0;
  if (DIR* top = opendir(dir.c_str())) {
    while (dirent* source = readdir(top)) {
      if (source->d_name[0] == '.') continue;
      if (DIR* sub = opendir((dir + "/" + source->d_name).c_str())) {
        while (dirent* file = readdir(sub)) files += file->d_name[0] != '.';
        closedir(sub);
      }
    }
    closedir(top);
  }
  EXPECT_EQ(files, std::size(expected)) << "a corpus file without an expectation";
  for (const Expected& e : expected) {
    std::ifstream in(dir + "/" + e.file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    ASSERT_FALSE(text.str().empty()) << e.file;
    Result<FailureReport> report = ReportOf(text.str());
    ASSERT_TRUE(report.ok()) << e.file << ": " << report.status().ToString();
    EXPECT_EQ(report->feedback_type, "auth-failure") << e.file;
    EXPECT_TRUE(report->is_dmarc) << e.file;
    EXPECT_EQ(report->policy_domain, e.policy_domain) << e.file;
    EXPECT_EQ(report->source_ip, e.source_ip) << e.file;
    EXPECT_EQ(report->auth_failure, e.auth_failure) << e.file;
    EXPECT_EQ(report->original_subject, e.original_subject) << e.file;
    EXPECT_EQ(report->arrival_time.has_value(), e.has_arrival_time)
        << e.file << ": " << report->arrival_date;
    EXPECT_FALSE(report->original_headers.empty()) << e.file;
  }
}

}  // namespace
}  // namespace archiver
