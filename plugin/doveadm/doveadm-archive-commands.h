// The `doveadm archive …` command bodies (registered in doveadm-archive.cc).
#pragma once

#include "doveadm/doveadm-archive-dovecot.h"

namespace archiver::doveadm {

void CmdArchiveList(struct doveadm_cmd_context* cctx);
void CmdArchiveShow(struct doveadm_cmd_context* cctx);
void CmdArchiveFetch(struct doveadm_cmd_context* cctx);
void CmdArchiveExport(struct doveadm_cmd_context* cctx);
void CmdArchiveStats(struct doveadm_cmd_context* cctx);
void CmdArchiveVerify(struct doveadm_cmd_context* cctx);
void CmdArchiveRepair(struct doveadm_cmd_context* cctx);
void CmdArchiveReindex(struct doveadm_cmd_context* cctx);
void CmdArchiveMigrate(struct doveadm_cmd_context* cctx);

}  // namespace archiver::doveadm
