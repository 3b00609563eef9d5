// What the `doveadm dmarc` commands share: the archive opened with its settings (for
// writing as the archive's owner when a command stores reports), the report filter
// options, and the small formatting rules every command prints with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/archiver-settings.h"
#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/dmarc/dmarc_store.h"
#include "doveadm/doveadm-archive-context.h"

namespace archiver::doveadm {

struct DmarcArchive : CommandArchive {
  std::unique_ptr<DmarcStore> dmarc;
};

// Opens the archive that the command's settings name (see CommandSettings), read-only
// or for writing (OpenArchive; a writable open creates a missing archive). A writable
// open by root creates missing archive files as the owner of the archive directory, so
// Dovecot's mail processes can still open them. OpenArchive's failures.
CommandStatus OpenDmarcArchive(struct doveadm_cmd_context* cctx, bool writable,
                               DmarcArchive* archive);

// Gives up root for good (DropRootForGood: the archive owner's identity) before a command
// parses report content, which anyone may have sent. Fails with EX_TEMPFAIL.
CommandStatus DropRootBeforeParsing(const DmarcArchive& archive);

// Reads --domain --org --since --until --limit into `filter` (times as
// ParseTimeArgument takes them). EX_USAGE on a bad value.
CommandStatus ParseDmarcFilter(struct doveadm_cmd_context* cctx, DmarcFilter* filter);

// The positional "id" argument as a report or failure number (from 1) into `*id`.
// EX_USAGE when it is missing or not a positive decimal number.
CommandStatus NumericIdArgument(struct doveadm_cmd_context* cctx, const char* what, uint64_t* id);

// The report or failure report that the id argument names (`get` is GetReport or
// GetFailure) into `*item`, from the archive opened read-only into `archive`; the id is
// checked before the archive is opened. The argument's, the open's or the lookup's failure.
template <typename Item>
CommandStatus OpenNumberedItem(struct doveadm_cmd_context* cctx, const char* what,
                               DmarcArchive* archive,
                               Result<Item> (DmarcStore::*get)(uint64_t) const,
                               std::optional<Item>* item) {
  uint64_t id = 0;
  if (CommandStatus given = NumericIdArgument(cctx, what, &id); !given.ok()) return given;
  if (CommandStatus opened = OpenDmarcArchive(cctx, false, archive); !opened.ok()) return opened;
  Result<Item> found = (archive->dmarc.get()->*get)(id);
  if (!found.ok())
    return CommandStatus::Of(found.status(), std::string(what) + " " + std::to_string(id) + ": " +
                                                 found.status().message());
  *item = std::move(found).value();
  return CommandStatus::Ok();
}

// "2024-05-01T00:00:00Z" for a report time in seconds, "" when absent.
std::string ReportTime(const std::optional<int64_t>& seconds);
// `part` as a percentage of `whole` with one decimal ("66.7"); "0.0" when whole is 0.
std::string Percent(uint64_t part, uint64_t whole);
// One line each: "example.com/s1=pass", "example.com/mfrom=softfail", "forwarded: text".
std::string DkimResultText(const DkimAuthResult& result);
std::string SpfResultText(const SpfAuthResult& result);
std::string ReasonText(const PolicyOverrideReason& reason);
// The texts of `values` joined with ", ".
template <typename T, typename F>
std::string JoinTexts(const std::vector<T>& values, F text) {
  std::string joined;
  for (const T& value : values) {
    if (!joined.empty()) joined += ", ";
    joined += text(value);
  }
  return joined;
}

}  // namespace archiver::doveadm
