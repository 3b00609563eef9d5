// Registers the `doveadm dmarc …` commands and their parameters (tables written out by
// hand: C++ cannot build doveadm's DOVEADM_CMD_PARAM compound literals).
#include "doveadm/doveadm-dmarc-commands.h"

namespace archiver::doveadm {
namespace {

// Designated initializers leave the members not named zero (value_set, value; a
// command's mail_cmd and flags), as doveadm expects.
#define DMARC_PARAM(param_name, param_type, short_option, param_flags)                      \
  doveadm_cmd_param {                                                                       \
    .short_opt = short_option, .name = param_name, .type = param_type, .flags = param_flags \
  }
#define DMARC_OPTION(name, type) DMARC_PARAM(name, type, '\0', CMD_PARAM_FLAG_NONE)
#define DMARC_POSITIONAL(name, type) DMARC_PARAM(name, type, '\0', CMD_PARAM_FLAG_POSITIONAL)

const doveadm_cmd_param kUser = DMARC_PARAM("user", CMD_PARAM_STR, 'u', CMD_PARAM_FLAG_NONE);
const doveadm_cmd_param kLast = DMARC_OPTION(nullptr, CMD_PARAM_BOOL);

#define DMARC_FILTER_OPTIONS                                                        \
  kUser, DMARC_OPTION("domain", CMD_PARAM_STR), DMARC_OPTION("org", CMD_PARAM_STR), \
      DMARC_OPTION("since", CMD_PARAM_STR), DMARC_OPTION("until", CMD_PARAM_STR),   \
      DMARC_OPTION("limit", CMD_PARAM_INT64)
#define DMARC_FILTER_USAGE \
  "[-u <user>] [--domain <domain>] [--org <org>] [--since <time>] [--until <time>] [--limit <n>]"

const doveadm_cmd_param kImportParams[] = {kUser, DMARC_OPTION("max-size", CMD_PARAM_STR),
                                           DMARC_POSITIONAL("file", CMD_PARAM_ARRAY), kLast};
const doveadm_cmd_param kFilterParams[] = {DMARC_FILTER_OPTIONS, kLast};
const doveadm_cmd_param kIdParams[] = {kUser, DMARC_POSITIONAL("id", CMD_PARAM_STR), kLast};
const doveadm_cmd_param kShowParams[] = {kUser, DMARC_OPTION("records", CMD_PARAM_INT64),
                                         DMARC_OPTION("offset", CMD_PARAM_INT64),
                                         DMARC_POSITIONAL("id", CMD_PARAM_STR), kLast};
const doveadm_cmd_param kUserParams[] = {kUser, kLast};
const doveadm_cmd_param kReprocessParams[] = {kUser, DMARC_OPTION("unprocessed", CMD_PARAM_BOOL),
                                              DMARC_POSITIONAL("id", CMD_PARAM_ARRAY), kLast};
const doveadm_cmd_param kExportParams[] = {
    DMARC_FILTER_OPTIONS, DMARC_OPTION("format", CMD_PARAM_STR),
    DMARC_PARAM("output", CMD_PARAM_STR, 'o', CMD_PARAM_FLAG_NONE), kLast};

doveadm_cmd_ver2 kDmarcCommands[] = {
    {.cmd = CmdDmarcImport,
     .name = "dmarc import",
     .usage = "[-u <user>] [--max-size <size>] <file> [...]",
     .parameters = kImportParams},
    {.cmd = CmdDmarcList,
     .name = "dmarc list",
     .usage = DMARC_FILTER_USAGE,
     .parameters = kFilterParams},
    {.cmd = CmdDmarcShow,
     .name = "dmarc show",
     .usage = "[-u <user>] [--records <n> (default 100, 0: all)] [--offset <m>] <report id>",
     .parameters = kShowParams},
    {.cmd = CmdDmarcSummary,
     .name = "dmarc summary",
     .usage = "[-u <user>] --domain <domain> [--org <org>] [--since <time>] [--until <time>] "
              "[--limit <rows> (default 100, 0: all)]",
     .parameters = kFilterParams},
    {.cmd = CmdDmarcFailures,
     .name = "dmarc failures",
     .usage = DMARC_FILTER_USAGE,
     .parameters = kFilterParams},
    {.cmd = CmdDmarcFailureShow,
     .name = "dmarc failure show",
     .usage = "[-u <user>] <failure id>",
     .parameters = kIdParams},
    {.cmd = CmdDmarcErrors,
     .name = "dmarc errors",
     .usage = "[-u <user>]",
     .parameters = kUserParams},
    {.cmd = CmdDmarcReprocess,
     .name = "dmarc reprocess",
     .usage = "[-u <user>] [--unprocessed] [<mail id prefix> ...]",
     .parameters = kReprocessParams},
    {.cmd = CmdDmarcRollupRebuild,
     .name = "dmarc rollup-rebuild",
     .usage = "[-u <user>]",
     .parameters = kUserParams},
    {.cmd = CmdDmarcExport,
     .name = "dmarc export",
     .usage = DMARC_FILTER_USAGE " --format csv|json [--output <path>]",
     .parameters = kExportParams},
};

}  // namespace

void RegisterDmarcCommands() {
  for (doveadm_cmd_ver2& command : kDmarcCommands) doveadm_cmd_register_ver2(&command);
}

}  // namespace archiver::doveadm
