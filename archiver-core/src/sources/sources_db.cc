// Opening the source databases on first use (see sources_db.h), and their entry keys.
#include "sources/sources_db.h"

#include "archiver/time_format.h"
#include "lmdb/lmdb_entries.h"
#include "sources/sources_codec.h"
#include "store/archive_writer.h"
#include "store/record.h"

namespace archiver::internal {
namespace {

constexpr NamedDb<SourceDatabases> kDatabases[] = {
    {kSourceConfigDb, 0, &SourceDatabases::config},
    {kSourceStatusDb, 0, &SourceDatabases::status},
    {kSourceFoldersDb, 0, &SourceDatabases::folders},
    {kSourceLogDb, 0, &SourceDatabases::log},
    {kSourceSecretsDb, 0, &SourceDatabases::secrets},
};

Status EnsureOpen(lmdb::ArchiveEnv& archive, bool write, bool* present) {
  const std::string& path = archive.options().path;
  Result<const SourceDatabases*> db = archive.OpenGroup<SourceDatabases>(
      "source databases", write, [&](lmdb::Txn& txn, bool create, SourceDatabases* group) {
        return OpenNamedDatabases(path, txn, create, kDatabases, group, "no sources in " + path);
      });
  if (!db.ok()) return db.status();
  *present = *db != nullptr;
  return Status::Ok();
}

}  // namespace

Status OpenSourcesForRead(lmdb::ArchiveEnv& archive, bool* present) {
  return EnsureOpen(archive, false, present);
}

Status OpenSourcesForWrite(lmdb::ArchiveEnv& archive) {
  if (Status writable = archive.CheckWritable(); !writable.ok()) return writable;
  bool present = false;
  Status opened = EnsureOpen(archive, true, &present);
  // The store's index of the sources' deliveries comes with them, as it always did (an
  // older version finds the sources only where it finds idx_source too).
  if (opened.ok()) opened = OpenSourceIndex(archive, true).status();
  return opened;
}

std::string SourcePrefix(std::string_view name) {
  std::string key(name);
  key.push_back('\0');
  return key;
}

std::string FolderKey(std::string_view name, std::string_view folder) {
  std::string key = SourcePrefix(name);
  key.append(folder);
  return key;
}

std::string LogKey(std::string_view name, uint64_t sequence) {
  std::string key = SourcePrefix(name);
  std::array<char, 8> bytes = record::EncodeCounter(sequence);
  key.append(bytes.data(), bytes.size());
  return key;
}

Status BeginSourcesRead(lmdb::ArchiveEnv& archive, lmdb::Txn* txn, bool* present) {
  Status opened = OpenSourcesForRead(archive, present);
  if (!opened.ok() || !*present) return opened;
  Result<lmdb::Txn> begun = lmdb::Txn::Begin(archive.get(), false);
  if (!begun.ok()) return begun.status();
  *txn = std::move(begun.value());
  return Status::Ok();
}

Status InSourcesWrite(lmdb::ArchiveEnv& archive, std::string_view what,
                      const std::function<Status(lmdb::Txn&)>& body) {
  Status opened = OpenSourcesForWrite(archive);
  if (!opened.ok()) return opened;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.get(), true);
  if (!txn.ok()) return txn.status();
  Status done = body(*txn);
  if (!done.ok()) return done;
  return txn->Commit(what);
}

Status BeginSourceRead(lmdb::ArchiveEnv& archive, const std::string& name, lmdb::Txn* txn,
                       SourceStatus* status) {
  bool present = false;
  Status begun = BeginSourcesRead(archive, txn, &present);
  if (!begun.ok()) return begun;
  if (!present) return Status::NotFound("no source named '" + name + "'");
  uint64_t next_log = 0;
  return ReadSourceStatus(*txn, SourceDbs(archive), name, status, &next_log);
}

Status ChangeSource(lmdb::ArchiveEnv& archive, const std::string& name, std::string_view what,
                    const SourceChange& body, const std::vector<SourceLogEntry>* more_log) {
  return InSourcesWrite(archive, what, [&](lmdb::Txn& txn) {
    SourceStatus status;
    uint64_t next_log = 0;
    SourceLogEntry log;
    Status done = ReadSourceStatus(txn, SourceDbs(archive), name, &status, &next_log);
    if (done.ok()) done = body(txn, &status, &log);
    if (done.ok())
      done = EndSourceChange(txn, SourceDbs(archive), name, status, next_log, log, more_log);
    return done;
  });
}

Status EndSourceChange(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                       const SourceStatus& status, uint64_t next_log, const SourceLogEntry& log,
                       const std::vector<SourceLogEntry>* more_log) {
  Status done = Status::Ok();
  if (!log.what.empty()) done = AppendLogIn(txn, db, name, log, &next_log);
  for (size_t i = 0; done.ok() && more_log != nullptr && i < more_log->size(); ++i)
    done = AppendLogIn(txn, db, name, (*more_log)[i], &next_log);
  if (done.ok()) done = WriteSourceStatus(txn, db, name, status, next_log);
  return done;
}

Status ReadSourceStatus(const lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                        SourceStatus* status, uint64_t* next_log) {
  std::string_view value;
  Status found = txn.Get(db.status, name, &value);
  if (found.code() == Status::Code::kNotFound) {
    return Status::NotFound("no source named '" + std::string(name) + "'");
  }
  if (!found.ok()) return found;
  return sources_codec::DecodeStatus(value, status, next_log)
      .Annotated("source '" + std::string(name) + "'");
}

Status WriteSourceStatus(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                         const SourceStatus& status, uint64_t next_log) {
  return PutEntry(txn, db.status, name, sources_codec::EncodeStatus(status, next_log),
                  "write the status of source " + std::string(name));
}

Status AppendLogIn(lmdb::Txn& txn, const SourceDatabases& db, std::string_view name,
                   SourceLogEntry entry, uint64_t* next_log) {
  if (entry.time_us == 0) entry.time_us = NowMicros();
  if (*next_log == 0) *next_log = 1;
  const uint64_t sequence = (*next_log)++;
  Status put = PutEntry(txn, db.log, LogKey(name, sequence), sources_codec::EncodeLogEntry(entry),
                        "write the activity log of source " + std::string(name));
  if (!put.ok() || sequence <= kSourceLogLimit) return put;
  return DeleteEntry(txn, db.log, LogKey(name, sequence - kSourceLogLimit));
}

}  // namespace archiver::internal
