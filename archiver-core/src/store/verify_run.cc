// VerifyRun (verify_run.h) and the message pass of Store::Verify in on-disk order.
#include "store/verify_run.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"

namespace archiver::internal {
namespace {

// A transaction is given up after this long even if it has not served its entries, so
// that a slow disk does not pin the pages writers free meanwhile.
constexpr auto kTransactionTime = std::chrono::seconds(1);
// How far ahead of the message being read the kernel is asked to read (MADV_WILLNEED):
// small enough to stay in a page cache capped well below the archive.
constexpr uint64_t kReadAheadBytes = 8 << 20;
// Bytes read between two drops of the process's mappings of the map (ReleaseMapped).
constexpr uint64_t kReleaseBytes = 64 << 20;

struct StoredAt {
  uint64_t offset;      // in the map; UINT64_MAX when unknown
  uint64_t size;        // of the value
  uint64_t tail_first;  // its first msg_tails entry; 0 when none
  MessageId id;
};

// Messages without a tail first, by offset; then those with one, by tail entry (the
// order they were written in, which is the order of their tails in the map).
bool InDiskOrder(const StoredAt& a, const StoredAt& b) {
  if ((a.tail_first == 0) != (b.tail_first == 0)) return a.tail_first == 0;
  return a.tail_first == 0 ? a.offset < b.offset : a.tail_first < b.tail_first;
}

}  // namespace

void VerifyRun::BeginPhase(const char* phase, uint64_t total) {
  phase_ = phase;
  total_ = total;
  last_progress_ = {};
  Report(0);
}

void VerifyRun::Report(uint64_t done) {
  if (!options_.progress) return;
  last_progress_ = std::chrono::steady_clock::now();
  options_.progress(VerifyProgress{phase_, done, total_});
}

bool VerifyRun::Continue(uint64_t done) {
  if (options_.stop && options_.stop()) {
    report_->interrupted = true;
    return false;
  }
  if (options_.progress && std::chrono::steady_clock::now() - last_progress_ >=
                               std::chrono::milliseconds(options_.progress_interval_ms))
    Report(done);
  return true;
}

Result<lmdb::Txn> VerifyRun::Begin() {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive_.env.get(), false);
  if (!txn.ok()) return txn;
  const size_t snapshot = mdb_txn_id(txn->get());
  if (snapshots_ == 0 || snapshot != last_snapshot_) ++snapshots_;
  last_snapshot_ = snapshot;
  return txn;
}

bool VerifyRun::TransactionDone(uint64_t entries,
                                std::chrono::steady_clock::time_point began) const {
  return entries >= std::max<uint64_t>(options_.entries_per_transaction, 1) ||
         std::chrono::steady_clock::now() - began >= kTransactionTime;
}

Status VerifyRun::WalkInTransactions(MDB_dbi dbi, std::string_view what,
                                     const std::function<Status(const lmdb::Txn&)>& on_begin,
                                     const TxnVisitor& visit) {
  std::string resume;  // the last key visited; empty before the first
  bool started = false, more = true;
  uint64_t visited = 0;
  while (more && !report_->interrupted) {
    Result<lmdb::Txn> txn = Begin();
    if (!txn.ok()) return txn.status();
    if (Status begun = on_begin(*txn); !begun.ok()) return begun;
    const auto began = std::chrono::steady_clock::now();
    uint64_t entries = 0;
    more = false;
    Status walked = WalkEntries(
        *txn, dbi, started ? MDB_SET_RANGE : MDB_FIRST, resume, MDB_NEXT,
        [&](std::string_view key, std::string_view value, bool* stop) {
          if (started && key == resume) return Status::Ok();  // visited in the last one
          if (TransactionDone(entries, began)) {
            more = *stop = true;  // resumes at this key in the next transaction
            return Status::Ok();
          }
          if (!Continue(visited)) {
            *stop = true;
            return Status::Ok();
          }
          ++entries;
          ++visited;
          resume.assign(key);
          started = true;
          return visit(*txn, key, value);
        },
        what);
    if (!walked.ok()) return walked;
  }
  return Status::Ok();
}

namespace {

// The stored messages and where their values lie in the map, in offset order. Keys that
// are not message ids are reported (and counted) here.
Status ListMessages(VerifyRun& run, const lmdb::ScanAdvice& advice, std::vector<StoredAt>* out) {
  VerifyReport& report = run.report();
  return run.WalkInTransactions(
      run.archive().db.messages, "list messages", [](const lmdb::Txn&) { return Status::Ok(); },
      [&](const lmdb::Txn&, std::string_view key, std::string_view value) {
        record::MessageHeader header;
        const bool decoded = record::DecodeMessageHeader(value, &header).ok();
        StoredAt at{advice.OffsetOf(value), value.size(), decoded ? header.tail_first : 0, {}};
        if (key.size() != at.id.size()) {
          ++report.messages_checked;
          CountMessage(value, &run.counts());
          report.damaged.emplace_back(MessageId{},
                                      Status::Corruption("a messages key is not 32 bytes"));
          return Status::Ok();
        }
        std::memcpy(at.id.data(), key.data(), at.id.size());
        out->push_back(at);
        return Status::Ok();
      });
}

// Asks for the tails ahead of the one of `header` (written in order, they lie in order)
// when it is beyond what was asked for already.
void AdviseTails(VerifyRun& run, const lmdb::Txn& txn, const lmdb::ScanAdvice& advice,
                 std::string_view value, uint64_t* advised_until) {
  record::MessageHeader header;
  if (!record::DecodeMessageHeader(value, &header).ok() || header.tail_size == 0) return;
  const uint64_t offset = advice.OffsetOf(run.payloads().FirstTailEntry(txn, header));
  if (offset == UINT64_MAX ||
      (offset < *advised_until && offset + kReadAheadBytes > *advised_until))
    return;
  advice.WillNeed(offset, kReadAheadBytes);
  *advised_until = offset + kReadAheadBytes;
}

// Re-reads and re-hashes one message; Ok (skipped) when it was removed meanwhile.
Status CheckMessage(VerifyRun& run, const lmdb::Txn& txn, const lmdb::ScanAdvice& advice,
                    const MessageId& id, std::string* message, uint64_t* tails_advised) {
  std::string_view value;
  Status found = txn.Get(run.archive().db.messages, IdBytes(id), &value);
  if (found.code() == Status::Code::kNotFound) return Status::Ok();
  if (!found.ok()) return AboutMessage(id, found);
  ++run.report().messages_checked;
  CountMessage(value, &run.counts());
  AdviseTails(run, txn, advice, value, tails_advised);
  Status decoded = run.payloads().Decode(txn, value, message);
  if (decoded.ok() && Sha256::Of(*message) != id)
    decoded = Status::Corruption("stored bytes do not match its id (SHA-256 mismatch)");
  if (!decoded.ok()) run.report().damaged.emplace_back(id, AboutMessage(id, decoded));
  return Status::Ok();
}

}  // namespace

Status VerifyMessagesInDiskOrder(VerifyRun& run) {
  // No read-ahead around faults (a lookup in the messages tree would drag megabytes): the
  // pass asks for exactly the values it is about to read.
  lmdb::ScanAdvice advice(run.archive().env, lmdb::MapAccess::kLookups);
  std::vector<StoredAt> order;
  Status listed = ListMessages(run, advice, &order);
  if (!listed.ok() || run.report().interrupted) return listed;
  std::sort(order.begin(), order.end(), InDiskOrder);
  run.BeginPhase("messages", order.size());
  std::string message;
  size_t advised = 0;          // order[advised] is the first value not asked for yet
  uint64_t read_since = 0;     // bytes read since the map's mappings were last dropped
  uint64_t tails_advised = 0;  // the tails below this offset were asked for
  for (size_t next = 0; next < order.size() && !run.report().interrupted;) {
    Result<lmdb::Txn> txn = run.Begin();
    if (!txn.ok()) return txn.status();
    const auto began = std::chrono::steady_clock::now();
    for (uint64_t entries = 0; next < order.size(); ++next, ++entries) {
      if (run.TransactionDone(entries, began) || !run.Continue(next)) break;
      if (order[next].tail_first != 0) {  // heads out of offset order: each when read
        advice.WillNeed(order[next].offset, order[next].size);
      } else {
        for (advised = std::max(advised, next);
             advised < order.size() && order[advised].tail_first == 0 &&
             order[advised].offset != UINT64_MAX &&
             order[advised].offset < order[next].offset + kReadAheadBytes;
             ++advised)
          advice.WillNeed(order[advised].offset, order[advised].size);
      }
      Status checked = CheckMessage(run, *txn, advice, order[next].id, &message, &tails_advised);
      if (!checked.ok()) return checked;
      if ((read_since += order[next].size) >= kReleaseBytes) {
        advice.ReleaseMapped();
        read_since = 0;
      }
    }
  }
  return Status::Ok();
}

}  // namespace archiver::internal
