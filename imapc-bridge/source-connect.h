// RemoteAccount: one remote IMAP account opened through Dovecot's own imapc storage, in
// this process (doveadm or the poller): a mail_user whose only namespace is "imapc:"
// (in-memory indexes), with the connection settings given in-process, never on a
// command line. Failures are classified (source-failure.h) so that callers can report
// them and choose exit codes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "archiver/sources/sources.h"
#include "source-dovecot.h"
#include "source-failure.h"

struct mail_user;
struct mailbox;
struct mail_namespace;
struct mail_storage_service_ctx;
struct mail_storage_service_user;

namespace archiver::imapc {

class LogCapture;

struct RemoteSettings {
  std::string host;
  uint16_t port = 993;
  std::string user;
  std::string password;  // kept in memory only; never logged
  SourceTls tls = SourceTls::kImaps;
  bool tls_verify = true;  // false: any certificate is accepted. Trusted CAs are
                           // Dovecot's ssl_client_ca_file / ssl_client_ca_dir.
};

// Status of one remote folder.
struct RemoteFolderStatus {
  std::string name;
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
};

class RemoteAccount {
 public:
  // Connects and logs in, filling `account` on success. Must run in a process with
  // Dovecot's master service and an ioloop (doveadm, a Dovecot service).
  [[nodiscard]] static RemoteError Connect(const RemoteSettings& settings,
                                           std::unique_ptr<RemoteAccount>* account);
  ~RemoteAccount();
  RemoteAccount(const RemoteAccount&) = delete;
  RemoteAccount& operator=(const RemoteAccount&) = delete;

  // The selectable folders of the account, in the server's order.
  [[nodiscard]] RemoteError ListFolders(std::vector<std::string>* folders);

  // Message, unseen counts, UIDVALIDITY and UIDNEXT of `folder` (kMissingFolder when it
  // does not exist).
  [[nodiscard]] RemoteError FolderStatus(const std::string& folder, RemoteFolderStatus* status);

  // The namespace whose storage is the remote account (valid while this object lives).
  struct mail_namespace* ns() const;

  // Turns the last error of `box` (and what imapc logged meanwhile) into a RemoteError.
  RemoteError MailboxError(struct mailbox* box, const std::string& context) const;

 private:
  RemoteAccount() = default;
  // The mail_user over imapc, made from `settings` (no connection yet on 2.3); a kLocal
  // failure when Dovecot refuses it.
  [[nodiscard]] RemoteError CreateUser(const RemoteSettings& settings);
  std::unique_ptr<LogCapture> capture_;  // installed for the account's lifetime
  struct mail_storage_service_ctx* service_ = nullptr;
#if !DOVECOT_PREREQ(2, 4, 0)
  struct mail_storage_service_user* service_user_ = nullptr;  // 2.4: freed by lookup_next
#endif
  struct mail_user* user_ = nullptr;
};

}  // namespace archiver::imapc
