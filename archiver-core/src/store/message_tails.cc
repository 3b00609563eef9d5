// msg_tails, the writer's cut of a payload and PayloadReader (message_tails.h).
#include "store/message_tails.h"

#include <algorithm>
#include <cstring>

#include "base/compression.h"
#include "lmdb/lmdb_entries.h"

namespace archiver::internal {
namespace {

constexpr NamedDb<MessageTailsDb> kMessageTails[] = {
    {kMessageTailsDb, 0, &MessageTailsDb::msg_tails},
};

// LMDB's page layout (mdb.c): a page header of 16 bytes; a leaf node of 8 bytes plus its
// key and data, stored in the leaf when it is at most ((page - 16) / 2 rounded down to
// even) - 2 bytes; a value on overflow pages takes ceil((16 + size) / page) of them.
constexpr size_t kPageHeader = 16;
constexpr size_t kNodeHeader = 8;
constexpr size_t kTailKeySize = 8;

size_t LeafNodeMax(size_t page_size) { return (((page_size - kPageHeader) / 2) & ~size_t{1}) - 2; }

std::array<char, kTailKeySize> TailKey(uint64_t number) {
  std::array<char, kTailKeySize> key;
  record::PutBigEndian64(number, key.data());
  return key;
}

std::string_view View(const std::array<char, kTailKeySize>& key) {
  return {key.data(), key.size()};
}

// The number the next tail entry gets: one past the last one (1 in an empty database).
Status NextTailNumber(const lmdb::Txn& txn, MDB_dbi dbi, uint64_t* next) {
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, dbi);
  if (!cursor.ok()) return cursor.status();
  MDB_val key{}, value{};
  int rc = cursor->Get(&key, &value, MDB_LAST);
  if (rc == MDB_NOTFOUND) {
    *next = 1;
    return Status::Ok();
  }
  if (rc != 0) return lmdb::ToStatus(rc, "find the last message tail");
  if (key.mv_size != kTailKeySize) return Status::Corruption("a msg_tails key is not 8 bytes");
  *next = record::GetBigEndian64(static_cast<const char*>(key.mv_data)) + 1;
  return Status::Ok();
}

}  // namespace

Result<const MessageTailsDb*> OpenMessageTails(lmdb::ArchiveEnv& env, bool write) {
  if (write) {
    if (Status writable = env.CheckWritable(); !writable.ok()) return writable;
  }
  const std::string& path = env.path();
  return env.OpenGroup<MessageTailsDb>(
      "message tails", write, [&](lmdb::Txn& txn, bool create, MessageTailsDb* group) {
        MDB_stat stat{};
        if (mdb_env_stat(env.get(), &stat) == 0 && stat.ms_psize >= 512)
          group->page_size = stat.ms_psize;
        return OpenNamedDatabases(path, txn, create, kMessageTails, group,
                                  "no message tails in " + path);
      });
}

PayloadSplit SplitPayload(size_t payload, size_t page_size) {
  PayloadSplit split;
  const size_t overhead = kPageHeader + record::kMessageHeaderSizeV2;
  const size_t pages = (payload + overhead) / page_size;  // whole pages the value could fill
  split.head = pages == 0 ? 0 : pages * page_size - overhead;
  split.tail = payload - split.head;
  // Half a leaf node: appended entries leave less of each page unused (88% full against
  // 81% with whole nodes on the bench/scale workload) for 18 bytes more per entry.
  const size_t entry_max = (LeafNodeMax(page_size) - kNodeHeader - kTailKeySize) / 2;
  split.entries = (split.tail + entry_max - 1) / entry_max;
  return split;
}

Status PutPayload(lmdb::Txn& txn, const OpenArchive& archive, const MessageTailsDb& tails,
                  const MessageId& id, record::Codec codec, uint64_t raw_size,
                  std::string_view payload, uint64_t* stored_size) {
  const PayloadSplit split = SplitPayload(payload.size(), tails.page_size);
  uint64_t first = 0;
  if (split.tail > 0) {
    Status numbered = NextTailNumber(txn, tails.msg_tails, &first);
    if (!numbered.ok()) return AboutMessage(id, numbered);
  }
  MDB_val key = lmdb::ToVal(IdBytes(id));
  MDB_val value = {record::kMessageHeaderSizeV2 + split.head, nullptr};
  int rc = mdb_put(txn.get(), archive.db.messages, &key, &value, MDB_RESERVE | MDB_NOOVERWRITE);
  if (rc != 0) return lmdb::ToStatus(rc, "store message " + ToHex(id), archive.env.get());
  auto* dest = static_cast<char*>(value.mv_data);
  record::EncodeMessageHeaderV2(codec, raw_size, static_cast<uint32_t>(split.tail), first, dest);
  if (split.head > 0) std::memcpy(dest + record::kMessageHeaderSizeV2, payload.data(), split.head);
  std::string_view rest = payload.substr(split.head);
  for (size_t entry = 0; entry < split.entries; ++entry) {
    const size_t size = rest.size() / (split.entries - entry);  // the last ones take the rest
    const std::array<char, kTailKeySize> tail_key = TailKey(first + entry);
    Status put = PutEntry(txn, tails.msg_tails, View(tail_key), rest.substr(0, size),
                          "store a message tail", MDB_APPEND);
    if (!put.ok()) return AboutMessage(id, put);
    rest.remove_prefix(size);
  }
  *stored_size = value.mv_size + split.tail;
  return Status::Ok();
}

PayloadReader::PayloadReader(const OpenArchive& archive) {
  db_ = archive.env.FindGroup<MessageTailsDb>();
  if (db_ != nullptr) return;
  Result<const MessageTailsDb*> opened = OpenMessageTails(archive.env, false);
  if (opened.ok()) db_ = *opened;  // a failure shows as a missing tail
}

Status PayloadReader::Payload(const lmdb::Txn& txn, std::string_view value,
                              record::MessageHeader* header, std::string* scratch,
                              std::string_view* payload) const {
  Status decoded = record::DecodeMessageHeader(value, header);
  if (!decoded.ok()) return decoded;
  *payload = value.substr(header->size);
  if (header->tail_size == 0) return Status::Ok();
  if (db_ == nullptr)
    return Status::Corruption("message value with a tail in an archive without msg_tails");
  scratch->reserve(payload->size() + header->tail_size);
  scratch->assign(*payload);
  Result<lmdb::Cursor> cursor = lmdb::Cursor::Open(txn, db_->msg_tails);
  if (!cursor.ok()) return cursor.status();
  const std::array<char, kTailKeySize> first = TailKey(header->tail_first);
  MDB_val key = lmdb::ToVal(View(first)), entry{};
  const size_t end = scratch->size() + header->tail_size;
  for (uint64_t number = header->tail_first; scratch->size() < end; ++number) {
    int rc = cursor->Get(&key, &entry, number == header->tail_first ? MDB_SET_KEY : MDB_NEXT);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "read a message tail");
    if (rc == MDB_NOTFOUND || key.mv_size != kTailKeySize ||
        record::GetBigEndian64(static_cast<const char*>(key.mv_data)) != number) {
      return Status::Corruption("its tail entry " + std::to_string(number) + " is missing");
    }
    if (entry.mv_size == 0 || entry.mv_size > end - scratch->size()) {
      return Status::Corruption("its tail entry " + std::to_string(number) +
                                " does not fit its recorded tail size");
    }
    scratch->append(static_cast<const char*>(entry.mv_data), entry.mv_size);
  }
  *payload = *scratch;
  return Status::Ok();
}

Status PayloadReader::Decode(const lmdb::Txn& txn, std::string_view value, std::string* out) const {
  record::MessageHeader header;
  Status decoded = record::DecodeMessageHeader(value, &header);
  if (!decoded.ok()) return decoded;
  // Uncompressed, the payload is the message: its head and tail go straight into *out
  // (a large attachment is not held twice).
  const bool plain = header.codec == record::Codec::kNone;
  std::string scratch;
  std::string_view payload;
  Status read = Payload(txn, value, &header, plain ? out : &scratch, &payload);
  if (!read.ok()) return read;
  if (plain) {
    if (header.tail_size == 0) out->assign(payload);  // else Payload assembled it there
    return Status::Ok();
  }
  out->resize(header.raw_size);  // the recorded size bounds what decompression may write
  return compression::InflateExact(payload, out->data(), header.raw_size);
}

std::string_view PayloadReader::FirstTailEntry(const lmdb::Txn& txn,
                                               const record::MessageHeader& header) const {
  if (db_ == nullptr || header.tail_size == 0) return {};
  const std::array<char, kTailKeySize> first = TailKey(header.tail_first);
  std::string_view entry;
  if (!txn.Get(db_->msg_tails, View(first), &entry).ok()) return {};
  return entry;
}

}  // namespace archiver::internal
