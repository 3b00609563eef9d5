// Encoding and decoding of source values (see sources_codec.h). Each value's fields are
// named once, in a *Layout function that the value codec (base/value_codec.h) runs with a
// Writer to encode and with a Reader to decode.
#include "sources/sources_codec.h"

#include "base/value_codec.h"

namespace archiver::sources_codec {
namespace {

using value_codec::Decode;
using value_codec::Encode;
using value_codec::Reader;
using value_codec::Writer;

template <typename Io, typename T>
void ConfigLayout(Io& io, T& config) {
  io.Version(kConfigVersion);
  io.String(config.name);
  io.String(config.host);
  io.Varint(config.port);
  io.String(config.user);
  io.EnumValue(config.tls, SourceTls::kNone);
  io.Flag(config.tls_verify);
  io.Strings(config.folders);
  io.Flag(config.all_folders);
  io.Strings(config.exclude);
  io.Varint(config.interval_seconds);
  io.EnumValue(config.purpose, SourcePurpose::kDmarc);
  io.EnumValue(config.after, SourceAfter::kNone);
  io.String(config.after_folder);
  io.String(config.subject_filter);
  io.String(config.sender_filter);
  io.Varint(config.max_age_seconds);
  io.Varint(config.max_size);
}

// The status with the activity log's next sequence number.
template <typename Io, typename T, typename Number>
void StatusLayout(Io& io, T& status, Number& next_log) {
  const uint8_t version = io.Version(kStatusVersion);
  io.Flag(status.paused);
  io.Flag(status.import_done);
  io.String(status.last_error);
  io.Varint(status.last_sync_us);
  io.Varint(status.last_attempt_us);
  io.Varint(status.consecutive_failures);
  io.Varint(status.next_due_us);
  io.Varint(status.messages_archived);
  io.Varint(status.created_us);
  io.Varint(next_log);
  if (version >= 2) {
    // Version 2's place of a failure at a message (folder, uidvalidity, UID): unused since
    // checkpoint version 3 (such a message waits in its folder's retry list), written empty.
    std::string_view folder;
    uint64_t unused = 0;
    io.String(folder);
    io.Varint(unused);
    io.Varint(unused);
  }
}

template <typename Io, typename T>
void CheckpointLayout(Io& io, T& checkpoint) {
  const uint8_t version = io.Version(kCheckpointVersion);
  io.Varint(checkpoint.uidvalidity);
  io.Varint(checkpoint.last_uid);
  io.Varint(checkpoint.archived);
  io.Varint(checkpoint.remote_messages);
  io.Varint(checkpoint.updated_us);
  if (version >= 2) {
    io.List(checkpoint.pending_after, [&](auto& uid) { io.Varint(uid); });
  } else {
    io.Missing(checkpoint.pending_after);
  }
  if (version >= 3) {
    constexpr size_t kMinRetryBytes = 3;  // UID, failures, reason length
    io.List(
        checkpoint.retry,
        [&](auto& retry) {
          io.Varint(retry.uid);
          io.Varint(retry.failures);
          io.String(retry.reason);
        },
        kMinRetryBytes);
  } else {
    io.Missing(checkpoint.retry);
  }
}

template <typename Io, typename T>
void LogEntryLayout(Io& io, T& entry) {
  io.Version(kLogVersion);
  io.Varint(entry.time_us);
  io.String(entry.what);
  io.Varint(entry.count);
  io.String(entry.error);
}

}  // namespace

std::string EncodeConfig(const SourceConfig& config) {
  return Encode(config, [](Writer& out, const SourceConfig& v) { ConfigLayout(out, v); });
}

Status DecodeConfig(std::string_view value, SourceConfig* config) {
  return Decode(value, "source settings value", config,
                [](Reader& in, SourceConfig& v) { ConfigLayout(in, v); });
}

std::string EncodeStatus(const SourceStatus& status, uint64_t next_log) {
  return Encode(status,
                [&](Writer& out, const SourceStatus& v) { StatusLayout(out, v, next_log); });
}

Status DecodeStatus(std::string_view value, SourceStatus* status, uint64_t* next_log) {
  return Decode(value, "source status value", status,
                [&](Reader& in, SourceStatus& v) { StatusLayout(in, v, *next_log); });
}

std::string EncodeCheckpoint(const FolderCheckpoint& checkpoint) {
  return Encode(checkpoint,
                [](Writer& out, const FolderCheckpoint& v) { CheckpointLayout(out, v); });
}

Status DecodeCheckpoint(std::string_view value, FolderCheckpoint* checkpoint) {
  return Decode(value, "folder checkpoint value", checkpoint,
                [](Reader& in, FolderCheckpoint& v) { CheckpointLayout(in, v); });
}

std::string EncodeLogEntry(const SourceLogEntry& entry) {
  return Encode(entry, [](Writer& out, const SourceLogEntry& v) { LogEntryLayout(out, v); });
}

Status DecodeLogEntry(std::string_view value, SourceLogEntry* entry) {
  return Decode(value, "source log entry value", entry,
                [](Reader& in, SourceLogEntry& v) { LogEntryLayout(in, v); });
}

}  // namespace archiver::sources_codec
