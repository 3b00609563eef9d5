// Byte layouts of the source databases' values (docs/store-format.md, "Sources"): a
// version byte, then varints and length-prefixed strings in a fixed order. Decoders
// accept older versions, ignore appended bytes, and report truncation or a newer version
// as Corruption.
#pragma once

#include <string>
#include <string_view>

#include "archiver/sources/sources.h"
#include "archiver/status.h"

namespace archiver::sources_codec {

constexpr uint8_t kConfigVersion = 1;
constexpr uint8_t kStatusVersion = 2;
constexpr uint8_t kCheckpointVersion = 3;
constexpr uint8_t kLogVersion = 1;

std::string EncodeConfig(const SourceConfig& config);
Status DecodeConfig(std::string_view value, SourceConfig* config);

// The status with the activity log's next sequence number.
std::string EncodeStatus(const SourceStatus& status, uint64_t next_log);
Status DecodeStatus(std::string_view value, SourceStatus* status, uint64_t* next_log);

// The folder name is the key's, not the value's.
std::string EncodeCheckpoint(const FolderCheckpoint& checkpoint);
Status DecodeCheckpoint(std::string_view value, FolderCheckpoint* checkpoint);

std::string EncodeLogEntry(const SourceLogEntry& entry);
Status DecodeLogEntry(std::string_view value, SourceLogEntry* entry);

}  // namespace archiver::sources_codec
