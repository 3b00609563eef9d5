// doveadm's error convention without doveadm (plugin/doveadm/doveadm-command-status.h):
// which exit code a core Status becomes, and that a command's first failure keeps its code.
#include <gtest/gtest.h>
#include <sysexits.h>

#include "doveadm/doveadm-command-status.h"

namespace archiver::doveadm {
namespace {

TEST(CommandStatusTest, CoreCategoriesMapToDoveadmExitCodes) {
  const struct {
    Status status;
    int exit_code;
  } cases[] = {
      {Status::Ok(), 0},
      {Status::NotFound("x"), 68},  // DOVEADM_EX_NOTFOUND
      {Status::InvalidArgument("x"), EX_USAGE},
      {Status::Ambiguous("x"), EX_USAGE},
      {Status::Corruption("x"), EX_DATAERR},
      {Status::PermissionDenied("x"), EX_NOPERM},
      {Status::IOError("x"), EX_TEMPFAIL},
      {Status::MapFull("x"), EX_TEMPFAIL},
      {Status::LimitExceeded("x"), EX_TEMPFAIL},
      {Status::Internal("x"), EX_SOFTWARE},  // a bug: a retry would fail the same way
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ExitCodeFor(c.status), c.exit_code) << c.status.ToString();
    if (c.status.ok()) continue;
    CommandStatus failed = CommandStatus::Of(c.status, "Message 3f: " + c.status.message());
    EXPECT_FALSE(failed.ok());
    EXPECT_EQ(failed.exit_code(), c.exit_code);
    EXPECT_EQ(failed.message(), "Message 3f: x");  // the command's words, nothing added
  }
}

TEST(CommandStatusTest, OkCarriesNoCodeAndNoMessage) {
  EXPECT_TRUE(CommandStatus().ok());
  EXPECT_TRUE(CommandStatus::Ok().ok());
  EXPECT_EQ(CommandStatus::Ok().exit_code(), 0);
  EXPECT_EQ(CommandStatus::Ok().message(), "");
}

TEST(CommandStatusTest, CodesTheCoreHasNoCategoryFor) {
  for (int code : {EX_NOUSER, EX_CONFIG, EX_SOFTWARE, EX_USAGE, EX_CANTCREAT, EX_IOERR}) {
    CommandStatus failed = CommandStatus::Failed(code, "why");
    EXPECT_FALSE(failed.ok());
    EXPECT_EQ(failed.exit_code(), code);
    EXPECT_EQ(failed.message(), "why");
  }
}

TEST(CommandStatusTest, TheFirstFailureKeepsItsCode) {
  const CommandStatus usage = CommandStatus::Failed(EX_USAGE, "a");
  const CommandStatus data = CommandStatus::Failed(EX_DATAERR, "b");
  EXPECT_EQ(CombinedExitCode(0, CommandStatus::Ok()), 0);
  EXPECT_EQ(CombinedExitCode(0, data), EX_DATAERR);
  EXPECT_EQ(CombinedExitCode(EX_DATAERR, usage), EX_DATAERR);
  EXPECT_EQ(CombinedExitCode(EX_USAGE, CommandStatus::Ok()), EX_USAGE);
  // A loop that reports each item's failure and goes on: the first code is the command's.
  int code = 0;
  for (const CommandStatus& item : {CommandStatus::Ok(), data, CommandStatus::Ok(), usage})
    code = CombinedExitCode(code, item);
  EXPECT_EQ(code, EX_DATAERR);
}

}  // namespace
}  // namespace archiver::doveadm
