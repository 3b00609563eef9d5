// Store::ListDistinctMessages: each selected message once, oldest first, in bounded
// memory. ListDeliveries lists newest first; this walks the selection in windows of time
// from the oldest, lists each window (newest first, at most kWindowDeliveries kept),
// reverses it and hands out each delivery that is its message's newest match (checked
// through idx_message), so the order and the choice of delivery are those of listing
// everything, deduplicating by message (keeping the first seen) and reversing.
#include <algorithm>
#include <optional>
#include <vector>

#include "archiver/store/store.h"
#include "lmdb/lmdb_entries.h"
#include "lmdb/map_advice.h"
#include "store/index_keys.h"
#include "store/message_headers.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver {
namespace {

// Deliveries one window may hold; a window that would hold more is halved and listed again
// (a window of one microsecond holds whatever it has).
constexpr size_t kWindowDeliveries = 1024;
constexpr uint64_t kFirstWindowUs = 3600ull * 1000000;  // an hour
// Message bytes, or messages, handed out between two drops of the process's mappings of
// the map (besides the messages, their lookups map index pages, 64 KiB around each fault).
constexpr uint64_t kReleaseBytes = 4 << 20;
constexpr uint64_t kReleaseCount = 16;

// The selection: matching deliveries with keys in [lowest, highest].
struct Range {
  DeliveryKey lowest{0, 0};
  DeliveryKey highest;
};

// The newest matching delivery, and with a limit the oldest of the newest `limit`; false
// when nothing matches.
Result<bool> FindRange(const Store& store, const ListFilter& filter, Range* range) {
  ListFilter newest = filter;
  newest.limit = 1;
  bool found = false;
  Status listed = store.ListDeliveries(newest, [&](const Delivery& delivery) {
    range->highest = delivery.key;
    found = true;
    return false;
  });
  if (!listed.ok() || !found || filter.limit == 0)
    return listed.ok() ? Result<bool>(found) : listed;
  listed = store.ListDeliveries(filter, [&](const Delivery& delivery) {
    range->lowest = delivery.key;
    return true;
  });
  if (!listed.ok()) return listed;
  return true;
}

// Whether no delivery of the same message after `delivery` (up to range.highest) matches.
Result<bool> IsNewestMatch(const lmdb::Txn& txn, const internal::OpenArchive& archive,
                           const internal::DeliveryReader& reader,
                           const index::PreparedFilter& filter, const Range& range,
                           const Delivery& delivery) {
  const record::DeliveryKeyBytes own = record::EncodeDeliveryKey(delivery.key);
  const std::string_view id(reinterpret_cast<const char*>(delivery.record.id.data()),
                            delivery.record.id.size());
  bool newest = true;
  Status walked = internal::WalkDuplicatesFrom(
      txn, archive.db.idx_message, id, {own.data(), own.size()},
      [&](std::string_view, std::string_view key_bytes, bool* stop) {
        DeliveryKey key;
        if (key_bytes == std::string_view(own.data(), own.size()) ||
            !record::DecodeDeliveryKey(key_bytes, &key))
          return Status::Ok();
        if (key > range.highest) {
          *stop = true;
          return Status::Ok();
        }
        std::string_view stored;
        DeliveryRecord later;
        if (txn.Get(archive.db.deliveries, key_bytes, &stored).ok() &&
            reader.Load(txn, stored, &later, record::TraceDecoding::kSkip, filter.load_headers)
                .ok() &&
            filter.Matches(later)) {
          newest = false;
          *stop = true;
        }
        return Status::Ok();
      },
      "find a message's newest delivery");
  if (!walked.ok()) return walked;
  return newest;
}

// The selected deliveries with since_us <= received_us < until_us, newest first; false in
// *fits when there were more than kWindowDeliveries (and `whole` is not set).
Status ListWindow(const Store& store, ListFilter window, const Range& range, bool whole,
                  std::vector<Delivery>* out, bool* fits) {
  out->clear();
  *fits = true;
  window.limit = 0;
  return store.ListDeliveries(window, [&](const Delivery& delivery) {
    if (delivery.key > range.highest || delivery.key < range.lowest) return true;
    if (!whole && out->size() >= kWindowDeliveries) {
      *fits = false;
      return false;
    }
    out->push_back(delivery);
    return true;
  });
}

// Drops from `window` the deliveries that are not their message's newest match, in one
// read transaction (ended before the caller hands the rest out).
Status KeepNewestMatches(const internal::OpenArchive& archive, const index::PreparedFilter& filter,
                         const Range& range, std::vector<Delivery>* window) {
  const internal::DeliveryReader reader(archive);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(archive.env.get(), false);
  if (!txn.ok()) return txn.status();
  Status failed = Status::Ok();
  std::erase_if(*window, [&](const Delivery& delivery) {
    if (!failed.ok()) return false;
    Result<bool> newest = IsNewestMatch(*txn, archive, reader, filter, range, delivery);
    if (!newest.ok()) failed = newest.status();
    return newest.ok() && !*newest;
  });
  return failed;
}

}  // namespace

Status Store::ListDistinctMessages(const ListFilter& filter, const DeliveryVisitor& visit) const {
  const internal::OpenArchive& archive = impl_->archive;
  // Point reads (ReadMessage asks for each message's pages itself): no read-around, which
  // would drag megabytes per lookup under a page cache smaller than the archive.
  lmdb::ScanAdvice advice(archive.env, lmdb::MapAccess::kLookups);
  ListFilter selection = filter;
  selection.headers = false;  // handed out without them: the visitor reads the message
  Range range;
  Result<bool> found = FindRange(*this, selection, &range);
  if (!found.ok() || !*found) return found.status();
  const index::PreparedFilter prepared(selection);
  const uint64_t end_us = range.highest.received_us + 1;
  uint64_t since = std::max(filter.since_us, range.lowest.received_us);
  uint64_t width = kFirstWindowUs;
  std::vector<Delivery> window;
  uint64_t handed_out = 0;    // message bytes since the last ReleaseMapped
  uint64_t handed_count = 0;  // messages since then
  while (since < end_us) {
    ListFilter bounds = selection;
    bounds.since_us = since;
    bounds.until_us = end_us - since > width ? since + width : end_us;
    bool fits = true;
    Status listed = ListWindow(*this, bounds, range, width == 1, &window, &fits);
    if (!listed.ok()) return listed;
    if (!fits) {
      width = std::max<uint64_t>(width / 2, 1);
      continue;
    }
    Status kept = KeepNewestMatches(archive, prepared, range, &window);
    if (!kept.ok()) return kept;
    for (auto it = window.rbegin(); it != window.rend(); ++it) {
      if (!visit(*it)) return Status::Ok();
      // What the visitor read of the map (its messages) is let go of now and then.
      if ((handed_out += it->record.size) >= kReleaseBytes || ++handed_count >= kReleaseCount) {
        advice.ReleaseMapped();
        handed_out = handed_count = 0;
      }
    }
    since = bounds.until_us;
    if (window.size() < kWindowDeliveries / 4 && width < (UINT64_MAX >> 2)) width *= 2;
  }
  return Status::Ok();
}

}  // namespace archiver
