// archiver-scale-build: writes the scale workload (workload.h) into an archive through the
// public Store API, in batches of deliveries (Store::ArchiveGroup), and writes a manifest
// (JSON) that bench/scale/run reads: what was built, how fast, and the query arguments.
//
//   archiver-scale-build ARCHIVE_DIR [--deliveries N] [--seed S] [--batch B]
//                        [--corpus DIR] [--map-size BYTES] [--sync] [--manifest FILE]
//                        [--attachment-share P]
//
// ARCHIVE_DIR must not hold deliveries yet. --batch: deliveries per write transaction
// (default 2000; a message's deliveries are never split). --sync: each commit flushed as the
// plugin does by default (archiver_fsync = yes); without it the archive is written with
// archiver_fsync = no and is durable only once the kernel writes it back (run `sync`).
// --attachment-share: the share of messages carrying a random-bytes attachment (default
// 0.03; 0 gives text-only mail, where records and indexes weigh most).
// Progress goes to standard error: a line updated in place on a terminal, else one line per
// tenth. Exit status 0 when every delivery was stored as expected.
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../bench_clock.h"
#include "archiver/digest.h"
#include "archiver/header_summary.h"
#include "archiver/store/store.h"
#include "workload.h"

namespace {

using archiver::bench::Clock;
using archiver::bench::CpuSeconds;
using archiver::bench::SecondsSince;
using archiver::bench::Workload;
using archiver::bench::WorkloadMessage;

struct Options {
  std::string archive;
  std::string manifest;
  archiver::bench::WorkloadOptions workload;
  uint64_t batch = 2000;
  uint64_t map_size = 64ULL << 30;
  bool sync = false;
};

struct Totals {
  uint64_t messages = 0, deliveries = 0, stored = 0, deduplicated = 0;
  uint64_t raw_bytes = 0;        // distinct messages
  uint64_t delivered_bytes = 0;  // every delivery's message
  uint64_t trace_bytes = 0;
  uint64_t largest = 0;
  uint64_t first_us = 0, last_us = 0;
  std::string sample_user;  // the first recipient of the message halfway through
};

int Usage() {
  std::fprintf(stderr,
               "usage: archiver-scale-build ARCHIVE_DIR [--deliveries N] [--seed S] "
               "[--batch B] [--corpus DIR] [--map-size BYTES] [--sync] [--manifest FILE] "
               "[--attachment-share P]\n");
  return 2;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  options->workload.corpus = ARCHIVER_MAIL_CORPUS_DEFAULT;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--sync") {
      options->sync = true;
    } else if (arg == "--deliveries" && has_value) {
      options->workload.deliveries = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && has_value) {
      options->workload.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--batch" && has_value) {
      options->batch = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (arg == "--corpus" && has_value) {
      options->workload.corpus = argv[++i];
    } else if (arg == "--map-size" && has_value) {
      options->map_size = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--attachment-share" && has_value) {
      options->workload.attachment_share = std::strtod(argv[++i], nullptr);
      if (!(options->workload.attachment_share >= 0 && options->workload.attachment_share <= 1))
        return false;
    } else if (arg == "--manifest" && has_value) {
      options->manifest = argv[++i];
    } else if (arg.rfind("--", 0) != 0 && options->archive.empty()) {
      options->archive = arg;
    } else {
      return false;
    }
  }
  if (options->archive.empty() || options->workload.deliveries == 0) return false;
  if (options->manifest.empty()) options->manifest = options->archive + ".workload.json";
  return true;
}

// One ArchiveGroup of the messages' deliveries; every outcome checked.
bool WriteBatch(archiver::Store& store, const std::vector<WorkloadMessage>& messages,
                Totals* totals) {
  std::vector<archiver::GroupDelivery> group;
  for (const WorkloadMessage& message : messages) {
    const archiver::MessageId id = archiver::Sha256::Of(message.bytes);
    const archiver::HeaderSummary headers = archiver::SummarizeHeaders(message.bytes);
    for (const auto& delivery : message.deliveries) {
      archiver::GroupDelivery entry;
      entry.message = message.bytes;
      entry.id_known = true;
      entry.record.id = id;
      entry.record.received_us = message.received_us;
      entry.record.origin = "lmtp";
      entry.record.envelope_from = message.envelope_from;
      entry.record.envelope_to = delivery.envelope_to;
      entry.record.user = delivery.user;
      entry.record.mailbox = delivery.mailbox;
      entry.record.headers = headers;
      entry.record.trace_prefix = delivery.trace_prefix;
      totals->trace_bytes += delivery.trace_prefix.size();
      group.push_back(std::move(entry));
    }
  }
  const archiver::Status status = store.ArchiveGroup(group);
  if (!status.ok()) {
    std::fprintf(stderr, "\narchiver-scale-build: ArchiveGroup: %s\n", status.ToString().c_str());
    return false;
  }
  for (const archiver::GroupDelivery& entry : group) {
    if (!entry.outcome.ok()) {
      std::fprintf(stderr, "\narchiver-scale-build: a delivery failed: %s\n",
                   entry.outcome.status().ToString().c_str());
      return false;
    }
    if (*entry.outcome == archiver::ArchiveOutcome::kStored) {
      ++totals->stored;
    } else if (*entry.outcome == archiver::ArchiveOutcome::kDeduplicated) {
      ++totals->deduplicated;
    } else {
      std::fprintf(stderr, "\narchiver-scale-build: a delivery was archived already\n");
      return false;
    }
  }
  totals->deliveries += group.size();
  return true;
}

void Progress(const Totals& totals, uint64_t target, Clock::time_point started, bool final) {
  static const bool terminal = isatty(STDERR_FILENO) != 0;
  static uint64_t next_tenth = 1;
  const double seconds = SecondsSince(started);
  const double rate = seconds > 0 ? static_cast<double>(totals.deliveries) / seconds : 0;
  if (terminal) {
    std::fprintf(stderr,
                 "\r%" PRIu64 " / %" PRIu64 " deliveries, %" PRIu64
                 " messages, %.0f deliveries/s, %.0f s%s",
                 totals.deliveries, target, totals.messages, rate, seconds, final ? "\n" : "");
  } else if (final || totals.deliveries * 10 >= next_tenth * target) {
    std::fprintf(stderr, "%" PRIu64 " / %" PRIu64 " deliveries, %.0f deliveries/s, %.0f s\n",
                 totals.deliveries, target, rate, seconds);
    while (next_tenth * target <= totals.deliveries * 10) ++next_tenth;
  }
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool WriteManifest(const Options& options, const Workload& workload, const Totals& totals,
                   const archiver::StoreStats& stats, double seconds, double cpu) {
  std::FILE* out = std::fopen(options.manifest.c_str(), "w");
  if (out == nullptr) return false;
  std::fprintf(
      out,
      "{\"archive\": %s, \"seed\": %" PRIu64 ", \"deliveries\": %" PRIu64 ", \"messages\": %" PRIu64
      ",\n \"raw_bytes\": %" PRIu64 ", \"delivered_bytes\": %" PRIu64 ", \"trace_bytes\": %" PRIu64
      ", \"largest_message\": %" PRIu64
      ",\n"
      " \"store_messages\": %" PRIu64 ", \"store_deliveries\": %" PRIu64
      ", \"store_raw_bytes\": %" PRIu64 ", \"store_stored_bytes\": %" PRIu64
      ", \"map_used\": %" PRIu64 ",\n \"first_us\": %" PRIu64 ", \"last_us\": %" PRIu64
      ", \"build_seconds\": %.3f, \"build_cpu_seconds\": %.3f, \"deliveries_per_second\": %.1f,\n"
      " \"batch\": %" PRIu64 ", \"sync\": %s, \"map_size\": %" PRIu64
      ", \"attachment_share\": %g, \"text\": %s,\n \"users\": %d, \"senders\": %d, "
      "\"subject_word\": %s,"
      " \"sample_user\": %s, \"busy_sender\": %s, \"rare_sender\": %s}\n",
      JsonString(options.archive).c_str(), options.workload.seed, totals.deliveries,
      totals.messages, totals.raw_bytes, totals.delivered_bytes, totals.trace_bytes, totals.largest,
      stats.messages, stats.deliveries, stats.raw_bytes, stats.stored_bytes, stats.map_used,
      totals.first_us, totals.last_us, seconds, cpu,
      static_cast<double>(totals.deliveries) / seconds, options.batch,
      options.sync ? "true" : "false", options.map_size, options.workload.attachment_share,
      JsonString(workload.text_origin()).c_str(), archiver::bench::kUsers,
      archiver::bench::kSenders, JsonString(archiver::bench::kSubjectWord).c_str(),
      JsonString(totals.sample_user).c_str(), JsonString(Workload::SenderAddress(1)).c_str(),
      JsonString(Workload::SenderAddress(1000)).c_str());
  return std::fclose(out) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) return Usage();
  archiver::StoreOptions store_options;
  store_options.path = options.archive;
  store_options.map_size = options.map_size;
  store_options.sync = options.sync;
  auto store = archiver::Store::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "archiver-scale-build: open %s: %s\n", options.archive.c_str(),
                 store.status().ToString().c_str());
    return 1;
  }
  auto before = (*store)->GetStats();
  if (!before.ok() || before->deliveries != 0) {
    std::fprintf(stderr,
                 "archiver-scale-build: %s holds deliveries already (or cannot be "
                 "read): remove it first\n",
                 options.archive.c_str());
    return 1;
  }
  Workload workload(options.workload);
  std::fprintf(stderr,
               "%" PRIu64 " deliveries, seed %" PRIu64 ", batches of %" PRIu64 ", body text: %s\n",
               options.workload.deliveries, options.workload.seed, options.batch,
               workload.text_origin().c_str());
  Totals totals;
  const Clock::time_point started = Clock::now();
  const double cpu_started = CpuSeconds();
  std::vector<WorkloadMessage> batch;
  uint64_t batch_deliveries = 0;
  WorkloadMessage message;
  bool more = true;
  while (more) {
    more = workload.Next(&message);
    if (more) {
      if (totals.messages == 0) totals.first_us = message.received_us;
      totals.last_us = std::max(totals.last_us, message.received_us);
      ++totals.messages;
      totals.raw_bytes += message.bytes.size();
      totals.delivered_bytes += message.bytes.size() * message.deliveries.size();
      totals.largest = std::max<uint64_t>(totals.largest, message.bytes.size());
      batch_deliveries += message.deliveries.size();
      if (totals.sample_user.empty() && workload.delivered() * 2 >= options.workload.deliveries)
        totals.sample_user = message.deliveries.front().user;
      batch.push_back(std::move(message));
      message = WorkloadMessage();
    }
    if (!batch.empty() && (batch_deliveries >= options.batch || !more)) {
      if (!WriteBatch(**store, batch, &totals)) return 1;
      batch.clear();
      batch_deliveries = 0;
      Progress(totals, options.workload.deliveries, started, false);
    }
  }
  const double seconds = SecondsSince(started);
  const double cpu = CpuSeconds() - cpu_started;
  Progress(totals, options.workload.deliveries, started, true);
  auto stats = (*store)->GetStats();
  if (!stats.ok()) {
    std::fprintf(stderr, "archiver-scale-build: stats: %s\n", stats.status().ToString().c_str());
    return 1;
  }
  if (stats->deliveries != totals.deliveries || stats->messages != totals.stored ||
      stats->raw_bytes != totals.raw_bytes) {
    std::fprintf(stderr,
                 "archiver-scale-build: the archive counts %" PRIu64 " deliveries, %" PRIu64
                 " messages, %" PRIu64 " raw bytes; written %" PRIu64 ", %" PRIu64 ", %" PRIu64
                 "\n",
                 stats->deliveries, stats->messages, stats->raw_bytes, totals.deliveries,
                 totals.stored, totals.raw_bytes);
    return 1;
  }
  if (!WriteManifest(options, workload, totals, *stats, seconds, cpu)) {
    std::fprintf(stderr, "archiver-scale-build: cannot write %s\n", options.manifest.c_str());
    return 1;
  }
  std::printf("built %" PRIu64 " deliveries of %" PRIu64
              " messages (%s distinct, %s stored) "
              "in %.1f s (%.0f deliveries/s, %.1f CPU s); manifest %s\n",
              totals.deliveries, totals.messages, archiver::FormatBytes(totals.raw_bytes).c_str(),
              archiver::FormatBytes(stats->stored_bytes).c_str(), seconds,
              static_cast<double>(totals.deliveries) / seconds, cpu, options.manifest.c_str());
  return 0;
}
