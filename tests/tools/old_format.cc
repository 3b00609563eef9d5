// archiver-test-format-two ARCHIVE_DIR: leaves the archive as software of format 2 (before
// idx_mailbox and idx_subject) would have written it: both databases deleted, meta
// content_indexed and content_reindex_position removed, format_version 2. The integration
// tests of `doveadm archive reindex` run on it. A test tool, never installed.
#include <lmdb.h>

#include <cstdio>

#include "lmdb/lmdb_entries.h"
#include "tool_archive.h"

namespace {

archiver::Status MakeFormatTwo(archiver::lmdb::Txn& txn) {
  MDB_dbi meta = 0;
  int rc = mdb_dbi_open(txn.get(), "meta", 0, &meta);
  if (rc != 0) return archiver::lmdb::ToStatus(rc, "open meta");
  for (const char* name : {"idx_mailbox", "idx_subject"}) {
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn.get(), name, 0, &dbi);
    if (rc == 0) rc = mdb_drop(txn.get(), dbi, 1);
    if (rc != 0 && rc != MDB_NOTFOUND) return archiver::lmdb::ToStatus(rc, name);
  }
  for (const char* name : {"content_indexed", "content_reindex_position"}) {
    archiver::Status deleted = archiver::internal::DeleteEntry(txn, meta, name);
    if (!deleted.ok()) return deleted;
  }
  const char two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
  return txn.Put(meta, "format_version", {two, sizeof(two)}, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR\n", argv[0]);
    return 64;
  }
  return archiver::test_tools::ChangeToolArchive(argv[1], "make format 2", MakeFormatTwo);
}
