// Encoding and decoding of source values (see sources_codec.h). Each decoder reads one
// field at a time through a Reader that remembers the first failure.
#include "sources/sources_codec.h"

#include "store/record.h"

namespace archiver::sources_codec {
namespace {

using record::PutString;
using record::PutVarint;

// Reads fields from the front of a value; after the first failure every read fails.
class Reader {
 public:
  explicit Reader(std::string_view value) : rest_(value) {}
  // The version byte: false when missing, 0 or newer than `current`.
  bool Version(uint8_t current, uint8_t* version) {
    if (rest_.empty()) return ok_ = false;
    *version = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return ok_ = *version != 0 && *version <= current;
  }
  void Number(uint64_t* value) { ok_ = ok_ && record::GetVarint(&rest_, value); }
  void Number32(uint32_t* value) {
    uint64_t wide = 0;
    Number(&wide);
    ok_ = ok_ && wide <= UINT32_MAX;
    *value = static_cast<uint32_t>(wide);
  }
  void Flag(bool* value) {
    uint64_t number = 0;
    Number(&number);
    ok_ = ok_ && number <= 1;
    *value = number == 1;
  }
  template <typename Enum>
  void EnumValue(Enum* value, Enum last) {
    uint64_t number = 0;
    Number(&number);
    ok_ = ok_ && number <= static_cast<uint64_t>(last);
    if (ok_) *value = static_cast<Enum>(number);
  }
  void Text(std::string* value) { ok_ = ok_ && record::GetString(&rest_, value); }
  void List(std::vector<std::string>* values) {
    uint64_t count = 0;
    Number(&count);
    ok_ = ok_ && count <= rest_.size();  // each entry takes at least one byte
    values->clear();
    for (uint64_t i = 0; ok_ && i < count; ++i) Text(&values->emplace_back());
  }
  void List32(std::vector<uint32_t>* values) {
    uint64_t count = 0;
    Number(&count);
    ok_ = ok_ && count <= rest_.size();  // each entry takes at least one byte
    values->clear();
    for (uint64_t i = 0; ok_ && i < count; ++i) Number32(&values->emplace_back());
  }
  void RetryList(std::vector<RetryMessage>* values) {
    uint64_t count = 0;
    Number(&count);
    ok_ = ok_ && count <= rest_.size() / 3;  // each entry takes at least three bytes
    values->clear();
    for (uint64_t i = 0; ok_ && i < count; ++i) {
      RetryMessage& retry = values->emplace_back();
      Number32(&retry.uid);
      Number32(&retry.failures);
      Text(&retry.reason);
    }
  }
  Status Done(const char* what) const {
    return ok_ ? Status::Ok()
               : Status::Corruption(std::string(what) +
                                    " value is truncated or of a newer version");
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

void PutList(const std::vector<std::string>& values, std::string* out) {
  PutVarint(values.size(), out);
  for (const std::string& value : values) PutString(value, out);
}

}  // namespace

std::string EncodeConfig(const SourceConfig& config) {
  std::string value(1, static_cast<char>(kConfigVersion));
  PutString(config.name, &value);
  PutString(config.host, &value);
  PutVarint(config.port, &value);
  PutString(config.user, &value);
  PutVarint(static_cast<uint64_t>(config.tls), &value);
  PutVarint(config.tls_verify ? 1 : 0, &value);
  PutList(config.folders, &value);
  PutVarint(config.all_folders ? 1 : 0, &value);
  PutList(config.exclude, &value);
  PutVarint(config.interval_seconds, &value);
  PutVarint(static_cast<uint64_t>(config.purpose), &value);
  PutVarint(static_cast<uint64_t>(config.after), &value);
  PutString(config.after_folder, &value);
  PutString(config.subject_filter, &value);
  PutString(config.sender_filter, &value);
  PutVarint(config.max_age_seconds, &value);
  PutVarint(config.max_size, &value);
  return value;
}

Status DecodeConfig(std::string_view value, SourceConfig* config) {
  Reader in(value);
  uint8_t version = 0;
  in.Version(kConfigVersion, &version);
  in.Text(&config->name);
  in.Text(&config->host);
  in.Number32(&config->port);
  in.Text(&config->user);
  in.EnumValue(&config->tls, SourceTls::kNone);
  in.Flag(&config->tls_verify);
  in.List(&config->folders);
  in.Flag(&config->all_folders);
  in.List(&config->exclude);
  in.Number(&config->interval_seconds);
  in.EnumValue(&config->purpose, SourcePurpose::kDmarc);
  in.EnumValue(&config->after, SourceAfter::kNone);
  in.Text(&config->after_folder);
  in.Text(&config->subject_filter);
  in.Text(&config->sender_filter);
  in.Number(&config->max_age_seconds);
  in.Number(&config->max_size);
  return in.Done("source settings");
}

std::string EncodeStatus(const SourceStatus& status, uint64_t next_log) {
  std::string value(1, static_cast<char>(kStatusVersion));
  PutVarint(status.paused ? 1 : 0, &value);
  PutVarint(status.import_done ? 1 : 0, &value);
  PutString(status.last_error, &value);
  PutVarint(status.last_sync_us, &value);
  PutVarint(status.last_attempt_us, &value);
  PutVarint(status.consecutive_failures, &value);
  PutVarint(status.next_due_us, &value);
  PutVarint(status.messages_archived, &value);
  PutVarint(status.created_us, &value);
  PutVarint(next_log, &value);
  // Version 2's place of a failure at a message: unused since checkpoint version 3 (such
  // a message waits in its folder's retry list), written empty.
  PutString("", &value);
  PutVarint(0, &value);
  PutVarint(0, &value);
  return value;
}

Status DecodeStatus(std::string_view value, SourceStatus* status, uint64_t* next_log) {
  Reader in(value);
  uint8_t version = 0;
  in.Version(kStatusVersion, &version);
  in.Flag(&status->paused);
  in.Flag(&status->import_done);
  in.Text(&status->last_error);
  in.Number(&status->last_sync_us);
  in.Number(&status->last_attempt_us);
  in.Number32(&status->consecutive_failures);
  in.Number(&status->next_due_us);
  in.Number(&status->messages_archived);
  in.Number(&status->created_us);
  in.Number(next_log);
  if (version >= 2) {  // the unused place of a failure at a message
    std::string folder;
    uint64_t unused = 0;
    in.Text(&folder);
    in.Number(&unused);
    in.Number(&unused);
  }
  return in.Done("source status");
}

std::string EncodeCheckpoint(const FolderCheckpoint& checkpoint) {
  std::string value(1, static_cast<char>(kCheckpointVersion));
  PutVarint(checkpoint.uidvalidity, &value);
  PutVarint(checkpoint.last_uid, &value);
  PutVarint(checkpoint.archived, &value);
  PutVarint(checkpoint.remote_messages, &value);
  PutVarint(checkpoint.updated_us, &value);
  PutVarint(checkpoint.pending_after.size(), &value);  // version 2
  for (uint32_t uid : checkpoint.pending_after) PutVarint(uid, &value);
  PutVarint(checkpoint.retry.size(), &value);  // version 3
  for (const RetryMessage& retry : checkpoint.retry) {
    PutVarint(retry.uid, &value);
    PutVarint(retry.failures, &value);
    PutString(retry.reason, &value);
  }
  return value;
}

Status DecodeCheckpoint(std::string_view value, FolderCheckpoint* checkpoint) {
  Reader in(value);
  uint8_t version = 0;
  in.Version(kCheckpointVersion, &version);
  in.Number32(&checkpoint->uidvalidity);
  in.Number32(&checkpoint->last_uid);
  in.Number(&checkpoint->archived);
  in.Number(&checkpoint->remote_messages);
  in.Number(&checkpoint->updated_us);
  checkpoint->pending_after.clear();
  if (version >= 2) in.List32(&checkpoint->pending_after);
  checkpoint->retry.clear();
  if (version >= 3) in.RetryList(&checkpoint->retry);
  return in.Done("folder checkpoint");
}

std::string EncodeLogEntry(const SourceLogEntry& entry) {
  std::string value(1, static_cast<char>(kLogVersion));
  PutVarint(entry.time_us, &value);
  PutString(entry.what, &value);
  PutVarint(entry.count, &value);
  PutString(entry.error, &value);
  return value;
}

Status DecodeLogEntry(std::string_view value, SourceLogEntry* entry) {
  Reader in(value);
  uint8_t version = 0;
  in.Version(kLogVersion, &version);
  in.Number(&entry->time_us);
  in.Text(&entry->what);
  in.Number(&entry->count);
  in.Text(&entry->error);
  return in.Done("source log entry");
}

}  // namespace archiver::sources_codec
