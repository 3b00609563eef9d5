// Mailbox vfunc overrides: archive a delivery before it is saved, an APPEND after it
// is written but before it is committed. Each override chains to `super`.
#include "archiver-storage.h"

#include <string>

#include "archiver-dmarc.h"
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

int HandleFailure(const ArchiverUser& user, struct mailbox* box, const Status& status) {
  if (user.settings().failure == FailureMode::kContinue) {
    e_error(box->event,
            "archiver: %s - saved without archiving (archiver_failure=continue)",
            status.ToString().c_str());
    return 0;
  }
  mailbox_set_critical(box, "archiver: %s", status.ToString().c_str());
  mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
                         "Archive temporarily unavailable, try again later");
  return -1;
}

namespace {

DeliveryAgent AgentOf(const std::string& origin) {
  if (origin == "lmtp") return DeliveryAgent::kLmtp;
  if (origin == "lda") return DeliveryAgent::kLda;
  return DeliveryAgent::kAppend;
}

}  // namespace

Status ArchiveInto(ArchiverUser& user, CapturedMessage& message, DeliveryRecord record) {
  Result<std::shared_ptr<Store>> store = user.GetStore();
  if (!store.ok()) return store.status();
  std::string_view body = std::string_view(message.bytes).substr(message.prefix_length);
  record.headers = message.headers;
  record.trace_prefix.assign(message.bytes, 0, message.prefix_length);
  if (message.id_known) {
    record.id = message.id;
    record.size = body.size();
    Result<ArchiveOutcome> added = (*store)->AddDelivery(record);
    if (added.ok() || added.status().code() != Status::Code::kNotFound) return added.status();
    // Another user's archive holds it, not this one: store the message here too.
  }
  Result<ArchiveOutcome> archived = (*store)->Archive(body, std::move(record), &message.id);
  if (archived.ok()) message.id_known = true;
  return archived.status();
}

namespace {

// Archives the delivery of `src_mail` described by `envelope` into `mailbox` ("" when
// it was saved in none), reusing the transaction's captured message when it is that;
// then reads it for DMARC reports when it is a report delivery (logged to `event`).
Status ArchiveFromDelivery(ArchiverUser& user, struct mail* src_mail,
                           const DeliveryEnvelope& envelope, const char* mailbox,
                           struct event* event) {
  CapturedMessage scratch;
  Result<CapturedMessage*> message =
      CaptureDeliveredMessage(src_mail, AgentOf(envelope.origin), envelope, &scratch);
  if (!message.ok()) return message.status();
  DeliveryRecord record;
  record.received_us = NowMicros();
  record.origin = envelope.origin;
  record.envelope_from = envelope.envelope_from;
  record.envelope_to = envelope.envelope_to;
  record.user = user.username();
  record.mailbox = mailbox;
  Status archived = ArchiveInto(user, **message, std::move(record));
  if (archived.ok()) ProcessDmarcDelivery(user, **message, envelope, mailbox, event);
  return archived;
}

Status ArchiveDelivery(ArchiverUser& user, struct mailbox* box, struct mail_save_context* ctx,
                       struct mail* src_mail) {
  const DeliveryEnvelope* envelope = DeliveryEnvelopeFor(box->storage->user);
  DeliveryEnvelope unknown;
  if (envelope == nullptr) {
    // A POST_SESSION save that our deliver hook did not see (another plugin's
    // delivery path): archive it with what the save itself knows.
    unknown.origin = box->storage->user->service;
    if (ctx->data.from_envelope != nullptr) unknown.envelope_from = ctx->data.from_envelope;
    envelope = &unknown;
  }
  return ArchiveFromDelivery(user, src_mail, *envelope, mailbox_get_vname(box), box->event);
}

}  // namespace

int ArchiveUnsavedDelivery(struct mail_deliver_context* ctx, const DeliveryEnvelope& envelope) {
  ArchiverUser* user = ArchiverUserGet(ctx->rcpt_user);
  if (user == nullptr || !user->settings().capture_delivery) return 0;
  Status status;
  try {
    status = ArchiveFromDelivery(*user, ctx->src_mail, envelope, "", ctx->event);
  } catch (const std::exception& e) {
    status = Status::IOError(e.what());
  } catch (...) {
    status = Status::IOError("unexpected exception");
  }
  if (status.ok()) return 0;
  e_error(ctx->event, "archiver: %s (delivery saved in no mailbox)", status.ToString().c_str());
  if (user->settings().failure == FailureMode::kContinue) return 0;
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
// archived first; a failure cancels the save. Plain COPY/MOVE is never archived.
extern "C" int ArchiverCopy(struct mail_save_context* ctx, struct mail* mail) {
  struct mailbox* box = ctx->transaction->box;
  archiver_mailbox* abox = ArchiverMailboxContext(box);
  if ((box->flags & MAILBOX_FLAG_POST_SESSION) != 0) {
    NoteDeliverySave(box->storage->user);
    int result = 0;
    ArchiverUser* user = nullptr;
    try {
      user = CapturingUser(box, true);
      if (user != nullptr) {
        Status archived = ArchiveDelivery(*user, box, ctx, mail);
        if (!archived.ok()) result = HandleFailure(*user, box, archived);
      }
    } catch (const std::exception& e) {
      result = user == nullptr ? 0 : HandleFailure(*user, box, Status::IOError(e.what()));
    } catch (...) {
      result = user == nullptr
                   ? 0
                   : HandleFailure(*user, box, Status::IOError("unexpected exception"));
    }
    if (result < 0) {
      mailbox_save_cancel(&ctx);
      return -1;
    }
  }
  return abox->module_ctx.super.copy(ctx, mail);
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
