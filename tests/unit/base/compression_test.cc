// Compression: round trips at every level, standard zlib framing, concurrent use,
// incompressible input, and hostile streams.
#include "base/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <thread>
#include <vector>

#include "test_util.h"

namespace archiver::compression {
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

// Every level writes a standard zlib stream: zlib's own uncompress reads it back, and a
// higher level never produces a larger stream on text.
TEST(CodecTest, EveryLevelWritesStandardZlib) {
  std::string input;
  for (int line = 0; input.size() < 200000; ++line) {
    input += "Received: from mx" + std::to_string(line % 97) + ".example.net by mail.example.org;"
             " line " + std::to_string(line) + "\r\n";
  }
  size_t fastest = 0, smallest = 0;
  for (int level = 1; level <= 9; ++level) {
    std::string compressed = Compress(input, level);
    std::string output(input.size(), '?');
    uLongf output_size = output.size();
    ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(output.data()), &output_size,
                         reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()),
              Z_OK) << "level " << level;
    ASSERT_EQ(output_size, input.size());
    EXPECT_EQ(output, input) << "level " << level;
    if (level == 1) fastest = compressed.size();
    if (level == 9) smallest = compressed.size();
  }
  EXPECT_LE(smallest, fastest);
}

TEST(CodecTest, LevelsOutsideOneToNineAreRefused) {
  std::string out = "keep";
  EXPECT_FALSE(DeflateAppend(std::string(5000, 'a'), 0, &out));
  EXPECT_FALSE(DeflateAppend(std::string(5000, 'a'), 10, &out));
  EXPECT_EQ(out, "keep");
}

// Threads compressing at once (the delivery write thread beside an APPEND, sources)
// share the pool of compressors: each gets its own, and every output is right.
TEST(CodecTest, ConcurrentCompressionRoundTrips) {
  std::vector<std::thread> threads;
  std::vector<int> failures(6, 0);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([t, &failures] {
      for (int round = 0; round < 50; ++round) {
        std::string input = "thread " + std::to_string(t) + " round " + std::to_string(round) +
                            "\r\n" + std::string(3000 + 100 * t, static_cast<char>('a' + t));
        std::string compressed;
        int level = 1 + (t + round) % 9;
        if (!DeflateAppend(input, level, &compressed)) {
          ++failures[t];
          continue;
        }
        std::string output(input.size(), '?');
        if (!InflateExact(compressed, output.data(), output.size()).ok() || output != input)
          ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 6; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
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

// Short values against a preset dictionary: the dictionary makes them small, the reader
// must give the same one, and a stream that does not yield the stated size is Corruption.
TEST(PrimedDeflateTest, RoundTripsOnlyWithTheSameDictionary) {
  const std::string dictionary = "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.org";
  const std::string value = "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.org\r\n";
  std::string packed = "kept";
  ASSERT_TRUE(DeflatePrimed(value, dictionary, &packed));
  ASSERT_EQ(packed.substr(0, 4), "kept");  // appended
  packed.erase(0, 4);
  EXPECT_LT(packed.size(), 16u);
  std::string out;
  ASSERT_TRUE(InflatePrimed(packed, dictionary, value.size(), &out).ok());
  EXPECT_EQ(out, value);
  // Another dictionary yields other bytes or fails; never the value.
  Status other = InflatePrimed(packed, "another dictionary entirely, of other words", value.size(), &out);
  EXPECT_TRUE(!other.ok() || out != value);
  EXPECT_EQ(InflatePrimed(packed, dictionary, value.size() - 1, &out).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(InflatePrimed(packed, dictionary, value.size() + 1, &out).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(InflatePrimed(packed.substr(0, packed.size() / 2), dictionary, value.size(), &out)
                .code(),
            Status::Code::kCorruption);
  EXPECT_EQ(InflatePrimed(packed + "x", dictionary, value.size(), &out).code(),
            Status::Code::kCorruption);
  EXPECT_EQ(InflatePrimed(packed, dictionary, kMaxPrimedInput + 1, &out).code(),
            Status::Code::kCorruption);
  // Nothing to gain: not compressed, the output as it was.
  std::string unchanged = "x";
  EXPECT_FALSE(DeflatePrimed("\x01\xfe", dictionary, &unchanged));
  EXPECT_FALSE(DeflatePrimed("", dictionary, &unchanged));
  EXPECT_EQ(unchanged, "x");
}

TEST(PrimedDeflateTest, EachThreadHasItsOwnStreams) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 500; ++i) {
        const std::string dictionary = "user" + std::to_string(t) + "@example.org ";
        const std::string value = dictionary + dictionary + std::to_string(i) + dictionary;
        std::string packed, out;
        if (!DeflatePrimed(value, dictionary, &packed) ||
            !InflatePrimed(packed, dictionary, value.size(), &out).ok() || out != value)
          ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace archiver::compression
