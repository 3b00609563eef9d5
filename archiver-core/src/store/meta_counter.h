// Counters kept in a meta database (the archive's `meta`, DMARC's `dmarc_meta`): 8-byte
// big-endian values (record::EncodeCounter), read here with the damage they may have.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string_view>

#include "archiver/status.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

// A meta counter, 0 when absent. Corruption when its value is not 8 bytes.
Status ReadCounter(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name, uint64_t* value);

}  // namespace archiver::internal
