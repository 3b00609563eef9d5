// `doveadm dmarc failures|failure show|errors`: failure reports and the ledger of
// reports that could not be read.
#include <string>

#include "archiver/time_format.h"
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"
#include "doveadm/doveadm-dmarc-fields.h"

namespace archiver::doveadm {
namespace {

std::string ArrivalTime(const FailureReport& report) { return ReportTime(report.arrival_time); }

void PrintFailure(FieldPrinter& out, const DmarcFailure& failure) {
  const FailureReport& report = failure.report;
  out.Print("failure", "id", std::to_string(failure.id));
  out.Print("failure", "imported", FormatTimeUtc(failure.imported_us));
  out.Print("failure", "is_dmarc", report.is_dmarc ? "yes" : "no");
  out.Print("failure", "domain", report.policy_domain);
  out.Print("failure", "feedback_type", report.feedback_type);
  out.Print("failure", "version", report.version);
  out.Print("failure", "user_agent", report.user_agent);
  out.Print("failure", "arrival_date", report.arrival_date);
  out.Print("failure", "arrival", ArrivalTime(report));
  out.Print("failure", "source_ip", report.source_ip);
  out.Print("failure", "reported_domain", report.reported_domain);
  out.Print("failure", "reporting_mta", report.reporting_mta);
  out.Print("failure", "original_envelope_id", report.original_envelope_id);
  out.Print("failure", "original_mail_from", report.original_mail_from);
  for (const std::string& rcpt : report.original_rcpt_to)
    out.Print("failure", "original_rcpt_to", rcpt);
  out.Print("failure", "authentication_results", report.authentication_results);
  out.Print("failure", "auth_failure", report.auth_failure);
  out.Print("failure", "delivery_result", report.delivery_result);
  out.Print("failure", "identity_alignment", report.identity_alignment);
  out.Print("failure", "dkim_domain", report.dkim_domain);
  out.Print("failure", "dkim_identity", report.dkim_identity);
  out.Print("failure", "dkim_selector", report.dkim_selector);
  out.Print("failure", "spf_dns", report.spf_dns);
  out.Print("original", "from", report.original_from);
  out.Print("original", "to", report.original_to);
  out.Print("original", "subject", report.original_subject);
  out.Print("original", "date", report.original_date);
  out.Print("original", "message_id", report.original_message_id);
  out.Print("original", "headers", report.original_headers);
  for (const auto& [name, value] : report.fields) out.Print("field", name.c_str(), value);
  PrintOrigin(out, failure.origin);
}

}  // namespace

void CmdDmarcFailures(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcFilter filter;
    if (CommandStatus parsed = ParseDmarcFilter(cctx, &filter); !parsed.ok()) return parsed;
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, false, &archive); !opened.ok()) return opened;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field :
         {"id", "arrival", "domain", "source_ip", "feedback_type", "auth_failure",
          "delivery_result", "original_from", "original_subject", "is_dmarc"})
      doveadm_print_header_simple(field);
    Status status = archive.dmarc->ListFailures(filter, [](const DmarcFailure& failure) {
      const FailureReport& report = failure.report;
      doveadm_print_num(failure.id);
      PrintValue(ArrivalTime(report).c_str());
      PrintValue(report.policy_domain.c_str());
      PrintValue(report.source_ip.c_str());
      PrintValue(report.feedback_type.c_str());
      PrintValue(report.auth_failure.c_str());
      PrintValue(report.delivery_result.c_str());
      PrintValue(report.original_from.c_str());
      PrintValue(report.original_subject.c_str());
      PrintValue(report.is_dmarc ? "yes" : "no");
      return true;
    });
    if (!status.ok()) return CommandStatus::Of(status, "Listing failed: " + status.ToString());
    return CommandStatus::Ok();
  });
}

void CmdDmarcFailureShow(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcArchive archive;
    std::optional<DmarcFailure> failure;
    CommandStatus opened =
        OpenNumberedItem(cctx, "Failure report", &archive, &DmarcStore::GetFailure, &failure);
    if (!opened.ok()) return opened;
    FieldPrinter out;
    PrintFailure(out, *failure);
    return CommandStatus::Ok();
  });
}

void CmdDmarcErrors(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, false, &archive); !opened.ok()) return opened;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field : {"id", "time", "kind", "reason", "mail", "part", "source"})
      doveadm_print_header_simple(field);
    Status status = archive.dmarc->ListErrors([](const DmarcError& error) {
      doveadm_print_num(error.id);
      PrintValue(FormatTimeUtc(error.time_us).c_str());
      PrintValue(DmarcItemKindName(error.kind));
      PrintValue(error.reason.c_str());
      PrintValue(error.origin.mail ? ToHex(*error.origin.mail).c_str() : "");
      PrintValue(error.origin.part.c_str());
      PrintValue(error.origin.detail.c_str());
      return true;
    });
    if (!status.ok()) return CommandStatus::Of(status, "Listing failed: " + status.ToString());
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
