// Header blocks as failure reports hold them: the report's own fields and the original
// message's headers (see dmarc_failure_internal.h).
#include "archiver/header_summary.h"
#include "base/ascii.h"
#include "text/charset.h"
#include "dmarc/dmarc_failure_internal.h"

namespace archiver::failure {

bool LineReader::Next(std::string_view* line) {
  if (pos_ >= text_.size()) return false;
  size_t end = text_.find_first_of("\r\n", pos_);
  if (end == std::string_view::npos) end = text_.size();
  *line = text_.substr(pos_, end - pos_);
  pos_ = end;
  if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
  if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
  return true;
}

namespace {

// A field name: printable ASCII but the colon, no spaces (RFC 5322 ftext).
bool IsFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == ':') return false;
  }
  return true;
}

// "From sender@example.net Tue Apr 30 02:09:16 2019", not the field "From : x".
bool IsMboxSeparator(std::string_view line) {
  return line.size() > 5 && line.starts_with("From ") && line[5] != ':' && line[5] != ' ';
}

bool IsBlank(std::string_view line) { return ascii::Trim(line, " \t").empty(); }

}  // namespace

std::string CleanValue(std::string_view raw) {
  std::string utf8;
  charset::AppendUtf8OrWindows1252(ascii::Trim(raw), &utf8);
  return std::string(ascii::Trim(charset::CleanControls(utf8)));
}

std::vector<Field> ReadFields(std::string_view text) {
  std::vector<Field> fields;
  std::string raw_value;  // the current field's value, unfolded
  bool in_field = false;
  auto finish = [&] {
    if (in_field) fields.back().second = CleanValue(raw_value);
    in_field = false;
  };
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(&line)) {
    if (IsBlank(line)) {
      finish();
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_field) {
        raw_value.push_back(' ');
        raw_value.append(ascii::Trim(line, " \t"));
      }
      continue;
    }
    finish();
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = ascii::Trim(line.substr(0, colon), " \t");
    if (!IsFieldName(name)) continue;
    fields.emplace_back(std::string(name), std::string());
    raw_value.assign(ascii::Trim(line.substr(colon + 1), " \t"));
    in_field = true;
  }
  finish();
  return fields;
}

std::string_view HeaderBlock(std::string_view message) {
  LineReader lines(message);
  std::string_view line;
  size_t begin = 0;
  bool more = lines.Next(&line);
  // Leading empty lines, and an mbox "From " separator, are not part of the block.
  while (more && line.empty()) {
    begin = lines.offset();
    more = lines.Next(&line);
  }
  if (more && IsMboxSeparator(line)) {
    begin = lines.offset();
    more = lines.Next(&line);
  }
  size_t end = begin;
  while (more && !line.empty() && lines.offset() - begin <= kMaxOriginalHeaderBytes) {
    end = lines.offset();
    more = lines.Next(&line);
  }
  // A first line longer than the cap is cut inside the line.
  if (end == begin && more && !line.empty()) end = begin + kMaxOriginalHeaderBytes;
  return message.substr(begin, end - begin);
}

std::string ReadOriginal(std::string_view original, FailureReport& report) {
  std::string_view block = HeaderBlock(original);
  report.original_headers.assign(block);
  HeaderSummary summary = SummarizeHeaders(block);
  report.original_from = std::move(summary.from);
  report.original_to = std::move(summary.to);
  report.original_subject = std::move(summary.subject);
  report.original_date = std::move(summary.date);
  report.original_message_id = std::move(summary.message_id);
  return std::move(summary.from_addr);
}

void SetPolicyDomain(FailureReport& report, std::string_view original_from_address) {
  // One domain per field, says RFC 5965; "a.example, b.example" is written too.
  std::string_view domain = ascii::Trim(report.reported_domain, " \t");
  domain = domain.substr(0, domain.find_first_of(" \t,;"));
  if (domain.empty()) {
    size_t at = original_from_address.rfind('@');
    if (at != std::string_view::npos) domain = original_from_address.substr(at + 1);
  }
  report.policy_domain = ascii::Lowercase(ascii::Trim(domain, " \t.[]"));
}

std::string WithoutComments(std::string_view text) {
  std::string bare;
  int depth = 0;
  for (char c : text) {
    if (c == '(') {
      if (depth++ == 0) bare.push_back(' ');
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      bare.push_back(c);
    }
  }
  return bare;
}

std::string WithoutAngleBrackets(std::string_view value) {
  std::string_view trimmed = ascii::Trim(value, " \t");
  if (trimmed.size() >= 2 && trimmed.front() == '<' && trimmed.back() == '>') {
    trimmed = ascii::Trim(trimmed.substr(1, trimmed.size() - 2), " \t");
  }
  return std::string(trimmed);
}

}  // namespace archiver::failure
