// Source passwords (sources_secrets.h): the binding of a password to its source's server,
// sealing and opening it, SourceRegistry::Password, and the one-time move of version-1
// passwords from the key that older versions kept in the archive directory.
#include "sources/sources_secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "lmdb/lmdb_entries.h"
#include "sources/sources_codec.h"

namespace archiver::internal {
namespace {

constexpr std::string_view kBindingLabel = "dovecot-archiver source password";

void AppendField(std::string* out, std::string_view field) {
  const auto size = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(size >> shift));
  out->append(field);
}

std::string ReenterCommand(const std::string& name) {
  return "re-enter it with `doveadm archive source edit " + name + " --password-stdin`";
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

// Version-1 passwords open under the legacy key only until the first key of this version
// exists: that file, in a directory only root writes, marks the move done, whatever the
// archive's writers put back in the archive directory later.
bool LegacyKeyUsable(const SourceKeys& keys) {
  return !keys.legacy.empty() && !Exists(keys.path) && Exists(keys.legacy);
}

// Empties the old key file through a descriptor (so that no other name of it keeps the
// key) and removes the name. The file must still be this process's 32-byte key file.
Status DestroyLegacyKey(const std::string& path) {
  const std::string about = "the old sources key " + path;
  int fd = open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::IOError(about + ": open: " + std::strerror(errno));
  struct stat st;
  Status status;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
      st.st_size != static_cast<off_t>(SecretBox::kKeySize)) {
    status = Status::PermissionDenied(about + " was replaced meanwhile: left as it is");
  } else if (ftruncate(fd, 0) != 0 || fsync(fd) != 0 || unlink(path.c_str()) != 0) {
    status = Status::IOError(about + ": destroy: " + std::strerror(errno));
  }
  close(fd);
  return status;
}

}  // namespace

std::string SourceSecretBinding(const SourceConfig& config) {
  std::string out;
  for (std::string_view field :
       {kBindingLabel, std::string_view(config.name), std::string_view(config.host)}) {
    AppendField(&out, field);
  }
  AppendField(&out, std::to_string(config.port));
  AppendField(&out, config.user);
  AppendField(&out, SourceTlsName(config.tls));
  AppendField(&out, config.tls_verify ? "yes" : "no");
  return out;
}

bool SameSecretBinding(const SourceConfig& a, const SourceConfig& b) {
  return SourceSecretBinding(a) == SourceSecretBinding(b);
}

Result<std::string> SealSourcePassword(const SourceKeys& keys, const SourceConfig& config,
                                       std::string_view password) {
  if (password.empty())
    return Status::InvalidArgument("the password of source " + config.name + " is empty");
  Result<SecretBox> box = SecretBox::Load(keys.path);
  if (!box.ok()) return box.status();
  return box->Seal(password, SourceSecretBinding(config), SecretBox::kVersion2);
}

Result<std::string> OpenSourcePassword(const SourceKeys& keys, const SourceConfig& config,
                                       std::string_view sealed) {
  const std::string& name = config.name;
  Result<unsigned char> version = SecretBox::Version(sealed);
  if (!version.ok()) return version.status().Annotated("password of source '" + name + "'");
  if (*version == SecretBox::kVersion1) {
    // Bound to the name alone: trusted only under the key that sealed it, which the
    // migration removes once it has re-sealed every such password.
    if (!LegacyKeyUsable(keys)) {
      return Status::PermissionDenied("the password of source " + name +
                                      " was stored by an older version that did not bind it "
                                      "to its server, and its old key is gone: " +
                                      ReenterCommand(name));
    }
    Result<SecretBox> legacy = SecretBox::Load(keys.legacy, false);
    if (!legacy.ok()) return legacy.status();
    Result<std::string> password = legacy->Unseal(sealed, name);
    if (!password.ok()) return password.status().Annotated("password of source '" + name + "'");
    return password;
  }
  Result<SecretBox> box = SecretBox::Load(keys.path, false);
  if (!box.ok()) return box.status();
  Result<std::string> password = box->Unseal(sealed, SourceSecretBinding(config));
  if (password.status().code() == Status::Code::kCorruption) {
    return Status::PermissionDenied(
        "the stored settings of source " + name + " (host " + config.host + ", port " +
        std::to_string(config.port) + ", user " + config.user + ", tls " +
        SourceTlsName(config.tls) + ", tls-verify " + (config.tls_verify ? "yes" : "no") +
        ") do not match its sealed password, or its key " + keys.path +
        " was replaced: the password is not sent; " + ReenterCommand(name));
  }
  return password;
}

Status ReadSourceConfig(const lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                        SourceConfig* config) {
  std::string_view value;
  Status found = txn.Get(db.config, name, &value);
  if (found.code() == Status::Code::kNotFound)
    return Status::NotFound("no source named '" + name + "'");
  if (!found.ok()) return found;
  return sources_codec::DecodeConfig(value, config).Annotated("source '" + name + "'");
}

}  // namespace archiver::internal

namespace archiver {

using internal::SourceDbs;
using internal::SourceKeys;

Result<std::string> SourceRegistry::Password(const std::string& name) const {
  if (!env_) return Status::InvalidArgument("no archive");
  SourceConfig config;
  std::string sealed;
  {
    lmdb::Txn txn;
    SourceStatus source_status;
    Status status = internal::BeginSourceRead(*env_, name, &txn, &source_status);
    if (status.ok()) status = internal::ReadSourceConfig(txn, SourceDbs(*env_), name, &config);
    std::string_view value;
    if (status.ok()) status = txn.Get(SourceDbs(*env_).secrets, name, &value);
    if (status.code() == Status::Code::kNotFound)
      return Status::NotFound("no password stored for source '" + name + "'");
    if (!status.ok()) return status;
    sealed.assign(value);
  }
  return internal::OpenSourcePassword(SourceKeys{key_path_, legacy_key_path_}, config, sealed);
}

Result<std::string> SourceRegistry::Password(const SourceConfig& config) const {
  if (!env_) return Status::InvalidArgument("no archive");
  std::string sealed;
  {
    lmdb::Txn txn;
    SourceStatus source_status;
    Status status = internal::BeginSourceRead(*env_, config.name, &txn, &source_status);
    std::string_view value;
    if (status.ok()) status = txn.Get(SourceDbs(*env_).secrets, config.name, &value);
    if (status.code() == Status::Code::kNotFound)
      return Status::NotFound("no password stored for source '" + config.name + "'");
    if (!status.ok()) return status;
    sealed.assign(value);
  }
  return internal::OpenSourcePassword(SourceKeys{key_path_, legacy_key_path_}, config, sealed);
}

Result<LegacyKeyMigration> SourceRegistry::MigrateLegacyKey() {
  LegacyKeyMigration migration;
  if (!env_) return Status::InvalidArgument("no archive");
  const SourceKeys keys{key_path_, legacy_key_path_};
  if (legacy_key_path_.empty() || !internal::Exists(legacy_key_path_)) return migration;
  migration.found = true;
  if (!internal::LegacyKeyUsable(keys)) return migration;  // moved before: never used again
  Result<SecretBox> legacy = SecretBox::Load(legacy_key_path_, false);
  if (!legacy.ok()) return legacy.status().Annotated("the old sources key is not used");
  Result<SecretBox> box = SecretBox::Load(key_path_);
  if (!box.ok()) return box.status();
  lmdb::ArchiveEnv& archive = *env_;
  std::vector<std::string> names;
  {
    lmdb::Txn txn;
    bool present = false;
    Status status = internal::BeginSourcesRead(archive, &txn, &present);
    if (status.ok() && present) {
      status = internal::WalkPrefixed(txn, SourceDbs(archive).secrets, "", false,
                                      [&](std::string_view key, std::string_view value, bool*) {
                                        Result<unsigned char> version = SecretBox::Version(value);
                                        if (version.ok() && *version == SecretBox::kVersion1)
                                          names.emplace_back(key);
                                        return Status::Ok();
                                      });
    }
    if (!status.ok()) return status;
  }
  for (const std::string& name : names) {
    const std::string what = "re-seal the password of source " + name;
    Status status = internal::ChangeSource(
        archive, name, what, [&](lmdb::Txn& txn, SourceStatus*, SourceLogEntry* log) {
          SourceConfig config;
          std::string_view sealed;
          Status read = internal::ReadSourceConfig(txn, SourceDbs(archive), name, &config);
          if (read.ok()) read = txn.Get(SourceDbs(archive).secrets, name, &sealed);
          if (!read.ok()) return read;
          Result<std::string> password = legacy->Unseal(sealed, name);
          if (!password.ok()) {
            migration.unopened.push_back(name);
            return Status::Ok();
          }
          Result<std::string> resealed =
              box->Seal(*password, internal::SourceSecretBinding(config), SecretBox::kVersion2);
          OPENSSL_cleanse(password->data(), password->size());
          if (!resealed.ok()) return resealed.status();
          log->what = "reseal";
          ++migration.resealed;
          return internal::PutEntry(txn, SourceDbs(archive).secrets, name, *resealed, what);
        });
    if (status.code() == Status::Code::kNotFound) continue;  // removed meanwhile
    if (!status.ok()) return status;
  }
  // Gone: no old password opens again, not even one restored from a copy of the archive.
  Status destroyed = internal::DestroyLegacyKey(legacy_key_path_);
  if (!destroyed.ok()) return destroyed;
  migration.removed = true;
  return migration;
}

}  // namespace archiver
