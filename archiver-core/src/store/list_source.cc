// Choosing the candidates of a listing (list_source.h).
#include "store/list_source.h"

#include <algorithm>
#include <limits>

#include "lmdb/lmdb_entries.h"
#include "store/content_indexes.h"
#include "store/subject_words.h"

namespace archiver::internal {
namespace {

struct Candidate {
  ListSource source;
  uint64_t count = 0;
};

constexpr const char* kCount = "count index entries";

Status AddKeyCandidate(const lmdb::Txn& txn, const OpenArchive& archive, MDB_dbi dbi,
                       const std::string& key, bool batched, std::vector<Candidate>* candidates) {
  std::string fitted(index::FitKey(key, archive.max_key_size));
  Result<size_t> count = CountDuplicates(txn, dbi, fitted, kCount);
  if (!count.ok()) return count.status();
  candidates->push_back({ListSource{dbi, true, {std::move(fitted)}, batched, false}, *count});
  return Status::Ok();
}

// The subject words that may contain `word` and how many deliveries they file, unless
// more than kMaxSubjectKeys may.
Status AddSubjectCandidate(const lmdb::Txn& txn, MDB_dbi idx_subject, const std::string& word,
                           std::vector<Candidate>* candidates) {
  Candidate candidate{ListSource{idx_subject, true, {}, true, false}, 0};
  bool too_many = false;
  Status walked = WalkKeyCounts(
      txn, idx_subject,
      [&](std::string_view key, size_t count, bool* stop) {
        if (!index::SubjectWordMayContain(key, word)) return Status::Ok();
        too_many = candidate.source.keys.size() == kMaxSubjectKeys;
        *stop = too_many;
        if (!too_many) {
          candidate.source.keys.emplace_back(key);
          candidate.count += count;
        }
        return Status::Ok();
      },
      "read subject words");
  if (walked.ok() && !too_many) candidates->push_back(std::move(candidate));
  return walked;
}

uint64_t Fewest(const std::vector<Candidate>& candidates) {
  uint64_t fewest = std::numeric_limits<uint64_t>::max();
  for (const Candidate& candidate : candidates) fewest = std::min(fewest, candidate.count);
  return fewest;
}

// The candidates of the filter's mailbox and subject, when the indexes are complete.
Status AddContentCandidates(const lmdb::Txn& txn, const OpenArchive& archive,
                            const ContentIndexes* content, const index::PreparedFilter& filter,
                            std::vector<Candidate>* candidates) {
  if (content == nullptr) return Status::Ok();
  Result<bool> complete = ContentIndexesComplete(txn, archive.db.meta);
  if (!complete.ok() || !*complete) return complete.status();
  if (!filter.mailbox.empty()) {
    Status added =
        AddKeyCandidate(txn, archive, content->idx_mailbox, filter.mailbox, true, candidates);
    if (!added.ok()) return added;
  }
  const std::string word = index::LongestQueryWord(filter.subject);
  if (word.empty() || Fewest(*candidates) <= kFewCandidates) return Status::Ok();
  return AddSubjectCandidate(txn, content->idx_subject, word, candidates);
}

}  // namespace

Status ChooseListSource(const OpenArchive& archive, const index::PreparedFilter& filter,
                        ListSource* source) {
  *source = ListSource{};
  source->dbi = archive.db.deliveries;
  // Opened before the read transaction begins (opening may take one of its own).
  const SourceIndex* source_index = nullptr;
  if (!filter.source.empty()) {
    Result<const SourceIndex*> opened = OpenSourceIndex(archive.env, false);
    if (!opened.ok()) return opened.status();
    source->nothing = *opened == nullptr;  // no source ever wrote to this archive
    if (source->nothing) return Status::Ok();
    source_index = *opened;
  }
  const ContentIndexes* content = nullptr;
  if (!filter.mailbox.empty() || !filter.subject.empty()) {
    Result<const ContentIndexes*> opened = OpenContentIndexes(archive.env, false);
    if (!opened.ok()) return opened.status();
    content = *opened;
  }
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  const Databases& db = archive.db;
  std::vector<Candidate> candidates;
  Status status = Status::Ok();
  const struct {
    const std::string& condition;
    MDB_dbi dbi;
    bool batched;
  } keyed[] = {{filter.rcpt, db.idx_rcpt, true},
               {filter.from, db.idx_from, true},
               {filter.user, db.idx_user, true},
               {filter.source, source_index ? source_index->idx_source : 0, false}};
  for (const auto& index : keyed) {
    if (status.ok() && !index.condition.empty())
      status =
          AddKeyCandidate(*txn, archive, index.dbi, index.condition, index.batched, &candidates);
  }
  if (status.ok()) status = AddContentCandidates(*txn, archive, content, filter, &candidates);
  if (!status.ok()) return status;
  const uint64_t fewest = Fewest(candidates);
  for (Candidate& candidate : candidates) {
    if (candidate.count == fewest) {
      *source = std::move(candidate.source);
      break;
    }
  }
  return Status::Ok();
}

}  // namespace archiver::internal
