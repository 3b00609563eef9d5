// Status and Result: rendering and value access.
#include "archiver/status.h"

#include <gtest/gtest.h>

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
