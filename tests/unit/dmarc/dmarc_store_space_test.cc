// CheckDmarcSpace: stored DMARC reports never take more of the map than
// StoreOptions::dmarc_max_space, so that report mail cannot fill the mail archive.
#include <gtest/gtest.h>

#include <string>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/dmarc/dmarc_failure.h"
#include "dmarc/dmarc_store_test_util.h"

namespace archiver {
namespace {

using testing::TempDir;

std::shared_ptr<Store> OpenWithLimit(const std::string& path, uint64_t map_size,
                                     uint64_t dmarc_max_space) {
  Result<std::shared_ptr<Store>> store = Store::Open(
      {.path = path, .map_size = map_size, .sync = false, .dmarc_max_space = dmarc_max_space});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

// Imports reports of 2000 records (about 120 KiB stored each, and as much again for the
// rollups of their 2000 distinct sources) until one is refused;
// returns how many were stored and the refusal.
int ImportUntilRefused(DmarcStore& dmarc, const std::string& prefix, Status* refused) {
  const std::string records = testing::NumberedRecords(2000);
  int stored = 0;
  for (int report = 0; report < 20 && refused->ok(); ++report) {
    Result<DmarcImportResult> imported = testing::ImportXml(
        dmarc, testing::ReportXml("org.example", prefix + std::to_string(report), "ex.org",
                                  1714521600, records));
    if (imported.ok()) ++stored;
    else *refused = imported.status();
  }
  return stored;
}

TEST(DmarcSpaceTest, ReportsStopAtTheLimitAndMailGoesOn) {
  TempDir dir;
  std::shared_ptr<Store> store = OpenWithLimit(dir.Sub("archive"), 16 << 20, 1 << 20);
  ASSERT_TRUE(store);
  DmarcStore dmarc(store);
  Status refused;
  const int stored = ImportUntilRefused(dmarc, "r", &refused);
  EXPECT_GE(stored, 3);  // about 250 KiB each: the first refusal comes past 1 MiB
  EXPECT_EQ(refused.code(), Status::Code::kLimitExceeded) << refused.ToString();
  EXPECT_NE(refused.message().find("archiver_dmarc_max_space"), std::string::npos);
  // A refused report leaves nothing behind, and refusals are still recorded.
  EXPECT_EQ(dmarc.GetStats()->reports, static_cast<uint64_t>(stored));
  EXPECT_TRUE(dmarc.RecordError(DmarcItemKind::kAggregate, refused.message(), testing::FileOrigin("x")).ok());
  FailureReport failure;
  failure.feedback_type = "auth-failure";
  failure.reported_domain = "ex.org";
  EXPECT_EQ(dmarc.ImportFailure(failure, testing::FileOrigin("f")).status().code(),
            Status::Code::kLimitExceeded);
  // The mail archive keeps the rest of the map.
  for (int mail = 0; mail < 50; ++mail) {
    std::string message = testing::MakeMessage("a@b", "c@d", "m" + std::to_string(mail),
                                               testing::RandomBytes(64 << 10, mail));
    ASSERT_TRUE(store->Archive(message, testing::LocalDelivery("bob@b.com")).ok());
  }
}

TEST(DmarcSpaceTest, DefaultIsAnEighthOfTheMap) {
  TempDir dir;
  std::shared_ptr<Store> store = OpenWithLimit(dir.Sub("archive"), 8 << 20, 0);
  ASSERT_TRUE(store);
  DmarcStore dmarc(store);
  Status refused;
  const int stored = ImportUntilRefused(dmarc, "d", &refused);
  EXPECT_EQ(refused.code(), Status::Code::kLimitExceeded) << refused.ToString();
  EXPECT_GE(stored, 3);
  EXPECT_NE(refused.message().find("1.0 MiB"), std::string::npos) << refused.ToString();
}

}  // namespace
}  // namespace archiver
