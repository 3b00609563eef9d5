// DmarcReaderJob and DmarcReaderAnswer as text (dmarc_reader_job.h).
#include "archiver/dmarc/dmarc_reader_job.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <vector>

namespace archiver {
namespace {

std::string Escape(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (c == '%' || c == '\r' || c == '\n' || c == '\0') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool Unescape(std::string_view value, std::string* out) {
  out->clear();
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      *out += value[i];
      continue;
    }
    unsigned byte = 0;
    if (i + 2 >= value.size()) return false;
    auto [end, error] = std::from_chars(value.data() + i + 1, value.data() + i + 3, byte, 16);
    if (error != std::errc() || end != value.data() + i + 3) return false;
    *out += static_cast<char>(byte);
    i += 2;
  }
  return true;
}

bool ParseNumber(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

// One field of the job: how it is written and read back.
struct Field {
  std::function<std::string(const DmarcReaderJob&)> get;
  std::function<bool(const std::string&, DmarcReaderJob*)> set;
};

Field Text(std::string DmarcReaderJob::*member) {
  return {[member](const DmarcReaderJob& job) { return job.*member; },
          [member](const std::string& value, DmarcReaderJob* job) {
            job->*member = value;
            return true;
          }};
}

template <typename T>
Field Number(std::function<T&(DmarcReaderJob&)> member) {
  return {[member](const DmarcReaderJob& job) {
            return std::to_string(member(const_cast<DmarcReaderJob&>(job)));
          },
          [member](const std::string& value, DmarcReaderJob* job) {
            uint64_t number = 0;
            if (!ParseNumber(value, &number)) return false;
            T& target = member(*job);
            target = static_cast<T>(number);
            return static_cast<uint64_t>(target) == number;
          }};
}

Field Flag(std::function<bool&(DmarcReaderJob&)> member) {
  return {[member](const DmarcReaderJob& job) {
            return std::string(member(const_cast<DmarcReaderJob&>(job)) ? "1" : "0");
          },
          [member](const std::string& value, DmarcReaderJob* job) {
            if (value != "0" && value != "1") return false;
            member(*job) = value == "1";
            return true;
          }};
}

// A reader reads an archived mail: a delivery's or a source's, never a file's.
Field OriginKind() {
  return {[](const DmarcReaderJob& job) -> std::string {
            return DmarcOriginKindName(job.origin_kind);
          },
          [](const std::string& value, DmarcReaderJob* job) {
            std::optional<DmarcOriginKind> kind = DmarcOriginKindNamed(value);
            if (!kind || *kind == DmarcOriginKind::kFile) return false;
            job->origin_kind = *kind;
            return true;
          }};
}

const std::map<std::string, Field>& Fields() {
  static const std::map<std::string, Field> fields = {
      {"path", {[](const DmarcReaderJob& job) { return job.store.path; },
                [](const std::string& value, DmarcReaderJob* job) {
                  job->store.path = value;
                  return !value.empty();
                }}},
      {"map_size", Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& { return j.store.map_size; })},
      {"compression_level",
       Number<int>([](DmarcReaderJob& j) -> int& { return j.store.compression_level; })},
      {"sync", Flag([](DmarcReaderJob& j) -> bool& { return j.store.sync; })},
      {"meta_sync", Flag([](DmarcReaderJob& j) -> bool& { return j.store.meta_sync; })},
      {"write_wait_ms",
       Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& { return j.store.write_wait_ms; })},
      {"dmarc_max_space",
       Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& { return j.store.dmarc_max_space; })},
      {"max_output_bytes", Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& {
         return j.pipeline.unpack.max_output_bytes;
       })},
      {"max_ratio",
       Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& { return j.pipeline.unpack.max_ratio; })},
      {"max_input_bytes", Number<size_t>([](DmarcReaderJob& j) -> size_t& {
         return j.pipeline.import.limits.max_input_bytes;
       })},
      {"budget_bytes",
       Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& { return j.pipeline.budget.max_bytes; })},
      {"budget_records", Number<uint64_t>([](DmarcReaderJob& j) -> uint64_t& {
         return j.pipeline.budget.max_records;
       })},
      {"budget_ms", {[](const DmarcReaderJob& job) {
                       return std::to_string(job.pipeline.budget.max_time.count());
                     },
                     [](const std::string& value, DmarcReaderJob* job) {
                       uint64_t ms = 0;
                       if (!ParseNumber(value, &ms) || ms == 0 || ms > 24ULL * 3600 * 1000)
                         return false;
                       job->pipeline.budget.max_time = std::chrono::milliseconds(ms);
                       return true;
                     }}},
      {"mail", {[](const DmarcReaderJob& job) { return ToHex(job.mail); },
                [](const std::string& value, DmarcReaderJob* job) {
                  std::optional<MessageId> id = MessageIdFromHex(value);
                  if (!id || value.size() != 64) return false;
                  job->mail = *id;
                  return true;
                }}},
      {"user", Text(&DmarcReaderJob::user)},
      {"mailbox", Text(&DmarcReaderJob::mailbox)},
      {"rcpt", Text(&DmarcReaderJob::rcpt)},
      {"again", Flag([](DmarcReaderJob& j) -> bool& { return j.again; })},
      {"origin_kind", OriginKind()},
      {"mail_on_fd", Flag([](DmarcReaderJob& j) -> bool& { return j.mail_on_fd; })},
  };
  return fields;
}

// One field of an answer line: no tabs or line breaks, and short enough that any answer
// fits what its reader reads (a sender controls the reasons: part names, report ids).
std::string Flat(std::string text) {
  constexpr size_t kMaxField = 4000;
  if (text.size() > kMaxField) {
    size_t cut = kMaxField;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  for (char& c : text)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return text;
}

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1)
    fields.push_back(line.substr(start, tab - start));
  fields.push_back(line.substr(start));
  return fields;
}

}  // namespace

std::chrono::milliseconds DmarcReaderJob::Deadline() const {
  const std::chrono::milliseconds budget = pipeline.budget.max_time;
  return budget + std::max(std::chrono::milliseconds(5000), budget / 2);
}

std::string EncodeDmarcReaderJob(const DmarcReaderJob& job) {
  std::string text;
  for (const auto& [key, field] : Fields()) text += key + "=" + Escape(field.get(job)) + "\n";
  return text;
}

Result<DmarcReaderJob> DecodeDmarcReaderJob(std::string_view text) {
  DmarcReaderJob job;
  std::map<std::string, bool> seen;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    if (end == std::string_view::npos)
      return Status::InvalidArgument("reader job: line " + std::to_string(line_number) +
                                     " does not end");
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const size_t equals = line.find('=');
    const std::string key(line.substr(0, equals));
    auto field = Fields().find(key);
    std::string value;
    if (equals == std::string_view::npos || field == Fields().end() ||
        !Unescape(line.substr(equals + 1), &value) || !field->second.set(value, &job) ||
        !seen.emplace(key, true).second)
      return Status::InvalidArgument("reader job: line " + std::to_string(line_number) +
                                     " (" + Flat(key) + ") is not understood");
  }
  for (const auto& entry : Fields())
    if (seen.count(entry.first) == 0)
      return Status::InvalidArgument("reader job: no " + entry.first);
  job.store.create_if_missing = false;
  job.store.read_only = false;
  return job;
}

std::string EncodeDmarcReaderAnswer(const DmarcReaderAnswer& answer) {
  const DmarcItemTally& t = answer.tally;
  return Flat(answer.outcome) + "\t" + std::to_string(t.reports) + "\t" +
         std::to_string(t.failures) + "\t" + std::to_string(t.errors) + "\t" +
         std::to_string(t.records) + "\t" + (t.stored ? "1" : "0") + "\t" + Flat(t.reasons) +
         "\t" + Flat(answer.message) + "\n";
}

Result<DmarcReaderAnswer> DecodeDmarcReaderAnswer(std::string_view line) {
  const Status bad = Status::InvalidArgument("reader answer not understood");
  if (line.empty() || line.back() != '\n') return bad;
  line.remove_suffix(1);
  if (line.find('\n') != std::string_view::npos) return bad;
  std::vector<std::string_view> fields = SplitTabs(line);
  if (fields.size() != 8) return bad;
  DmarcReaderAnswer answer;
  answer.outcome = std::string(fields[0]);
  if (answer.outcome != "read" && answer.outcome != "already" && answer.outcome != "reading" &&
      answer.outcome != "busy" && answer.outcome != "failed" && answer.outcome != "stopped")
    return bad;
  DmarcItemTally& t = answer.tally;
  if (!ParseNumber(fields[1], &t.reports) || !ParseNumber(fields[2], &t.failures) ||
      !ParseNumber(fields[3], &t.errors) || !ParseNumber(fields[4], &t.records) ||
      (fields[5] != "0" && fields[5] != "1"))
    return bad;
  t.stored = fields[5] == "1";
  t.reasons = std::string(fields[6]);
  answer.message = std::string(fields[7]);
  return answer;
}

}  // namespace archiver
