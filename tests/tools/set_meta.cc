// archiver-test-set-meta ARCHIVE_DIR NAME VALUE: writes VALUE (its bytes as given) under
// NAME in the archive's `meta` database, the way our writers write (the write gate, then
// LMDB's write lock): a damaged statistics counter, for the integration tests of
// `doveadm archive repair`. A test tool, never installed.
#include <lmdb.h>

#include <cstdio>
#include <cstring>

#include "tool_archive.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR NAME VALUE\n", argv[0]);
    return 64;
  }
  return archiver::test_tools::ChangeToolArchive(
      argv[1], "set meta", [&](archiver::lmdb::Txn& txn) {
        MDB_dbi meta = 0;
        int rc = mdb_dbi_open(txn.get(), "meta", 0, &meta);
        if (rc != 0) return archiver::lmdb::ToStatus(rc, "open meta");
        return txn.Put(meta, argv[2], {argv[3], std::strlen(argv[3])}, 0);
      });
}
