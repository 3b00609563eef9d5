// SHA-256 ids: known vectors, incremental use, hex spelling.
#include "archiver/digest.h"

#include <gtest/gtest.h>

namespace archiver {
namespace {

TEST(DigestTest, KnownVectors) {
  struct Case {
    std::string input;
    std::string hex;
  } cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {std::string("a\0b", 3), "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138"},
  };
  for (const Case& c : cases) EXPECT_EQ(ToHex(Sha256::Of(c.input)), c.hex);
  Sha256 hasher;
  hasher.Update(std::string_view("a\0", 2));
  hasher.Update("b");
  EXPECT_EQ(hasher.Finish(), Sha256::Of(cases[2].input));
}

TEST(DigestTest, IncrementalMatchesOneShotAndResets) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 hasher;
  for (size_t i = 0; i < data.size(); i += 999)
    hasher.Update(std::string_view(data).substr(i, 999));
  EXPECT_EQ(hasher.Finish(), Sha256::Of(data));
  hasher.Update("abc");  // reusable after Finish
  EXPECT_EQ(ToHex(hasher.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(hasher.Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 moved = std::move(hasher);
  moved.Update("abc");
  EXPECT_EQ(moved.Finish(), Sha256::Of("abc"));
}

TEST(DigestTest, HexRoundTrip) {
  MessageId id = Sha256::Of("hello");
  std::string hex = ToHex(id);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(MessageIdFromHex(hex), id);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  EXPECT_EQ(MessageIdFromHex(upper), id);
  EXPECT_FALSE(MessageIdFromHex(hex.substr(1)));
  EXPECT_FALSE(MessageIdFromHex(hex + "0"));
  hex[10] = 'g';
  EXPECT_FALSE(MessageIdFromHex(hex));
}

TEST(DigestTest, HexPrefix) {
  struct Case {
    std::string text;
    bool prefix;
  } cases[] = {{"a", true},
               {"0123456789abcdefABCDEF", true},
               {"", false},
               {"xyz", false},
               {"12 34", false},
               {std::string(64, 'f'), true},
               {std::string(65, 'f'), false}};
  for (const Case& c : cases) EXPECT_EQ(IsHexPrefix(c.text), c.prefix) << c.text;
}

}  // namespace
}  // namespace archiver
