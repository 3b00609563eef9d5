// archiver-list-bench: the store's share of `doveadm archive list`, without doveadm's start and
// printer, and the floor under it: the same records read through LMDB alone.
//
//   archiver-list-bench ARCHIVE_DIR (--subject WORD | --mailbox NAME | --user USER)
//                       [--raw] [--passes K]
//
// Default: Store::ListDeliveries with that filter, each row formatted as `doveadm -f tab
// archive list` shows it (into a buffer, not written). --raw: no Store; the index entries of
// that word, mailbox or user (idx_subject, idx_mailbox, idx_user: an exact key, so a --subject
// WORD counts only deliveries filed under WORD itself), newest first, each delivery's value
// and its message's msg_headers value looked up, nothing decoded. Each pass runs in this
// process: the first pays for mapping the archive's pages as a fresh doveadm does, the others
// find them mapped. One line per pass: rows, wall time, minor page faults, bytes formatted.
#include <lmdb.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../bench_clock.h"
#include "archiver/digest.h"
#include "archiver/store/store.h"
#include "archiver/time_format.h"

namespace {

using archiver::bench::Clock;
using archiver::bench::SecondsSince;

struct Options {
  std::string archive, kind, value;
  bool raw = false;
  int passes = 1;
};

long MinorFaults() {
  struct rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

struct Pass {
  uint64_t rows = 0, bytes = 0;
};

// One listing through the Store, each row formatted as the tab printer shows it.
bool ListThroughStore(const archiver::Store& store, const Options& options, Pass* pass) {
  archiver::ListFilter filter;
  if (options.kind == "subject") filter.subject = options.value;
  if (options.kind == "mailbox") filter.mailbox = options.value;
  if (options.kind == "user") filter.user = options.value;
  std::string row;
  archiver::Status listed = store.ListDeliveries(filter, [&](const archiver::Delivery& delivery) {
    const archiver::DeliveryRecord& record = delivery.record;
    row = archiver::ToHex(record.id);
    for (const std::string& field :
         {archiver::FormatTimeUtc(record.received_us), record.origin, record.user, record.mailbox,
          record.envelope_from, record.envelope_to, record.headers.subject,
          std::to_string(record.size)}) {
      row += '\t';
      row += field;
    }
    row += '\n';
    ++pass->rows;
    pass->bytes += row.size();
    return true;
  });
  if (!listed.ok()) std::fprintf(stderr, "listing failed: %s\n", listed.ToString().c_str());
  return listed.ok();
}

// The same records through LMDB alone (docs/store-format.md: an index's duplicates are
// delivery keys; a deliveries value holds its version byte, then the 32-byte message id).
class RawReader {
 public:
  ~RawReader() {
    if (env_ != nullptr) mdb_env_close(env_);
  }
  bool Open(const std::string& path) {
    return Check(mdb_env_create(&env_), "mdb_env_create") &&
           Check(mdb_env_set_maxdbs(env_, 64), "mdb_env_set_maxdbs") &&
           Check(mdb_env_set_mapsize(env_, 64ULL << 30), "mdb_env_set_mapsize") &&
           Check(mdb_env_open(env_, path.c_str(), MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0),
                 "mdb_env_open");
  }
  bool Read(const char* index, const std::string& key, Pass* pass) {
    MDB_txn* txn = nullptr;
    if (!Check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin")) return false;
    MDB_dbi index_dbi, deliveries, headers;
    MDB_cursor* cursor = nullptr;
    bool ok = Check(mdb_dbi_open(txn, index, 0, &index_dbi), index) &&
              Check(mdb_dbi_open(txn, "deliveries", 0, &deliveries), "deliveries") &&
              Check(mdb_dbi_open(txn, "msg_headers", 0, &headers), "msg_headers") &&
              Check(mdb_cursor_open(txn, index_dbi, &cursor), "mdb_cursor_open");
    MDB_val name{key.size(), const_cast<char*>(key.data())}, entry;
    int rc = ok ? mdb_cursor_get(cursor, &name, &entry, MDB_SET) : MDB_NOTFOUND;
    if (rc == 0) rc = mdb_cursor_get(cursor, &name, &entry, MDB_LAST_DUP);
    for (; ok && rc == 0; rc = mdb_cursor_get(cursor, &name, &entry, MDB_PREV_DUP)) {
      MDB_val delivery;
      ok = Check(mdb_get(txn, deliveries, &entry, &delivery), "deliveries get") &&
           delivery.mv_size > 33;
      if (!ok) break;
      MDB_val id{32, static_cast<char*>(delivery.mv_data) + 1}, summary;
      ok = Check(mdb_get(txn, headers, &id, &summary), "msg_headers get");
      ++pass->rows;
      pass->bytes += delivery.mv_size + summary.mv_size;
    }
    if (ok && rc != MDB_NOTFOUND) ok = Check(rc, "index walk");
    if (cursor != nullptr) mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    return ok;
  }

 private:
  static bool Check(int rc, const char* what) {
    if (rc != 0) std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
    return rc == 0;
  }
  MDB_env* env_ = nullptr;
};

int Usage() {
  std::fprintf(stderr,
               "usage: archiver-list-bench ARCHIVE_DIR (--subject WORD | --mailbox NAME | "
               "--user USER) [--raw] [--passes K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--subject" || arg == "--mailbox" || arg == "--user") && i + 1 < argc) {
      options.kind = arg.substr(2);
      options.value = argv[++i];
    } else if (arg == "--passes" && i + 1 < argc) {
      options.passes = std::atoi(argv[++i]);
    } else if (arg == "--raw") {
      options.raw = true;
    } else if (options.archive.empty() && arg[0] != '-') {
      options.archive = arg;
    } else {
      return Usage();
    }
  }
  if (options.archive.empty() || options.kind.empty() || options.passes < 1) return Usage();

  std::shared_ptr<archiver::Store> store;
  RawReader raw;
  if (options.raw) {
    if (!raw.Open(options.archive)) return 1;
  } else {
    archiver::StoreOptions store_options;
    store_options.path = options.archive;
    store_options.read_only = true;
    store_options.create_if_missing = false;
    store_options.map_size = 64ULL << 30;
    archiver::Result<std::shared_ptr<archiver::Store>> opened =
        archiver::Store::Open(store_options);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
      return 1;
    }
    store = *opened;
  }
  const char* index = options.kind == "subject"   ? "idx_subject"
                      : options.kind == "mailbox" ? "idx_mailbox"
                                                  : "idx_user";
  for (int number = 1; number <= options.passes; ++number) {
    Pass pass;
    const long faults = MinorFaults();
    const Clock::time_point start = Clock::now();
    const bool ok = options.raw ? raw.Read(index, options.value, &pass)
                                : ListThroughStore(*store, options, &pass);
    if (!ok) return 1;
    std::printf("%s --%s %s, pass %d: %llu rows, %.1f ms, %ld minor faults, %llu bytes\n",
                options.raw ? "raw LMDB" : "Store::ListDeliveries", options.kind.c_str(),
                options.value.c_str(), number, static_cast<unsigned long long>(pass.rows),
                SecondsSince(start) * 1000, MinorFaults() - faults,
                static_cast<unsigned long long>(pass.bytes));
  }
  return 0;
}
