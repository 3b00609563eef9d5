// `doveadm dmarc list|show|summary`: the aggregate reports in the archive. `show` pages
// a report's records (--records, --offset); `summary` prints the total, then the top
// organisations, then the top source IPs (--limit rows of each).
#include <string>
#include <utility>
#include <vector>

#include "archiver/time_format.h"
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"
#include "doveadm/doveadm-dmarc-fields.h"

namespace archiver::doveadm {
namespace {

// One section per DKIM or SPF result: domain, the selector or scope, result, human_result.
template <typename AuthResult>
void PrintAuthResults(FieldPrinter& out, const std::string& prefix, const char* qualifier,
                      std::string AuthResult::*qualifier_member,
                      const std::vector<AuthResult>& results) {
  uint64_t number = 0;
  for (const AuthResult& result : results) {
    std::string section = prefix + std::to_string(++number);
    out.Print(section, "domain", result.domain);
    out.Print(section, qualifier, result.*qualifier_member);
    out.Print(section, "result", result.result);
    out.Print(section, "human_result", result.human_result);
  }
}

void PrintRecord(FieldPrinter& out, uint64_t index, const AggregateRecord& record) {
  std::string section = "record." + std::to_string(index);
  out.Print(section, "source_ip", record.source_ip);
  out.Print(section, "count", record.count_valid ? std::to_string(record.count) : "invalid");
  out.Print(section, "disposition", record.disposition);
  out.Print(section, "dkim", record.dkim);
  out.Print(section, "spf", record.spf);
  out.Print(section, "header_from", record.header_from);
  out.Print(section, "envelope_from", record.envelope_from);
  out.Print(section, "envelope_to", record.envelope_to);
  uint64_t number = 0;
  for (const PolicyOverrideReason& reason : record.reasons) {
    std::string sub = section + ".reason." + std::to_string(++number);
    out.Print(sub, "type", reason.type);
    out.Print(sub, "comment", reason.comment);
  }
  PrintAuthResults(out, section + ".dkim.", "selector", &DkimAuthResult::selector,
                   record.dkim_results);
  PrintAuthResults(out, section + ".spf.", "scope", &SpfAuthResult::scope, record.spf_results);
}

void PrintReport(FieldPrinter& out, const DmarcReport& report) {
  const AggregateReportMeta& meta = report.meta;
  out.Print("report", "id", std::to_string(report.id));
  out.Print("report", "org", meta.org_name);
  out.Print("report", "email", meta.email);
  out.Print("report", "extra_contact_info", meta.extra_contact_info);
  out.Print("report", "report_id", meta.report_id);
  out.Print("report", "begin", ReportTime(meta.begin));
  out.Print("report", "end", ReportTime(meta.end));
  out.Print("report", "version", meta.version);
  out.Print("report", "schema", meta.schema);
  out.Print("report", "generator", meta.generator);
  out.Print("report", "records", std::to_string(report.records));
  out.Print("report", "messages", std::to_string(report.messages));
  out.Print("report", "pass", std::to_string(report.pass));
  out.Print("report", "fail", std::to_string(report.fail));
  out.Print("report", "imported", FormatTimeUtc(report.imported_us));
  out.Print("report", "recovered", report.recovered ? "yes" : "no");
  for (const std::string& error : meta.errors) out.Print("report", "error", error);
  for (const std::string& message : report.parser_messages)
    out.Print("report", "parser_message", message);
  const PolicyPublished& policy = meta.policy_published;
  out.Print("policy", "domain", policy.domain);
  out.Print("policy", "adkim", policy.adkim);
  out.Print("policy", "aspf", policy.aspf);
  out.Print("policy", "p", policy.p);
  out.Print("policy", "sp", policy.sp);
  out.Print("policy", "np", policy.np);
  out.Print("policy", "pct", policy.pct ? std::to_string(*policy.pct) : "");
  out.Print("policy", "fo", policy.fo);
  out.Print("policy", "testing", policy.testing);
  out.Print("policy", "discovery_method", policy.discovery_method);
  PrintOrigin(out, report.origin);
}

void PrintTally(const char* scope, const std::string& key, const DmarcTally& tally) {
  PrintValue(scope);
  PrintValue(key.c_str());
  doveadm_print_num(tally.reports);
  doveadm_print_num(tally.messages);
  doveadm_print_num(tally.dmarc_pass);
  PrintValue(Percent(tally.dmarc_pass, tally.messages).c_str());
  PrintValue(Percent(tally.dkim_aligned, tally.messages).c_str());
  PrintValue(Percent(tally.spf_aligned, tally.messages).c_str());
  doveadm_print_num(tally.none);
  doveadm_print_num(tally.quarantine);
  doveadm_print_num(tally.reject);
}

// Records `dmarc show` prints without --records: a report of a million records is 16
// million lines; --records 0 prints them all.
constexpr int64_t kDefaultShownRecords = 100;
// Organisation and source IP rows `dmarc summary` prints without --limit (0: all).
constexpr uint64_t kDefaultSummaryRows = 100;

// --records and --offset of `dmarc show` into *count (0: all) and *offset; EX_USAGE when
// negative.
CommandStatus ParseRecordPage(struct doveadm_cmd_context* cctx, uint64_t* count,
                              uint64_t* offset) {
  int64_t records = kDefaultShownRecords, first = 0;
  (void)doveadm_cmd_param_int64(cctx, "records", &records);
  (void)doveadm_cmd_param_int64(cctx, "offset", &first);
  if (records < 0 || first < 0)
    return CommandStatus::Failed(EX_USAGE, "--records and --offset must be 0 or more");
  *count = static_cast<uint64_t>(records);
  *offset = static_cast<uint64_t>(first);
  return CommandStatus::Ok();
}

}  // namespace

void CmdDmarcList(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcFilter filter;
    if (CommandStatus parsed = ParseDmarcFilter(cctx, &filter); !parsed.ok()) return parsed;
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, false, &archive); !opened.ok()) return opened;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field : {"id", "org", "report_id", "domain", "begin", "end"})
      doveadm_print_header_simple(field);
    for (const char* field : {"records", "messages", "pass", "fail"})
      doveadm_print_header(field, field, DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    Status status = archive.dmarc->ListReports(filter, [](const DmarcReport& report) {
      doveadm_print_num(report.id);
      PrintValue(report.meta.org_name.c_str());
      PrintValue(report.meta.report_id.c_str());
      PrintValue(report.meta.policy_published.domain.c_str());
      PrintValue(ReportTime(report.meta.begin).c_str());
      PrintValue(ReportTime(report.meta.end).c_str());
      doveadm_print_num(report.records);
      doveadm_print_num(report.messages);
      doveadm_print_num(report.pass);
      doveadm_print_num(report.fail);
      return true;
    });
    if (!status.ok()) return CommandStatus::Of(status, "Listing failed: " + status.ToString());
    return CommandStatus::Ok();
  });
}

void CmdDmarcShow(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    uint64_t count = 0, offset = 0;
    if (CommandStatus page = ParseRecordPage(cctx, &count, &offset); !page.ok()) return page;
    DmarcArchive archive;
    std::optional<DmarcReport> report;
    CommandStatus opened =
        OpenNumberedItem(cctx, "Report", &archive, &DmarcStore::GetReport, &report);
    if (!opened.ok()) return opened;
    FieldPrinter out;
    PrintReport(out, *report);
    uint64_t index = offset;  // sections keep the record's number in the report
    Status status = archive.dmarc->ListRecords(
        report->id,
        [&](const AggregateRecord& record) {
          PrintRecord(out, ++index, record);
          return count == 0 || index - offset < count;
        },
        offset);
    if (!status.ok())
      return CommandStatus::Of(status, "Report " + std::to_string(report->id) +
                                           ": reading its records failed: " + status.ToString());
    return CommandStatus::Ok();
  });
}

void CmdDmarcSummary(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcFilter filter;
    filter.limit = kDefaultSummaryRows;
    if (CommandStatus parsed = ParseDmarcFilter(cctx, &filter); !parsed.ok()) return parsed;
    if (filter.domain.empty())
      return CommandStatus::Failed(EX_USAGE, "dmarc summary needs --domain <domain>");
    const uint64_t rows = std::exchange(filter.limit, 0);  // --limit: rows here, not reports
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, false, &archive); !opened.ok()) return opened;
    Result<DmarcSummary> summary = archive.dmarc->Summarize(filter, rows);
    if (!summary.ok())
      return CommandStatus::Of(summary.status(), "Summary failed: " + summary.status().ToString());
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header_simple("scope");
    doveadm_print_header_simple("key");
    for (const char* field :
         {"reports", "messages", "dmarc_pass", "dmarc_pass_pct", "dkim_aligned_pct",
          "spf_aligned_pct", "none", "quarantine", "reject"})
      doveadm_print_header(field, field, DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    PrintTally("total", filter.domain, summary->total);
    for (const auto& [org, tally] : summary->by_org) PrintTally("org", org, tally);
    for (const auto& [ip, tally] : summary->by_source_ip) PrintTally("source_ip", ip, tally);
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
