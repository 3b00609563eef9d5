// The shared value encoding: one layout round trips every field kind; every truncation,
// a zero or newer version, an overlong varint, out-of-range numbers, flags and enums,
// and a list count beyond the bytes left are Corruption naming the value.
#include "base/value_codec.h"

#include <gtest/gtest.h>

#include <limits>

namespace archiver::value_codec {
namespace {

enum class Colour { kRed, kGreen, kBlue };

struct Item {
  uint32_t number = 0;
  std::string text;
  bool operator==(const Item&) const = default;
};

struct Sample {
  bool flag = false;
  uint64_t big = 0;
  uint32_t small = 0;
  int64_t signed_big = 0;
  std::optional<int> maybe;
  Colour colour = Colour::kRed;
  std::string text;
  std::array<uint8_t, 4> id{};
  std::vector<std::string> texts;
  std::vector<Item> items;
  std::string since_two;  // written from version 2 on
  bool operator==(const Sample&) const = default;
};

constexpr uint8_t kCurrent = 2;

template <typename Io, typename T>
void SampleLayout(Io& io, T& sample, uint8_t written = kCurrent) {
  const uint8_t version = io.Version(kCurrent, written);
  io.Flag(sample.flag);
  io.Varint(sample.big);
  io.Varint(sample.small);
  io.Signed(sample.signed_big);
  io.Optional(sample.maybe, [&](auto& number) { io.Signed(number); });
  io.EnumValue(sample.colour, Colour::kBlue);
  io.String(sample.text);
  io.Bytes(sample.id);
  io.Strings(sample.texts);
  io.List(sample.items, [&](auto& item) {
    io.Varint(item.number);
    io.String(item.text);
  });
  if (version >= 2) {
    io.String(sample.since_two);
  } else {
    io.Missing(sample.since_two);
  }
}

Sample Full() {
  Sample sample;
  sample.flag = true;
  sample.big = std::numeric_limits<uint64_t>::max();
  sample.small = std::numeric_limits<uint32_t>::max();
  sample.signed_big = std::numeric_limits<int64_t>::min();
  sample.maybe = -5;
  sample.colour = Colour::kBlue;
  sample.text = std::string("nul\0byte", 8);
  sample.id = {1, 2, 3, 4};
  sample.texts = {"a", ""};
  sample.items = {{7, "seven"}, {0, ""}};
  sample.since_two = "later";
  return sample;
}

std::string EncodeSample(const Sample& sample, uint8_t written = kCurrent) {
  return Encode(sample, [&](Writer& out, const Sample& v) { SampleLayout(out, v, written); });
}

Status DecodeSample(std::string_view bytes, Sample* sample) {
  return Decode(bytes, "sample value", sample, [](Reader& in, Sample& v) { SampleLayout(in, v); });
}

TEST(ValueCodec, RoundTripsEveryFieldKind) {
  for (const Sample& sample : {Full(), Sample{}}) {
    const std::string bytes = EncodeSample(sample);
    EXPECT_EQ(bytes[0], kCurrent);
    Sample decoded;
    ASSERT_TRUE(DecodeSample(bytes, &decoded).ok());
    EXPECT_EQ(decoded, sample);
    // Bytes after the known fields belong to a later compatible version.
    ASSERT_TRUE(DecodeSample(bytes + "later", &decoded).ok());
    EXPECT_EQ(decoded, sample);
  }
}

TEST(ValueCodec, TheBytesAreTheDocumentedOnes) {
  Sample sample;
  sample.flag = true;
  sample.big = 300;
  sample.signed_big = -2;
  sample.maybe = 1;
  sample.colour = Colour::kGreen;
  sample.text = "ab";
  sample.items = {{1, "c"}};
  sample.since_two = "d";
  constexpr char kExpected[] =
      "\x02"      // version
      "\x01"      // flag
      "\xAC\x02"  // 300
      "\x00"      // 0
      "\x03"      // zigzag -2
      "\x01\x02"  // present, zigzag 1
      "\x01"      // green
      "\x02"
      "ab"                // string
      "\x00\x00\x00\x00"  // id
      "\x00"              // no texts
      "\x01\x01\x01"
      "c"  // one item
      "\x01"
      "d";  // since version 2
  EXPECT_EQ(EncodeSample(sample), std::string(kExpected, sizeof kExpected - 1));
}

TEST(ValueCodec, AnOlderVersionLacksItsLaterFields) {
  Sample full = Full();
  const std::string one = EncodeSample(full, 1);
  EXPECT_EQ(one[0], 1);
  Sample decoded;
  decoded.since_two = "stale";
  ASSERT_TRUE(DecodeSample(one, &decoded).ok());
  full.since_two.clear();
  EXPECT_EQ(decoded, full);
}

TEST(ValueCodec, EveryTruncationIsCorruption) {
  const std::string bytes = EncodeSample(Full());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    Sample decoded;
    Status status = DecodeSample(bytes.substr(0, cut), &decoded);
    EXPECT_EQ(status.code(), Status::Code::kCorruption) << "cut at " << cut;
    EXPECT_EQ(status.message(), cut == 0 ? "sample value is empty" : "sample value is truncated")
        << "cut at " << cut;
  }
}

TEST(ValueCodec, MalformedValuesAreCorruptionNamingTheProblem) {
  const std::string good = EncodeSample(Sample{});
  // Sample{}: version, flag, big, small, signed, optional, colour, text, id (4), texts,
  // items, since_two.
  ASSERT_EQ(good, "\x02" + std::string(14, '\0'));
  auto with = [&](size_t offset, std::string_view bytes) {
    return good.substr(0, offset) + std::string(bytes) + good.substr(offset + 1);
  };
  struct Case {
    const char* name;
    std::string bytes;
    const char* message;
  } cases[] = {
      {"version 0", with(0, std::string(1, '\0')), "sample value has unknown version 0"},
      {"newer version", with(0, "\x03"), "sample value has unknown version 3"},
      {"flag 2", with(1, "\x02"), "sample value has a flag other than 0 or 1"},
      {"overlong varint", with(2, std::string(10, '\xFF') + '\x01'),
       "sample value has a varint beyond 64 bits"},
      {"varint beyond 64 bits", with(2, std::string(9, '\xFF') + '\x02'),
       "sample value has a varint beyond 64 bits"},
      {"number beyond 32 bits", with(3, "\x80\x80\x80\x80\x10"),
       "sample value has a number beyond 32 bits"},
      {"optional beyond int", with(5, "\x01\x80\x80\x80\x80\x10"),
       "sample value has a signed number out of range"},
      {"unknown enumerated value", with(6, "\x03"), "sample value has an unknown enumerated value"},
      {"string longer than the value", with(7, "\x7F"), "sample value is truncated"},
      {"list count beyond the bytes", with(12, "\xFF\xFF\xFF\xFF\x0F"),
       "sample value is truncated"},
  };
  for (const Case& c : cases) {
    Sample decoded;
    Status status = DecodeSample(c.bytes, &decoded);
    EXPECT_EQ(status.code(), Status::Code::kCorruption) << c.name;
    EXPECT_EQ(status.message(), c.message) << c.name;
  }
}

TEST(ValueCodec, AListCountIsCheckedAgainstTheBytesLeftBeforeAllocating) {
  std::string bytes;
  PutVarint(3, &bytes);
  bytes += "\x01\x02";  // three items of at least one byte cannot fit in two
  Reader reader(bytes);
  std::vector<uint64_t> items;
  reader.List(items, [&](uint64_t& item) { reader.Varint(item); });
  EXPECT_FALSE(reader.ok());
  EXPECT_EQ(items.capacity(), 0u);
  // With items of at least two bytes, two are too many for three bytes.
  bytes.clear();
  PutVarint(2, &bytes);
  bytes += "abc";
  Reader wide(bytes);
  std::vector<std::string> texts;
  wide.List(
      texts, [&](std::string& text) { wide.String(text); }, 2);
  EXPECT_FALSE(wide.ok());
}

TEST(ValueCodec, StringViewsPointIntoTheValue) {
  std::string bytes;
  PutString("hello", &bytes);
  Reader reader(bytes);
  std::string_view view;
  reader.String(view);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(view, "hello");
  EXPECT_EQ(view.data(), bytes.data() + 1);
  EXPECT_TRUE(reader.rest().empty());
}

TEST(ValueCodec, PrimitivesLeaveTheInputAloneOnFailure) {
  std::string bytes;
  PutString("text", &bytes);
  std::string_view in = std::string_view(bytes).substr(0, 3);
  std::string text = "kept";
  EXPECT_FALSE(GetString(&in, &text));
  EXPECT_EQ(in.size(), 3u);
  EXPECT_EQ(text, "kept");
  in = bytes;
  ASSERT_TRUE(GetString(&in, &text));
  EXPECT_EQ(text, "text");
  EXPECT_TRUE(in.empty());

  char big_endian[8];
  PutBigEndian64(0x0102030405060708ULL, big_endian);
  EXPECT_EQ(std::string_view(big_endian, 8), "\x01\x02\x03\x04\x05\x06\x07\x08");
  EXPECT_EQ(GetBigEndian64(big_endian), 0x0102030405060708ULL);
}

}  // namespace
}  // namespace archiver::value_codec
