// ArchiverUser: the per-user state of the mail plugin — the parsed settings, the archive
// (opened on first use) and the envelope of the delivery to this user in progress —
// attached to a Dovecot mail_user as a module context.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/archiver-dovecot.h"
#include "common/archiver-settings.h"
#include "mail/archiver-deliver.h"
#include "archiver/store/store.h"

namespace archiver::plugin {

class ArchiverUser {
 public:
  ArchiverUser(ArchiverSettings settings, std::string username, std::string service);

  const ArchiverSettings& settings() const { return settings_; }
  const std::string& username() const { return username_; }

  // The archive, opened (and created) on first use and kept open by the process for
  // later users (the one cache in front of the store: OpenArchives in archiver-user.cc);
  // checked on every call to still be the archive at archiver_path. The Store itself is
  // shared by every user of this process whose archiver_path names the same directory.
  Result<std::shared_ptr<Store>> GetStore();

  // True when archiver_exclude_mailboxes matches the mailbox name.
  bool MailboxExcluded(const char* vname) const;

  // The delivery to this user that Dovecot runs now (LMTP and dovecot-lda make a mail
  // user per recipient and delivery), from the deliver_mail hook; nullptr when none is
  // known (a save our hook did not see, or the hook failed).
  void BeginDelivery(DeliveryEnvelope envelope) { delivery_ = std::move(envelope); }
  void EndDelivery() { delivery_.reset(); }
  const DeliveryEnvelope* delivery() const { return delivery_ ? &*delivery_ : nullptr; }
  // A mailbox save of that delivery was seen (archived or not).
  void NoteDeliverySave() {
    if (delivery_) delivery_->reached_save = true;
  }

 private:
  ArchiverSettings settings_;
  std::string username_;
  std::string service_;  // "lmtp", "lda", "imap": named in errors
  std::optional<DeliveryEnvelope> delivery_;
};

// Closes the archives this process keeps open between deliveries (plugin deinit).
void CloseCachedArchives();

// The user's archiver state, or nullptr when this user is not archived (excluded,
// an internal raw user, or the plugin failed for it).
ArchiverUser* ArchiverUserGet(struct mail_user* user);

// mail_storage_hooks.mail_user_created: parses the settings once and attaches the
// state; an invalid setting fails the user with user->error.
void ArchiverUserCreated(struct mail_user* user);

}  // namespace archiver::plugin
