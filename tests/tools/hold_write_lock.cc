// archiver-test-hold-write-lock ARCHIVE_DIR: begins a write transaction on an archive the
// way every writer of ours does (the write gate, then LMDB's write lock), prints "holding"
// and keeps it until killed: a doveadm stopped in the middle of a batch, for the
// integration tests of bounded waits. A test tool, never installed.
#include <lmdb.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "lmdb_handles.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR\n", argv[0]);
    return 64;
  }
  archiver::Result<archiver::lmdb::Env> env = archiver::lmdb::Env::Create();
  int rc = env.ok() ? mdb_env_set_maxdbs(env->get(), 32) : -1;
  if (rc == 0) rc = mdb_env_set_mapsize(env->get(), 1ULL << 20);  // adopts the file's size
  if (rc == 0) rc = mdb_env_open(env->get(), argv[1], MDB_NOTLS, 0600);
  if (rc != 0) {
    std::fprintf(stderr, "open %s: %s\n", argv[1], rc > 0 || rc < -1 ? mdb_strerror(rc) : "?");
    return 1;
  }
  archiver::lmdb::EnvContext context;
  context.write_wait = std::chrono::seconds(60);
  archiver::lmdb::SetEnvContext(env->get(), &context);
  archiver::Result<archiver::lmdb::Txn> txn = archiver::lmdb::Txn::Begin(env->get(), true);
  if (!txn.ok()) {
    std::fprintf(stderr, "%s\n", txn.status().ToString().c_str());
    return 1;
  }
  std::printf("holding\n");
  std::fflush(stdout);
  pause();
  return 0;
}
