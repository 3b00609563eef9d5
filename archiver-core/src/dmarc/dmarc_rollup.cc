// DMARC rollups (see dmarc_rollup.h): the dmarc_rollups database, adding a batch's
// per-source tallies to a report's entries, deleting them, and walking them.
#include "dmarc/dmarc_rollup.h"

#include <algorithm>
#include <string>
#include <vector>

#include "dmarc/dmarc_rollup_gather.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"
#include "lmdb/lmdb_entries.h"
#include "store/index_keys.h"

namespace archiver::internal {
namespace {

namespace codec = dmarc_codec;

Result<const DmarcRollupDatabases*> OpenRollups(lmdb::ArchiveEnv& archive, bool write) {
  static constexpr NamedDb<DmarcRollupDatabases> kDatabases[] = {
      {kDmarcRollupsDb, 0, &DmarcRollupDatabases::rollups}};
  return archive.OpenGroup<DmarcRollupDatabases>(
      "DMARC rollups", write, [&](lmdb::Txn& txn, bool create, DmarcRollupDatabases* group) {
        return OpenNamedDatabases(archive.options().path, txn, create, kDatabases, group,
                                  "no DMARC rollups in " + archive.options().path);
      });
}

// Visits the entries of `report` of `kind` in key order.
Status WalkKind(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, char kind,
                const EntryVisitor& visit) {
  const std::string prefix = codec::RollupPrefix(report, kind);
  return WalkEntries(
      txn, rollups, MDB_SET_RANGE, prefix, MDB_NEXT,
      [&](std::string_view key, std::string_view value, bool* stop) {
        *stop = key.substr(0, prefix.size()) != prefix;
        return *stop ? Status::Ok() : visit(key, value, stop);
      },
      "read DMARC rollups");
}

Status DecodeSource(std::string_view value, DmarcTally* tally) {
  return codec::DecodeRollup(value, tally);
}

}  // namespace

Status OpenRollupsForWrite(lmdb::ArchiveEnv& archive) {
  Result<const DmarcRollupDatabases*> opened = OpenRollups(archive, true);
  return opened.ok() ? Status::Ok() : opened.status();
}

Result<const DmarcRollupDatabases*> FindRollups(lmdb::ArchiveEnv& archive) {
  return OpenRollups(archive, false);
}

void RollupBatch::Add(std::string_view source_ip, uint64_t count, std::string_view disposition,
                      std::string_view dkim, std::string_view spf) {
  auto entry = by_source_.find(source_ip);
  if (entry == by_source_.end()) {
    entry = by_source_.emplace(source_ip, DmarcTally{}).first;
    longest_ = std::max(longest_, source_ip.size());
  }
  codec::CountRecord(count, disposition, dkim, spf, &entry->second);
}

std::vector<const RollupBatch::Source*> RollupBatch::Sorted() const {
  std::vector<const Source*> sorted;
  sorted.reserve(by_source_.size());
  for (const Source& source : by_source_) sorted.push_back(&source);
  std::sort(sorted.begin(), sorted.end(),
            [](const Source* a, const Source* b) { return a->first < b->first; });
  return sorted;
}

namespace {

// Whether every key of `rollups` in `txn` is at most `key`: then greater keys may be
// appended (MDB_APPEND fills pages; a plain put into the rightmost page leaves them half
// full). Nothing of `report` or a later report: RollupPrefix(report, 0).
Result<bool> NothingAfter(const lmdb::Txn& txn, MDB_dbi rollups, std::string_view key) {
  bool nothing = true;
  Status read = WalkEntries(
      txn, rollups, MDB_LAST, {}, MDB_PREV,
      [&](std::string_view last, std::string_view, bool* stop) {
        nothing = last <= key;
        *stop = true;
        return Status::Ok();
      },
      "read DMARC rollups");
  if (!read.ok()) return read;
  return nothing;
}

// Most messages first, ties in source order: the order keys' order.
bool RanksBefore(const std::pair<uint64_t, std::string>& a,
                 const std::pair<uint64_t, std::string>& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

}  // namespace

Status RollupBatch::AddTo(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, size_t max_key_size,
                          uint64_t* new_sources) const {
  *new_sources = 0;
  const char* what = "store DMARC rollups";
  const size_t max_ip = max_key_size - codec::kRollupTopHeadSize;
  Result<bool> fresh = NothingAfter(txn, rollups, codec::RollupPrefix(report, 0));
  if (!fresh.ok()) return fresh.status();
  // Appended in key order: the sources (sorted), then their order keys (sorted).
  const bool append = *fresh && longest_ <= max_ip;
  std::vector<std::string> order;
  order.reserve(by_source_.size());
  for (const Source* source : Sorted()) {
    const auto& [full_ip, tally] = *source;
    const std::string_view ip = index::FitKey(full_ip, max_ip);
    const std::string key = codec::RollupSourceKey(report, ip);
    DmarcTally sum = tally;
    std::string_view value;
    Status found = append ? Status::NotFound("") : txn.Get(rollups, key, &value);
    if (found.ok()) {
      DmarcTally old;
      Status decoded = DecodeSource(value, &old);
      if (!decoded.ok()) return decoded.Annotated("DMARC report " + std::to_string(report));
      codec::AddTally(old, &sum);  // (`reports` is not stored)
      Status deleted = DeleteEntry(txn, rollups, codec::RollupTopKey(report, old.messages, ip));
      if (!deleted.ok()) return deleted;
    } else if (found.code() == Status::Code::kNotFound) {
      ++*new_sources;
    } else {
      return found;
    }
    Status put =
        PutEntry(txn, rollups, key, codec::EncodeRollup(sum), what, append ? MDB_APPEND : 0);
    if (!put.ok()) return put;
    order.push_back(codec::RollupTopKey(report, sum.messages, ip));
  }
  std::sort(order.begin(), order.end());
  for (const std::string& key : order) {
    Status put = PutEntry(txn, rollups, key, {}, what, append ? MDB_APPEND : 0);
    if (!put.ok()) return put;
  }
  return Status::Ok();
}

RollupWriter::RollupWriter(RollupGatherer& sources, uint64_t report, size_t max_key_size,
                           uint64_t ordered)
    : gatherer_(sources),
      report_(report),
      max_ip_(max_key_size - codec::kRollupTopHeadSize),
      ordered_(ordered),
      last_key_(codec::RollupPrefix(report, 0)) {}

Status RollupWriter::PutHeld(lmdb::Txn& txn, MDB_dbi rollups, unsigned flags) {
  std::string key = codec::RollupSourceKey(report_, held_ip_);
  Status put =
      PutEntry(txn, rollups, key, codec::EncodeRollup(held_), "store DMARC rollups", flags);
  if (!put.ok()) return put;
  last_key_ = std::move(key);
  ++written_;
  if (ordered_ == 0) return Status::Ok();
  std::pair<uint64_t, std::string> ranked(held_.messages, held_ip_);
  if (top_.size() < ordered_) {
    top_.push_back(std::move(ranked));
    std::push_heap(top_.begin(), top_.end(), RanksBefore);
  } else if (RanksBefore(ranked, top_.front())) {
    std::pop_heap(top_.begin(), top_.end(), RanksBefore);
    top_.back() = std::move(ranked);
    std::push_heap(top_.begin(), top_.end(), RanksBefore);
  }
  return Status::Ok();
}

Status RollupWriter::WriteSome(lmdb::Txn& txn, MDB_dbi rollups, uint64_t limit, bool* done) {
  *done = false;
  Result<bool> fresh = NothingAfter(txn, rollups, last_key_);
  if (!fresh.ok()) return fresh.status();
  unsigned flags = *fresh ? MDB_APPEND : 0;
  for (uint64_t put = 0; put < limit;) {
    std::string_view ip;
    DmarcTally tally;
    bool end = false;
    Status read = gatherer_.Next(&ip, &tally, &end);
    if (!read.ok()) return read;
    if (end) {
      *done = true;
      break;
    }
    // Source order survives the cut; IPs longer than the key limit may meet in one key.
    ip = index::FitKey(ip, max_ip_);
    if (holding_ && ip == held_ip_) {
      codec::AddTally(tally, &held_);
      continue;
    }
    if (holding_) {
      Status written = PutHeld(txn, rollups, flags);
      if (!written.ok()) return written;
      ++put;
    }
    held_ip_.assign(ip);
    held_ = tally;
    holding_ = true;
  }
  if (!*done) return Status::Ok();
  if (holding_) {
    Status written = PutHeld(txn, rollups, flags);
    if (!written.ok()) return written;
    holding_ = false;
  }
  std::sort_heap(top_.begin(), top_.end(), RanksBefore);  // best first: ascending keys
  for (const auto& [messages, ip] : top_) {
    Status put = PutEntry(txn, rollups, codec::RollupTopKey(report_, messages, ip), {},
                          "store DMARC rollups", flags);
    if (!put.ok()) return put;
  }
  top_.clear();
  return Status::Ok();
}

Status DeleteRollups(lmdb::Txn& txn, MDB_dbi rollups, uint64_t report, uint64_t limit, bool* gone) {
  const std::string prefix = codec::RollupPrefix(report, 0).substr(0, 8);
  std::vector<std::string> doomed;
  Status listed = WalkEntries(
      txn, rollups, MDB_SET_RANGE, prefix, MDB_NEXT,
      [&](std::string_view key, std::string_view, bool* stop) {
        *stop = key.substr(0, prefix.size()) != prefix;
        if (!*stop) doomed.emplace_back(key);
        *stop = *stop || doomed.size() > limit;
        return Status::Ok();
      },
      "read DMARC rollups");
  if (!listed.ok()) return listed;
  *gone = doomed.size() <= limit;
  if (!*gone) doomed.pop_back();
  for (const std::string& key : doomed) {
    Status deleted = DeleteEntry(txn, rollups, key);
    if (!deleted.ok()) return deleted;
  }
  return Status::Ok();
}

Status ForEachRollupSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                           const RollupVisitor& visit) {
  DmarcTally tally;
  return WalkKind(txn, rollups, report, codec::kRollupSource,
                  [&](std::string_view key, std::string_view value, bool* stop) {
                    Status decoded = DecodeSource(value, &tally);
                    if (!decoded.ok()) {
                      return decoded.Annotated("DMARC report " + std::to_string(report));
                    }
                    return visit(codec::RollupSourceOf(key), tally, stop);
                  });
}

Status ForEachTopSource(const lmdb::Txn& txn, MDB_dbi rollups, uint64_t report,
                        const RollupVisitor& visit) {
  DmarcTally tally;
  return WalkKind(txn, rollups, report, codec::kRollupTop,
                  [&](std::string_view key, std::string_view, bool* stop) {
                    uint64_t messages = 0;
                    std::string_view ip;
                    codec::DecodeRollupTopKey(key, &messages, &ip);
                    std::string_view value;
                    Status found = txn.Get(rollups, codec::RollupSourceKey(report, ip), &value);
                    if (found.ok()) found = DecodeSource(value, &tally);
                    if (found.ok() && tally.messages != messages) {
                      found = Status::Corruption("a DMARC rollup's order entry disagrees with it");
                    }
                    if (!found.ok()) {
                      return found.Annotated("DMARC report " + std::to_string(report) + " source " +
                                             std::string(ip));
                    }
                    return visit(ip, tally, stop);
                  });
}

}  // namespace archiver::internal
