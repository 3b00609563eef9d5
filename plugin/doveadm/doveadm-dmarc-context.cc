// Shared plumbing of the `doveadm dmarc` commands.
#include "doveadm/doveadm-dmarc-context.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "archiver/time_format.h"

namespace archiver::doveadm {
namespace {

// Microseconds to whole seconds, rounding up (an exclusive "until" keeps its meaning).
int64_t SecondsRoundedUp(uint64_t micros) {
  return static_cast<int64_t>((micros + 999999) / 1000000);
}

// "domain/qualifier=result (human)", the parts that are empty left out.
std::string AuthResultText(const std::string& domain, const std::string& qualifier,
                           const std::string& result, const std::string& human_result) {
  std::string text = domain;
  if (!qualifier.empty()) text += "/" + qualifier;
  text += "=" + result;
  if (!human_result.empty()) text += " (" + human_result + ")";
  return text;
}

}  // namespace

CommandStatus OpenDmarcArchive(struct doveadm_cmd_context* cctx, bool writable,
                               DmarcArchive* archive) {
  CommandStatus opened =
      OpenArchive(cctx, {.writable = writable, .create_if_missing = true}, archive);
  if (opened.ok()) archive->dmarc = std::make_unique<DmarcStore>(archive->store);
  return opened;
}

CommandStatus DropRootBeforeParsing(const DmarcArchive& archive) {
  return DropRootForGoodBefore(archive, "parsing reports");
}

CommandStatus ParseDmarcFilter(struct doveadm_cmd_context* cctx, DmarcFilter* filter) {
  uint64_t since_us = 0, until_us = UINT64_MAX;
  CommandStatus options = ParseListingOptions(cctx, &since_us, &until_us, &filter->limit);
  if (!options.ok()) return options;
  if (since_us != 0) filter->since = SecondsRoundedUp(since_us);
  if (until_us != UINT64_MAX) filter->until = SecondsRoundedUp(until_us);
  if (const char* value = ParamString(cctx, "domain")) filter->domain = value;
  if (const char* value = ParamString(cctx, "org")) filter->org = value;
  return CommandStatus::Ok();
}

CommandStatus NumericIdArgument(struct doveadm_cmd_context* cctx, const char* what, uint64_t* id) {
  const char* text = ParamString(cctx, "id");
  int consumed = 0;
  if (text != nullptr && text[0] >= '0' && text[0] <= '9' &&
      std::sscanf(text, "%" SCNu64 "%n", id, &consumed) == 1 && text[consumed] == '\0' && *id > 0)
    return CommandStatus::Ok();
  return CommandStatus::Failed(EX_USAGE,
                               std::string(what) + " id missing or invalid" +
                                   (text != nullptr ? std::string(": '") + text + "'" : "") +
                                   " (expected the number that the list shows)");
}

std::string ReportTime(const std::optional<int64_t>& seconds) {
  if (!seconds) return "";
  if (*seconds < 0) return "@" + std::to_string(*seconds);
  return FormatTimeUtc(static_cast<uint64_t>(*seconds) * 1000000);
}

std::string Percent(uint64_t part, uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

std::string DkimResultText(const DkimAuthResult& result) {
  return AuthResultText(result.domain, result.selector, result.result, result.human_result);
}

std::string SpfResultText(const SpfAuthResult& result) {
  return AuthResultText(result.domain, result.scope, result.result, result.human_result);
}

std::string ReasonText(const PolicyOverrideReason& reason) {
  return reason.comment.empty() ? reason.type : reason.type + ": " + reason.comment;
}

}  // namespace archiver::doveadm
