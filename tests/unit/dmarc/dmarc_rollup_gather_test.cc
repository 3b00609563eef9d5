// RollupGatherer: every source once, in source order, with the sum of its records,
// whether it stayed in memory or went through spilled runs (sources repeated across
// runs, a run of one source, long IPs); the spill file leaves nothing behind; a spill
// that cannot be written is an IOError.
#include "dmarc/dmarc_rollup_gather.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "test_util.h"

namespace archiver::internal {
namespace {

auto Fields(const DmarcTally& t) {
  return std::make_tuple(t.messages, t.dmarc_pass, t.dkim_aligned, t.spf_aligned, t.none,
                         t.quarantine, t.reject);
}

size_t FilesIn(const std::string& dir) {
  size_t files = 0;
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return 0;
  while (dirent* entry = readdir(listing)) files += entry->d_name[0] != '.' ? 1 : 0;
  closedir(listing);
  return files;
}

struct GatherCase {
  const char* name;
  uint64_t records;
  uint64_t distinct;  // source i is record i % distinct
  uint64_t max_pending;
  bool spilled;
};

TEST(DmarcRollupGatherTest, SourcesComeBackOnceInOrderWithTheirSums) {
  const GatherCase cases[] = {
      {"in memory", 500, 37, 1000, false},
      {"every source spilled alone", 60, 60, 1, true},
      {"repeated across runs", 2000, 37, 10, true},
      {"distinct, many runs", 3000, 3000, 256, true},
      {"no records", 0, 1, 1, false},
  };
  const char* dispositions[] = {"none", "quarantine", "reject", "NONE"};
  for (const GatherCase& c : cases) {
    SCOPED_TRACE(c.name);
    testing::TempDir dir;
    {
      RollupGatherer gatherer(dir.path(), c.max_pending);
      RollupBatch reference;  // the same records, in memory
      for (uint64_t i = 0; i < c.records; ++i) {
        // Some IPs far longer than any real one: their order must hold too.
        const uint64_t source = (i * 7919) % c.distinct;
        const std::string ip = source % 11 == 0
                                   ? "2001:db8::" + std::string(300, 'f') + std::to_string(source)
                                   : "198.51." + std::to_string(source);
        const char* dkim = i % 3 ? "pass" : "fail";
        const char* spf = i % 5 ? "Pass" : "softfail";
        ASSERT_TRUE(gatherer.Add(ip, i % 9 + 1, dispositions[i % 4], dkim, spf).ok());
        reference.Add(ip, i % 9 + 1, dispositions[i % 4], dkim, spf);
      }
      ASSERT_TRUE(gatherer.Finish().ok());
      EXPECT_EQ(gatherer.spilled(), c.spilled);
      EXPECT_EQ(FilesIn(dir.path()), 0u);  // the spill file has no name
      const std::vector<const RollupBatch::Source*> sorted = reference.Sorted();
      auto want = sorted.begin();
      for (;;) {
        std::string_view ip;
        DmarcTally tally;
        bool end = false;
        ASSERT_TRUE(gatherer.Next(&ip, &tally, &end).ok());
        if (end) break;
        ASSERT_NE(want, sorted.end()) << ip;
        EXPECT_EQ(ip, (*want)->first);
        EXPECT_EQ(Fields(tally), Fields((*want)->second)) << ip;
        ++want;
      }
      EXPECT_EQ(want, sorted.end());
    }
    EXPECT_EQ(FilesIn(dir.path()), 0u);
  }
}

TEST(DmarcRollupGatherTest, ASpillThatCannotBeWrittenIsAnIOError) {
  testing::TempDir dir;
  RollupGatherer gatherer(dir.Sub("missing"), 2);
  EXPECT_TRUE(gatherer.Add("192.0.2.1", 1, "none", "pass", "pass").ok());
  EXPECT_TRUE(gatherer.Add("192.0.2.2", 1, "none", "pass", "pass").ok());
  Status spilled = gatherer.Add("192.0.2.3", 1, "none", "pass", "pass");
  EXPECT_EQ(spilled.code(), Status::Code::kIOError);
  EXPECT_NE(spilled.ToString().find("spill"), std::string::npos) << spilled.ToString();
}

}  // namespace
}  // namespace archiver::internal
