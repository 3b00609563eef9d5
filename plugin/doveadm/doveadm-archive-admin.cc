// `doveadm archive stats|verify|repair|reindex|migrate`: the archive as a whole.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "doveadm/doveadm-archive-commands.h"
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-termination.h"

namespace archiver::doveadm {
namespace {

// Deliveries per reindex or migrate step: one short write transaction each, so that
// deliveries wait for one step at most, and an interruption loses at most one step.
constexpr size_t kUpgradeStep = 1000;

std::string Ratio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return "0.00";
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f",
                static_cast<double>(numerator) / static_cast<double>(denominator));
  return text;
}

// "verify: messages 1200/300000 (0%)" rewritten in place on a terminal's stderr.
void ShowProgress(const VerifyProgress& progress) {
  char line[160];
  int length;
  if (progress.total != 0) {
    length = std::snprintf(line, sizeof(line), "\rverify: %s %llu/%llu (%llu%%)   ", progress.phase,
                           static_cast<unsigned long long>(progress.done),
                           static_cast<unsigned long long>(progress.total),
                           static_cast<unsigned long long>(progress.done * 100 / progress.total));
  } else {
    length = std::snprintf(line, sizeof(line), "\rverify: %s %llu   ", progress.phase,
                           static_cast<unsigned long long>(progress.done));
  }
  if (length > 0) (void)!write(STDERR_FILENO, line, static_cast<size_t>(length));
}

// Runs `step` (one short write transaction; true once the work is complete) until it
// completes, fails, or a termination signal arrives between steps (EX_TEMPFAIL: run it
// again to resume). `*done` counts what the steps did, shown on a terminal as progress.
template <typename Step>
CommandStatus RunSteps(const char* what, const uint64_t* done, Step step) {
  TerminationWatch termination;
  const bool terminal = isatty(STDERR_FILENO) != 0;
  Result<bool> complete = false;
  while (complete.ok() && !*complete && !termination.Received()) {
    complete = step();
    if (terminal) {
      char line[96];
      int length = std::snprintf(line, sizeof(line), "\r%s: %llu deliveries   ", what,
                                 static_cast<unsigned long long>(*done));
      if (length > 0) (void)!write(STDERR_FILENO, line, static_cast<size_t>(length));
    }
  }
  if (terminal) (void)!write(STDERR_FILENO, "\n", 1);
  const std::string after = std::string(what) + " stopped after " + std::to_string(*done) +
                            " deliveries (run it again to resume)";
  if (!complete.ok()) {
    return CommandStatus::Of(complete.status(), after + ": " + complete.status().ToString());
  }
  if (!*complete) return CommandStatus::Failed(EX_TEMPFAIL, after + ": termination signal");
  return CommandStatus::Ok();
}

// The content-index backfill (Store::ReindexStep) to its end, counting into *filed.
CommandStatus RunReindexSteps(Store& store, const char* what, uint64_t* filed) {
  return RunSteps(what, filed, [&]() -> Result<bool> {
    Result<ReindexProgress> step = store.ReindexStep(kUpgradeStep);
    if (!step.ok()) return step.status();
    *filed += step->filed;
    return step->complete;
  });
}

// The report's damage as rows and log lines; the summary, and the command's outcome.
CommandStatus ReportVerify(const VerifyReport& report) {
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  doveadm_print_header_simple("id");
  doveadm_print_header_simple("error");
  for (const auto& [id, status] : report.damaged) {
    PrintValue(ToHex(id).c_str());
    PrintValue(status.ToString().c_str());
  }
  std::string summary = "verified " + std::to_string(report.messages_checked) + " messages and " +
                        std::to_string(report.deliveries_checked) +
                        " deliveries: " + std::to_string(report.damaged.size()) + " damaged";
  for (const auto& [id, status] : report.damaged)
    i_error("damaged: %s: %s", ToHex(id).c_str(), status.ToString().c_str());
  if (report.interrupted)
    return CommandStatus::Failed(EX_TEMPFAIL,
                                 "Verify interrupted by a termination signal: " + summary +
                                     " before it stopped; the rest was "
                                     "not checked (run it again)");
  if (!report.damaged.empty()) return CommandStatus::Failed(EX_DATAERR, summary);
  i_info("%s", summary.c_str());
  return CommandStatus::Ok();
}

}  // namespace

void CmdArchiveStats(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store); !opened.ok()) return opened;
    Result<StoreStats> stats = store->GetStats();
    if (!stats.ok()) return CommandStatus::Of(stats.status(), stats.status().ToString());
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    // compression_ratio = raw / stored (2.50 means stored in 40 % of the space);
    // dedup_ratio = delivered / raw (bytes delivered per byte stored once).
    for (const char* field :
         {"messages", "deliveries", "raw_bytes", "stored_bytes", "delivered_bytes",
          "compression_ratio", "dedup_ratio", "map_size", "map_used"})
      doveadm_print_header(field, field, DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_num(stats->messages);
    doveadm_print_num(stats->deliveries);
    doveadm_print_num(stats->raw_bytes);
    doveadm_print_num(stats->stored_bytes);
    doveadm_print_num(stats->delivered_bytes);
    PrintValue(Ratio(stats->raw_bytes, stats->stored_bytes).c_str());
    PrintValue(Ratio(stats->delivered_bytes, stats->raw_bytes).c_str());
    doveadm_print_num(stats->map_size);
    doveadm_print_num(stats->map_used);
    return CommandStatus::Ok();
  });
}

void CmdArchiveVerify(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store); !opened.ok()) return opened;
    TerminationWatch termination;
    VerifyOptions options;
    options.stop = [&] { return termination.Received(); };
    const bool terminal = isatty(STDERR_FILENO) != 0;
    if (terminal) options.progress = ShowProgress;
    Result<VerifyReport> report = store->Verify(options);
    if (terminal) (void)!write(STDERR_FILENO, "\n", 1);
    if (!report.ok())
      return CommandStatus::Of(report.status(), "Verify failed: " + report.status().ToString());
    return ReportVerify(*report);
  });
}

void CmdArchiveRepair(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store, true); !opened.ok()) return opened;
    Result<std::vector<CounterRepair>> repairs = store->RepairCounters();
    if (!repairs.ok())
      return CommandStatus::Of(repairs.status(), "Repair failed: " + repairs.status().ToString());
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header_simple("counter");
    doveadm_print_header("before", "before", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header("after", "after", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("result");
    size_t repaired = 0;
    for (const CounterRepair& repair : *repairs) {
      const bool changed = repair.was_damaged || repair.before != repair.after;
      repaired += changed ? 1 : 0;
      PrintValue(repair.name);
      PrintValue(repair.was_damaged ? "damaged" : std::to_string(repair.before));
      doveadm_print_num(repair.after);
      PrintValue(changed ? "repaired" : "ok");
    }
    i_info("%zu of %zu counters repaired", repaired, repairs->size());
    return CommandStatus::Ok();
  });
}

void CmdArchiveReindex(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store, true); !opened.ok()) return opened;
    uint64_t filed = 0;
    CommandStatus ran = RunReindexSteps(*store, "reindex", &filed);
    if (!ran.ok()) return ran;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header("filed", "filed", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("indexes");
    doveadm_print_num(filed);
    PrintValue("complete");
    i_info("mailbox and subject indexes complete (%llu deliveries filed)",
           static_cast<unsigned long long>(filed));
    return CommandStatus::Ok();
  });
}

void CmdArchiveMigrate(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store, true); !opened.ok()) return opened;
    uint64_t filed = 0, visited = 0, rewritten = 0;
    CommandStatus ran = RunReindexSteps(*store, "migrate: indexes", &filed);
    if (ran.ok()) {
      ran = RunSteps("migrate: records", &visited, [&]() -> Result<bool> {
        Result<CompactProgress> step = store->CompactRecordsStep(kUpgradeStep);
        if (!step.ok()) return step.status();
        visited += step->visited;
        rewritten += step->rewritten;
        return step->complete;
      });
    }
    if (!ran.ok()) return ran;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header("filed", "filed", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header("rewritten", "rewritten", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_header_simple("format");
    doveadm_print_num(filed);
    doveadm_print_num(rewritten);
    PrintValue("current");
    i_info(
        "archive migrated: %llu deliveries filed in the mailbox and subject indexes, %llu "
        "records rewritten in the compact form",
        static_cast<unsigned long long>(filed), static_cast<unsigned long long>(rewritten));
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
