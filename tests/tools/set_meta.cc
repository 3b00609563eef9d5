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
  archiver::lmdb::EnvContext context;
  std::optional<archiver::lmdb::Env> env = archiver::test_tools::OpenToolArchive(argv[1], &context);
  if (!env) return 1;
  archiver::Result<archiver::lmdb::Txn> txn = archiver::lmdb::Txn::Begin(env->get(), true);
  archiver::Status status = txn.status();
  MDB_dbi meta = 0;
  if (status.ok()) {
    int rc = mdb_dbi_open(txn->get(), "meta", 0, &meta);
    if (rc != 0) status = archiver::lmdb::ToStatus(rc, "open meta");
  }
  if (status.ok()) status = txn->Put(meta, argv[2], {argv[3], std::strlen(argv[3])}, 0);
  if (status.ok()) status = txn->Commit("set meta");
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
