// Source passwords bound to where they go: the associated data a password is sealed with
// covers the settings that decide which server receives it (docs/store-format.md,
// "Secrets"), so that whoever can write the archive but not read the key cannot point a
// source at a server of theirs and receive its password.
#pragma once

#include <string>
#include <string_view>

#include "archiver/secret_box.h"
#include "archiver/sources/sources.h"
#include "lmdb/lmdb_handles.h"
#include "sources/sources_db.h"

namespace archiver::internal {

// The associated data of a version-2 password: a label, then name, host, port (decimal),
// user, TLS mode (its name) and TLS verification ("yes"/"no"), each as a 4-byte big-endian
// length and its bytes. Two configs give the same bytes exactly when those fields are equal.
std::string SourceSecretBinding(const SourceConfig& config);

// True when `a` and `b` agree on every field SourceSecretBinding covers.
bool SameSecretBinding(const SourceConfig& a, const SourceConfig& b);

// Where a registry's key files are: `path`, the key passwords are sealed under; `legacy`
// ("" for none), a key of an older version (inside the archive directory) whose version-1
// passwords, bound to the source name only, open while the file exists.
struct SourceKeys {
  std::string path;
  std::string legacy;
};

// `password` sealed for `config` (version 2) under keys.path, created when missing.
// InvalidArgument for an empty password; SecretBox::Load errors.
Result<std::string> SealSourcePassword(const SourceKeys& keys, const SourceConfig& config,
                                       std::string_view password);

// Opens `sealed`, the stored password of the source `config` describes. Version 2: under
// keys.path, bound to `config`. Version 1: under keys.legacy while that file exists.
// PermissionDenied naming the source and the command that re-enters the password when
// the settings do not match what the password was sealed for (or another key is in
// place), or when a version-1 password has no legacy key left; SecretBox::Load errors.
Result<std::string> OpenSourcePassword(const SourceKeys& keys, const SourceConfig& config,
                                       std::string_view sealed);

// The stored settings of source `name`. NotFound "no source named NAME"; Corruption.
Status ReadSourceConfig(const lmdb::Txn& txn, const SourceDatabases& db, const std::string& name,
                        SourceConfig* config);

}  // namespace archiver::internal
