// An estimate of the space one `messages` record takes in LMDB with 4 KiB pages, from
// LMDB's own rules (mdb.c): a node larger than me_nodemax moves its value to overflow
// pages of its own; a smaller one shares a leaf page with its neighbours.
#pragma once

#include <cstddef>

namespace archiver::bench {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kPageHeader = 16;    // PAGEHDRSZ on 64-bit
inline constexpr size_t kNodeHeader = 8;     // NODESIZE
inline constexpr size_t kIndexSlot = 2;      // the node's offset in its page (indx_t)
inline constexpr size_t kKeySize = 32;       // the message id, a SHA-256
inline constexpr size_t kPageNumber = 8;     // pgno_t, what a leaf keeps of an overflow value
inline constexpr size_t kRecordHeader = 10;  // version, codec, BE64 raw size (store-format.md)
// me_nodemax for 4 KiB pages: ((4096 - 16) / 2 rounded down to even) - 2 = 2038 bytes of
// node, so a value of up to 1,998 bytes (payload up to 1,988) stays in the leaf.
inline constexpr size_t kNodeMax = (((kPageSize - kPageHeader) / 2) & ~size_t{1}) - kIndexSlot;
// Leaves of a B-tree filled with random keys (SHA-256 ids) are about ln 2 = 69% full on
// average after splits (Yao, 1978): a leaf byte costs 1 / 0.69 bytes of pages.
inline constexpr double kLeafFill = 0.69;

struct LmdbFootprint {
  double bytes = 0;       // overflow pages in full, plus the leaf bytes divided by kLeafFill
  bool overflow = false;  // the value went to overflow pages
};

// The footprint of a record whose payload (the stored, possibly compressed message) is
// `payload_size` bytes.
inline LmdbFootprint RecordFootprint(size_t payload_size) {
  const size_t value = kRecordHeader + payload_size;
  const double leaf_page_share =
      static_cast<double>(kPageSize) / static_cast<double>(kPageSize - kPageHeader) / kLeafFill;
  LmdbFootprint footprint;
  size_t node = kNodeHeader + kKeySize + value;
  if (node > kNodeMax) {
    footprint.overflow = true;
    const size_t pages = (kPageHeader - 1 + value) / kPageSize + 1;  // OVPAGES
    footprint.bytes = static_cast<double>(pages * kPageSize);
    node = kNodeHeader + kKeySize + kPageNumber;  // the leaf keeps the first page's number
  }
  node = (node + 1) & ~size_t{1};  // EVEN()
  footprint.bytes += static_cast<double>(node + kIndexSlot) * leaf_page_share;
  return footprint;
}

}  // namespace archiver::bench
