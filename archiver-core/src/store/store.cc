// Store: opening an archive (its share of the archive's environment, lmdb/archive_env.h;
// the named databases and the format check; idx_source on first use), statistics,
// FormatBytes.
#include "archiver/store/store.h"

#include <cstdio>

#include "store/content_indexes.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace internal {
namespace {

constexpr unsigned kIndex = MDB_DUPSORT | MDB_DUPFIXED;
constexpr NamedDb<Databases> kDatabases[] = {
    {kMetaDb, 0, &Databases::meta},
    {kMessagesDb, 0, &Databases::messages},
    {kDeliveriesDb, 0, &Databases::deliveries},
    {kDeliveryKeysDb, 0, &Databases::delivery_keys},
    {kRcptIndexDb, kIndex, &Databases::idx_rcpt},
    {kFromIndexDb, kIndex, &Databases::idx_from},
    {kUserIndexDb, kIndex, &Databases::idx_user},
    {kMessageIndexDb, kIndex, &Databases::idx_message},
};
constexpr NamedDb<SourceIndex> kSourceIndex[] = {
    {kSourceIndexDb, kIndex, &SourceIndex::idx_source},
};

// Opens the named databases in `txn`, creating what is missing when `create`, and checks
// (or, new, writes) the format version.
Status OpenAll(const std::string& path, lmdb::Txn& txn, bool create, Databases* db) {
  Status opened = OpenNamedDatabases(path, txn, create, kDatabases, db, "no archive at " + path,
                                     /*whole_archive=*/true);
  if (!opened.ok()) return opened;
  std::string_view stored;
  Status found = txn.Get(db->meta, kFormatVersionKey, &stored);
  if (found.code() == Status::Code::kNotFound) {
    if (!create) return Status::NotFound("no archive at " + path);
    std::array<char, 8> version = record::EncodeCounter(record::kFormatVersion);
    std::array<char, 8> first_sequence = record::EncodeCounter(1);
    Status put = txn.Put(db->meta, kFormatVersionKey, {version.data(), 8}, 0);
    if (put.ok()) put = txn.Put(db->meta, kNextSequenceKey, {first_sequence.data(), 8}, 0);
    // No delivery to backfill: idx_mailbox and idx_subject are complete from the start.
    if (put.ok()) put = MarkContentIndexed(txn, db->meta);
    if (put.ok()) put = MarkRecordsCompact(txn, db->meta);
    return put;
  }
  if (!found.ok()) return found;
  uint64_t version = 0;
  if (!record::DecodeCounter(stored, &version) || version == 0) {
    return Status::Corruption(path + ": unreadable format version");
  }
  if (version > record::kFormatVersion) {
    return Status::Corruption(path + ": archive format " + std::to_string(version) +
                              " is newer than this software reads (up to " +
                              std::to_string(record::kFormatVersion) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status OpenStoreDatabases(lmdb::ArchiveEnv& env) {
  const std::string& path = env.path();
  // A read transaction is tried first: opening an existing archive takes no write lock
  // and commits nothing, which matters to processes that open it for one delivery.
  Result<const Databases*> db =
      env.OpenGroup<Databases>("archive databases", !env.options().read_only,
                               [&](lmdb::Txn& txn, bool create, Databases* group) {
                                 return OpenAll(path, txn, create, group);
                               });
  if (!db.ok()) return db.status();
  if (*db == nullptr) return Status::NotFound("no archive at " + path);
  return Status::Ok();
}

Result<const SourceIndex*> OpenSourceIndex(lmdb::ArchiveEnv& env, bool write) {
  if (write) {
    if (Status writable = env.CheckWritable(); !writable.ok()) return writable;
  }
  const std::string& path = env.path();
  return env.OpenGroup<SourceIndex>(
      "source index", write, [&](lmdb::Txn& txn, bool create, SourceIndex* group) {
        return OpenNamedDatabases(path, txn, create, kSourceIndex, group, "no sources in " + path);
      });
}

}  // namespace internal

using internal::OpenArchive;

Result<std::shared_ptr<Store>> Store::Open(const StoreOptions& requested) {
  if (requested.path.empty()) return Status::InvalidArgument("archive path is empty");
  if (requested.compression_level < 0 || requested.compression_level > 9) {
    return Status::InvalidArgument("compression level " +
                                   std::to_string(requested.compression_level) + " is not in 0..9");
  }
  if (requested.map_size == 0) return Status::InvalidArgument("map size is zero");
  Result<std::shared_ptr<lmdb::ArchiveEnv>> env = lmdb::ArchiveEnv::Open(requested);
  if (!env.ok()) return env.status();
  Status opened = internal::OpenStoreDatabases(**env);
  if (!opened.ok()) return opened;
  // One Store per environment, handed out to every Open while any caller holds it.
  return (*env)->SharedObject<Store>(
      [&] { return std::shared_ptr<Store>(new Store(std::make_unique<Impl>(*env))); });
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

const std::string& Store::path() const { return impl_->archive.options.path; }

const ArchiveOwner& Store::owner() const { return impl_->archive.env.owner(); }

const std::shared_ptr<lmdb::ArchiveEnv>& Store::environment() const {
  return impl_->archive.shared;
}

Status Store::StillAtPath() const { return impl_->archive.env.StillAtPath(); }

Result<StoreStats> Store::GetStats() const {
  const OpenArchive& archive = impl_->archive;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  StoreStats stats;
  const struct {
    std::string_view name;
    uint64_t* value;
  } counters[] = {
      {internal::kMessagesCounter, &stats.messages},
      {internal::kDeliveriesCounter, &stats.deliveries},
      {internal::kRawBytesCounter, &stats.raw_bytes},
      {internal::kStoredBytesCounter, &stats.stored_bytes},
      {internal::kDeliveredBytesCounter, &stats.delivered_bytes},
  };
  for (const auto& counter : counters) {
    Status read = internal::ReadCounter(*txn, archive.db.meta, counter.name, counter.value);
    if (read.code() == Status::Code::kCorruption) {
      return Status::Corruption("statistics counter '" + std::string(counter.name) +
                                "' is damaged: run doveadm archive repair");
    }
    if (!read.ok()) return read;
  }
  MDB_envinfo info = {};
  MDB_stat stat = {};
  int rc = mdb_env_info(archive.env.get(), &info);
  if (rc == 0) rc = mdb_env_stat(archive.env.get(), &stat);
  if (rc != 0) return lmdb::ToStatus(rc, "read archive statistics");
  stats.map_size = info.me_mapsize;
  stats.map_used = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  return stats;
}

namespace internal {

Status ReadCounter(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t* value) {
  std::string_view stored;
  Status found = txn.Get(meta, name, &stored);
  if (found.code() == Status::Code::kNotFound) {
    *value = 0;
    return Status::Ok();
  }
  if (!found.ok()) return found;
  if (!record::DecodeCounter(stored, value)) {
    return Status::Corruption("meta value '" + std::string(name) + "' is not 8 bytes");
  }
  return Status::Ok();
}

Result<bool> MarkerSet(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name) {
  uint64_t value = 0;
  Status read = ReadCounter(txn, meta, name, &value);
  if (read.code() == Status::Code::kCorruption) return false;
  if (!read.ok()) return read;
  return value != 0;
}

Status SetMarker(lmdb::Txn& txn, MDB_dbi meta, std::string_view name) {
  std::array<char, 8> one = record::EncodeCounter(1);
  return txn.Put(meta, name, {one.data(), one.size()}, 0);
}

}  // namespace internal

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

}  // namespace archiver
