// The glue's one size parser and one duration parser (archiver-units.h): every form the
// settings and doveadm's options accept, and what each refuses.
#include <gtest/gtest.h>

#include <string>

#include "common/archiver-units.h"

namespace archiver::plugin {
namespace {

TEST(UnitsTest, SizesAsDovecotWritesThem) {
  const std::pair<const char*, uint64_t> good[] = {
      {"16G", 16ULL << 30}, {"16GB", 16ULL << 30}, {"16gb", 16ULL << 30}, {"512M", 512ULL << 20},
      {"10m", 10ULL << 20}, {"1024k", 1ULL << 20}, {"1T", 1ULL << 40},    {"4096", 4096},
      {"4096b", 4096},      {"0", 0},              {"16777215T", 16777215ULL << 40}};
  for (const auto& [text, bytes] : good) {
    Result<uint64_t> size = ParseSize(text);
    ASSERT_TRUE(size.ok()) << text;
    EXPECT_EQ(*size, bytes) << text;
  }
  for (const char* text : {"", "lots", "-1", "+1", " 1G", "1 G", "1P", "1Gi", "1bb", "G",
                           "16777216T", "18446744073709551616", "1.5G"})
    EXPECT_FALSE(ParseSize(text).ok()) << text;
}

TEST(UnitsTest, SettingDurationsInMilliseconds) {
  const std::pair<const char*, uint64_t> good[] = {
      {"30s", 30'000},   {"30", 30'000},        {"2 min", 120'000},  {"2MIN", 120'000},
      {"10mins", 600'000}, {"1 minute", 60'000}, {"5 seconds", 5000}, {"500ms", 500},
      {"500 msecs", 500}, {"1m", 60'000},        {"0", 0}};
  for (const auto& [text, millis] : good) {
    Result<uint64_t> duration = ParseDuration(text, DurationSyntax::kSetting);
    ASSERT_TRUE(duration.ok()) << text;
    EXPECT_EQ(*duration, millis) << text;
  }
  for (const char* text : {"", "forever", "1h", "1d", "-1s", " 1s", "1.5s", "s"})
    EXPECT_FALSE(ParseDuration(text, DurationSyntax::kSetting).ok()) << text;
}

TEST(UnitsTest, OptionDurationsInSeconds) {
  const std::pair<const char*, uint64_t> good[] = {{"90s", 90},       {"90", 90},
                                                   {"15m", 900},      {"2h", 7200},
                                                   {"1d", 86'400},    {"1w", 604'800}};
  for (const auto& [text, seconds] : good) {
    Result<uint64_t> duration = ParseDuration(text, DurationSyntax::kOption);
    ASSERT_TRUE(duration.ok()) << text;
    EXPECT_EQ(*duration, seconds) << text;
  }
  // Exactly the short forms: no spaces, no long words, no capitals, no milliseconds.
  for (const char* text : {"", "2 h", "2H", "15min", "500ms", "1y", "-1d", "d",
                           "99999999999999999999"})
    EXPECT_FALSE(ParseDuration(text, DurationSyntax::kOption).ok()) << text;
}

TEST(UnitsTest, DurationsAreFormattedWithTheLargestUnitThatDivides) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(90), "90s");
  EXPECT_EQ(FormatDuration(900), "15m");
  EXPECT_EQ(FormatDuration(7200), "2h");
  EXPECT_EQ(FormatDuration(2 * 86'400), "2d");
  EXPECT_EQ(FormatDuration(14 * 86'400), "2w");
  for (uint64_t seconds : {1ULL, 61ULL, 3600ULL, 86'401ULL, 604'800ULL})
    EXPECT_EQ(*ParseDuration(FormatDuration(seconds), DurationSyntax::kOption), seconds);
}

}  // namespace
}  // namespace archiver::plugin
