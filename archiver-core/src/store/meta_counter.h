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

// A marker (a counter of 1 once set, never unset): whether it is set. A damaged one counts
// as unset (verify reports it).
Result<bool> MarkerSet(const lmdb::Txn& txn, MDB_dbi meta, std::string_view name);
Status SetMarker(lmdb::Txn& txn, MDB_dbi meta, std::string_view name);

}  // namespace archiver::internal
