// The test tools' way into an archive: its LMDB environment opened as our writers open it,
// with the write gate, so that a tool's write transaction waits and is waited for like
// theirs. Test tools only, never installed.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>

#include "lmdb/lmdb_handles.h"

namespace archiver::test_tools {

// Opens the environment in `directory` (its map adopts the file's size), with `context`
// (kept by the caller while the environment is open) as its write gate. nullopt after
// printing why on stderr.
inline std::optional<lmdb::Env> OpenToolArchive(const char* directory,
                                                lmdb::EnvContext* context) {
  Result<lmdb::Env> env = lmdb::Env::Create();
  int rc = env.ok() ? mdb_env_set_maxdbs(env->get(), 64) : -1;
  if (rc == 0) rc = mdb_env_set_mapsize(env->get(), 1ULL << 20);  // adopts the file's size
  if (rc == 0) rc = mdb_env_open(env->get(), directory, MDB_NOTLS, 0600);
  if (rc != 0) {
    std::fprintf(stderr, "open %s: %s\n", directory, rc > 0 || rc < -1 ? mdb_strerror(rc) : "?");
    return std::nullopt;
  }
  context->write_wait = std::chrono::seconds(60);
  lmdb::SetEnvContext(env->get(), context);
  return std::move(env).value();
}

// Runs `change` in one write transaction of the archive in `directory` and commits it
// (`what` names it): the tool's exit code, 0, or 1 after printing why on stderr.
inline int ChangeToolArchive(const char* directory, const char* what,
                             const std::function<Status(lmdb::Txn& txn)>& change) {
  lmdb::EnvContext context;
  std::optional<lmdb::Env> env = OpenToolArchive(directory, &context);
  if (!env) return 1;
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env->get(), true);
  Status status = txn.status();
  if (status.ok()) status = change(*txn);
  if (status.ok()) status = txn->Commit(what);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace archiver::test_tools
