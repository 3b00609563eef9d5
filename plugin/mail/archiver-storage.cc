// Mailbox vfunc overrides: archive a delivery while Dovecot saves it (the save returns
// only once the archive is written, and fails if it could not be), an APPEND after it
// is written but before it is committed. Each override chains to `super`.
#include "mail/archiver-storage.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "mail/archiver-dmarc.h"
#include "archiver/job_thread.h"
#include "archiver/time_format.h"

namespace archiver::plugin {
namespace {

MODULE_CONTEXT_DEFINE_INIT(archiver_storage_module, &mail_storage_module_register);

}  // namespace

archiver_mailbox* ArchiverMailboxContext(struct mailbox* box) {
  // MODULE_CONTEXT_REQUIRE does not compile as C++; the override is only installed
  // together with the context, so it is always there.
  auto* context = static_cast<archiver_mailbox*>(MODULE_CONTEXT(box, archiver_storage_module));
  i_assert(context != nullptr);
  return context;
}

int HandleFailure(const ArchiverUser& user, struct mailbox* box, const Status& status,
                  enum mail_error for_good) {
  if (user.settings().failure == FailureMode::kContinue) {
    e_error(box->event,
            "archiver: %s - saved without archiving (archiver_failure=continue)",
            status.ToString().c_str());
    return 0;
  }
  if (for_good != MAIL_ERROR_TEMP) {
    // The sender's problem, not the server's: logged as an error, not as critical.
    e_error(box->event, "archiver: %s - refused for good", status.ToString().c_str());
    mail_storage_set_error(box->storage, for_good,
                           t_strconcat("Refused by the mail archive: ",
                                       status.message().c_str(), nullptr));
    return -1;
  }
  // A bug (Internal) fails temporarily too: LMTP's only permanent reply for a failure on
  // the server's side is "mailbox full", which would bounce the mail with a false reason,
  // and the mail waits in the MTA's queue until the bug is fixed (or the admin sets
  // archiver_failure=continue). The log says it is a bug, not an unavailable archive.
  if (status.code() == Status::Code::kInternal) {
    mailbox_set_critical(box, "archiver: internal error (a bug in the archiver: please report "
                              "it; archiver_failure=continue lets mail through unarchived): %s",
                         status.ToString().c_str());
  } else {
    mailbox_set_critical(box, "archiver: %s", status.ToString().c_str());
  }
  mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
                         "Archive temporarily unavailable, try again later");
  return -1;
}

namespace {

// One archive write, prepared on Dovecot's thread and run on any thread: Run touches
// nothing of Dovecot's, only the store and its own members.
struct ArchiveWrite {
  // Whether the archive refused the message for good (over its size limit or larger than
  // its whole map): a retry cannot succeed, so the delivery fails permanently.
  static bool RefusedForGood(const Status& written) {
    return written.code() == Status::Code::kLimitExceeded;
  }

  std::shared_ptr<Store> store;
  std::string_view body;  // into the CapturedMessage, which outlives the write
  DeliveryRecord record;
  std::optional<MessageId> known_id;  // from an earlier recipient's write of the message
  MessageId id{};                     // the message's id once Run succeeded

  // One write transaction: a later recipient's copy of a message whose id is known is
  // not hashed again, and stored only when this archive lacks it.
  Status Run() {
    const MessageId* known = known_id ? &*known_id : nullptr;
    return store->Archive(body, std::move(record), &id, known).status();
  }
};

Result<ArchiveWrite> PrepareWrite(ArchiverUser& user, const CapturedMessage& message,
                                  DeliveryRecord record) {
  Result<std::shared_ptr<Store>> store = user.GetStore();
  if (!store.ok()) return store.status();
  ArchiveWrite write;
  write.store = std::move(store).value();
  write.body = std::string_view(message.bytes).substr(message.prefix_length);
  record.headers = message.headers;
  record.trace_prefix.assign(message.bytes, 0, message.prefix_length);
  write.record = std::move(record);
  if (message.id_known) write.known_id = message.id;
  return write;
}

void NoteWritten(const ArchiveWrite& write, CapturedMessage& message) {
  message.id = write.id;
  message.id_known = true;
}

}  // namespace

Status ArchiveInto(ArchiverUser& user, CapturedMessage& message, DeliveryRecord record,
                   bool* refused_for_good) {
  *refused_for_good = false;
  Result<ArchiveWrite> write = PrepareWrite(user, message, std::move(record));
  if (!write.ok()) return write.status();
  Status written = write->Run();
  if (written.ok()) NoteWritten(*write, message);
  *refused_for_good = ArchiveWrite::RefusedForGood(written);
  return written;
}

namespace {

DeliveryRecord RecordOf(const ArchiverUser& user, const DeliveryEnvelope& envelope,
                        const char* mailbox) {
  DeliveryRecord record;
  record.received_us = NowMicros();
  record.origin = envelope.origin;
  record.envelope_from = envelope.envelope_from;
  record.envelope_to = envelope.envelope_to;
  record.user = user.username();
  record.mailbox = mailbox;
  return record;
}

// The archive write of one delivery into `mailbox` ("" when it was saved in none), from
// before Dovecot saves the message to after: it runs on a thread of its own meanwhile,
// so that its disk flushes overlap Dovecot's instead of adding to them (with
// archiver_fsync = no it has none, and runs before the save instead). Once written,
// the message is read for DMARC reports when it is a report delivery (logged to
// `event`). This owns everything the write reads; destroyed without Finish (an
// exception), it still waits for the write first (job_ is the last member).
class DeliveryArchive {
 public:
  DeliveryArchive(ArchiverUser& user, DeliveryEnvelope envelope, const char* mailbox,
                  struct event* event)
      : user_(user), envelope_(std::move(envelope)), mailbox_(mailbox), event_(event) {}
  DeliveryArchive(const DeliveryArchive&) = delete;
  DeliveryArchive& operator=(const DeliveryArchive&) = delete;

  // Reads the message delivered from `src_mail` (the transaction's capture when it is
  // that) and starts writing it. An error when it could not start.
  Status Start(struct mail* src_mail) {
    Result<CapturedMessage*> message =
        CaptureDeliveredMessage(src_mail, envelope_.agent, envelope_, &scratch_);
    if (!message.ok()) return message.status();
    message_ = *message;
    Result<ArchiveWrite> write =
        PrepareWrite(user_, *message_, RecordOf(user_, envelope_, mailbox_.c_str()));
    if (!write.ok()) return write.status();
    write_ = std::move(write).value();
    // Without archiver_fsync the write never waits for the disk: a thread of its own
    // would have nothing to overlap with Dovecot's save, only its own cost to add.
    if (user_.settings().fsync)
      job_.Start([this] { return write_.Run(); });
    else
      job_.RunHere([this] { return write_.Run(); });
    return Status::Ok();
  }

  // Waits for the write; when it succeeded, reads the message for DMARC reports. Its
  // errors are the write's (ArchiveWrite::RefusedForGood tells a permanent one).
  Status Finish() {
    Status written = job_.Wait();
    if (!written.ok()) return written;
    NoteWritten(write_, *message_);
    ProcessDmarcDelivery(user_, *message_, envelope_, mailbox_.c_str(), event_);
    return Status::Ok();
  }

 private:
  ArchiverUser& user_;
  const DeliveryEnvelope envelope_;
  const std::string mailbox_;
  struct event* const event_;
  CapturedMessage scratch_;
  CapturedMessage* message_ = nullptr;
  ArchiveWrite write_;
  JobThread job_;  // last: destroyed (waiting for the write) before what the write reads
};

// The envelope of a POST_SESSION save into `box`.
DeliveryEnvelope EnvelopeOfSave(struct mailbox* box, const struct mail_save_context* ctx) {
  const ArchiverUser* user = ArchiverUserGet(box->storage->user);
  const DeliveryEnvelope* known = user != nullptr ? user->delivery() : nullptr;
  if (known != nullptr) return *known;
  // A save that our deliver hook did not see (another plugin's delivery path): archive
  // it with what the save itself knows.
  DeliveryEnvelope unknown;
  unknown.origin = box->storage->user->service;
  unknown.agent = AgentOfService(unknown.origin);
  if (ctx->data.from_envelope != nullptr) unknown.envelope_from = ctx->data.from_envelope;
  return unknown;
}

}  // namespace

int ArchiveUnsavedDelivery(struct mail_deliver_context* ctx, ArchiverUser& user,
                           const DeliveryEnvelope& envelope) {
  if (!user.settings().capture_delivery) return 0;
  bool refused_for_good = false;
  Status status = Guarded([&] {
    DeliveryArchive archive(user, envelope, "", ctx->event);
    Status written = archive.Start(ctx->src_mail);
    if (!written.ok()) return written;
    written = archive.Finish();
    refused_for_good = ArchiveWrite::RefusedForGood(written);
    return written;
  });
  if (status.ok()) return 0;
  e_error(ctx->event, "archiver: %s (delivery saved in no mailbox)", status.ToString().c_str());
  if (user.settings().failure == FailureMode::kContinue) return 0;
  // Refused for good: without a tempfail error Dovecot saves the message to the default
  // mailbox instead, where the archive refuses it again, and that save's error (a
  // permanent one) is what the sender gets.
  if (refused_for_good) return -1;
  ctx->tempfail_error = p_strdup(ctx->pool, "Archive temporarily unavailable, try again later");
  return -1;
}

ArchiverUser* CapturingUser(struct mailbox* box, bool delivery) {
  ArchiverUser* user = ArchiverUserGet(box->storage->user);
  if (user == nullptr) return nullptr;
  const ArchiverSettings& settings = user->settings();
  if (delivery ? !settings.capture_delivery : !settings.capture_append) return nullptr;
  if (user->MailboxExcluded(mailbox_get_vname(box))) return nullptr;
  return user;
}

namespace {

// mailbox_vfuncs.copy: LMTP, dovecot-lda and Sieve deliveries (POST_SESSION) are
// archived while Dovecot saves them, and the save is not done before the archive is:
// a failure cancels the save (or, once Dovecot has saved, makes it return an error, so
// the caller rolls the uncommitted save back). Plain COPY/MOVE is never archived.
extern "C" int ArchiverCopy(struct mail_save_context* ctx, struct mail* mail) {
  struct mailbox* box = ctx->transaction->box;
  archiver_mailbox* abox = ArchiverMailboxContext(box);
  if ((box->flags & MAILBOX_FLAG_POST_SESSION) == 0) return abox->module_ctx.super.copy(ctx, mail);
  if (ArchiverUser* saving = ArchiverUserGet(box->storage->user); saving != nullptr)
    saving->NoteDeliverySave();
  ArchiverUser* user = nullptr;
  std::unique_ptr<DeliveryArchive> archive;
  Status status = Guarded([&] {
    user = CapturingUser(box, true);
    if (user == nullptr) return Status::Ok();
    archive = std::make_unique<DeliveryArchive>(*user, EnvelopeOfSave(box, ctx),
                                                mailbox_get_vname(box), box->event);
    return archive->Start(mail);
  });
  if (!status.ok()) {
    archive.reset();
    if (user == nullptr || HandleFailure(*user, box, status) == 0)
      return abox->module_ctx.super.copy(ctx, mail);
    mailbox_save_cancel(&ctx);
    return -1;
  }
  int saved = abox->module_ctx.super.copy(ctx, mail);
  if (archive == nullptr) return saved;
  status = Guarded([&] { return archive->Finish(); });
  const bool refused_for_good = ArchiveWrite::RefusedForGood(status);
  archive.reset();
  if (status.ok()) return saved;
  if (saved < 0) {
    // Dovecot's own error stays the one the sender sees.
    e_error(box->event, "archiver: %s (the save failed too)", status.ToString().c_str());
    return -1;
  }
  // A delivery refused for good fails as over quota: LMTP answers 552 5.2.2 (452 with
  // quota_full_tempfail), dovecot-lda rejects it (exit 77 with -e).
  return HandleFailure(*user, box, status,
                       refused_for_good ? MAIL_ERROR_NOQUOTA : MAIL_ERROR_TEMP);
}

}  // namespace

void ArchiverMailboxAllocated(struct mailbox* box) {
  if (ArchiverUserGet(box->storage->user) == nullptr) return;
  struct mailbox_vfuncs* vlast = box->vlast;
  archiver_mailbox* abox = p_new(box->pool, archiver_mailbox, 1);
  abox->module_ctx.super = *vlast;
  box->vlast = &abox->module_ctx.super;
  vlast->copy = ArchiverCopy;
  InstallAppendCapture(vlast);
  MODULE_CONTEXT_SET(box, archiver_storage_module, abox);
}

}  // namespace archiver::plugin
