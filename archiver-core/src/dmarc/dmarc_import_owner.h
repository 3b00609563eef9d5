// Who owns a DMARC report that is still being imported: this process's running imports,
// and whether the process named in an importing report value is still at work (an
// import that died leaves its report to be replaced by the next import of it).
#pragma once

#include <cstdint>

#include "dmarc/dmarc_store_codec.h"
#include "lmdb/archive_env.h"

namespace archiver::internal {

// Notes that this process is importing report `id` of `archive` (or has stopped).
void RegisterImport(const lmdb::ArchiveEnv& archive, uint64_t id, bool running);

// Whether the import that wrote the importing report `id` is alive: it committed within
// the last 15 minutes, and its process exists (in this process: its import is registered).
bool ImportOwnerAlive(const lmdb::ArchiveEnv& archive, uint64_t id,
                      const dmarc_codec::StoredReport& stored);

}  // namespace archiver::internal
