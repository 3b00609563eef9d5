// Mailbox overrides of the mail plugin: copy (LMTP / dovecot-lda / Sieve deliveries
// arrive there with MAILBOX_FLAG_POST_SESSION) and save_finish (client APPEND, when
// archiver_capture includes append).
#pragma once

#include "archiver-dovecot.h"

namespace archiver::plugin {

// mail_storage_hooks.mailbox_allocated: installs the overrides for archived users.
void ArchiverMailboxAllocated(struct mailbox* box);

}  // namespace archiver::plugin
