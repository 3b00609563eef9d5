// The archiver mail plugin's entry points: version, init and deinit, and hook
// registration. Everything else lives in the files named after its concern.
#include "mail/archiver-deliver.h"
#include "common/archiver-dovecot.h"
#include "mail/archiver-storage.h"
#include "mail/archiver-user.h"

namespace {

// The deliver_mail hook is installed here, not at init: Pigeonhole's Sieve hook never
// calls the hook it replaced, and it is initialised after us (modules load in name
// order), so ours must be set later to be the outermost. Users are created after every
// plugin is initialised and before anything is delivered to them.
void UserCreatedHook(struct mail_user* user) {
  archiver::plugin::DeliverHookInit(archiver::plugin::ArchiveUnsavedDelivery);
  archiver::plugin::ArchiverUserCreated(user);
}

// Throws nothing: it only allocates from Dovecot's pools (which abort on failure).
void MailboxAllocatedHook(struct mailbox* box) { archiver::plugin::ArchiverMailboxAllocated(box); }

struct mail_storage_hooks archiver_mail_storage_hooks = {
    .mail_user_created = UserCreatedHook,
    .mailbox_allocated = MailboxAllocatedHook,
};

}  // namespace

extern "C" {

#define ARCHIVER_EXPORT __attribute__((visibility("default")))
ARCHIVER_EXPORT extern const char* archiver_plugin_version;
ARCHIVER_EXPORT const char* archiver_plugin_version = DOVECOT_ABI_VERSION;

ARCHIVER_EXPORT void archiver_plugin_init(struct module* module);
ARCHIVER_EXPORT void archiver_plugin_deinit(void);

void archiver_plugin_init(struct module* module) {
  mail_storage_hooks_add(module, &archiver_mail_storage_hooks);
}

void archiver_plugin_deinit(void) {
  archiver::plugin::DeliverHookDeinit();
  archiver::plugin::CloseCachedArchives();
  mail_storage_hooks_remove(&archiver_mail_storage_hooks);
}

}  // extern "C"
