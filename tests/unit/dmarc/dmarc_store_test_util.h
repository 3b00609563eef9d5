// Helpers shared by the DmarcStore tests: aggregate report XML built from a few fields,
// a store opened in a temporary directory, direct LMDB counts of the DMARC databases (to
// see what an interrupted import left behind), and a source that stops midway.
#pragma once

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/input_source.h"
#include "test_util.h"

namespace archiver::testing {

// One <record> with the fields the summary reads; the rest fixed.
inline std::string RecordXml(const std::string& ip, uint64_t count, const std::string& disposition,
                             const std::string& dkim, const std::string& spf,
                             const std::string& header_from = "ex.org") {
  return "<record><row><source_ip>" + ip + "</source_ip><count>" + std::to_string(count) +
         "</count><policy_evaluated><disposition>" + disposition + "</disposition><dkim>" + dkim +
         "</dkim><spf>" + spf + "</spf></policy_evaluated></row><identifiers><header_from>" +
         header_from + "</header_from></identifiers><auth_results><spf><domain>" + header_from +
         "</domain><result>" + spf + "</result></spf></auth_results></record>\n";
}

inline std::string ReportXml(const std::string& org, const std::string& report_id,
                             const std::string& domain, int64_t begin, const std::string& records) {
  return "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>" + org +
         "</org_name><email>dmarc@" + org + "</email><report_id>" + report_id +
         "</report_id><date_range><begin>" + std::to_string(begin) + "</begin><end>" +
         std::to_string(begin + 86399) +
         "</end></date_range></report_metadata><policy_published><domain>" + domain +
         "</domain><p>none</p></policy_published>\n" + records + "</feedback>\n";
}

// `count` records whose source IPs number them: 10.<i / 65536>.<i / 256 % 256>.<i % 256>.
inline std::string NumberedRecords(uint64_t count) {
  std::string records;
  for (uint64_t i = 0; i < count; ++i) {
    records += RecordXml("10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                             "." + std::to_string(i & 255),
                         i + 1, "none", "pass", "fail");
  }
  return records;
}

inline DmarcOrigin FileOrigin(const std::string& path) {
  DmarcOrigin origin;
  origin.kind = DmarcOriginKind::kFile;
  origin.detail = path;
  return origin;
}

inline std::shared_ptr<Store> OpenTestStore(const std::string& path, bool read_only = false) {
  StoreOptions options;
  options.path = path;
  options.sync = false;
  options.read_only = read_only;
  Result<std::shared_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

inline Result<DmarcImportResult> ImportXml(DmarcStore& dmarc, const std::string& xml,
                                           const DmarcImportOptions& options) {
  MemorySource source(xml, "report.xml");
  return dmarc.ImportAggregate(source, options, FileOrigin("report.xml"));
}

inline Result<DmarcImportResult> ImportXml(DmarcStore& dmarc, const std::string& xml,
                                           uint64_t batch_records = 20000,
                                           uint64_t max_pending_sources = 200000) {
  DmarcImportOptions options;
  options.batch_records = batch_records;
  options.max_pending_sources = max_pending_sources;
  return ImportXml(dmarc, xml, options);
}

// Everything a DmarcStore listing visits, in order: `list` calls the listing with the
// visitor it is given.
template <typename T>
std::vector<T> Collect(const std::function<Status(const std::function<bool(const T&)>&)>& list) {
  std::vector<T> items;
  Status listed = list([&](const T& item) {
    items.push_back(item);
    return true;
  });
  EXPECT_TRUE(listed.ok()) << listed.ToString();
  return items;
}

// The named database's statistics, read with LMDB directly (no Store may be open on
// `path` in this process); nullopt when the database does not exist.
inline std::optional<MDB_stat> StatOf(const std::string& path, const char* database) {
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 32);
  std::optional<MDB_stat> found;
  if (mdb_env_open(env, path.c_str(), MDB_RDONLY, 0600) == 0) {
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    MDB_stat stat = {};
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0) {
      if (mdb_dbi_open(txn, database, 0, &dbi) == 0 && mdb_stat(txn, dbi, &stat) == 0) {
        found = stat;
      }
      mdb_txn_abort(txn);
    }
  }
  mdb_env_close(env);
  return found;
}

// Entries of the named database (as StatOf); -1 when the database does not exist.
inline int64_t CountEntries(const std::string& path, const char* database) {
  const std::optional<MDB_stat> stat = StatOf(path, database);
  return stat ? static_cast<int64_t>(stat->ms_entries) : -1;
}

// Bytes from memory, a few at a time; `at_offset` runs once when reading passes
// `offset` (to stop the process, wait for a signal or fail).
class SteppedSource final : public InputSource {
 public:
  SteppedSource(std::string bytes, size_t offset, std::function<Status()> at_offset)
      : bytes_(std::move(bytes)), offset_(offset), at_offset_(std::move(at_offset)) {}
  Result<size_t> Read(char* buffer, size_t n) override {
    if (position_ >= offset_ && at_offset_) {
      Status status = std::exchange(at_offset_, nullptr)();
      if (!status.ok()) return status;
    }
    n = std::min({n, size_t{4096}, bytes_.size() - position_});
    std::memcpy(buffer, bytes_.data() + position_, n);
    position_ += n;
    return n;
  }
  Status Rewind() override {
    position_ = 0;
    return Status::Ok();
  }
  uint64_t size() const override { return bytes_.size(); }
  std::string name() const override { return "stepped"; }

 private:
  std::string bytes_;
  size_t position_ = 0;
  size_t offset_;
  std::function<Status()> at_offset_;
};

// Runs `child` in a forked process (which opens its own Store); returns its pid.
inline pid_t Fork(const std::function<int()>& child) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(child());
  EXPECT_GT(pid, 0);
  return pid;
}

inline int Wait(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace archiver::testing
