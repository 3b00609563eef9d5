// ScanAdvice: the map is opened without read-ahead, a scan's advice holds while any scan
// of the process runs, and a value's offset in the map is where its bytes are.
#include "lmdb/map_advice.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <string>

#include "lmdb/lmdb_entries.h"
#include "test_util.h"

namespace archiver {
namespace {

using lmdb::MapAccess;
using lmdb::ScanAdvice;

// The value of `field` ("VmFlags", "Rss") of this process's mapping of `file` ("rd mr rr
// ...", "12 kB"), with a space after it; empty if not mapped.
std::string MappingField(const std::string& file, const std::string& field) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    if (line.find(" /") != std::string::npos && line.find('-') < line.find(' '))
      in_mapping = line.size() >= file.size() && line.ends_with(file);
    if (in_mapping && line.starts_with(field + ":")) return line.substr(field.size() + 1) + " ";
  }
  return "";
}

class MapAdviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<lmdb::ArchiveEnv>> env =
        lmdb::ArchiveEnv::Open({.path = dir_.Sub("a"), .map_size = 8 << 20, .sync = false});
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
    data_file_ = env_->path() + "/data.mdb";
  }
  std::string MappingFlags(const std::string& file) { return MappingField(file, "VmFlags"); }
  uint64_t ResidentKiB() { return std::stoull(MappingField(data_file_, "Rss")); }
  bool Flag(const char* flag) { return MappingFlags(data_file_).find(flag) != std::string::npos; }

  testing::TempDir dir_;
  std::shared_ptr<lmdb::ArchiveEnv> env_;
  std::string data_file_;
};

TEST_F(MapAdviceTest, LookupsHaveNoReadAheadAndScansHaveItWhileAnyRuns) {
  ASSERT_FALSE(MappingFlags(data_file_).empty()) << "data.mdb is not mapped";
  EXPECT_TRUE(Flag(" rr ")) << MappingFlags(data_file_);  // MDB_NORDAHEAD: random
  {
    ScanAdvice outer(*env_, MapAccess::kSequential);
    EXPECT_TRUE(Flag(" sr ")) << MappingFlags(data_file_);
    EXPECT_FALSE(Flag(" rr "));
    {
      ScanAdvice inner(*env_, MapAccess::kNormal);  // the first scan's advice holds
      EXPECT_TRUE(Flag(" sr "));
    }
    EXPECT_TRUE(Flag(" sr ")) << "one scan ended, the other still runs";
  }
  EXPECT_TRUE(Flag(" rr ")) << MappingFlags(data_file_);
  {
    ScanAdvice normal(*env_, MapAccess::kNormal);
    EXPECT_FALSE(Flag(" rr "));
    EXPECT_FALSE(Flag(" sr "));
  }
  EXPECT_TRUE(Flag(" rr "));
}

TEST_F(MapAdviceTest, AValuesOffsetIsWhereItsBytesAreInTheMap) {
  MDB_dbi dbi = 0;
  const std::string big(20000, 'x');  // on overflow pages
  {
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_->get(), true);
    ASSERT_TRUE(txn.ok());
    ASSERT_EQ(mdb_dbi_open(txn->get(), "t", MDB_CREATE, &dbi), 0);
    ASSERT_TRUE(internal::PutEntry(*txn, dbi, "small", "value", "put").ok());
    ASSERT_TRUE(internal::PutEntry(*txn, dbi, "big", big, "put").ok());
    ASSERT_TRUE(txn->Commit("test").ok());
  }
  ScanAdvice advice(*env_, MapAccess::kSequential);
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_->get(), false);
  ASSERT_TRUE(txn.ok());
  std::string_view values[2];
  uint64_t offsets[2];
  struct stat st;
  ASSERT_EQ(stat(data_file_.c_str(), &st), 0);
  for (int i : {0, 1}) {
    ASSERT_TRUE(txn->Get(dbi, i == 0 ? "small" : "big", &values[i]).ok());
    offsets[i] = advice.OffsetOf(values[i]);
    ASSERT_LT(offsets[i] + values[i].size(), static_cast<uint64_t>(st.st_size)) << i;
    advice.WillNeed(offsets[i], values[i].size());  // harmless
  }
  EXPECT_EQ(static_cast<int64_t>(offsets[1] - offsets[0]), values[1].data() - values[0].data());
  EXPECT_EQ(values[1], big);
  EXPECT_GE(ResidentKiB(), 20u);  // the big value was read: its pages are mapped
  advice.ReleaseMapped();
  EXPECT_EQ(ResidentKiB(), 0u);
  EXPECT_EQ(values[1], big) << "views stay valid: the pages are mapped again";
  const std::string copy = "value";
  EXPECT_EQ(advice.OffsetOf(copy), UINT64_MAX);
  advice.WillNeed(UINT64_MAX - 10, 100);  // past the map: ignored
}

}  // namespace
}  // namespace archiver
