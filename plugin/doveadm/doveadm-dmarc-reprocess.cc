// `doveadm dmarc reprocess`: runs the pipeline again over archived report mails — those
// the delivery hook saw (after a fix, a raised limit), the ones named, or with
// --unprocessed the archived deliveries that match archiver_dmarc_mailboxes but were
// never processed (delivered before DMARC processing was enabled).
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/archiver-dmarc-launch.h"
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"

namespace archiver::doveadm {
namespace {

struct MailToProcess {
  MessageId id{};
  std::string user;
  std::string mailbox;
  std::string rcpt;  // the origin's detail: the envelope recipient
};

// One mail, read again by archiver-dmarc-reader (its old errors forgotten, what came of
// it noted), as a delivery has it read: a parser fault ends the reader, not this command.
// A non-OK return is a failure of the archive (read or write) or of the reader itself,
// not of the mail.
Status Reprocess(const DmarcArchive& archive, const MailToProcess& mail, DmarcItemTally* tally) {
  const DmarcReaderJob job = plugin::DmarcReaderJobFor(archive.settings, mail.id, mail.user,
                                                       mail.mailbox, mail.rcpt, true);
  Result<DmarcItemTally> read = plugin::ReadWithDmarcReader(job);
  if (!read.ok()) return read.status();
  *tally = *read;
  return Status::Ok();
}

// Fills user, mailbox and recipient from the mail's first archived delivery.
Status FillFromDelivery(const Store& store, MailToProcess* mail) {
  Result<std::vector<Delivery>> deliveries = store.DeliveriesOf(mail->id);
  if (!deliveries.ok()) return deliveries.status();
  if (deliveries->empty()) return Status::NotFound("no delivery of " + ToHex(mail->id));
  const DeliveryRecord& first = deliveries->front().record;
  if (mail->user.empty()) mail->user = first.user;
  if (mail->mailbox.empty()) mail->mailbox = first.mailbox;
  mail->rcpt = first.envelope_to;
  return Status::Ok();
}

// The mails chosen so far, each once, in the order chosen.
class MailSelection {
 public:
  explicit MailSelection(std::vector<MailToProcess>* selected) : selected_(selected) {}
  void Add(const MessageId& id, const std::string& user, const std::string& mailbox) {
    if (chosen_.insert(id).second) selected_->push_back(MailToProcess{id, user, mailbox, ""});
  }

 private:
  std::vector<MailToProcess>* selected_;
  std::set<MessageId> chosen_;
};

// The report mails the archive knows, by mail.
using KnownMails = std::map<MessageId, DmarcMail>;

// The mails named by id prefixes, with the user and mailbox noted for them when known.
// A prefix that names no mail, or several, is ExitCodeFor its lookup.
CommandStatus SelectNamedMails(const DmarcArchive& archive, const char* const* prefixes,
                               const KnownMails& seen, MailSelection* selection) {
  for (const char* const* prefix = prefixes; *prefix != nullptr; ++prefix) {
    Result<MessageId> id = archive.store->ResolvePrefix(*prefix);
    if (!id.ok())
      return CommandStatus::Of(id.status(),
                               std::string("Mail ") + *prefix + ": " + id.status().message());
    auto known = seen.find(*id);
    if (known == seen.end())
      selection->Add(*id, "", "");
    else
      selection->Add(*id, known->second.user, known->second.mailbox);
  }
  return CommandStatus::Ok();
}

// --unprocessed: the deliveries that archiver_dmarc_mailboxes makes report deliveries and
// whose mail was never read. EX_CONFIG without archiver_dmarc_mailboxes.
CommandStatus SelectUnprocessedMails(const DmarcArchive& archive, const KnownMails& seen,
                                     MailSelection* selection) {
  if (archive.settings.dmarc_mailboxes.empty())
    return CommandStatus::Failed(EX_CONFIG,
                                 "dmarc reprocess --unprocessed: archiver_dmarc_mailboxes is "
                                 "empty, so no delivery is a report delivery");
  Status status = archive.store->ListDeliveries(ListFilter{}, [&](const Delivery& delivery) {
    const DeliveryRecord& record = delivery.record;
    if (seen.count(record.id) == 0 &&
        archive.settings.IsDmarcDelivery(record.envelope_to, record.user, record.mailbox,
                                         record.envelope_from, record.headers.from_addr,
                                         record.headers.subject))
      selection->Add(record.id, record.user, record.mailbox);
    return true;
  });
  if (!status.ok())
    return CommandStatus::Of(status, "Listing deliveries failed: " + status.ToString());
  return CommandStatus::Ok();
}

// The mails the command works on, in order: those named, --unprocessed, or every report
// mail the archive knows. EX_USAGE for both, or the selection's failure.
CommandStatus SelectMails(struct doveadm_cmd_context* cctx, const DmarcArchive& archive,
                          std::vector<MailToProcess>* selected) {
  KnownMails seen;
  Status listed = archive.dmarc->ListMails([&](const DmarcMail& mail) {
    seen.emplace(mail.mail, mail);
    return true;
  });
  if (!listed.ok())
    return CommandStatus::Of(listed, "Listing report mails failed: " + listed.ToString());
  const char* const* prefixes = nullptr;
  bool named = doveadm_cmd_param_array(cctx, "id", &prefixes) && prefixes != nullptr &&
               prefixes[0] != nullptr;
  bool unprocessed = false;
  (void)doveadm_cmd_param_bool(cctx, "unprocessed", &unprocessed);
  if (named && unprocessed)
    return CommandStatus::Failed(EX_USAGE,
                                 "dmarc reprocess: give mail ids or --unprocessed, not both");
  MailSelection selection(selected);
  if (named) return SelectNamedMails(archive, prefixes, seen, &selection);
  if (unprocessed) return SelectUnprocessedMails(archive, seen, &selection);
  for (const auto& [id, mail] : seen) selection.Add(id, mail.user, mail.mailbox);
  return CommandStatus::Ok();
}

}  // namespace

void CmdDmarcReprocess(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, true, &archive); !opened.ok()) return opened;
    // Report mail is read as the archive's owner, never as root: an archive only root may
    // open cannot be read that way.
    if (geteuid() == 0 && archive.store->owner().uid == 0)
      return CommandStatus::Failed(EX_NOPERM,
                                   "dmarc reprocess: the archive at " + archive.settings.path +
                                       " belongs to root, and report mail is never read as "
                                       "root: give it to the mail user (or to a group, setgid)");
    if (CommandStatus dropped = DropRootBeforeParsing(archive); !dropped.ok()) return dropped;
    std::vector<MailToProcess> mails;
    if (CommandStatus selected = SelectMails(cctx, archive, &mails); !selected.ok())
      return selected;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field : {"mail", "user", "mailbox", "result"})
      doveadm_print_header_simple(field);
    for (const char* field : {"reports", "failures", "errors"})
      doveadm_print_header(field, field, DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("reason");
    uint64_t failed = 0;
    for (MailToProcess& mail : mails) {
      DmarcItemTally tally;
      Status status = FillFromDelivery(*archive.store, &mail);
      if (status.ok()) status = Reprocess(archive, mail, &tally);
      const DmarcItemResult result = status.ok() ? tally.Result() : DmarcItemResult::kError;
      if (result == DmarcItemResult::kError) ++failed;
      PrintValue(ToHex(mail.id).c_str());
      PrintValue(mail.user.c_str());
      PrintValue(mail.mailbox.c_str());
      PrintValue(DmarcItemResultName(result));
      doveadm_print_num(tally.reports);
      doveadm_print_num(tally.failures);
      doveadm_print_num(tally.errors);
      PrintValue(status.ok() ? tally.reasons.c_str() : status.ToString().c_str());
      // One mail's failure is reported as it happens; the next mails are still read.
      if (!status.ok())
        ReportAndContinue(CommandStatus::Of(status, ToHex(mail.id) + ": " + status.ToString()));
    }
    if (failed > 0)
      return CommandStatus::Failed(
          EX_DATAERR, std::to_string(failed) + " of " + std::to_string(mails.size()) +
                          " mails still have errors (doveadm dmarc errors lists them)");
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
