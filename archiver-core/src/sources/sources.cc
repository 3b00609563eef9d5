// SourceRegistry's management side: adding, editing, pausing, removing and describing
// sources, and their passwords. Syncing and its checkpoints: sources_sync.cc.
#include "archiver/sources/sources.h"

#include "archiver/secret_box.h"
#include "archiver/time_format.h"
#include "lmdb/lmdb_entries.h"
#include "sources/sources_codec.h"
#include "sources/sources_db.h"
#include "sources/sources_secrets.h"

namespace archiver {
namespace {

using internal::SourceDatabases;
using internal::SourceDbs;

Status NoArchive() { return Status::InvalidArgument("no archive"); }

Status UnknownSource(const std::string& name) {
  return Status::NotFound("no source named '" + name + "'");
}

Status ReadInfo(const lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                SourceInfo* info) {
  uint64_t next_log = 0;
  Status status = internal::ReadSourceConfig(txn, db, name, &info->config);
  if (status.ok()) status = internal::ReadSourceStatus(txn, db, name, &info->status, &next_log);
  if (!status.ok()) return status;
  info->folders.clear();
  const std::string prefix = internal::SourcePrefix(name);
  return internal::WalkPrefixed(
      txn, db.folders, prefix, false, [&](std::string_view key, std::string_view value, bool*) {
        FolderCheckpoint& checkpoint = info->folders.emplace_back();
        checkpoint.folder = std::string(key.substr(prefix.size()));
        return sources_codec::DecodeCheckpoint(value, &checkpoint)
            .Annotated("source '" + name + "' folder '" + checkpoint.folder + "'");
      });
}

// Changes a source's status with a log entry `what`.
Status ChangeStatus(lmdb::ArchiveEnv& archive, const std::string& name, const char* what,
                    const std::function<void(SourceStatus*)>& change) {
  return internal::ChangeSource(archive, name, std::string(what) + " source " + name,
                                [&](lmdb::Txn&, SourceStatus* status, SourceLogEntry* log) {
                                  change(status);
                                  log->what = what;
                                  return Status::Ok();
                                });
}

}  // namespace

SourceRegistry::SourceRegistry(std::shared_ptr<Store> store, std::string key_path,
                               std::string legacy_key_path)
    : env_(store ? store->environment() : nullptr),
      key_path_(std::move(key_path)),
      legacy_key_path_(std::move(legacy_key_path)) {}

Status SourceRegistry::Add(const SourceConfig& config, std::string_view password) {
  if (!env_) return NoArchive();
  if (Status valid = config.Validate(); !valid.ok()) return valid;
  // The key is created below: the passwords of the legacy key must move first.
  if (Result<LegacyKeyMigration> moved = MigrateLegacyKey(); !moved.ok()) return moved.status();
  Result<std::string> sealed =
      internal::SealSourcePassword({key_path_, legacy_key_path_}, config, password);
  if (!sealed.ok()) return sealed.status();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::InSourcesWrite(archive, "add source " + config.name, [&](lmdb::Txn& txn) {
    const SourceDatabases& db = SourceDbs(archive);
    std::string_view existing;
    Status found = txn.Get(db.config, config.name, &existing);
    if (found.ok()) return Status::InvalidArgument("source '" + config.name + "' exists already");
    if (found.code() != Status::Code::kNotFound) return found;
    const std::string what = "add source " + config.name;
    // Leftovers of a removed source of the same name (another process may have raced).
    Status status = internal::DeletePrefixed(txn, db.folders, internal::SourcePrefix(config.name));
    if (status.ok())
      status = internal::DeletePrefixed(txn, db.log, internal::SourcePrefix(config.name));
    if (status.ok()) {
      status = internal::PutEntry(txn, db.config, config.name, sources_codec::EncodeConfig(config),
                                  what);
    }
    if (status.ok()) status = internal::PutEntry(txn, db.secrets, config.name, *sealed, what);
    SourceStatus fresh;
    fresh.created_us = NowMicros();
    uint64_t next_log = 1;
    SourceLogEntry entry;
    entry.what = "add";
    if (status.ok()) status = internal::AppendLogIn(txn, db, config.name, entry, &next_log);
    if (status.ok()) status = internal::WriteSourceStatus(txn, db, config.name, fresh, next_log);
    return status;
  });
}

Status SourceRegistry::Update(const SourceConfig& config,
                              const std::optional<std::string>& password) {
  if (!env_) return NoArchive();
  if (Status valid = config.Validate(); !valid.ok()) return valid;
  if (Result<LegacyKeyMigration> moved = MigrateLegacyKey(); !moved.ok()) return moved.status();
  const internal::SourceKeys keys{key_path_, legacy_key_path_};
  std::optional<std::string> sealed;
  if (password) {
    Result<std::string> sealing = internal::SealSourcePassword(keys, config, *password);
    if (!sealing.ok()) return sealing.status();
    sealed = std::move(sealing.value());
  }
  lmdb::ArchiveEnv& archive = *env_;
  const std::string what = "edit source " + config.name;
  return internal::ChangeSource(
      archive, config.name, what, [&](lmdb::Txn& txn, SourceStatus* status, SourceLogEntry* log) {
        const SourceDatabases& db = SourceDbs(archive);
        SourceConfig stored;
        Status done = internal::ReadSourceConfig(txn, db, config.name, &stored);
        if (done.ok() && !sealed && !internal::SameSecretBinding(stored, config)) {
          // The admin moves the source: its password follows, opened for where it was.
          std::string_view old_sealed;
          done = txn.Get(db.secrets, config.name, &old_sealed);
          Result<std::string> old_password =
              done.ok() ? internal::OpenSourcePassword(keys, stored, old_sealed)
                        : Result<std::string>(done);
          if (!old_password.ok()) return old_password.status();
          Result<std::string> resealed = internal::SealSourcePassword(keys, config, *old_password);
          std::fill(old_password->begin(), old_password->end(), '\0');
          if (!resealed.ok()) return resealed.status();
          done = internal::PutEntry(txn, db.secrets, config.name, *resealed, what);
        }
        if (done.ok()) {
          done = internal::PutEntry(txn, db.config, config.name,
                                    sources_codec::EncodeConfig(config), what);
        }
        if (done.ok() && sealed) {
          done = internal::PutEntry(txn, db.secrets, config.name, *sealed, what);
        }
        status->next_due_us = 0;
        status->consecutive_failures = 0;
        log->what = sealed ? "edit (new password)" : "edit";
        return done;
      });
}

Status SourceRegistry::Remove(const std::string& name) {
  if (!env_) return NoArchive();
  lmdb::ArchiveEnv& archive = *env_;
  return internal::InSourcesWrite(archive, "remove source " + name, [&](lmdb::Txn& txn) {
    const SourceDatabases& db = SourceDbs(archive);
    std::string_view existing;
    Status status = txn.Get(db.config, name, &existing);
    if (status.code() == Status::Code::kNotFound) return UnknownSource(name);
    if (status.ok()) status = internal::DeleteEntry(txn, db.config, name);
    if (status.ok()) status = internal::DeleteEntry(txn, db.status, name);
    if (status.ok()) status = internal::DeleteEntry(txn, db.secrets, name);
    if (status.ok())
      status = internal::DeletePrefixed(txn, db.folders, internal::SourcePrefix(name));
    if (status.ok()) status = internal::DeletePrefixed(txn, db.log, internal::SourcePrefix(name));
    return status;  // idx_source and the delivery records stay: the mail stays archived
  });
}

Status SourceRegistry::Pause(const std::string& name) {
  if (!env_) return NoArchive();
  return ChangeStatus(*env_, name, "pause", [](SourceStatus* status) { status->paused = true; });
}

Status SourceRegistry::Resume(const std::string& name) {
  if (!env_) return NoArchive();
  return ChangeStatus(*env_, name, "resume", [](SourceStatus* status) {
    status->paused = false;
    status->next_due_us = 0;
  });
}

Result<SourceConfig> SourceRegistry::Get(const std::string& name) const {
  Result<SourceInfo> info = Describe(name);
  if (!info.ok()) return info.status();
  return std::move(info->config);
}

Result<SourceInfo> SourceRegistry::Describe(const std::string& name) const {
  if (!env_) return NoArchive();
  lmdb::Txn txn;
  SourceInfo info;
  Status begun = internal::BeginSourceRead(*env_, name, &txn, &info.status);
  if (!begun.ok()) return begun;
  Status read = ReadInfo(txn, SourceDbs(*env_), name, &info);
  if (!read.ok()) return read;
  return info;
}

Result<std::vector<SourceInfo>> SourceRegistry::List() const {
  if (!env_) return NoArchive();
  lmdb::Txn txn;
  bool present = false;
  Status status = internal::BeginSourcesRead(*env_, &txn, &present);
  std::vector<SourceInfo> sources;
  if (!status.ok()) return status;
  if (!present) return sources;
  const SourceDatabases& db = SourceDbs(*env_);
  std::vector<std::string> names;
  status = internal::WalkPrefixed(txn, db.config, "", false,
                                  [&](std::string_view key, std::string_view, bool*) {
                                    names.emplace_back(key);
                                    return Status::Ok();
                                  });
  for (size_t i = 0; status.ok() && i < names.size(); ++i) {
    status = ReadInfo(txn, db, names[i], &sources.emplace_back());
  }
  if (!status.ok()) return status;
  return sources;
}

}  // namespace archiver
