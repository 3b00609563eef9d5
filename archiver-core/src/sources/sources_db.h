// The databases of remote sources in an open archive: their names, opening them on
// first use (an archive made before sources has none: reads find nothing, the first
// write creates them), and the keys of per-source entries.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/sources/sources.h"
#include "archiver/status.h"
#include "lmdb/archive_env.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

inline constexpr const char* kSourceConfigDb = "src_config";    // name -> SourceConfig
inline constexpr const char* kSourceStatusDb = "src_status";    // name -> SourceStatus
inline constexpr const char* kSourceFoldersDb = "src_folders";  // name 0 folder -> checkpoint
inline constexpr const char* kSourceLogDb = "src_log";          // name 0 BE64 seq -> entry
inline constexpr const char* kSourceSecretsDb = "src_secrets";  // name -> sealed password

// The databases of remote sources (docs/store-format.md, "Sources"). idx_source, the
// index of their deliveries, is the store's (store/archive_writer.h: OpenSourceIndex).
struct SourceDatabases {
  MDB_dbi config = 0;
  MDB_dbi status = 0;
  MDB_dbi folders = 0;
  MDB_dbi log = 0;
  MDB_dbi secrets = 0;
};

// The source databases of `archive`, once OpenSourcesForRead found them or
// OpenSourcesForWrite opened them.
inline const SourceDatabases& SourceDbs(const lmdb::ArchiveEnv& archive) {
  return archive.OpenedGroup<SourceDatabases>();
}

// Opens the source databases when they exist. Ok with *present = false when the
// archive has none yet (checked again next time: another process may create them).
Status OpenSourcesForRead(lmdb::ArchiveEnv& archive, bool* present);
// Opens them, creating the missing ones (and idx_source). InvalidArgument for a
// read-only archive.
Status OpenSourcesForWrite(lmdb::ArchiveEnv& archive);

// "name\0" and "name\0folder": a source's entries in src_folders and src_log sort
// together, after those of every name that is a prefix of it.
std::string SourcePrefix(std::string_view name);
std::string FolderKey(std::string_view name, std::string_view folder);
std::string LogKey(std::string_view name, uint64_t sequence);

// A read transaction over the source databases; Ok with *present = false (and no
// transaction) when the archive has none yet.
Status BeginSourcesRead(lmdb::ArchiveEnv& archive, lmdb::Txn* txn, bool* present);

// Runs `body` in a write transaction (creating the source databases first if needed)
// and commits it when `body` returns Ok.
Status InSourcesWrite(lmdb::ArchiveEnv& archive, std::string_view what,
                      const std::function<Status(lmdb::Txn&)>& body);

// A read transaction in which source `name` exists, with its status. NotFound "no
// source named NAME" when it does not (or the archive has no sources at all).
Status BeginSourceRead(lmdb::ArchiveEnv& archive, const std::string& name, lmdb::Txn* txn,
                       SourceStatus* status);

// Changes source `name` in one write transaction: `body` gets its status to change and
// a log entry to fill; then the entry is appended (when body gave it a `what`) and the
// status written back, and all of it committed when every step returned Ok. `more_log`
// entries (may be null) are appended after it. NotFound for an unknown source.
using SourceChange =
    std::function<Status(lmdb::Txn& txn, SourceStatus* status, SourceLogEntry* log)>;
Status ChangeSource(lmdb::ArchiveEnv& archive, const std::string& name, std::string_view what,
                    const SourceChange& body,
                    const std::vector<SourceLogEntry>* more_log = nullptr);

// ChangeSource's end, for a caller that reads the status (ReadSourceStatus) and changes
// it in a write transaction of its own: appends `log` (when it has a `what`) and
// `more_log` (may be null), then writes `status` back.
Status EndSourceChange(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                       const SourceStatus& status, uint64_t next_log, const SourceLogEntry& log,
                       const std::vector<SourceLogEntry>* more_log);

// A source's status and the sequence number of its next log entry. NotFound "no source
// named NAME" when the source does not exist.
Status ReadSourceStatus(const lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                        SourceStatus* status, uint64_t* next_log);
Status WriteSourceStatus(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                         const SourceStatus& status, uint64_t next_log);

// Writes `entry` (time 0: now) as log entry *next_log of `name` and advances *next_log,
// deleting the entry that falls out of the last kSourceLogLimit. The caller writes the
// status with the new *next_log in the same transaction.
Status AppendLogIn(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                   SourceLogEntry entry, uint64_t* next_log);

}  // namespace archiver::internal
