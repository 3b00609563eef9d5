// Where Store::ListDeliveries finds its candidates: the index the filter names with the
// fewest of them (their duplicate counts, read without reading the duplicates), or every
// delivery in time order. What a filter means stays PreparedFilter::Matches: an index
// only narrows the records it is applied to.
#pragma once

#include <lmdb.h>

#include <string>
#include <vector>

#include "store/index_keys.h"
#include "store/store_impl.h"

namespace archiver::internal {

struct ListSource {
  MDB_dbi dbi = 0;                // an index when `indexed`, else deliveries
  bool indexed = false;           // candidates: the union of the duplicates of `keys`
  std::vector<std::string> keys;  // cut to LMDB's key limit; may be empty (no candidate)
  bool batched = false;           // an index filled in batches: merge `unindexed` too
  bool nothing = false;           // nothing can match (a source filter, no idx_source)
};

// More idx_subject keys than this contain the query's word: the subject filter reads
// every record (a union of so many lists would be no cheaper).
inline constexpr size_t kMaxSubjectKeys = 256;
// An index with at most this many candidates is not compared with the subject's, whose
// count needs a walk over every subject word.
inline constexpr size_t kFewCandidates = 1024;

// Chooses among idx_rcpt, idx_from, idx_user, idx_source, and (once complete)
// idx_mailbox and idx_subject, for the conditions `filter` sets; ties go to the first of
// that order. A subject candidate exists when the query has a word and at most
// kMaxSubjectKeys subject words may contain it (index::SubjectWordMayContain). Reads in
// a read transaction of its own.
Status ChooseListSource(const OpenArchive& archive, const index::PreparedFilter& filter,
                        ListSource* source);

}  // namespace archiver::internal
