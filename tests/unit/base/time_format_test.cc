// Time arguments and UTC formatting.
#include "archiver/time_format.h"

#include <gtest/gtest.h>

namespace archiver {
namespace {

constexpr uint64_t kSecond = 1000000;
constexpr uint64_t kNow = 1714567890 * kSecond;  // 2024-05-01T12:51:30Z

TEST(TimeFormatTest, ParsesAccepted) {
  struct Case {
    std::string text;
    uint64_t expected_seconds;
  } cases[] = {
      {"2024-05-01", 1714521600},
      {"2024-05-01T12:34", 1714566840},
      {"2024-05-01T12:34:56", 1714566896},
      {"2024-05-01T12:34:56Z", 1714566896},
      {"2024-05-01 12:34:56", 1714566896},
      {"2024-05-01T12:34:56.789Z", 1714566896},
      {"2024-05-01T14:34:56+02:00", 1714566896},
      {"2024-05-01T10:34:56-0200", 1714566896},
      {"  2024-05-01  ", 1714521600},
      {"2024-02-29", 1709164800},
      {"2000-02-29T23:59:59", 951868799},
      {"1970-01-01", 0},
      {"@1714567890", 1714567890},
      {"@0", 0},
      {"7d", 1714567890 - 7 * 86400},
      {"12h", 1714567890 - 12 * 3600},
      {"30m", 1714567890 - 30 * 60},
      {"2w", 1714567890 - 14 * 86400},
      {"45s", 1714567890 - 45},
      {"100000w", 0},  // before the epoch: clamped
      {"now", 1714567890},
      {"today", 1714521600},
      {"Yesterday", 1714521600 - 86400},
  };
  for (const auto& c : cases) {
    Result<uint64_t> parsed = ParseTimeArgument(c.text, kNow);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, c.expected_seconds * kSecond) << c.text;
  }
}

TEST(TimeFormatTest, RejectsInvalid) {
  const std::string cases[] = {
      "",
      "tomorrow",
      "2024-02-30",
      "2023-02-29",
      "1900-02-29",
      "2024-13-01",
      "2024-00-10",
      "2024-04-31",
      "2024-5-1",
      "2024-05-01T24:00",
      "2024-05-01T12:60",
      "2024-05-01T12:34:61",
      "2024-05-01T12",
      "2024-05-01X",
      "2024-05-01T12:34+25:00",
      "1969-12-31",
      "@",
      "@-5",
      "@12x",
      "7",
      "d",
      "7y",
      "-7d",
      "99999999999999999999d",
      "@99999999999999999999",
  };
  for (const std::string& text : cases) {
    Result<uint64_t> parsed = ParseTimeArgument(text, kNow);
    EXPECT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << (parsed.ok() ? *parsed : 0);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(parsed.status().message().find("'" + text + "'"), std::string::npos);
    }
  }
}

TEST(TimeFormatTest, FormatsUtc) {
  EXPECT_EQ(FormatTimeUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimeUtc(kNow + 999999), "2024-05-01T12:51:30Z");
  EXPECT_EQ(FormatTimeUtc(951868799 * kSecond), "2000-02-29T23:59:59Z");
  Result<uint64_t> back = ParseTimeArgument(FormatTimeUtc(kNow), 0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, kNow);
}

TEST(TimeFormatTest, NowIsPlausible) {
  uint64_t now = NowMicros();
  EXPECT_GT(now, kNow);                     // after this test was written
  EXPECT_LT(now, 4102444800ULL * kSecond);  // before 2100
}

}  // namespace
}  // namespace archiver
