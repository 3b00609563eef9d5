// Status and Result: rendering and value access.
#include "archiver/status.h"

#include <gtest/gtest.h>

#include <new>
#include <stdexcept>
#include <system_error>

namespace archiver {
namespace {

TEST(StatusTest, ToStringNamesTheCategory) {
  struct Case {
    Status status;
    std::string expected;
  } cases[] = {
      {Status::Ok(), "OK"},
      {Status::NotFound("no archive at /x"), "NotFound: no archive at /x"},
      {Status::Corruption("message 3f: hash mismatch"), "Corruption: message 3f: hash mismatch"},
      {Status::IOError("disk"), "IOError: disk"},
      {Status::InvalidArgument("bad"), "InvalidArgument: bad"},
      {Status::LimitExceeded("big"), "LimitExceeded: big"},
      {Status::MapFull("full"), "MapFull: full"},
      {Status::Ambiguous("two"), "Ambiguous: two"},
      {Status::PermissionDenied("link"), "PermissionDenied: link"},
      {Status::IOError(""), "IOError"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.ToString(), c.expected);
    EXPECT_EQ(c.status.ok(), c.status.code() == Status::Code::kOk);
  }
}

TEST(StatusTest, CodeNames) {
  EXPECT_STREQ(StatusCodeName(Status::Code::kOk), "OK");
  EXPECT_STREQ(StatusCodeName(Status::Code::kMapFull), "MapFull");
  EXPECT_STREQ(StatusCodeName(Status::Code::kCorruption), "Corruption");
}

// What may pass (memory, a system call) is an IOError; any other exception is a bug.
TEST(StatusTest, GuardedTellsTransientFailuresFromBugs) {
  Status oom = Guarded([]() -> Status { throw std::bad_alloc(); }, "job: ");
  EXPECT_EQ(oom.code(), Status::Code::kIOError);
  EXPECT_EQ(oom.message(), "job: out of memory");
  Status system = Guarded([]() -> Status {
    throw std::system_error(std::make_error_code(std::errc::no_space_on_device), "write");
  });
  EXPECT_EQ(system.code(), Status::Code::kIOError);
  EXPECT_NE(system.message().find("write"), std::string::npos);
  Status bug = Guarded([]() -> Status { throw std::out_of_range("vector::at"); });
  EXPECT_EQ(bug.code(), Status::Code::kInternal);
  EXPECT_EQ(bug.ToString(), "Internal: vector::at");
  Status odd = Guarded([]() -> Status { throw 7; });
  EXPECT_EQ(odd.code(), Status::Code::kInternal);
  EXPECT_TRUE(Guarded([] { return Status::Ok(); }).ok());
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> value = 42;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  Result<int> failed = Status::NotFound("x");
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kNotFound);
  Result<std::string> text = std::string("abc");
  EXPECT_EQ(text->size(), 3u);
  std::string moved = std::move(text).value();
  EXPECT_EQ(moved, "abc");
}

}  // namespace
}  // namespace archiver
