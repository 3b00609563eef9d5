// The walk helpers of lmdb_entries.h over a small plain database and a DUPSORT one:
// where each walk starts, which way it moves, and where it stops.
#include "lmdb/lmdb_entries.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "test_util.h"

namespace archiver {
namespace {

using internal::HasDuplicate;
using internal::WalkBackwardsBelow;
using internal::WalkEntries;
using testing::TempDir;

// An environment with "plain" (keys b, d, f) and "dups" (key k: 2, 4, 6; key m: 1).
class LmdbEntriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<lmdb::Env> env = lmdb::Env::Create();
    ASSERT_TRUE(env.ok());
    env_ = std::move(*env);
    ASSERT_EQ(mdb_env_set_maxdbs(env_.get(), 4), 0);
    ASSERT_EQ(mdb_env_open(env_.get(), dir_.path().c_str(), 0, 0600), 0);
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), true);
    ASSERT_TRUE(txn.ok());
    ASSERT_EQ(mdb_dbi_open(txn->get(), "plain", MDB_CREATE, &plain_), 0);
    ASSERT_EQ(mdb_dbi_open(txn->get(), "dups", MDB_CREATE | MDB_DUPSORT, &dups_), 0);
    for (const char* key : {"b", "d", "f"}) {
      ASSERT_TRUE(internal::PutEntry(*txn, plain_, key, std::string("v") + key, "put").ok());
    }
    for (const char* value : {"2", "4", "6"}) {
      ASSERT_TRUE(internal::PutEntry(*txn, dups_, "k", value, "put").ok());
    }
    ASSERT_TRUE(internal::PutEntry(*txn, dups_, "m", "1", "put").ok());
    ASSERT_TRUE(txn->Commit("test").ok());
  }

  // "key=value" of each visited entry, stopping after `limit`.
  std::vector<std::string> Backwards(MDB_dbi dbi, std::optional<std::string_view> duplicates_of,
                                     std::optional<std::string_view> below, size_t limit = 100) {
    std::vector<std::string> seen;
    Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
    EXPECT_TRUE(txn.ok());
    Status walked =
        WalkBackwardsBelow(*txn, dbi, duplicates_of, below,
                           [&](std::string_view key, std::string_view value, bool* stop) {
                             seen.push_back(std::string(key) + "=" + std::string(value));
                             *stop = seen.size() >= limit;
                             return Status::Ok();
                           });
    EXPECT_TRUE(walked.ok()) << walked.ToString();
    return seen;
  }

  TempDir dir_;
  lmdb::Env env_;
  MDB_dbi plain_ = 0;
  MDB_dbi dups_ = 0;
};

using Seen = std::vector<std::string>;

TEST_F(LmdbEntriesTest, BackwardsOverKeys) {
  struct Case {
    std::optional<std::string_view> below;
    Seen expected;
  };
  const Case cases[] = {
      {std::nullopt, {"f=vf", "d=vd", "b=vb"}},  // from the last key
      {"d", {"b=vb"}},                           // strictly below an existing key
      {"e", {"d=vd", "b=vb"}},                   // below a key between two
      {"z", {"f=vf", "d=vd", "b=vb"}},           // above every key
      {"a", {}},                                 // below every key
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Backwards(plain_, std::nullopt, c.below), c.expected) << c.below.value_or("-");
  }
}

TEST_F(LmdbEntriesTest, BackwardsOverTheDuplicatesOfOneKey) {
  struct Case {
    std::string_view of;
    std::optional<std::string_view> below;
    Seen expected;
  };
  const Case cases[] = {
      {"k", std::nullopt, {"k=6", "k=4", "k=2"}},  // never into the next or previous key
      {"k", "4", {"k=2"}},
      {"k", "5", {"k=4", "k=2"}},
      {"k", "9", {"k=6", "k=4", "k=2"}},  // every duplicate below: from the last
      {"k", "1", {}},
      {"m", std::nullopt, {"m=1"}},
      {"n", std::nullopt, {}},  // an absent key
      {"a", "9", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Backwards(dups_, c.of, c.below), c.expected)
        << c.of << " below " << c.below.value_or("-");
  }
}

TEST_F(LmdbEntriesTest, BackwardsStopsWhenTheVisitorSaysSo) {
  EXPECT_EQ(Backwards(plain_, std::nullopt, std::nullopt, 2), (Seen{"f=vf", "d=vd"}));
  EXPECT_EQ(Backwards(dups_, "k", std::nullopt, 1), (Seen{"k=6"}));
}

TEST_F(LmdbEntriesTest, ABackwardsScanResumesBelowTheLastKeyItWasGiven) {
  Seen all;
  std::optional<std::string> last;
  for (int batch = 0; batch < 5; ++batch) {
    Seen part =
        Backwards(dups_, "k", last ? std::optional<std::string_view>(*last) : std::nullopt, 1);
    if (part.empty()) break;
    all.insert(all.end(), part.begin(), part.end());
    last = part.back().substr(2);
  }
  EXPECT_EQ(all, (Seen{"k=6", "k=4", "k=2"}));
}

TEST_F(LmdbEntriesTest, AVisitorsFailureEndsTheWalkAndIsReturned) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  int visits = 0;
  Status walked = WalkBackwardsBelow(*txn, plain_, std::nullopt, std::nullopt,
                                     [&](std::string_view, std::string_view, bool*) {
                                       ++visits;
                                       return Status::Corruption("bad entry");
                                     });
  EXPECT_EQ(walked.code(), Status::Code::kCorruption);
  EXPECT_EQ(visits, 1);
}

TEST_F(LmdbEntriesTest, ForwardOverTheDuplicatesOfOneKey) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  for (std::string_view key : {"k", "m", "n"}) {
    Seen seen;
    Status walked = WalkEntries(*txn, dups_, MDB_SET_KEY, key, MDB_NEXT_DUP,
                                [&](std::string_view k, std::string_view value, bool*) {
                                  seen.push_back(std::string(k) + "=" + std::string(value));
                                  return Status::Ok();
                                });
    ASSERT_TRUE(walked.ok()) << walked.ToString();
    const Seen expected = key == "k"   ? Seen{"k=2", "k=4", "k=6"}
                          : key == "m" ? Seen{"m=1"}
                                       : Seen{};
    EXPECT_EQ(seen, expected) << key;
  }
}

TEST_F(LmdbEntriesTest, ForwardOverTheDuplicatesOfOneKeyFromAValue) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  struct Case {
    std::string_view key, from;
    Seen expected;
  };
  const Case cases[] = {
      {"k", "4", {"k=4", "k=6"}},  // from an existing duplicate, inclusive
      {"k", "3", {"k=4", "k=6"}},  // from between two
      {"k", "0", {"k=2", "k=4", "k=6"}},
      {"k", "7", {}},  // past the last: never into the next key
      {"m", "1", {"m=1"}},
      {"n", "1", {}},  // an absent key
  };
  for (const Case& c : cases) {
    Seen seen;
    Status walked = internal::WalkDuplicatesFrom(
        *txn, dups_, c.key, c.from, [&](std::string_view k, std::string_view value, bool*) {
          seen.push_back(std::string(k) + "=" + std::string(value));
          return Status::Ok();
        });
    ASSERT_TRUE(walked.ok()) << walked.ToString();
    EXPECT_EQ(seen, c.expected) << c.key << " from " << c.from;
  }
}

TEST_F(LmdbEntriesTest, HasDuplicate) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  struct Case {
    std::string_view key, value;
    bool expected;
  };
  for (const Case& c : {Case{"k", "4", true}, Case{"k", "5", false}, Case{"m", "1", true},
                        Case{"m", "2", false}, Case{"x", "1", false}}) {
    Result<bool> has = HasDuplicate(*txn, dups_, c.key, c.value, "test");
    ASSERT_TRUE(has.ok()) << has.status().ToString();
    EXPECT_EQ(*has, c.expected) << c.key << "=" << c.value;
  }
}

TEST_F(LmdbEntriesTest, CountDuplicates) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  for (const auto& [key, expected] :
       {std::pair<std::string_view, size_t>{"k", 3}, {"m", 1}, {"a", 0}, {"x", 0}}) {
    Result<size_t> count = internal::CountDuplicates(*txn, dups_, key, "test");
    ASSERT_TRUE(count.ok()) << count.status().ToString();
    EXPECT_EQ(*count, expected) << key;
  }
}

TEST_F(LmdbEntriesTest, WalkKeyCountsVisitsEachKeyOnceWithItsCount) {
  Result<lmdb::Txn> txn = lmdb::Txn::Begin(env_.get(), false);
  ASSERT_TRUE(txn.ok());
  std::vector<std::string> seen;
  auto walk = [&](size_t stop_after) {
    seen.clear();
    return internal::WalkKeyCounts(
        *txn, dups_,
        [&](std::string_view key, size_t count, bool* stop) {
          seen.push_back(std::string(key) + "=" + std::to_string(count));
          *stop = seen.size() == stop_after;
          return Status::Ok();
        },
        "test");
  };
  ASSERT_TRUE(walk(10).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"k=3", "m=1"}));
  ASSERT_TRUE(walk(1).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"k=3"}));
}

}  // namespace
}  // namespace archiver
