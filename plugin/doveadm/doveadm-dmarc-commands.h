// The `doveadm dmarc …` command bodies, and their registration (called from the doveadm
// module's init in doveadm-archive.cc).
#pragma once

#include "doveadm/doveadm-archive-dovecot.h"

namespace archiver::doveadm {

void RegisterDmarcCommands();

void CmdDmarcImport(struct doveadm_cmd_context* cctx);     // doveadm-dmarc-import.cc
void CmdDmarcReprocess(struct doveadm_cmd_context* cctx);  // doveadm-dmarc-reprocess.cc
void CmdDmarcList(struct doveadm_cmd_context* cctx);       // doveadm-dmarc-query.cc
void CmdDmarcShow(struct doveadm_cmd_context* cctx);
void CmdDmarcSummary(struct doveadm_cmd_context* cctx);
void CmdDmarcFailures(struct doveadm_cmd_context* cctx);  // doveadm-dmarc-ledger.cc
void CmdDmarcFailureShow(struct doveadm_cmd_context* cctx);
void CmdDmarcErrors(struct doveadm_cmd_context* cctx);
void CmdDmarcExport(struct doveadm_cmd_context* cctx);  // doveadm-dmarc-export.cc
void CmdDmarcRollupRebuild(struct doveadm_cmd_context* cctx);  // doveadm-dmarc-rollups.cc

}  // namespace archiver::doveadm
