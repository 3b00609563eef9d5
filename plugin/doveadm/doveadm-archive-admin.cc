// `doveadm archive stats|verify|repair|reindex`: the archive as a whole.
#include <cstdio>
#include <string>

#include "doveadm/doveadm-archive-commands.h"
#include "doveadm/doveadm-archive-context.h"

namespace archiver::doveadm {
namespace {

// Deliveries per reindex step: one short write transaction each, so that deliveries wait
// for one step at most, and an interrupted reindex loses at most one step.
constexpr size_t kReindexStep = 1000;

std::string Ratio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return "0.00";
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f",
                static_cast<double>(numerator) / static_cast<double>(denominator));
  return text;
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
    for (const char* field : {"messages", "deliveries", "raw_bytes", "stored_bytes",
                              "delivered_bytes", "compression_ratio", "dedup_ratio", "map_size",
                              "map_used"})
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
    Result<VerifyReport> report = store->Verify();
    if (!report.ok())
      return CommandStatus::Of(report.status(), "Verify failed: " + report.status().ToString());
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    doveadm_print_header_simple("id");
    doveadm_print_header_simple("error");
    for (const auto& [id, status] : report->damaged) {
      PrintValue(ToHex(id).c_str());
      PrintValue(status.ToString().c_str());
    }
    std::string summary = "verified " + std::to_string(report->messages_checked) +
                          " messages and " + std::to_string(report->deliveries_checked) +
                          " deliveries: " + std::to_string(report->damaged.size()) + " damaged";
    if (report->damaged.empty()) {
      i_info("%s", summary.c_str());
      return CommandStatus::Ok();
    }
    for (const auto& [id, status] : report->damaged)
      i_error("damaged: %s: %s", ToHex(id).c_str(), status.ToString().c_str());
    return CommandStatus::Failed(EX_DATAERR, summary);
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
    bool complete = false;
    while (!complete) {
      Result<ReindexProgress> step = store->ReindexStep(kReindexStep);
      if (!step.ok()) {
        return CommandStatus::Of(
            step.status(), "Reindex failed after " + std::to_string(filed) +
                               " deliveries (run it again to resume): " + step.status().ToString());
      }
      filed += step->filed;
      complete = step->complete;
    }
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

}  // namespace archiver::doveadm
