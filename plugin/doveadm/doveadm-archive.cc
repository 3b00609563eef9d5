// The doveadm module: registers the `doveadm archive …` commands and their parameters.
// (C++ cannot build doveadm's DOVEADM_CMD_PARAM compound literals, hence the tables.)
#include "doveadm/doveadm-archive-commands.h"
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-archive-source.h"

namespace {

using archiver::doveadm::CmdArchiveExport;
using archiver::doveadm::CmdArchiveFetch;
using archiver::doveadm::CmdArchiveList;
using archiver::doveadm::CmdArchiveMigrate;
using archiver::doveadm::CmdArchiveReindex;
using archiver::doveadm::CmdArchiveRepair;
using archiver::doveadm::CmdArchiveShow;
using archiver::doveadm::CmdArchiveStats;
using archiver::doveadm::CmdArchiveVerify;

constexpr doveadm_cmd_param Param(char short_opt, const char* name, doveadm_cmd_param_t type,
                                  doveadm_cmd_param_flag_t flags = CMD_PARAM_FLAG_NONE) {
  doveadm_cmd_param param{};
  param.short_opt = short_opt;
  param.name = name;
  param.type = type;
  param.flags = flags;
  return param;
}

const doveadm_cmd_param kEnd = Param('\0', nullptr, CMD_PARAM_BOOL);

#define ARCHIVE_FILTER_PARAMS                                                           \
  Param('u', "user", CMD_PARAM_STR), Param('\0', "since", CMD_PARAM_STR),               \
      Param('\0', "until", CMD_PARAM_STR), Param('\0', "from", CMD_PARAM_STR),          \
      Param('\0', "rcpt", CMD_PARAM_STR), Param('\0', "mailbox", CMD_PARAM_STR),        \
      Param('\0', "subject", CMD_PARAM_STR), Param('\0', "limit", CMD_PARAM_INT64),     \
      Param('\0', "source", CMD_PARAM_STR)

const doveadm_cmd_param kListParams[] = {ARCHIVE_FILTER_PARAMS, kEnd};
const doveadm_cmd_param kExportParams[] = {ARCHIVE_FILTER_PARAMS,
                                           Param('\0', "format", CMD_PARAM_STR),
                                           Param('o', "output", CMD_PARAM_STR), kEnd};
const doveadm_cmd_param kShowParams[] = {
    Param('u', "user", CMD_PARAM_STR),
    Param('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL), kEnd};
const doveadm_cmd_param kFetchParams[] = {
    Param('u', "user", CMD_PARAM_STR), Param('\0', "trace", CMD_PARAM_BOOL),
    Param('\0', "rcpt", CMD_PARAM_STR), Param('\0', "mailbox", CMD_PARAM_STR),
    Param('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL), kEnd};
const doveadm_cmd_param kUserOnlyParams[] = {Param('u', "user", CMD_PARAM_STR), kEnd};

#define FILTER_USAGE                                                                 \
  "[-u <user>] [--since <time>] [--until <time>] [--from <address>] [--rcpt <address>] " \
  "[--mailbox <mailbox>] [--subject <text>] [--source <name>] [--limit <n>]"

doveadm_cmd_ver2 Command(doveadm_command_ver2_t* function, const char* name, const char* usage,
                         const doveadm_cmd_param* parameters,
                         doveadm_cmd_flag_t flags = CMD_FLAG_NONE) {
  doveadm_cmd_ver2 command{};
  command.cmd = function;
  command.name = name;
  command.usage = usage;
  command.flags = flags;
  command.parameters = parameters;
  return command;
}

doveadm_cmd_ver2 kCommands[] = {
    Command(CmdArchiveList, "archive list", FILTER_USAGE, kListParams),
    Command(CmdArchiveShow, "archive show", "[-u <user>] <id>", kShowParams),
    Command(CmdArchiveFetch, "archive fetch",
            "[-u <user>] [--trace] [--rcpt <address>] [--mailbox <mailbox>] <id>",
            kFetchParams, CMD_FLAG_NO_PRINT),
    Command(CmdArchiveExport, "archive export",
            FILTER_USAGE " --format mbox|eml --output <path>", kExportParams),
    Command(CmdArchiveStats, "archive stats", "[-u <user>]", kUserOnlyParams),
    Command(CmdArchiveVerify, "archive verify", "[-u <user>]", kUserOnlyParams),
    Command(CmdArchiveRepair, "archive repair", "[-u <user>]", kUserOnlyParams),
    Command(CmdArchiveReindex, "archive reindex", "[-u <user>]", kUserOnlyParams),
    Command(CmdArchiveMigrate, "archive migrate", "[-u <user>]", kUserOnlyParams),
};

}  // namespace

extern "C" {

#define ARCHIVER_EXPORT __attribute__((visibility("default")))
ARCHIVER_EXPORT extern const char* doveadm_archiver_plugin_version;
ARCHIVER_EXPORT const char* doveadm_archiver_plugin_version = DOVECOT_ABI_VERSION;
ARCHIVER_EXPORT void doveadm_archiver_plugin_init(struct module* module);
ARCHIVER_EXPORT void doveadm_archiver_plugin_deinit(void);

void doveadm_archiver_plugin_init(struct module* module ATTR_UNUSED) {
  for (doveadm_cmd_ver2& command : kCommands) doveadm_cmd_register_ver2(&command);
  archiver::doveadm::RegisterDmarcCommands();
  archiver::doveadm::RegisterSourceCommands();
}

void doveadm_archiver_plugin_deinit(void) {}

}  // extern "C"
