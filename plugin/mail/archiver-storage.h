// Mailbox overrides of the mail plugin: copy (LMTP / dovecot-lda / Sieve deliveries
// arrive there with MAILBOX_FLAG_POST_SESSION, archiver-storage.cc) and the save_*
// methods (client APPEND, when archiver_capture includes append, archiver-append.cc),
// and what the two share.
#pragma once

#include "mail/archiver-deliver.h"
#include "common/archiver-dovecot.h"
#include "mail/archiver-user.h"

namespace archiver::plugin {

struct archiver_mailbox {
  union mailbox_module_context module_ctx;
};

// mail_storage_hooks.mailbox_allocated: installs the overrides for archived users.
void ArchiverMailboxAllocated(struct mailbox* box);

// The mailbox's context; only called from overrides, which exist only with it.
archiver_mailbox* ArchiverMailboxContext(struct mailbox* box);

// The user whose saves into `box` are archived (deliveries when `delivery`, else
// APPENDs), or nullptr when they are not.
ArchiverUser* CapturingUser(struct mailbox* box, bool delivery);

// Applies archiver_failure to a failed capture: 0 to go on saving, -1 to fail this save,
// with a temporary error set on the storage so the sender retries, or, when the archive
// refused the message for good, with `for_good` (MAIL_ERROR_NOQUOTA for a delivery,
// MAIL_ERROR_LIMIT for an APPEND) and the reason.
int HandleFailure(const ArchiverUser& user, struct mailbox* box, const Status& status,
                  enum mail_error for_good = MAIL_ERROR_TEMP);

// Archives `message` (or just a new delivery of it, when its id is already known)
// into the user's archive; fills in the record's headers, trace prefix, id and size.
// *refused_for_good: the archive can never take this message (over its size limit).
Status ArchiveInto(ArchiverUser& user, CapturedMessage& message, DeliveryRecord record,
                   bool* refused_for_good);

// Archives a delivery that saved nothing (mailbox ""), from the deliver_mail hook
// (an UnsavedDeliveryHandler). Returns 0, or -1 with ctx->tempfail_error set when
// archiver_failure=tempfail fails it.
int ArchiveUnsavedDelivery(struct mail_deliver_context* ctx, ArchiverUser& user,
                           const DeliveryEnvelope& envelope);

// Overrides save_begin/continue/finish/cancel of `vlast` to capture APPENDs.
void InstallAppendCapture(struct mailbox_vfuncs* vlast);

}  // namespace archiver::plugin
