// archiver-commit-bench: what one archive commit costs, outside Dovecot.
//
//   archiver-commit-bench store [--messages N] [--dir D] [--corpus DIR]
//     Store::Archive of N messages (corpus mail, or generated text), each made unique, into a
//     fresh archive, for each archiver_fsync mode (no, once, yes) and compression (zlib:6,
//     zlib:1, none): wall and CPU time per delivery, bytes handed to the kernel per
//     delivery, and the compression ratio reached.
//   archiver-commit-bench group [--messages N] [--dir D] [--corpus DIR]
//     What a commit shared by several deliveries (group commit) saves: N messages
//     archived with archiver_fsync=yes and zlib:6, K per write transaction (K = 1, 2, 4,
//     8) through Store::ArchiveGroup; K = 1 is what the plugin does (Store::Archive).
//     Machine CPU includes the journal and writeback work that a flush sets off outside
//     this process.
//   archiver-commit-bench lmdb [--commits N] [--dir D]
//     The floor under that: bare LMDB commits of one 300-byte put into each of K trees
//     (K = 1, 2, 4, 8, 12) of 20,000 random keys, flushed as archiver_fsync=yes does (data,
//     then the meta page), as a function of how many trees a commit touches.
//
// Both print one line per case. Each case runs once: repeat the command for medians.
#include <lmdb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../bench_clock.h"
#include "archiver/header_summary.h"
#include "archiver/store/store.h"

namespace {

using archiver::bench::Clock;
using archiver::bench::CpuSeconds;
using archiver::bench::MachineBusySeconds;
using archiver::bench::SecondsSince;

// Bytes this process has handed to write(2) and friends so far (/proc/self/io "wchar").
long long WrittenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long long value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return 0;
}

// Wall, process CPU, machine CPU and bytes written over a stretch of deliveries.
struct Meter {
  Clock::time_point start = Clock::now();
  double cpu = CpuSeconds();
  double machine = MachineBusySeconds();
  long long written = WrittenBytes();

  // "W ms/UNIT wall, C ms CPU (M ms machine), K KB written", each per one of `count`.
  std::string Per(size_t count, const char* unit = "delivery") const {
    const double n = static_cast<double>(count);
    char text[160];
    std::snprintf(text, sizeof text,
                  "%.3f ms/%s wall, %.3f ms CPU (%.3f ms machine), %.1f KB written",
                  SecondsSince(start) * 1000 / n, unit, (CpuSeconds() - cpu) * 1000 / n,
                  (MachineBusySeconds() - machine) * 1000 / n,
                  static_cast<double>(WrittenBytes() - written) / 1024 / n);
    return text;
  }
};

archiver::DeliveryRecord LocalRecord(const std::string& message) {
  archiver::DeliveryRecord record;
  record.origin = "lmtp";
  record.envelope_from = "sender@example.net";
  record.envelope_to = "user@example.org";
  record.user = "user";
  record.mailbox = "INBOX";
  record.headers = archiver::SummarizeHeaders(message);
  return record;
}

std::vector<std::string> LoadMessages(const std::string& corpus, size_t count) {
  std::vector<std::string> messages;
  std::error_code error;
  if (!corpus.empty() && std::filesystem::is_directory(corpus, error)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus, error)) {
      if (!entry.is_regular_file() || entry.file_size() > (1u << 20)) continue;
      if (entry.path().extension() == ".md") continue;
      std::ifstream file(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << file.rdbuf();
      messages.push_back(bytes.str());
    }
  }
  if (messages.empty()) {
    std::mt19937 rng(7);
    for (size_t i = 0; i < 500; ++i) {
      std::string text = "From: Sender <s@example.net>\r\nTo: u@example.org\r\nSubject: m " +
                         std::to_string(i) + "\r\n\r\n";
      for (size_t words = 200 + rng() % 800; words > 0; --words)
        text += (words % 12 == 0) ? "archive\r\n" : "message ";
      messages.push_back(text);
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back("X-Bench-Seq: " + std::to_string(i) + "\r\n" + messages[i % messages.size()]);
  }
  return out;
}

int StoreCases(size_t count, const std::string& dir, const std::string& corpus) {
  const std::vector<std::string> messages = LoadMessages(corpus, count);
  double raw = 0;
  for (const std::string& message : messages) raw += static_cast<double>(message.size());
  std::printf("%zu messages, %.1f KB on average\n", messages.size(), raw / 1024 / count);
  struct Case {
    const char* fsync;
    int level;
  } cases[] = {{"no", 6}, {"once", 6}, {"yes", 6}, {"yes", 1}, {"yes", 0}};
  for (const Case& c : cases) {
    std::filesystem::remove_all(dir);
    archiver::StoreOptions options;
    options.path = dir;
    options.compression_level = c.level;
    options.sync = std::strcmp(c.fsync, "no") != 0;
    options.meta_sync = std::strcmp(c.fsync, "yes") == 0;
    archiver::Result<std::shared_ptr<archiver::Store>> store = archiver::Store::Open(options);
    if (!store.ok()) {
      std::fprintf(stderr, "open %s: %s\n", dir.c_str(), store.status().ToString().c_str());
      return 1;
    }
    std::vector<double> latencies;
    const Meter meter;
    for (const std::string& message : messages) {
      archiver::DeliveryRecord record = LocalRecord(message);
      const Clock::time_point before = Clock::now();
      archiver::Result<archiver::ArchiveOutcome> archived =
          (*store)->Archive(message, std::move(record), nullptr);
      latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
      if (!archived.ok()) {
        std::fprintf(stderr, "archive: %s\n", archived.status().ToString().c_str());
        return 1;
      }
    }
    const std::string measured = meter.Per(count);
    archiver::Result<archiver::StoreStats> stats = (*store)->GetStats();
    const double ratio = stats.ok() && stats->stored_bytes > 0
                             ? static_cast<double>(stats->raw_bytes) /
                                   static_cast<double>(stats->stored_bytes)
                             : 0;
    std::sort(latencies.begin(), latencies.end());
    const std::string compression = c.level > 0 ? "zlib:" + std::to_string(c.level) : "none";
    std::printf("fsync=%-4s compression=%-6s: %s; latency median %.3f ms, p90 %.3f; "
                "compression ratio %.2f\n",
                c.fsync, compression.c_str(), measured.c_str(), latencies[count / 2],
                latencies[count * 9 / 10], ratio);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

int GroupCases(size_t count, const std::string& dir, const std::string& corpus) {
  const std::vector<std::string> messages = LoadMessages(corpus, count);
  std::printf("%zu messages, archiver_fsync=yes, zlib:6\n", messages.size());
  for (size_t group : {1, 2, 4, 8}) {
    std::filesystem::remove_all(dir);
    archiver::StoreOptions options;
    options.path = dir;
    archiver::Result<std::shared_ptr<archiver::Store>> store = archiver::Store::Open(options);
    if (!store.ok()) {
      std::fprintf(stderr, "open %s: %s\n", dir.c_str(), store.status().ToString().c_str());
      return 1;
    }
    const Meter meter;
    for (size_t first = 0; first < messages.size(); first += group) {
      std::vector<archiver::GroupDelivery> deliveries;
      for (size_t i = first; i < first + group && i < messages.size(); ++i)
        deliveries.push_back({messages[i], LocalRecord(messages[i])});
      archiver::Status status = (*store)->ArchiveGroup(deliveries);
      for (const archiver::GroupDelivery& delivery : deliveries) {
        if (status.ok()) status = delivery.outcome.status();
      }
      if (!status.ok()) {
        std::fprintf(stderr, "archive: %s\n", status.ToString().c_str());
        return 1;
      }
    }
    std::printf("%zu per transaction: %s\n", group, meter.Per(messages.size()).c_str());
  }
  std::filesystem::remove_all(dir);
  return 0;
}

int Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
    std::exit(1);
  }
  return rc;
}

// One put of `value` under a random 8-byte key.
void PutRandom(MDB_txn* txn, MDB_dbi dbi, std::mt19937_64& rng, const std::string& value) {
  uint64_t key = rng();
  MDB_val key_val{sizeof key, &key};
  MDB_val value_val{value.size(), const_cast<char*>(value.data())};
  Check(mdb_put(txn, dbi, &key_val, &value_val, 0), "mdb_put");
}

int LmdbCases(size_t commits, const std::string& dir) {
  const std::string value(300, 'v');
  for (int trees : {1, 2, 4, 8, 12}) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    MDB_env* env = nullptr;
    Check(mdb_env_create(&env), "mdb_env_create");
    Check(mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs");
    Check(mdb_env_set_mapsize(env, 4ULL << 30), "mdb_env_set_mapsize");
    // As the archive commits with archiver_fsync=yes: the data flush in the commit, the
    // meta page flushed after it.
    Check(mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600), "mdb_env_open");
    std::vector<MDB_dbi> dbis(static_cast<size_t>(trees));
    std::mt19937_64 rng(1);
    MDB_txn* txn = nullptr;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    for (int i = 0; i < trees; ++i) {
      Check(mdb_dbi_open(txn, std::to_string(i).c_str(), MDB_CREATE, &dbis[static_cast<size_t>(i)]),
            "mdb_dbi_open");
      for (int k = 0; k < 20000; ++k) PutRandom(txn, dbis[static_cast<size_t>(i)], rng, value);
    }
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
    Check(mdb_env_sync(env, 1), "mdb_env_sync");
    const Meter meter;
    for (size_t n = 0; n < commits; ++n) {
      Check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
      for (MDB_dbi dbi : dbis) PutRandom(txn, dbi, rng, value);
      Check(mdb_txn_commit(txn), "mdb_txn_commit");
      Check(mdb_env_sync(env, 1), "mdb_env_sync");
    }
    std::printf("%2d trees per commit: %s\n", trees, meter.Per(commits, "commit").c_str());
    mdb_env_close(env);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode != "store" && mode != "group" && mode != "lmdb") {
    std::fprintf(stderr, "usage: %s store|group|lmdb [--messages N|--commits N] [--dir D] "
                         "[--corpus DIR]\n", argv[0]);
    return 2;
  }
  size_t count = 2000;
  std::string dir = "/var/tmp/archiver-commit-bench";
  std::string corpus = ARCHIVER_MAIL_CORPUS_DEFAULT;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--messages") == 0 || std::strcmp(argv[i], "--commits") == 0) {
      count = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--dir") == 0) {
      dir = argv[i + 1];
    } else if (std::strcmp(argv[i], "--corpus") == 0) {
      corpus = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (count < 10) count = 10;
  if (mode == "store") return StoreCases(count, dir, corpus);
  if (mode == "group") return GroupCases(count, dir, corpus);
  return LmdbCases(count, dir);
}
