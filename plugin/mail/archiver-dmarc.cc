// DMARC report processing of a delivery that was just archived: the settings decide
// whether it is a report mail; archiver-dmarc-reader, a process of its own, reads it
// (archiver-dmarc-launch.h); the delivery waits for its answer archiver_dmarc_wait at most.
#include "mail/archiver-dmarc.h"

#include <chrono>
#include <memory>
#include <string>

#include "common/archiver-dmarc-launch.h"
#include "archiver/digest.h"
#include "archiver/dmarc/dmarc_store.h"

namespace archiver::plugin {
namespace {

// Logs what the reader answered about mail `id`.
void LogAnswer(struct event* event, const std::string& id, const DmarcReaderAnswer& answer,
               const std::function<void(const char*)>& not_read) {
  const DmarcItemTally& tally = answer.tally;
  if (answer.outcome == "already") {
    e_info(event, "archiver: DMARC mail %s: read already (doveadm dmarc reprocess reads it "
                  "again)", id.c_str());
  } else if (answer.outcome == "reading") {
    e_info(event, "archiver: DMARC mail %s: being read already (another recipient's delivery "
                  "of it, or a retry)", id.c_str());
  } else if (answer.outcome == "busy") {
    e_warning(event,
              "archiver: DMARC mail %s: not read now (%s); the mail is archived; `doveadm dmarc "
              "reprocess --unprocessed` reads it", id.c_str(), answer.message.c_str());
  } else if (answer.outcome == "failed") {
    not_read(answer.message.c_str());
  } else if (answer.outcome == "stopped") {
    e_warning(event,
              "archiver: DMARC mail %s: the report reader stopped before the end (%s); "
              "noted in doveadm dmarc errors, the mail is delivered and archived",
              id.c_str(), answer.message.c_str());
  } else if (tally.errors > 0) {
    e_warning(event,
              "archiver: DMARC mail %s: %llu aggregate and %llu failure reports, %llu "
              "unreadable (doveadm dmarc errors): %s",
              id.c_str(), static_cast<unsigned long long>(tally.reports),
              static_cast<unsigned long long>(tally.failures),
              static_cast<unsigned long long>(tally.errors), tally.reasons.c_str());
  } else {
    e_info(event, "archiver: DMARC mail %s: %llu aggregate and %llu failure reports", id.c_str(),
           static_cast<unsigned long long>(tally.reports),
           static_cast<unsigned long long>(tally.failures));
  }
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
    Result<bool> noted = DmarcStore(*store).MailNoted(message.id);
    if (noted.ok() && *noted) {
      LogAnswer(event, id, DmarcReaderAnswer{"already", {}, ""}, not_read);
      return;
    }
    const DmarcReaderJob job = DmarcReaderJobFor(settings, message.id, user.username(),
                                                 mailbox, envelope.envelope_to, false);
    const std::chrono::milliseconds wait(settings.dmarc_wait_ms);
    Result<DmarcReaderRun> run = RunDmarcReader(job, wait);
    if (!run.ok()) {
      not_read(run.status().ToString().c_str());
    } else if (run->state == DmarcReaderRun::State::kAnswered) {
      LogAnswer(event, id, run->answer, not_read);
    } else if (run->state == DmarcReaderRun::State::kStillReading) {
      e_info(event,
             "archiver: DMARC mail %s: still being read after %llu ms; the delivery goes on "
             "and the reading by itself (doveadm dmarc list and errors show what came of it)",
             id.c_str(), static_cast<unsigned long long>(settings.dmarc_wait_ms));
    } else {
      not_read("the report reader ended without an answer");
    }
  } catch (const std::exception& e) {
    not_read(e.what());
  } catch (...) {
    not_read("unexpected exception");
  }
}

}  // namespace archiver::plugin
