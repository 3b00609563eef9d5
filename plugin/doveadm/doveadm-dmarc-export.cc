// `doveadm dmarc export --format csv|json`: every record of the selected reports, one
// per line, with its report's org, report_id, domain, begin and end. CSV follows RFC 4180
// (a header line, CRLF line ends, fields quoted when they hold a comma, quote or line
// break; a field that would start a formula gets a leading apostrophe); JSON is one
// object per line. Written to --output (never overwritten; a summary
// row is printed then) or to stdout.
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"

extern "C" {
#if DOVECOT_PREREQ(2, 4, 0)
#include "json-generator.h"  // json_append_escaped_data moved here in 2.4
#else
#include "json-parser.h"
#endif
#include "ostream.h"
}

namespace archiver::doveadm {
namespace {

constexpr const char* kColumns[] = {
    "report",      "org",           "report_id",   "domain",    "begin",   "end",
    "source_ip",   "count",         "disposition", "dkim",      "spf",     "reasons",
    "header_from", "envelope_from", "envelope_to", "dkim_auth", "spf_auth"};

// Report fields come from anyone: one that a spreadsheet would read as a formula (first
// character = + - @, tab or CR) gets an apostrophe before it, as OWASP advises.
void AppendCsvField(std::string* line, const std::string& field) {
  if (!line->empty()) *line += ',';
  const bool formula = !field.empty() && std::strchr("=+-@\t\r", field[0]) != nullptr;
  const std::string value = formula ? "'" + field : field;
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    *line += value;
    return;
  }
  *line += '"';
  for (char c : value) {
    if (c == '"') *line += '"';
    *line += c;
  }
  *line += '"';
}

std::string CsvLine(const DmarcReport& report, const AggregateRecord& record) {
  const AggregateReportMeta& meta = report.meta;
  std::string line;
  for (const std::string& value :
       {std::to_string(report.id), meta.org_name, meta.report_id, meta.policy_published.domain,
        ReportTime(meta.begin), ReportTime(meta.end), record.source_ip,
        std::to_string(record.count), record.disposition, record.dkim, record.spf,
        JoinTexts(record.reasons, ReasonText), record.header_from, record.envelope_from,
        record.envelope_to, JoinTexts(record.dkim_results, DkimResultText),
        JoinTexts(record.spf_results, SpfResultText)})
    AppendCsvField(&line, value);
  return line + "\r\n";
}

// Appends "key":"value" (with a separating comma unless first) to a JSON object.
void JsonString(string_t* out, const char* key, const std::string& value) {
  if (str_len(out) > 0 && str_data(out)[str_len(out) - 1] != '{') str_append_c(out, ',');
  str_printfa(out, "\"%s\":\"", key);
  json_append_escaped_data(out, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  str_append_c(out, '"');
}

void JsonObjects(string_t* out, const char* key, size_t count,
                 const std::function<void(size_t index)>& members) {
  str_printfa(out, ",\"%s\":[", key);
  for (size_t index = 0; index < count; ++index) {
    str_append(out, index == 0 ? "{" : ",{");
    members(index);
    str_append_c(out, '}');
  }
  str_append_c(out, ']');
}

void JsonLine(string_t* out, const DmarcReport& report, const AggregateRecord& record) {
  const AggregateReportMeta& meta = report.meta;
  str_printfa(out, "{\"report\":%llu", static_cast<unsigned long long>(report.id));
  JsonString(out, "org", meta.org_name);
  JsonString(out, "report_id", meta.report_id);
  JsonString(out, "domain", meta.policy_published.domain);
  JsonString(out, "begin", ReportTime(meta.begin));
  JsonString(out, "end", ReportTime(meta.end));
  JsonString(out, "source_ip", record.source_ip);
  str_printfa(out, ",\"count\":%llu", static_cast<unsigned long long>(record.count));
  JsonString(out, "disposition", record.disposition);
  JsonString(out, "dkim", record.dkim);
  JsonString(out, "spf", record.spf);
  JsonString(out, "header_from", record.header_from);
  JsonString(out, "envelope_from", record.envelope_from);
  JsonString(out, "envelope_to", record.envelope_to);
  JsonObjects(out, "reasons", record.reasons.size(), [&](size_t i) {
    JsonString(out, "type", record.reasons[i].type);
    JsonString(out, "comment", record.reasons[i].comment);
  });
  JsonObjects(out, "dkim_auth", record.dkim_results.size(), [&](size_t i) {
    JsonString(out, "domain", record.dkim_results[i].domain);
    JsonString(out, "selector", record.dkim_results[i].selector);
    JsonString(out, "result", record.dkim_results[i].result);
    JsonString(out, "human_result", record.dkim_results[i].human_result);
  });
  JsonObjects(out, "spf_auth", record.spf_results.size(), [&](size_t i) {
    JsonString(out, "domain", record.spf_results[i].domain);
    JsonString(out, "scope", record.spf_results[i].scope);
    JsonString(out, "result", record.spf_results[i].result);
    JsonString(out, "human_result", record.spf_results[i].human_result);
  });
  str_append(out, "}\n");
}

// Rows are gathered into writes of about this size: one write() per row made an export of
// a million records a million system calls.
constexpr size_t kWriteBytes = 64 * 1024;

// Rows for `output`, sent kWriteBytes at a time. A failed write (a full disk) is kept by
// the stream and reported when it is finished (CloseOutput); failed() stops the export.
class RowWriter {
 public:
  explicit RowWriter(struct ostream* output) : output_(output) {
    pending_.reserve(2 * kWriteBytes);
  }
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;
  void Add(const char* data, size_t size) {
    pending_.append(data, size);
    if (pending_.size() >= kWriteBytes) Send();
  }
  void Send() {
    if (!pending_.empty()) o_stream_nsend(output_, pending_.data(), pending_.size());
    pending_.clear();
  }
  bool failed() const { return output_->stream_errno != 0; }

 private:
  struct ostream* output_;
  std::string pending_;
};

// Writes every record of `reports` to `output`. Reports are listed first and their
// records read afterwards: one read transaction at a time. Stops early when a write
// failed (CloseOutput reports it).
Status WriteRecords(DmarcStore& dmarc, const std::vector<DmarcReport>& reports, bool csv,
                    struct ostream* output, uint64_t* records) {
  RowWriter writer(output);
  if (csv) {
    std::string header;
    for (const char* column : kColumns) AppendCsvField(&header, column);
    header += "\r\n";
    writer.Add(header.data(), header.size());
  }
  string_t* line = str_new(default_pool, 1024);
  Status status;
  for (const DmarcReport& report : reports) {
    status = dmarc.ListRecords(report.id, [&](const AggregateRecord& record) {
      if (csv) {
        std::string text = CsvLine(report, record);
        writer.Add(text.data(), text.size());
      } else {
        str_truncate(line, 0);
        JsonLine(line, report, record);
        writer.Add(reinterpret_cast<const char*>(str_data(line)), str_len(line));
      }
      ++*records;
      return !writer.failed();
    });
    if (!status.ok() || writer.failed()) break;
  }
  writer.Send();
  str_free(&line);
  return status;
}

// What `dmarc export` was asked for.
struct ExportRequest {
  DmarcFilter filter;
  const char* format = nullptr;  // "csv" or "json"
  const char* path = nullptr;    // --output, nullptr for stdout
};

// The filter options, --format and --output into `*request`; EX_USAGE on a bad value.
CommandStatus ParseExportRequest(struct doveadm_cmd_context* cctx, ExportRequest* request) {
  if (CommandStatus filter = ParseDmarcFilter(cctx, &request->filter); !filter.ok()) return filter;
  request->format = ParamString(cctx, "format");
  if (request->format == nullptr ||
      (std::strcmp(request->format, "csv") != 0 && std::strcmp(request->format, "json") != 0))
    return CommandStatus::Failed(EX_USAGE, "--format csv|json is required");
  request->path = ParamString(cctx, "output");
  if (request->path == nullptr && doveadm_print_is_initialized()) {
    // Only -f starts the printer this early; its output would follow the records.
    return CommandStatus::Failed(EX_USAGE,
                                 "dmarc export writes CSV or JSON lines itself: leave out -f "
                                 "(or give --output)");
  }
  return CommandStatus::Ok();
}

// The stream the records go to, into `*output`: the new file `path` (never overwriting
// one), or doveadm's stdout when `path` is nullptr. Fails with EX_CANTCREAT.
CommandStatus OpenOutput(const char* path, struct ostream** output) {
  if (path == nullptr) {
    *output = doveadm_print_ostream;
    o_stream_ref(*output);
    return CommandStatus::Ok();
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return CommandStatus::Failed(EX_CANTCREAT, std::string("open(") + path +
                                                   ") failed: " + std::strerror(errno) +
                                                   " (export never overwrites)");
  *output = o_stream_create_fd_autoclose(&fd, 0);
  return CommandStatus::Ok();
}

// Finishes the file (or flushes doveadm's stdout, which stays open for doveadm itself)
// and releases `*output`; a failed write is EX_IOERR.
CommandStatus CloseOutput(const char* path, struct ostream** output) {
  int flushed = path != nullptr ? o_stream_finish(*output) : o_stream_flush(*output);
  CommandStatus closed;
  if (flushed < 0)
    closed = CommandStatus::Failed(EX_IOERR, std::string("Writing ") +
                                                 (path != nullptr ? path : "stdout") +
                                                 " failed: " + o_stream_get_error(*output));
  o_stream_unref(output);
  return closed;
}

}  // namespace

void CmdDmarcExport(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    ExportRequest request;
    if (CommandStatus parsed = ParseExportRequest(cctx, &request); !parsed.ok()) return parsed;
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, false, &archive); !opened.ok()) return opened;
    std::vector<DmarcReport> reports;
    Status listed = archive.dmarc->ListReports(request.filter, [&](const DmarcReport& report) {
      reports.push_back(report);
      return true;
    });
    if (!listed.ok()) return CommandStatus::Of(listed, "Listing failed: " + listed.ToString());
    struct ostream* output = nullptr;
    if (CommandStatus open = OpenOutput(request.path, &output); !open.ok()) return open;
    uint64_t records = 0;
    Status written = WriteRecords(*archive.dmarc, reports, std::strcmp(request.format, "csv") == 0,
                                  output, &records);
    // What was written is still finished and summed up after a failed read.
    if (!written.ok())
      ReportAndContinue(
          CommandStatus::Of(written, "Reading records failed: " + written.ToString()));
    CommandStatus closed = CloseOutput(request.path, &output);
    if (request.path == nullptr) return closed;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field : {"format", "output", "reports", "records"})
      doveadm_print_header_simple(field);
    PrintValue(request.format);
    PrintValue(request.path);
    doveadm_print_num(reports.size());
    doveadm_print_num(records);
    return closed;
  });
}

}  // namespace archiver::doveadm
