// Helpers shared by the unit tests: a temporary directory removed afterwards,
// deterministic test data, and direct LMDB access for corrupting an archive on purpose.
#pragma once

#include <ftw.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "archiver/sources/sources.h"
#include "archiver/store/store.h"

namespace archiver::testing {

// The shared DMARC corpus's directory `sub` ("aggregate", "forensic"): from
// ARCHIVER_DMARC_CORPUS, else the path beside the checkout compiled in; "" when absent
// (the caller then skips: the corpus is there for developers and CI, not for users).
inline std::string DmarcCorpusDir(const std::string& sub) {
  const char* corpus = getenv("ARCHIVER_DMARC_CORPUS");
  if (corpus == nullptr) corpus = ARCHIVER_DMARC_CORPUS_DEFAULT;
  std::string dir = std::string(corpus) + "/" + sub;
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return "";
  return dir;
}

// A local delivery from alice@a.org to `rcpt` (its user the local part) at a fixed time.
inline DeliveryRecord LocalDelivery(const std::string& rcpt, const std::string& mailbox = "INBOX") {
  DeliveryRecord record;
  record.received_us = 1714567890000000;
  record.origin = "lmtp";
  record.envelope_from = "alice@a.org";
  record.envelope_to = rcpt;
  record.user = rcpt.substr(0, rcpt.find('@'));
  record.mailbox = mailbox;
  return record;
}

// A ListFilter built by naming its conditions (designated initializers would warn about
// the string members left out).
struct Filter : ListFilter {
  Filter& Since(uint64_t us) {
    since_us = us;
    return *this;
  }
  Filter& Until(uint64_t us) {
    until_us = us;
    return *this;
  }
  Filter& From(std::string address) {
    from = std::move(address);
    return *this;
  }
  Filter& Rcpt(std::string address) {
    rcpt = std::move(address);
    return *this;
  }
  Filter& User(std::string name) {
    user = std::move(name);
    return *this;
  }
  Filter& Mailbox(std::string name) {
    mailbox = std::move(name);
    return *this;
  }
  Filter& Subject(std::string text) {
    subject = std::move(text);
    return *this;
  }
  Filter& Limit(uint64_t rows) {
    limit = rows;
    return *this;
  }
};

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/archiver-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    nftw(
        path_.c_str(),
        [](const char* file, const struct stat*, int, struct FTW*) { return ::remove(file); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t word = generator();
    for (size_t j = 0; j < 8 && i + j < size; ++j)
      bytes[i + j] = static_cast<char>(word >> (8 * j));
  }
  return bytes;
}

inline std::string MakeMessage(const std::string& from, const std::string& to,
                               const std::string& subject, const std::string& body) {
  return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" +
         std::to_string(std::hash<std::string>()(subject + body)) +
         "@test>\r\nDate: Wed, 1 May 2024 12:00:00 +0000\r\n\r\n" + body;
}

// Opens the archive's LMDB files directly (no Store may be open on `path` in this
// process) and runs `change` in one write transaction, committing it.
inline void ModifyArchive(
    const std::string& path,
    const std::function<void(MDB_txn*, MDB_dbi (*)(MDB_txn*, const char*))>& change) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  change(txn, [](MDB_txn* t, const char* name) {
    MDB_dbi dbi = 0;
    EXPECT_EQ(mdb_dbi_open(t, name, 0, &dbi), 0) << name;
    return dbi;
  });
  EXPECT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// Source `name`'s whole activity log, newest first (SourceRegistry::ListLog's order).
inline Result<std::vector<SourceLogEntry>> LogOf(SourceRegistry& registry,
                                                 const std::string& name) {
  std::vector<SourceLogEntry> entries;
  Status listed = registry.ListLog(name, [&](const SourceLogEntry& entry) {
    entries.push_back(entry);
    return true;
  });
  if (!listed.ok()) return listed;
  return entries;
}

}  // namespace archiver::testing
