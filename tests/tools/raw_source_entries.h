// Test helpers that change a source's stored entries straight in the archive's LMDB files,
// as anyone who can write those files can: no registry, no key. For the tests that a
// password is not sent where its stored settings were redirected. Never installed. The
// archive must not be open in this process (one LMDB environment per path per process).
#pragma once

#include <lmdb.h>

#include <functional>
#include <string>

#include "archiver/status.h"
#include "lmdb/lmdb_handles.h"
#include "sources/sources_codec.h"

namespace archiver::testing_tools {

// Runs `change` on the stored value of `key` in database `db` of the archive in `dir`
// (value "" when absent) and writes back what it leaves, in one write transaction.
inline Status ChangeRawEntry(const std::string& dir, const char* db, const std::string& key,
                             const std::function<Status(std::string*)>& change) {
  Result<lmdb::Env> env = lmdb::Env::Create();
  if (!env.ok()) return env.status();
  int rc = mdb_env_set_maxdbs(env->get(), 32);
  if (rc == 0) rc = mdb_env_set_mapsize(env->get(), 1ULL << 20);  // adopts the file's size
  if (rc == 0) rc = mdb_env_open(env->get(), dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) return lmdb::ToStatus(rc, "open " + dir);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env->get(), true);
  if (!txn.ok()) return txn.status();
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(txn->get(), db, 0, &dbi);
  if (rc != 0) return lmdb::ToStatus(rc, std::string("open database ") + db);
  std::string_view stored;
  Status found = txn->Get(dbi, key, &stored);
  if (!found.ok() && found.code() != Status::Code::kNotFound) return found;
  std::string value(stored);
  Status changed = change(&value);
  if (!changed.ok()) return changed;
  Status put = txn->Put(dbi, key, value, 0);
  if (!put.ok()) return put;
  return txn->Commit("change " + key);
}

// Applies `change` to the stored settings of source `name`.
inline Status ChangeRawSourceConfig(const std::string& dir, const std::string& name,
                                    const std::function<void(SourceConfig*)>& change) {
  return ChangeRawEntry(dir, "src_config", name, [&](std::string* value) {
    SourceConfig config;
    Status decoded = sources_codec::DecodeConfig(*value, &config);
    if (!decoded.ok()) return decoded;
    change(&config);
    *value = sources_codec::EncodeConfig(config);
    return Status::Ok();
  });
}

// Replaces the sealed password of source `name` with `sealed`.
inline Status WriteRawSourceSecret(const std::string& dir, const std::string& name,
                                   const std::string& sealed) {
  return ChangeRawEntry(dir, "src_secrets", name, [&](std::string* value) {
    *value = sealed;
    return Status::Ok();
  });
}

}  // namespace archiver::testing_tools
