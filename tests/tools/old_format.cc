// archiver-test-old-format ARCHIVE_DIR 2|3|4: leaves the archive as software of that format
// would have written it. 4 (before msg_tails): every messages value of version 2 rewritten
// as version 1 (its whole payload in the value), msg_tails deleted, meta stored_bytes
// lowered by the 12 header bytes each saves. 3 (before compact records) also: every delivery record
// rewritten as version 1 (2 with remote fields) with its message's header summary and its trace in
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

// Every messages value of version 2 as version 1, with its tail from msg_tails.
Status JoinPayloads(Txn& txn, MDB_dbi meta) {
  MDB_dbi messages = 0, tails = 0;
  Status status = Open(txn, "messages", &messages);
  if (!status.ok() || mdb_dbi_open(txn.get(), "msg_tails", 0, &tails) == MDB_NOTFOUND)
    return status;
  std::vector<std::pair<std::string, std::string>> rewritten;
  status = archiver::internal::WalkEntries(
      txn, messages, MDB_FIRST, {}, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool*) {
        archiver::record::MessageHeader header;
        Status decoded = archiver::record::DecodeMessageHeader(value, &header);
        if (!decoded.ok() || header.version == 1) return decoded;
        std::string joined(archiver::record::kMessageHeaderSize, '\0');
        archiver::record::EncodeMessageHeader(header.codec, header.raw_size, joined.data());
        joined += value.substr(header.size);
        const size_t end = joined.size() + header.tail_size;
        for (uint64_t number = header.tail_first; joined.size() < end; ++number) {
          char tail_key[8];
          archiver::record::PutBigEndian64(number, tail_key);
          std::string_view entry;
          Status found = txn.Get(tails, {tail_key, sizeof(tail_key)}, &entry);
          if (!found.ok()) return found;
          joined += entry;
        }
        rewritten.emplace_back(std::string(key), std::move(joined));
        return Status::Ok();
      },
      "read messages");
  for (size_t i = 0; status.ok() && i < rewritten.size(); ++i) {
    status = archiver::internal::PutEntry(txn, messages, rewritten[i].first, rewritten[i].second,
                                          "rewrite a message");
  }
  std::string_view stored;
  uint64_t stored_bytes = 0;
  if (status.ok() && txn.Get(meta, "stored_bytes", &stored).ok() &&
      archiver::record::DecodeCounter(stored, &stored_bytes)) {
    const std::array<char, 8> lowered =
        archiver::record::EncodeCounter(stored_bytes - 12 * rewritten.size());
    status = txn.Put(meta, "stored_bytes", {lowered.data(), lowered.size()}, 0);
  }
  if (status.ok()) status = Drop(txn, "msg_tails");
  return status;
}

Status MakeOldFormat(Txn& txn, int format) {
  MDB_dbi meta = 0;
  Status status = Open(txn, "meta", &meta);
  if (status.ok()) status = JoinPayloads(txn, meta);
  if (format == 4) {
    const char version[8] = {0, 0, 0, 0, 0, 0, 0, 4};
    return status.ok() ? txn.Put(meta, "format_version", {version, sizeof(version)}, 0) : status;
  }
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
  if (argc != 3 || (std::strcmp(argv[2], "2") != 0 && std::strcmp(argv[2], "3") != 0 &&
                    std::strcmp(argv[2], "4") != 0)) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR 2|3|4\n", argv[0]);
    return 64;
  }
  const int format = argv[2][0] - '0';
  return archiver::test_tools::ChangeToolArchive(
      argv[1], "make an older format", [&](Txn& txn) { return MakeOldFormat(txn, format); });
}
