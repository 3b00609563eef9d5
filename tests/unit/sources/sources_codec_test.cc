// The source value layouts: a folder checkpoint of version 3 (with its retry list) round
// trips; versions 1 and 2 still decode (no retry list); every truncation and a newer
// version are Corruption; a status of version 2 with a failure place still decodes.
#include "sources/sources_codec.h"

#include <gtest/gtest.h>

#include "store/record.h"

namespace archiver {
namespace {

using record::PutString;
using record::PutVarint;

FolderCheckpoint SampleCheckpoint() {
  FolderCheckpoint checkpoint;
  checkpoint.uidvalidity = 1700000001;
  checkpoint.last_uid = UINT32_MAX;
  checkpoint.archived = 12345;
  checkpoint.remote_messages = 99;
  checkpoint.updated_us = 1700000000123456ULL;
  checkpoint.pending_after = {4, 7};
  checkpoint.retry = {{3, 1, "NO [UNAVAILABLE] try later"},
                      {UINT32_MAX, 4, std::string("with\0nul \xC3\xA9", 11)},
                      {9, 2, ""}};
  return checkpoint;
}

// The fields of versions 1 and 2, as older writers laid them out.
std::string OldCheckpoint(uint8_t version, const FolderCheckpoint& checkpoint) {
  std::string value(1, static_cast<char>(version));
  PutVarint(checkpoint.uidvalidity, &value);
  PutVarint(checkpoint.last_uid, &value);
  PutVarint(checkpoint.archived, &value);
  PutVarint(checkpoint.remote_messages, &value);
  PutVarint(checkpoint.updated_us, &value);
  if (version < 2) return value;
  PutVarint(checkpoint.pending_after.size(), &value);
  for (uint32_t uid : checkpoint.pending_after) PutVarint(uid, &value);
  return value;
}

TEST(SourcesCodec, CheckpointRoundTripsWithItsRetryList) {
  const FolderCheckpoint checkpoint = SampleCheckpoint();
  const std::string value = sources_codec::EncodeCheckpoint(checkpoint);
  EXPECT_EQ(value[0], 3);
  FolderCheckpoint decoded;
  decoded.retry = {{1, 1, "stale"}};  // replaced, not appended to
  ASSERT_TRUE(sources_codec::DecodeCheckpoint(value, &decoded).ok());
  EXPECT_EQ(decoded.uidvalidity, checkpoint.uidvalidity);
  EXPECT_EQ(decoded.last_uid, checkpoint.last_uid);
  EXPECT_EQ(decoded.archived, checkpoint.archived);
  EXPECT_EQ(decoded.remote_messages, checkpoint.remote_messages);
  EXPECT_EQ(decoded.updated_us, checkpoint.updated_us);
  EXPECT_EQ(decoded.pending_after, checkpoint.pending_after);
  EXPECT_EQ(decoded.retry, checkpoint.retry);
  // Appended bytes (a later compatible field) are ignored.
  ASSERT_TRUE(sources_codec::DecodeCheckpoint(value + "\x05\x01", &decoded).ok());
  EXPECT_EQ(decoded.retry, checkpoint.retry);
}

TEST(SourcesCodec, OlderCheckpointsDecodeWithAnEmptyRetryList) {
  const FolderCheckpoint checkpoint = SampleCheckpoint();
  for (uint8_t version : {1, 2}) {
    SCOPED_TRACE(static_cast<int>(version));
    FolderCheckpoint decoded;
    decoded.retry = {{1, 1, "stale"}};
    decoded.pending_after = {1};
    ASSERT_TRUE(sources_codec::DecodeCheckpoint(OldCheckpoint(version, checkpoint), &decoded).ok());
    EXPECT_EQ(decoded.uidvalidity, checkpoint.uidvalidity);
    EXPECT_EQ(decoded.last_uid, checkpoint.last_uid);
    EXPECT_EQ(decoded.updated_us, checkpoint.updated_us);
    EXPECT_EQ(decoded.pending_after,
              version >= 2 ? checkpoint.pending_after : std::vector<uint32_t>{});
    EXPECT_TRUE(decoded.retry.empty());
  }
}

TEST(SourcesCodec, DamagedOrNewerCheckpointsAreCorruption) {
  const std::string value = sources_codec::EncodeCheckpoint(SampleCheckpoint());
  for (size_t size = 0; size < value.size(); ++size) {
    FolderCheckpoint decoded;
    EXPECT_EQ(sources_codec::DecodeCheckpoint(value.substr(0, size), &decoded).code(),
              Status::Code::kCorruption)
        << size;
  }
  std::string newer = value;
  newer[0] = 4;
  FolderCheckpoint decoded;
  EXPECT_EQ(sources_codec::DecodeCheckpoint(newer, &decoded).code(), Status::Code::kCorruption);
  // A retry count larger than the bytes left cannot be honest.
  std::string huge = OldCheckpoint(2, SampleCheckpoint());
  huge[0] = 3;
  PutVarint(1u << 30, &huge);
  EXPECT_EQ(sources_codec::DecodeCheckpoint(huge, &decoded).code(), Status::Code::kCorruption);
}

TEST(SourcesCodec, StatusOfVersionTwoWithAFailurePlaceStillDecodes) {
  SourceStatus status;
  status.import_done = true;
  status.last_error = "folder INBOX: UID 7: Disconnected";
  status.consecutive_failures = 2;
  status.messages_archived = 40;
  std::string value = sources_codec::EncodeStatus(status, 17);
  // Version 2's place of a failure at a message, as the writers before the retry list set it.
  const std::string empty_place = std::string("\0\0\0", 3);
  ASSERT_EQ(value.substr(value.size() - 3), empty_place);
  value.resize(value.size() - 3);
  PutString("INBOX", &value);
  PutVarint(1700000001, &value);
  PutVarint(7, &value);
  SourceStatus decoded;
  uint64_t next_log = 0;
  ASSERT_TRUE(sources_codec::DecodeStatus(value, &decoded, &next_log).ok());
  EXPECT_EQ(next_log, 17u);
  EXPECT_TRUE(decoded.import_done);
  EXPECT_EQ(decoded.last_error, status.last_error);
  EXPECT_EQ(decoded.consecutive_failures, 2u);
  EXPECT_EQ(decoded.messages_archived, 40u);
}

}  // namespace
}  // namespace archiver
