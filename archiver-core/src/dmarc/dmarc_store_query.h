// What DmarcStore's query files share: a read transaction over the DMARC databases and
// the walk over the complete reports a filter selects (dmarc_store_query.cc).
#pragma once

#include <functional>

#include "archiver/dmarc/dmarc_store.h"
#include "dmarc/dmarc_store_codec.h"
#include "lmdb/archive_env.h"
#include "lmdb/lmdb_handles.h"

namespace archiver::internal {

// Runs `body` in a read transaction; `absent` when the archive has no DMARC databases.
Status InDmarcRead(lmdb::ArchiveEnv& archive, const std::function<Status(const lmdb::Txn&)>& body,
                   Status absent = Status::Ok());

// The complete reports matching `filter` (its limit counts them), newest range first,
// within `txn`, until `visit` returns false.
Status ForEachReport(const lmdb::Txn& txn, const lmdb::ArchiveEnv& archive,
                     const DmarcFilter& filter,
                     const std::function<bool(const dmarc_codec::StoredReport&)>& visit);

}  // namespace archiver::internal
