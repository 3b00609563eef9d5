// archiver-test-old-format ARCHIVE_DIR 2|3: leaves the archive as software of that format
// would have written it. 3 (before compact records): every delivery record rewritten as
// version 1 (2 with remote fields) with its message's header summary and its trace in
// full, msg_headers deleted, meta records_compact and compact_position removed. 2 (before
// idx_mailbox and idx_subject) also: both databases deleted, meta content_indexed and
// content_reindex_position removed. format_version set to the number. The integration
// tests of `doveadm archive reindex` and `migrate` run on it. A test tool, never installed.
#include <lmdb.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "lmdb/lmdb_entries.h"
#include "store/record.h"
#include "tool_archive.h"

namespace {

using archiver::Status;
using archiver::lmdb::Txn;

Status Open(Txn& txn, const char* name, MDB_dbi* dbi) {
  int rc = mdb_dbi_open(txn.get(), name, 0, dbi);
  return rc == 0 ? Status::Ok() : archiver::lmdb::ToStatus(rc, name);
}

Status Drop(Txn& txn, const char* name) {
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn.get(), name, 0, &dbi);
  if (rc == 0) rc = mdb_drop(txn.get(), dbi, 1);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : archiver::lmdb::ToStatus(rc, name);
}

// Every record of version 3 as version 1 or 2, with the summary msg_headers holds for it.
Status ExpandRecords(Txn& txn) {
  MDB_dbi deliveries = 0, headers = 0;
  Status status = Open(txn, "deliveries", &deliveries);
  if (!status.ok()) return status;
  if (mdb_dbi_open(txn.get(), "msg_headers", 0, &headers) == MDB_NOTFOUND) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> rewritten;
  status = archiver::internal::WalkEntries(
      txn, deliveries, MDB_FIRST, {}, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool*) {
        if (archiver::record::DeliveryHoldsHeaders(value)) return Status::Ok();
        archiver::DeliveryRecord record;
        Status decoded = archiver::record::DecodeDelivery(value, &record);
        std::string_view summary;
        const std::string_view id(reinterpret_cast<const char*>(record.id.data()),
                                  record.id.size());
        if (decoded.ok()) decoded = txn.Get(headers, id, &summary);
        if (decoded.ok()) decoded = archiver::record::DecodeHeaderSummary(summary, &record.headers);
        if (!decoded.ok()) return decoded;
        rewritten.emplace_back(std::string(key),
                               archiver::record::EncodeDeliveryVersion(record, 1));
        return Status::Ok();
      },
      "read deliveries");
  for (size_t i = 0; status.ok() && i < rewritten.size(); ++i) {
    status = archiver::internal::PutEntry(txn, deliveries, rewritten[i].first, rewritten[i].second,
                                          "rewrite a delivery");
  }
  return status;
}

Status MakeOldFormat(Txn& txn, int format) {
  MDB_dbi meta = 0;
  Status status = Open(txn, "meta", &meta);
  if (status.ok()) status = ExpandRecords(txn);
  if (status.ok()) status = Drop(txn, "msg_headers");
  std::vector<const char*> gone = {"records_compact", "compact_position"};
  if (format == 2) {
    if (status.ok()) status = Drop(txn, "idx_mailbox");
    if (status.ok()) status = Drop(txn, "idx_subject");
    gone.insert(gone.end(), {"content_indexed", "content_reindex_position"});
  }
  for (const char* name : gone) {
    if (status.ok()) status = archiver::internal::DeleteEntry(txn, meta, name);
  }
  const char version[8] = {0, 0, 0, 0, 0, 0, 0, static_cast<char>(format)};
  if (status.ok()) status = txn.Put(meta, "format_version", {version, sizeof(version)}, 0);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[2], "2") != 0 && std::strcmp(argv[2], "3") != 0)) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR 2|3\n", argv[0]);
    return 64;
  }
  const int format = argv[2][0] - '0';
  return archiver::test_tools::ChangeToolArchive(
      argv[1], "make an older format", [&](Txn& txn) { return MakeOldFormat(txn, format); });
}
