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
// must no longer write.
constexpr uint64_t kFormatVersion = 3;
constexpr uint8_t kMessageValueVersion = 1;  // first byte of a messages value
// First byte of a deliveries value. 2 appends the remote-source fields (source,
// folder, uidvalidity, uid, internal date, flags) to the fields of 1; a record without
// them is still written as 1, which older readers (refusing 2) keep reading.
constexpr uint8_t kDeliveryValueVersion = 2;
constexpr size_t kMessageHeaderSize = 10;     // version, codec, raw size (BE64)
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
};

// Writes the kMessageHeaderSize bytes that precede a stored payload.
void EncodeMessageHeader(Codec codec, uint64_t raw_size, char* dest);
// Reads the header of a messages value. Corruption when the value is too short, its
// version is unknown or newer, its codec unknown, its raw size absurd, or (codec none)
// its payload length differs from the raw size.
Status DecodeMessageHeader(std::string_view value, MessageHeader* header);

DeliveryKeyBytes EncodeDeliveryKey(const DeliveryKey& key);
bool DecodeDeliveryKey(std::string_view bytes, DeliveryKey* key);

// A deliveries value. Decoding accepts older versions and ignores bytes after the
// fields it knows (later versions append); Corruption when truncated or newer.
std::string EncodeDelivery(const DeliveryRecord& record);
Status DecodeDelivery(std::string_view value, DeliveryRecord* record);

}  // namespace archiver::record
