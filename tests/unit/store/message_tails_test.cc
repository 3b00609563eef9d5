// msg_tails (message_tails.h): how a writer cuts payloads, that the cut leaves no page half
// empty, that every cut reads back, that damaged or missing tails are reported, and that
// messages values of version 1 (the whole payload in the value) are still read.
#include "store/message_tails.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archiver/store/store.h"
#include "store/record.h"
#include "test_util.h"

namespace archiver {
namespace {

using internal::SplitPayload;
using testing::ModifyArchive;
using testing::TempDir;

constexpr size_t kPage = 4096;
// A leaf node holds at most 2038 bytes with a 4 KiB page: 8 of node header, 8 of key,
// and the writer uses half of the rest.
constexpr size_t kEntryMax = 1011;

std::shared_ptr<Store> Open(const std::string& path) {
  Result<std::shared_ptr<Store>> store = Store::Open({.path = path, .map_size = 256 << 20, .sync = false});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

DeliveryRecord Record(const std::string& rcpt) { return testing::LocalDelivery(rcpt); }

// Replaces the last msg_tails entry by what `change` makes of it; deletes it when that is
// empty.
void ChangeLastTail(MDB_txn* txn, MDB_dbi tails, const std::function<void(std::string*)>& change) {
  MDB_cursor* cursor = nullptr;
  ASSERT_EQ(mdb_cursor_open(txn, tails, &cursor), 0);
  MDB_val key{}, value{};
  ASSERT_EQ(mdb_cursor_get(cursor, &key, &value, MDB_LAST), 0);
  std::string bytes(static_cast<const char*>(value.mv_data), value.mv_size);
  change(&bytes);
  value = {bytes.size(), bytes.data()};
  EXPECT_EQ(
      bytes.empty() ? mdb_cursor_del(cursor, 0) : mdb_cursor_put(cursor, &key, &value, MDB_CURRENT),
      0);
  mdb_cursor_close(cursor);
}

MDB_val Key(const MessageId& id) { return {id.size(), const_cast<uint8_t*>(id.data())}; }

MDB_stat Stat(const std::string& path, const char* database) {
  MDB_stat stat{};
  ModifyArchive(path, [&](MDB_txn* txn, auto open) {
    ASSERT_EQ(mdb_stat(txn, open(txn, database), &stat), 0);
  });
  return stat;
}

TEST(MessageTailsTest, TheHeadFillsWholePagesAndTheTailFitsLeafEntries) {
  for (size_t payload = 0; payload < 5 * kPage; payload += 7) {
    SCOPED_TRACE(payload);
    const internal::PayloadSplit split = SplitPayload(payload, kPage);
    EXPECT_EQ(split.head + split.tail, payload);
    if (split.head > 0) {
      EXPECT_EQ((split.head + record::kMessageHeaderSizeV2 + 16) % kPage, 0u);
    }
    EXPECT_LT(split.tail, kPage);  // never a whole page left out of the head
    EXPECT_EQ(split.entries, (split.tail + kEntryMax - 1) / kEntryMax);
  }
  EXPECT_EQ(SplitPayload(0, kPage).entries, 0u);
  EXPECT_EQ(SplitPayload(kPage - 38, kPage).tail, 0u);  // exactly one page: no tail
  EXPECT_EQ(SplitPayload(kPage - 39, kPage).head, 0u);  // one byte short: all of it a tail
  EXPECT_EQ(SplitPayload(65536 * 3, 65536).head, 65536 * 3 - 38);  // other page sizes
}

// Incompressible messages of every size around the page boundaries read back whole, the
// messages database has exactly the overflow pages of their heads, and no tail entry
// spills onto an overflow page.
TEST(MessageTailsTest, EverySizeReadsBackWithoutHalfEmptyPages) {
  TempDir dir;
  const std::string path = dir.Sub("a");
  std::vector<std::pair<MessageId, std::string>> stored;
  size_t head_pages = 0;
  {
    std::shared_ptr<Store> store = Open(path);
    const size_t sizes[] = {0,    1,    100,  1990, 2000, 2022, 2100, 4000, 4040,   4057,
                            4058, 4059, 4096, 6000, 8154, 8155, 8156, 9000, 100000, 1 << 20};
    for (size_t size : sizes) {
      std::string message = testing::RandomBytes(size, static_cast<int>(size + 1));
      MessageId id{};
      ASSERT_TRUE(store->Archive(message, Record("bob@b.com"), &id).ok()) << size;
      head_pages +=
          SplitPayload(size, kPage).head == 0
              ? 0
              : (SplitPayload(size, kPage).head + record::kMessageHeaderSizeV2 + 16) / kPage;
      stored.emplace_back(id, std::move(message));
    }
    for (const auto& [id, message] : stored) {
      Result<std::string> read = store->ReadMessage(id);
      ASSERT_TRUE(read.ok()) << message.size() << ": " << read.status().ToString();
      EXPECT_TRUE(*read == message) << message.size();
      Result<MessageInfo> info = store->GetInfo(id);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->codec, "none");
      EXPECT_EQ(info->stored_size, message.size() + record::kMessageHeaderSizeV2);
    }
    Result<VerifyReport> report = store->Verify();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->damaged.empty()) << report->damaged[0].second.ToString();
    EXPECT_EQ(report->messages_checked, stored.size());
  }
  EXPECT_EQ(Stat(path, "messages").ms_overflow_pages, head_pages);
  EXPECT_EQ(Stat(path, "msg_tails").ms_overflow_pages, 0u);
}

// Compressed payloads cut the same way; the compressed stream is whole again when read.
TEST(MessageTailsTest, CompressedPayloadsReadBack) {
  TempDir dir;
  std::shared_ptr<Store> store = Open(dir.Sub("a"));
  std::string text;
  for (int line = 0; line < 4000; ++line) {
    text += "line " + std::to_string(line * 7919 % 10007) + " of a text that compresses\r\n";
    MessageId id{};
    if (line % 97 != 0) continue;
    ASSERT_TRUE(store->Archive(text, Record("bob@b.com"), &id).ok());
    Result<std::string> read = store->ReadMessage(id);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_TRUE(*read == text);
  }
}

// What a damaged tail does: a read names the message and says Corruption; verify lists it.
TEST(MessageTailsTest, DamagedOrMissingTailsAreReported) {
  const std::string message = testing::RandomBytes(7000, 3);  // head 4058, tail 2942 in 3
  struct Case {
    std::string name;
    std::function<void(MDB_txn*, MDB_dbi)> damage;
  } cases[] = {
      {"flipped tail byte",
       [](MDB_txn* txn, MDB_dbi tails) {
         ChangeLastTail(txn, tails, [](std::string* bytes) { (*bytes)[10] ^= 0x40; });
       }},
      {"last tail entry missing",
       [](MDB_txn* txn, MDB_dbi tails) {
         ChangeLastTail(txn, tails, [](std::string* bytes) { bytes->clear(); });
       }},
      {"tail entry longer than recorded",
       [](MDB_txn* txn, MDB_dbi tails) {
         ChangeLastTail(txn, tails, [](std::string* bytes) { *bytes += "x"; });
       }},
      {"all tails gone",
       [](MDB_txn* txn, MDB_dbi tails) { ASSERT_EQ(mdb_drop(txn, tails, 0), 0); }},
  };
  int round = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string path = dir.Sub("a" + std::to_string(round++));
    MessageId victim{}, bystander{};
    {
      std::shared_ptr<Store> store = Open(path);
      ASSERT_TRUE(store->Archive("an intact message", Record("bob@b.com"), &bystander).ok());
      ASSERT_TRUE(store->Archive(message, Record("bob@b.com"), &victim).ok());
    }
    ASSERT_EQ(Stat(path, "msg_tails").ms_entries, 4u);  // 1 + 3
    ModifyArchive(path, [&](MDB_txn* txn, auto open) { c.damage(txn, open(txn, "msg_tails")); });

    std::shared_ptr<Store> store = Open(path);
    Result<std::string> read = store->ReadMessage(victim);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), Status::Code::kCorruption) << read.status().ToString();
    EXPECT_NE(read.status().message().find(ToHex(victim)), std::string::npos)
        << read.status().ToString();
    if (c.name != "all tails gone") {
      EXPECT_EQ(*store->ReadMessage(bystander), "an intact message");
    }
    Result<VerifyReport> report = store->Verify();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_GE(report->damaged.size(), 1u);
    bool victim_listed = false;
    for (const auto& [id, problem] : report->damaged) victim_listed |= id == victim;
    EXPECT_TRUE(victim_listed);
  }
}

// A messages value of version 1, as software of format 4 and older wrote it, reads the same
// next to values of version 2, and a message stored that way is not stored again.
TEST(MessageTailsTest, ValuesOfVersionOneAreRead) {
  TempDir dir;
  const std::string path = dir.Sub("a");
  const std::string old_message = testing::RandomBytes(9000, 5);
  const MessageId old_id = Sha256::Of(old_message);
  MessageId new_id{};
  {
    std::shared_ptr<Store> store = Open(path);
    ASSERT_TRUE(store->Archive("a new message", Record("bob@b.com"), &new_id).ok());
  }
  ModifyArchive(path, [&](MDB_txn* txn, auto open) {
    std::string value(record::kMessageHeaderSize, '\0');
    record::EncodeMessageHeader(record::Codec::kNone, old_message.size(), value.data());
    value += old_message;
    MDB_val key = Key(old_id), data = {value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, open(txn, "messages"), &key, &data, 0), 0);
  });
  std::shared_ptr<Store> store = Open(path);
  Result<std::string> read = store->ReadMessage(old_id);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(*read == old_message);
  EXPECT_EQ(store->GetInfo(old_id)->format_version, 1u);
  EXPECT_EQ(*store->Archive(old_message, Record("carol@b.com")), ArchiveOutcome::kDeduplicated);
  EXPECT_EQ(*store->ReadMessage(new_id), "a new message");
}

}  // namespace
}  // namespace archiver
