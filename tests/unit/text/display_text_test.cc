// DisplayText: control characters from hostile text are shown, never sent to a terminal.
#include "archiver/display_text.h"

#include <gtest/gtest.h>

namespace archiver {
namespace {

TEST(DisplayTextTest, PlainTextIsUnchanged) {
  for (std::string_view text : {"", "Org One", "Grüße aus Köln", "a\\b", "C:\\path", "€ 5"}) {
    EXPECT_FALSE(NeedsDisplayEscape(text)) << text;
    EXPECT_EQ(DisplayText(text), text);
  }
}

TEST(DisplayTextTest, ControlCharactersAreShownEscaped) {
  EXPECT_EQ(DisplayText("\x1b[31mRED\x1b[0m"), "\\x1b[31mRED\\x1b[0m");
  EXPECT_EQ(DisplayText("a\tb\r\nc"), "a\\x09b\\x0d\\x0ac");
  EXPECT_EQ(DisplayText(std::string_view("nul\0end", 7)), "nul\\x00end");
  EXPECT_EQ(DisplayText("del\x7f"), "del\\x7f");
  // C1 CSI (U+009B) in UTF-8, which some terminals take for ESC [.
  EXPECT_EQ(DisplayText("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
  // Not a C1 control: U+00A0 and a stray 0xC2 at the end pass unchanged.
  EXPECT_EQ(DisplayText("\xc2\xa0x\xc2"), "\xc2\xa0x\xc2");
  EXPECT_TRUE(NeedsDisplayEscape("\x1b"));
}

TEST(DisplayTextTest, ABackslashThatLooksLikeAnEscapeIsDoubled) {
  // Otherwise "\x1b" typed literally would read like an escaped ESC.
  EXPECT_EQ(DisplayText("\\x1b"), "\\\\x1b");
  EXPECT_TRUE(NeedsDisplayEscape("\\x41"));
}

}  // namespace
}  // namespace archiver
