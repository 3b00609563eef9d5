// SyncSource: the connection, the folders in turn (each a FolderSync run,
// source-folder-sync.h, reconnecting past a message whose FETCH dropped it), the result
// recorded with FinishSync; and the credentials a sync is given.
#include "source-sync.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "source-folder-sync.h"

namespace archiver::imapc {
namespace {

// A sync gives up on a folder after this many connections dropped at one of its messages.
constexpr int kMaxReconnects = 10;

// Whether `settings` (read with the password) still name the connection `config` names.
bool SameConnection(const SourceConfig& config, const RemoteSettings& settings) {
  return settings.host == config.host && settings.port == config.port &&
         settings.user == config.user && settings.tls == config.tls &&
         settings.tls_verify == config.tls_verify;
}

// Runs `folder`, reconnecting (at most kMaxReconnects times) after each run that stopped
// at a message whose FETCH dropped the connection: that message is then in the retry
// list and the next run goes on after it. `*account` is null when a reconnection failed.
RemoteError RunFolder(FolderSync* folder_sync, const RemoteSettings& settings,
                      std::unique_ptr<RemoteAccount>* account, const std::string& folder) {
  RemoteError failure = folder_sync->Run(folder);
  for (int reconnects = 0;
       !failure.ok() && folder_sync->TakeReconnect() && reconnects < kMaxReconnects; ++reconnects) {
    account->reset();
    failure = RemoteAccount::Connect(settings, account);
    folder_sync->set_account(account->get());
    if (!failure.ok()) break;
    failure = folder_sync->Run(folder);
  }
  (void)folder_sync->TakeReconnect();
  return failure;
}

// Connects and syncs the source's folders in turn. A missing folder does not keep the
// others from syncing (*missing_folder is set); any other failure stops. Returns the
// first failure; `outcome` counts what was archived.
RemoteError SyncFolders(SourceRegistry* registry, const SourceConfig& config,
                        const RemoteSettings& settings, const SyncOptions& options,
                        SyncOutcome* outcome, bool* missing_folder) {
  std::unique_ptr<RemoteAccount> account;
  std::vector<std::string> folders;
  RemoteError first = RemoteAccount::Connect(settings, &account);
  if (first.ok()) first = SourceFolders(account.get(), config, &folders);
  if (!first.ok()) return first;
  FolderSync folder_sync(registry, config, options, outcome);
  folder_sync.set_account(account.get());
  for (const std::string& folder : folders) {
    RemoteError failure = RunFolder(&folder_sync, settings, &account, folder);
    if (failure.ok()) continue;
    if (first.ok()) first = failure;
    if (account == nullptr || failure.kind != FailureKind::kMissingFolder) break;
    *missing_folder = true;
  }
  return first;
}

// Records the end of the sync (FinishSync); a failure to record it becomes the outcome's
// failure (kLocal) when the sync itself succeeded.
void RecordSync(SourceRegistry* registry, const std::string& name, SyncOutcome* outcome) {
  SyncReport report;
  report.ok = outcome->failure == FailureKind::kNone;
  report.error = outcome->error;
  report.caught_up = outcome->caught_up;
  report.count = outcome->archived;
  Status finished = registry->FinishSync(name, report);
  if (!finished.ok() && outcome->failure == FailureKind::kNone) {
    outcome->failure = FailureKind::kLocal;
    outcome->error = "recording the sync: " + finished.ToString();
  }
}

}  // namespace

RemoteError SourceRemoteSettings(const SourceRegistry& registry, const SourceConfig& config,
                                 RemoteSettings* settings) {
  // Opens only for exactly these settings, the ones the connection will use.
  Result<std::string> password = registry.Password(config);
  if (!password.ok())
    return {FailureKind::kLocal, "the source's password: " + password.status().ToString()};
  settings->host = config.host;
  settings->port = static_cast<uint16_t>(config.port);
  settings->user = config.user;
  settings->password = std::move(password).value();
  settings->tls = config.tls;
  settings->tls_verify = config.tls_verify;
  return {};
}

RemoteError SourceFolders(RemoteAccount* account, const SourceConfig& config,
                          std::vector<std::string>* folders) {
  std::vector<std::string> candidates = config.folders;
  if (config.all_folders) {
    if (RemoteError failure = account->ListFolders(&candidates); !failure.ok()) return failure;
  }
  folders->clear();
  for (const std::string& folder : candidates) {
    if (std::find(config.exclude.begin(), config.exclude.end(), folder) == config.exclude.end())
      folders->push_back(folder);
  }
  return {};
}

SourceCredentials::~SourceCredentials() {
  std::fill(remote.password.begin(), remote.password.end(), '\0');
}

SourceCredentials::SourceCredentials(SourceCredentials&& other) noexcept
    : remote(std::move(other.remote)), error(std::move(other.error)) {}

SourceCredentials ReadSourceCredentials(const SourceRegistry& registry, const std::string& name) {
  SourceCredentials credentials;
  Result<SourceConfig> config = registry.Get(name);
  if (!config.ok())
    credentials.error = {FailureKind::kLocal, config.status().ToString()};
  else
    credentials.error = SourceRemoteSettings(registry, *config, &credentials.remote);
  return credentials;
}

SyncOutcome SyncSource(SourceRegistry* registry, const std::string& name,
                       const SourceCredentials& credentials, const SyncOptions& options) {
  SyncOutcome outcome;
  RemoteError error = credentials.error;
  Result<SourceInfo> info = registry->Describe(name);
  if (!info.ok()) {
    outcome.failure = FailureKind::kLocal;
    outcome.error = info.status().ToString();
    return outcome;
  }
  const SourceConfig* config = &info->config;
  const RemoteSettings& settings = credentials.remote;
  if (error.ok() && !SameConnection(*config, settings)) {
    error = {FailureKind::kLocal,
             "the source's connection settings changed since its password was read: the "
             "next sync uses the new ones"};
  }
  bool missing_folder = false;
  if (error.ok())
    error = SyncFolders(registry, *config, settings, options, &outcome, &missing_folder);
  outcome.failure = error.kind;
  outcome.error = error.reason;
  outcome.caught_up = error.ok() && !missing_folder;
  RecordSync(registry, name, &outcome);
  return outcome;
}

}  // namespace archiver::imapc
