// `doveadm dmarc rollup-rebuild`: completes the rollups of the reports stored before
// rollups existed (DmarcStore::BuildRollups), so that `dmarc summary` reads them instead
// of the records. Online (short write transactions) and resumable: run it again after an
// interruption and it goes on where it stopped. Prints what it built.
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"

namespace archiver::doveadm {

void CmdDmarcRollupRebuild(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, true, &archive); !opened.ok()) return opened;
    // The records were written from reports anyone may send: handled as the owner only.
    if (CommandStatus dropped = DropRootForGoodBefore(archive, "building DMARC rollups");
        !dropped.ok())
      return dropped;
    Result<DmarcRollupBuild> built = archive.dmarc->BuildRollups();
    if (!built.ok())
      return CommandStatus::Of(built.status(),
                               "Building rollups failed: " + built.status().ToString() +
                                   " (what was committed stays; run it again to go on)");
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    for (const char* field : {"reports", "records"})
      doveadm_print_header(field, field, DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    doveadm_print_num(built->reports);
    doveadm_print_num(built->records);
    return CommandStatus::Ok();
  });
}

}  // namespace archiver::doveadm
