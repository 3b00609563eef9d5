// RemoteAccount: a throwaway mail_user over Dovecot's imapc storage; what imapc reports
// when it cannot reach or log in to the remote is classified by source-failure.cc.
#include "source-connect.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "source-dovecot.h"
#include "source-log-capture.h"

namespace archiver::imapc {
namespace {

// The log capture of the account that is open now (one at a time per process).
LogCapture* account_capture = nullptr;

bool HasControlCharacter(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// What imapc logged while the account is open (nothing when none is).
RemoteLog CapturedLog() {
  static const std::vector<std::string> kNothing;
  if (account_capture == nullptr) return {kNothing, kNothing};
  return {account_capture->lines(), account_capture->setup_lines()};
}

// What imapc logged and what the failed call reported, as one classified error.
RemoteError Describe(const std::string& context, const std::string& mail_error) {
  return DescribeRemoteFailure(context, mail_error, CapturedLog());
}

// imapc_ssl's words: "imaps", "starttls", "no".
const char* TlsSetting(SourceTls mode) {
  return mode == SourceTls::kNone ? "no" : SourceTlsName(mode);
}

#if !DOVECOT_PREREQ(2, 4, 0)
// Sources connect as the archive's owner (root is given up first). Dovecot 2.3 reads
// ssl_client_ca_file only when it connects, and crashes when it cannot ("No SSL context"):
// a file this process may not read is a clear TLS failure instead.
RemoteError CaFileReadable(struct mail_storage_service_user* service_user) {
  const master_service_ssl_settings* ssl = mail_storage_service_user_get_ssl_settings(service_user);
  const char* path = ssl != nullptr ? ssl->ssl_client_ca_file : nullptr;
  if (path == nullptr || *path == '\0' || access(path, R_OK) == 0) return {};
  return {FailureKind::kTls, std::string("ssl_client_ca_file ") + path + " cannot be read by uid " +
                                 std::to_string(getuid()) + " (" + std::strerror(errno) +
                                 "): sources connect as the archive directory's owner"};
}
#endif

// Refuses settings no connection can be made with (kLocal).
RemoteError CheckSettings(const RemoteSettings& settings) {
  for (const std::string* value : {&settings.host, &settings.user, &settings.password}) {
    if (HasControlCharacter(*value))
      return {FailureKind::kLocal, "a source setting contains a control character"};
  }
  if (settings.host.empty() || settings.user.empty() || settings.password.empty())
    return {FailureKind::kLocal, "a source needs a host, a user and a password"};
  return {};
}

// How many messages of a search imapc asks for ahead of the one being read: their FETCHes
// go out together, so a sync waits for one round trip per that many messages instead of
// one per message (Dovecot's default, 0, fetches each message when it is read). Each
// message read ahead is held until it is read: imapc keeps a literal above 32 KiB in a
// temporary file, not in memory.
constexpr const char* kPrefetchField = "mail_prefetch_count=32";

// The connection settings as fields of the imapc user. They hold the password: the
// caller overwrites them once they are used.
std::vector<std::string> UserFields(const RemoteSettings& settings) {
#if DOVECOT_PREREQ(2, 4, 0)
  // The connection settings travel as code overrides of a user that is never looked up:
  // they stay in this process and are never logged. Dovecot 2.4 fetches sizes and
  // headers by default (imapc_features names only what to turn off) and checks the
  // remote's certificate with the ssl_client_* settings.
  return {
      "mail_driver=imapc",
      "mail_path=",
      "mail_index_path=MEMORY",  // no index files on disk for the remote account
      "imapc_host=" + settings.host,
      "imapc_port=" + std::to_string(settings.port),
      "imapc_user=" + settings.user,
      "imapc_password=" + settings.password,
      std::string("imapc_ssl=") + TlsSetting(settings.tls),
      std::string("ssl_client_require_valid_cert=") + (settings.tls_verify ? "yes" : "no"),
      kPrefetchField,
  };
#else
  // The connection settings travel as userdb fields of a user that is never looked up:
  // they stay in this process (Dovecot's debug log shows "*pass*" fields as <hidden>).
  return {
      "mail_plugins=",  // no mail plugin (ours included) acts on the remote account
      "imapc_host=" + settings.host,
      "imapc_port=" + std::to_string(settings.port),
      "imapc_user=" + settings.user,
      "imapc_password=" + settings.password,
      std::string("imapc_ssl=") + TlsSetting(settings.tls),
      std::string("imapc_ssl_verify=") + (settings.tls_verify ? "yes" : "no"),
      // RFC822.SIZE and header-only FETCHes: a sync learns sizes (and a DMARC source its
      // filters' headers) before it downloads a body.
      "imapc_features=rfc822.size fetch-headers",
      kPrefetchField,
  };
#endif
}

}  // namespace

RemoteError RemoteAccount::CreateUser(const RemoteSettings& settings) {
  auto flags = static_cast<enum mail_storage_service_flags>(
      MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT | MAIL_STORAGE_SERVICE_FLAG_NO_PLUGINS |
      MAIL_STORAGE_SERVICE_FLAG_NO_NAMESPACES | MAIL_STORAGE_SERVICE_FLAG_NO_RESTRICT_ACCESS |
      MAIL_STORAGE_SERVICE_FLAG_NO_CHDIR | MAIL_STORAGE_SERVICE_FLAG_ALLOW_ROOT);
#if DOVECOT_PREREQ(2, 4, 0)
  service_ = mail_storage_service_init(master_service, flags);
#else
  service_ = mail_storage_service_init(master_service, nullptr, flags);
#endif
  std::vector<std::string> fields = UserFields(settings);
  std::vector<const char*> field_pointers;
  for (const std::string& field : fields) field_pointers.push_back(field.c_str());
  field_pointers.push_back(nullptr);

  struct mail_storage_service_input input;
  i_zero(&input);
  input.service = "doveadm";
  input.username = "archiver-source";
  input.no_userdb_lookup = TRUE;
  const char* service_error = nullptr;
#if DOVECOT_PREREQ(2, 4, 0)
  input.code_override_fields = field_pointers.data();
  int ret = mail_storage_service_lookup_next(service_, &input, &user_, &service_error);
#else
  input.userdb_fields = field_pointers.data();
  int ret =
      mail_storage_service_lookup_next(service_, &input, &service_user_, &user_, &service_error);
#endif
  // The password copy in `fields` is overwritten before it is freed.
  for (std::string& field : fields) std::fill(field.begin(), field.end(), '\0');
  if (ret <= 0) {
    return {FailureKind::kLocal, std::string("cannot set up the imapc user: ") +
                                     (service_error != nullptr ? service_error : "unknown")};
  }
  return {};
}

RemoteError RemoteAccount::Connect(const RemoteSettings& settings,
                                   std::unique_ptr<RemoteAccount>* connected) {
  connected->reset();
  if (RemoteError refused = CheckSettings(settings); !refused.ok()) return refused;
  i_assert(account_capture == nullptr);
  std::unique_ptr<RemoteAccount> account(new RemoteAccount());
  account->capture_ = std::make_unique<LogCapture>();
  account_capture = account->capture_.get();
  if (RemoteError failed = account->CreateUser(settings); !failed.ok()) return failed;
#if !DOVECOT_PREREQ(2, 4, 0)
  if (settings.tls != SourceTls::kNone) {
    if (RemoteError unreadable = CaFileReadable(account->service_user_); !unreadable.ok())
      return unreadable;
  }
#endif
  const char* location_error = nullptr;
  std::string login = "connecting to " + settings.host + ":" + std::to_string(settings.port);
#if DOVECOT_PREREQ(2, 4, 0)
  int location_ret =
      mail_namespaces_init_location(account->user_, account->user_->event, &location_error);
#else
  int location_ret = mail_namespaces_init_location(account->user_, "imapc:", &location_error);
#endif
  if (location_ret < 0)
    return Describe(login, location_error != nullptr ? location_error : "unknown error");
  if (account->user_->error != nullptr) return Describe(login, account->user_->error);
  *connected = std::move(account);
  return {};
}

RemoteAccount::~RemoteAccount() {
  if (user_ != nullptr) mail_user_deinit(&user_);
#if !DOVECOT_PREREQ(2, 4, 0)
  if (service_user_ != nullptr) mail_storage_service_user_unref(&service_user_);
#endif
  if (service_ != nullptr) mail_storage_service_deinit(&service_);
  if (capture_ != nullptr) account_capture = nullptr;
}

struct mail_namespace* RemoteAccount::ns() const {
  return user_->namespaces;
}

RemoteError RemoteAccount::ListFolders(std::vector<std::string>* folders) {
  capture_->Clear();
  folders->clear();
  struct mailbox_list_iterate_context* iter =
      mailbox_list_iter_init(ns()->list, "*", MAILBOX_LIST_ITER_NO_AUTO_BOXES);
  while (const struct mailbox_info* info = mailbox_list_iter_next(iter)) {
    if ((info->flags & (MAILBOX_NOSELECT | MAILBOX_NONEXISTENT)) == 0)
      folders->emplace_back(info->vname);
  }
  if (mailbox_list_iter_deinit(&iter) < 0) {
    enum mail_error code;
    return Describe("listing the folders", mailbox_list_get_last_internal_error(ns()->list, &code));
  }
  return {};
}

RemoteError RemoteAccount::FolderStatus(const std::string& folder, RemoteFolderStatus* status) {
  capture_->Clear();
  struct mailbox* box = mailbox_alloc(ns()->list, folder.c_str(), MAILBOX_FLAG_READONLY);
  struct mailbox_status box_status;
  auto items = static_cast<enum mailbox_status_items>(STATUS_MESSAGES | STATUS_UNSEEN |
                                                      STATUS_UIDVALIDITY | STATUS_UIDNEXT);
  RemoteError failure;
  if (mailbox_get_status(box, items, &box_status) == 0) {
    status->name = folder;
    status->messages = box_status.messages;
    status->unseen = box_status.unseen;
    status->uid_validity = box_status.uidvalidity;
    status->uid_next = box_status.uidnext;
  } else {
    failure = MailboxError(box, "folder " + folder);
  }
  mailbox_free(&box);
  return failure;
}

RemoteError RemoteAccount::MailboxError(struct mailbox* box, const std::string& context) const {
  enum mail_error code = MAIL_ERROR_NONE;
  std::string text = mailbox_get_last_internal_error(box, &code);
  return DescribeFolderFailure(context, code == MAIL_ERROR_NOTFOUND, text, CapturedLog());
}

}  // namespace archiver::imapc
