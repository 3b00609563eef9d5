// archiver-test-hold-write-lock ARCHIVE_DIR: begins a write transaction on an archive the
// way every writer of ours does (the write gate, then LMDB's write lock), prints "holding"
// and keeps it until killed: a doveadm stopped in the middle of a batch, for the
// integration tests of bounded waits. A test tool, never installed.
#include <lmdb.h>
#include <unistd.h>

#include <cstdio>

#include "tool_archive.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ARCHIVE_DIR\n", argv[0]);
    return 64;
  }
  archiver::lmdb::EnvContext context;
  std::optional<archiver::lmdb::Env> env = archiver::test_tools::OpenToolArchive(argv[1], &context);
  if (!env) return 1;
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
