// DMARC report processing of a delivery that was just archived: the settings decide
// whether it is a report mail, the MIME walk feeds the pipeline, the ledger notes it.
#include "archiver-dmarc.h"

#include <memory>
#include <string>
#include <vector>

#include "archiver-dmarc-mime.h"
#include "archiver/digest.h"
#include "archiver/dmarc_store.h"

namespace archiver::plugin {
namespace {

// Reads the mail's reports into the archive and notes it in the DMARC ledger; `mail`
// tells what came of it, `problems` the errors' reasons.
Status ReadReports(ArchiverUser& user, DmarcStore& dmarc, const CapturedMessage& message,
                   const DeliveryEnvelope& envelope, DmarcMail* mail, std::string* problems) {
  DmarcOrigin origin;
  origin.kind = "mail";
  origin.detail = envelope.envelope_to;
  origin.mail = message.id;
  const std::string_view body = std::string_view(message.bytes).substr(message.prefix_length);
  Result<std::vector<DmarcItem>> items =
      ReadArchivedDmarcMail(body, dmarc, user.settings().DmarcOptions(), origin, mail);
  if (!items.ok()) return items.status();
  for (const DmarcItem& item : *items) {
    if (item.result != "error") continue;
    if (!problems->empty()) *problems += "; ";
    *problems += (item.part.empty() ? "" : "part " + item.part + ": ") + item.reason;
  }
  return Status::Ok();
}

}  // namespace

void ProcessDmarcDelivery(ArchiverUser& user, const CapturedMessage& message,
                          const DeliveryEnvelope& envelope, const char* mailbox,
                          struct event* event) {
  const ArchiverSettings& settings = user.settings();
  if (settings.dmarc_mailboxes.empty() || !message.id_known) return;
  std::string id;
  auto not_read = [&](const char* reason) {
    e_error(event,
            "archiver: DMARC reports of mail %s not read: %s - the mail is archived; "
            "`doveadm dmarc reprocess %s` reads it again",
            id.c_str(), reason, id.c_str());
  };
  try {
    if (!settings.IsDmarcDelivery(envelope.envelope_to, user.username(), mailbox,
                                  envelope.envelope_from, message.headers.from_addr,
                                  message.headers.subject))
      return;
    id = ToHex(message.id);
    // The same mail delivered to a second report mailbox, or again after a failed
    // recipient made the MTA retry: its reports are stored already, and reading them
    // once per copy would let one mail to many addresses cost many parses.
    Result<std::shared_ptr<Store>> store = user.GetStore();
    if (!store.ok()) {
      not_read(store.status().ToString().c_str());
      return;
    }
    DmarcStore dmarc(*store);
    Result<bool> noted = dmarc.MailNoted(message.id);
    if (noted.ok() && *noted) {
      e_info(event, "archiver: DMARC mail %s: read already (doveadm dmarc reprocess reads it "
                    "again)", id.c_str());
      return;
    }
    DmarcMail mail;
    mail.mail = message.id;
    mail.user = user.username();
    mail.mailbox = mailbox;
    std::string problems;
    Status status = ReadReports(user, dmarc, message, envelope, &mail, &problems);
    if (!status.ok()) {
      not_read(status.ToString().c_str());
    } else if (mail.errors > 0) {
      e_warning(event,
                "archiver: DMARC mail %s: %u aggregate and %u failure reports, %u unreadable "
                "(doveadm dmarc errors): %s",
                id.c_str(), mail.reports, mail.failures, mail.errors, problems.c_str());
    } else {
      e_info(event, "archiver: DMARC mail %s: %u aggregate and %u failure reports", id.c_str(),
             mail.reports, mail.failures);
    }
  } catch (const std::exception& e) {
    not_read(e.what());
  } catch (...) {
    not_read("unexpected exception");
  }
}

}  // namespace archiver::plugin
