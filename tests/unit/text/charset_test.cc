// Charset helpers: UTF-8 validation and repair, windows-1252, iconv conversion.
#include "text/charset.h"

#include <gtest/gtest.h>

namespace archiver::charset {
namespace {

TEST(HeaderCharsetTest, Utf8Validation) {
  struct Case {
    std::string bytes;
    bool valid;
  } cases[] = {
      {"", true},
      {"plain", true},
      {"Jörg €𝄞", true},
      {"\xC3", false},              // truncated
      {"\xC0\xAF", false},          // overlong "/"
      {"\xE0\x80\xAF", false},      // overlong
      {"\xED\xA0\x80", false},      // surrogate
      {"\xF4\x90\x80\x80", false},  // above U+10FFFF
      {"\xFF", false},
      {"\x80", false},
  };
  for (const auto& c : cases) EXPECT_EQ(IsValidUtf8(c.bytes), c.valid) << c.bytes;
}

TEST(HeaderCharsetTest, RepairAndFallbacks) {
  std::string out;
  AppendUtf8Repaired(
      "a\xFF"
      "b\xC3",
      &out);
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  out.clear();
  AppendUtf8OrWindows1252("J\xC3\xB6rg J\xF6rg \x80 \x81", &out);
  EXPECT_EQ(out, "Jörg Jörg € \xEF\xBF\xBD");
  out.clear();
  AppendWindows1252("\x93quoted\x94", &out);
  EXPECT_EQ(out, "“quoted”");
}

TEST(HeaderCharsetTest, IconvConversion) {
  std::string out;
  EXPECT_TRUE(AppendInCharset("KOI8-R", "\xF0\xD2\xC9\xD7\xC5\xD4", &out));
  EXPECT_EQ(out, "Привет");
  out.clear();
  EXPECT_TRUE(AppendInCharset("gb2312", "\xC4\xE3\xBA\xC3", &out));
  EXPECT_EQ(out, "你好");
  out.clear();
  EXPECT_TRUE(AppendInCharset("shift_jis", "\x82\xA0\xFF", &out));  // invalid trailing byte
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_EQ(out.substr(0, 3), "あ");
  EXPECT_FALSE(AppendInCharset("no-such-charset", "x", &out));
  EXPECT_FALSE(AppendInCharset("utf-8//TRANSLIT", "x", &out));
  EXPECT_FALSE(IsKnownCharset(""));
  EXPECT_TRUE(IsKnownCharset("ISO-8859-15"));
}

TEST(HeaderCharsetTest, CleanControls) {
  EXPECT_EQ(CleanControls("a\tb\r\nc"), "a b  c");
  EXPECT_EQ(CleanControls(std::string("a\0b\x7F", 4)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(CleanControls("x\xC2\x85y é"), "x\xEF\xBF\xBDy é");  // C1 control NEL
}

}  // namespace
}  // namespace archiver::charset
