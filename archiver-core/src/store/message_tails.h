// msg_tails (docs/store-format.md, "messages" and "msg_tails"; format 5): the part of each
// stored payload that does not fill whole pages. LMDB puts a value larger than about half
// a page on overflow pages of its own, and the rest of its last page is lost: half a page
// per message on average, a quarter of an archive of text mail. A messages value of
// version 2 keeps only the payload bytes that fill whole overflow pages (none for a
// payload smaller than a page); the tail goes to msg_tails, in entries no larger than a
// leaf node holds, numbered in the order they are written and appended (MDB_APPEND fills
// leaf pages instead of splitting them in halves). Values of version 1 (the whole payload
// in the messages value) are still read. Archives written before format 5 lack the
// database: writers create it, readers open it when present.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/store/store.h"
#include "lmdb/archive_env.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace archiver::internal {

inline constexpr const char* kMessageTailsDb = "msg_tails";  // BE64 number -> tail bytes
struct MessageTailsDb {
  MDB_dbi msg_tails = 0;
  size_t page_size = 4096;  // the environment's (mdb_env_stat)
};

// The database of `env`, created when `write` and missing (InvalidArgument for a read-only
// archive). Null (Ok) when missing and !write: no software of format 5 wrote yet.
Result<const MessageTailsDb*> OpenMessageTails(lmdb::ArchiveEnv& env, bool write);

// How a writer cuts a payload of `payload` bytes for a map of `page_size`-byte pages:
// `head` bytes stay in the messages value (exactly filling its overflow pages, or 0),
// the `tail` after them goes to `entries` msg_tails entries of nearly equal size, each
// small enough to stay in a leaf page. A reader never needs this: any cut reads the same.
struct PayloadSplit {
  size_t head = 0;
  size_t tail = 0;
  size_t entries = 0;
};
PayloadSplit SplitPayload(size_t payload, size_t page_size);

// Stores message `id` (raw_size bytes before `codec`) as a messages value of version 2 and
// its tail entries, in `txn`; *stored_size = the bytes of both (headers included). The
// caller has checked that the message is not stored yet.
Status PutPayload(lmdb::Txn& txn, const OpenArchive& archive, const MessageTailsDb& tails,
                  const MessageId& id, record::Codec codec, uint64_t raw_size,
                  std::string_view payload, uint64_t* stored_size);

// Reads stored payloads, whatever the version of their messages value.
class PayloadReader {
 public:
  // Looks up (or opens) msg_tails: make it before the transactions it reads in begin.
  explicit PayloadReader(const OpenArchive& archive);
  // The payload of messages value `value` (header decoded into *header): a view of the
  // map when it has no tail, else assembled in *scratch (valid while both live).
  // Corruption when the value or its tail is damaged or missing.
  Status Payload(const lmdb::Txn& txn, std::string_view value, record::MessageHeader* header,
                 std::string* scratch, std::string_view* payload) const;
  // The message of `value`, decompressed into *out, without checking its hash.
  Status Decode(const lmdb::Txn& txn, std::string_view value, std::string* out) const;
  // The first tail entry of a header (the view of the map a verify pass asks the kernel
  // to read); empty when it has none or it is missing.
  std::string_view FirstTailEntry(const lmdb::Txn& txn, const record::MessageHeader& header) const;

 private:
  const MessageTailsDb* db_ = nullptr;  // null: the archive has none
};

}  // namespace archiver::internal
