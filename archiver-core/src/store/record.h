// Byte layouts of the archive's keys and values (docs/store-format.md): big-endian
// integers in keys so that byte order is time order, varints and length-prefixed strings
// in values, a version byte first in every value. No struct is ever cast onto stored bytes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"
#include "archiver/store/store.h"
#include "base/value_codec.h"

namespace archiver::record {

// meta "format_version" this code writes: 2 may list deliveries not yet filed in
// idx_rcpt / idx_from / idx_user (meta "unindexed", index_batch.h); 3 files every new
// delivery in idx_mailbox and idx_subject too (content_indexes.h), so a writer of 2
// must no longer write; 4 may hold deliveries values of version 3 (and msg_headers),
// which a reader of 3 cannot read; 5 may hold messages values of version 2 (and
// msg_tails), which a reader of 4 cannot read.
constexpr uint64_t kFormatVersion = 5;
// First byte of a messages value. 2 (what this code writes) leaves the payload's tail to
// msg_tails (message_tails.h).
constexpr uint8_t kMessageValueVersion = 2;
// First byte of a deliveries value. 2 appends the remote-source fields (source,
// folder, uidvalidity, uid, internal date, flags) to the fields of 1. 3 (what this code
// writes) leaves the header summary to msg_headers (once per message), packs the trace
// (trace_codec.h) and flags the remote fields.
constexpr uint8_t kDeliveryValueVersion = 3;
constexpr uint8_t kHeadersValueVersion = 1;   // first byte of a msg_headers value
constexpr size_t kMessageHeaderSize = 10;     // version 1: version, codec, raw size (BE64)
constexpr size_t kMessageHeaderSizeV2 = 22;   // version 2 adds tail size (BE32), first entry (BE64)
constexpr uint32_t kMaxTailSize = 1 << 20;    // larger recorded tails are corruption
constexpr size_t kDeliveryKeySize = 16;       // received_us (BE64), sequence (BE64)
constexpr uint64_t kMaxRawSize = 4ULL << 30;  // larger recorded sizes are corruption

enum class Codec : uint8_t { kNone = 0, kZlib = 1 };
const char* CodecName(Codec codec);

using DeliveryKeyBytes = std::array<char, kDeliveryKeySize>;

// The value encoding's primitives (base/value_codec.h), under the names the store's
// callers use.
using value_codec::GetBigEndian64;
using value_codec::GetString;
using value_codec::GetVarint;
using value_codec::PutBigEndian64;
using value_codec::PutString;
using value_codec::PutVarint;

// Meta counters and versions: 8 bytes, big-endian.
std::array<char, 8> EncodeCounter(uint64_t value);
bool DecodeCounter(std::string_view bytes, uint64_t* value);

struct MessageHeader {
  uint8_t version = 0;
  Codec codec = Codec::kNone;
  uint64_t raw_size = 0;
  size_t size = kMessageHeaderSize;  // of the header: the payload's head follows
  uint32_t tail_size = 0;            // version 2: payload bytes in msg_tails
  uint64_t tail_first = 0;           // version 2: number of the first entry (0: no tail)
};

// Writes the kMessageHeaderSize bytes that precede a payload in a value of version 1 (for
// the tests and tools that make older archives).
void EncodeMessageHeader(Codec codec, uint64_t raw_size, char* dest);
// Writes the kMessageHeaderSizeV2 bytes that precede a payload's head (version 2).
void EncodeMessageHeaderV2(Codec codec, uint64_t raw_size, uint32_t tail_size, uint64_t tail_first,
                           char* dest);
// Reads the header of a messages value. Corruption when the value is too short, its
// version is unknown or newer, its codec unknown, its raw size or tail absurd (a tail
// without a first entry or the reverse), or (codec none) its payload length, head and
// tail, differs from the raw size.
Status DecodeMessageHeader(std::string_view value, MessageHeader* header);

DeliveryKeyBytes EncodeDeliveryKey(const DeliveryKey& key);
bool DecodeDeliveryKey(std::string_view bytes, DeliveryKey* key);

// A deliveries value of the current version: record.headers is not in it (it goes to
// msg_headers, EncodeHeaderSummary). EncodeDeliveryVersion writes an older version too
// (1 becomes 2 for a record with remote fields), for the tests of their readers.
std::string EncodeDelivery(const DeliveryRecord& record);
std::string EncodeDeliveryVersion(const DeliveryRecord& record, uint8_t version);
// Whether a deliveries value holds its header summary (versions 1 and 2).
bool DeliveryHoldsHeaders(std::string_view value);
// Decodes a deliveries value of any version up to the current one, ignoring bytes after
// the fields it knows (later versions append); Corruption when truncated, malformed or
// newer. record->headers is left empty unless DeliveryHoldsHeaders (see LoadDelivery,
// message_headers.h). kSkip leaves record->trace_prefix empty (for version 3: no
// inflation; for listings, which never show it).
enum class TraceDecoding { kExpand, kSkip };
Status DecodeDelivery(std::string_view value, DeliveryRecord* record,
                      TraceDecoding trace = TraceDecoding::kExpand);

// A msg_headers value: the header summary of one message.
std::string EncodeHeaderSummary(const HeaderSummary& headers);
Status DecodeHeaderSummary(std::string_view value, HeaderSummary* headers);

}  // namespace archiver::record
