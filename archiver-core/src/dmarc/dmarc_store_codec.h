// Byte layouts of the DMARC databases' keys and values (docs/store-format.md, "DMARC"):
// BE64 ids and times in keys so that byte order is numeric order, a version byte first
// in every value, varints and length-prefixed strings after it, enumerated values as a
// one-byte token. Decoders accept older versions and ignore bytes after the fields they
// know; Corruption when a value is truncated or of a newer version.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/status.h"

namespace archiver::dmarc_codec {

constexpr uint64_t kFormatVersion = 1;  // dmarc_meta "format_version" this code writes
constexpr uint8_t kValueVersion = 1;    // first byte of every DMARC value but reports
constexpr uint8_t kReportVersion = 2;   // reports values: 2 appends the rollup progress
constexpr size_t kRecordKeySize = 12;   // BE64 report id, BE32 record index
constexpr size_t kTimeKeySize = 16;     // BE64 biased time, BE64 id

using IdKey = std::array<char, 8>;
using RecordKey = std::array<char, kRecordKeySize>;
using TimeKey = std::array<char, kTimeKeySize>;

inline std::string_view View(const IdKey& key) { return {key.data(), key.size()}; }
inline std::string_view View(const RecordKey& key) { return {key.data(), key.size()}; }
inline std::string_view View(const TimeKey& key) { return {key.data(), key.size()}; }
inline std::string_view View(const MessageId& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

IdKey EncodeId(uint64_t id);
// False when `bytes` is not 8 bytes.
bool DecodeId(std::string_view bytes, uint64_t* id);
RecordKey EncodeRecordKey(uint64_t report, uint32_t index);
bool DecodeRecordKey(std::string_view bytes, uint64_t* report, uint32_t* index);
// Signed seconds stored with the sign bit flipped, so that byte order is time order.
TimeKey EncodeTimeKey(int64_t time, uint64_t id);
bool DecodeTimeKey(std::string_view bytes, int64_t* time, uint64_t* id);

// What makes two reports the same: the lowercased organisation and the report id (and,
// for a report without an id, its policy domain and date range).
MessageId ReportDedupKey(const AggregateReportMeta& meta);
// The feedback-report fields (names lowercased, values as given) and the original headers.
MessageId FailureDedupKey(const FailureReport& report);
// The carrying mail (or else the origin's kind and detail), the part and the reason.
MessageId ErrorDedupKey(std::string_view reason, const DmarcOrigin& origin);

// Adds one record's count to `tally` (dispositions and results compared ignoring case).
void CountRecord(uint64_t count, std::string_view disposition, std::string_view dkim,
                 std::string_view spf, DmarcTally* tally);

// Adds every count of `from` to `to`.
void AddTally(const DmarcTally& from, DmarcTally* to);

// records values.
void EncodeRecord(const AggregateRecord& record, std::string* out);  // appends
Status DecodeRecord(std::string_view value, AggregateRecord* record);
// The fields a summary needs, decoded without copying: the views point into `value` or
// into static storage, valid as long as `value` is.
struct RecordCore {
  std::string_view source_ip;
  uint64_t count = 0;
  std::string_view disposition, dkim, spf;
};
Status DecodeRecordCore(std::string_view value, RecordCore* core);

// reports values: a complete report, or one being imported (owner process, last commit).
struct StoredReport {
  bool importing = false;     // false: complete
  uint64_t owner_pid = 0;     // importing only
  uint64_t heartbeat_us = 0;  // importing only: when its last batch was committed
  int64_t range_key = 0;      // the time it is indexed under (seconds)
  DmarcReport report;
  DmarcTally tally;  // its records' counts (reports = 1)
  // Version 2: how many of its records (from the first) are counted in its dmarc_rollups
  // entries, and how many source entries those hold. The rollups are complete when
  // rolled_up == report.records; a version 1 value reads as 0, 0 (none).
  uint64_t rolled_up = 0;
  uint64_t source_ips = 0;
};
std::string EncodeReport(const StoredReport& stored);
Status DecodeReport(std::string_view value, StoredReport* stored);

// dmarc_rollups keys (docs/store-format.md, "DMARC rollups"): BE64 report id, a kind
// byte, then for kRollupSource the source IP, for kRollupTop BE64(UINT64_MAX - messages)
// and the source IP (so that a forward walk gives the sources with most messages first).
constexpr char kRollupSource = 1;
constexpr char kRollupTop = 2;
constexpr size_t kRollupPrefixSize = 9;
constexpr size_t kRollupTopHeadSize = kRollupPrefixSize + 8;
std::string RollupPrefix(uint64_t report, char kind);
std::string RollupSourceKey(uint64_t report, std::string_view source_ip);
std::string RollupTopKey(uint64_t report, uint64_t messages, std::string_view source_ip);
// The report and kind of any dmarc_rollups key; false when it is shorter than a prefix.
bool DecodeRollupPrefix(std::string_view key, uint64_t* report, char* kind);
// The part after the prefix: the source IP; for a top key also the messages.
std::string_view RollupSourceOf(std::string_view source_key);
bool DecodeRollupTopKey(std::string_view key, uint64_t* messages, std::string_view* source_ip);
// dmarc_rollups source values: a source's tally within one report (`reports` not stored).
std::string EncodeRollup(const DmarcTally& tally);
Status DecodeRollup(std::string_view value, DmarcTally* tally);

std::string EncodeFailure(const DmarcFailure& failure);
Status DecodeFailure(std::string_view value, DmarcFailure* failure);

std::string EncodeError(const DmarcError& error);
Status DecodeError(std::string_view value, DmarcError* error);

std::string EncodeMail(const DmarcMail& mail);  // `mail.mail` is the key, not stored
Status DecodeMail(std::string_view value, DmarcMail* mail);

}  // namespace archiver::dmarc_codec
