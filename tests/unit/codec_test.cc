// zlib payload codec: round trips, incompressible input, and hostile streams.
#include "codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "test_util.h"

namespace archiver::codec {
namespace {

std::string Compress(std::string_view input, int level = 6) {
  std::string out;
  EXPECT_TRUE(DeflateAppend(input, level, &out));
  return out;
}

TEST(CodecTest, RoundTrips) {
  const std::string inputs[] = {
      "a",
      std::string(1000, 'x'),
      "Subject: hello\r\n\r\n" + std::string(5000, 'y'),
      std::string(3 << 20, '\0'),
  };
  for (const std::string& input : inputs) {
    std::string compressed;
    if (!DeflateAppend(input, 6, &compressed)) {
      EXPECT_LT(input.size(), 20u) << "only tiny inputs may fail to shrink";
      continue;
    }
    EXPECT_LT(compressed.size(), input.size());
    std::string output(input.size(), '?');
    ASSERT_TRUE(InflateExact(compressed, output.data(), output.size()).ok());
    EXPECT_EQ(output, input);
  }
}

TEST(CodecTest, AppendsAfterExistingBytes) {
  std::string out = "HEADER";
  std::string input(4096, 'z');
  ASSERT_TRUE(DeflateAppend(input, 9, &out));
  EXPECT_EQ(out.substr(0, 6), "HEADER");
  std::string output(input.size(), '\0');
  EXPECT_TRUE(InflateExact(std::string_view(out).substr(6), output.data(), output.size()).ok());
  EXPECT_EQ(output, input);
}

TEST(CodecTest, IncompressibleInputIsLeftAlone) {
  std::string random = testing::RandomBytes(100000, 1);
  std::string out = "keep";
  EXPECT_FALSE(DeflateAppend(random, 6, &out));
  EXPECT_EQ(out, "keep");
  EXPECT_FALSE(DeflateAppend("", 6, &out));
}

TEST(CodecTest, HostileStreamsAreCorruption) {
  std::string input = std::string(10000, 'q') + "tail";
  std::string good = Compress(input);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x55;
  std::string checksum_flipped = good;
  checksum_flipped.back() ^= 0x01;
  struct Case {
    std::string name;
    std::string stream;
    uint64_t raw_size;
  } cases[] = {
      {"recorded size too small", good, input.size() - 1},
      {"recorded size too large", good, input.size() + 1},
      {"truncated", good.substr(0, good.size() - 5), input.size()},
      {"flipped byte", flipped, input.size()},
      {"flipped checksum", checksum_flipped, input.size()},
      {"trailing bytes", good + "junk", input.size()},
      {"garbage", "this is not zlib", 100},
      {"empty stream", "", 0},
      {"zero size, garbage", "xx", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string output(c.raw_size + 1, '\x7f');  // one guard byte past the recorded size
    Status status = InflateExact(c.stream, output.data(), c.raw_size);
    EXPECT_EQ(status.code(), Status::Code::kCorruption) << status.ToString();
    EXPECT_EQ(output.back(), '\x7f') << "wrote past the recorded size";
  }
}

TEST(CodecTest, EmptyInputStream) {
  // A valid zlib stream of zero bytes decodes to exactly zero bytes.
  std::string empty_stream;
  empty_stream.resize(compressBound(0));
  uLongf length = empty_stream.size();
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(empty_stream.data()), &length,
                      reinterpret_cast<const Bytef*>(""), 0, 6),
            Z_OK);
  empty_stream.resize(length);
  EXPECT_TRUE(InflateExact(empty_stream, nullptr, 0).ok());
}

}  // namespace
}  // namespace archiver::codec
