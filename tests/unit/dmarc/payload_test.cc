// Report payload containers: detection by content, round trips, gzip/zip quirks, bombs,
// corruption, nesting, and the shared corpus. Every input is built here, in memory.
#include "archiver/dmarc/payload.h"

#include <sys/stat.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "archiver/dmarc/dmarc_aggregate.h"
#include "test_util.h"

namespace archiver {
namespace {

const std::string kXml =
    "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>t</org_name>"
    "<report_id>1</report_id></report_metadata><policy_published><domain>example.com"
    "</domain></policy_published><record><row><source_ip>192.0.2.1</source_ip><count>3"
    "</count></row></record></feedback>\n";

// Deflates `total` bytes produced by `chunk` repeated, framed by `window_bits`
// (15 zlib, 31 gzip, -15 raw), streaming: the input is never materialised.
std::string DeflateRepeated(const std::string& chunk, uint64_t total, int window_bits) {
  z_stream stream = {};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out;
  char buffer[1 << 16];
  uint64_t fed = 0;
  int flush = Z_NO_FLUSH;
  do {
    if (stream.avail_in == 0 && flush == Z_NO_FLUSH) {
      uint64_t n = std::min<uint64_t>(chunk.size(), total - fed);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
      stream.avail_in = static_cast<uInt>(n);
      fed += n;
      if (fed == total) flush = Z_FINISH;
    }
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    int rc = deflate(&stream, flush);
    out.append(buffer, sizeof buffer - stream.avail_out);
    if (rc == Z_STREAM_END) break;
    EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR);
  } while (true);
  deflateEnd(&stream);
  return out;
}

std::string Gzip(const std::string& data) { return DeflateRepeated(data, data.size(), 31); }
std::string Zlib(const std::string& data) { return DeflateRepeated(data, data.size(), 15); }
std::string RawDeflate(const std::string& data) {
  return DeflateRepeated(data, data.size(), -15);
}

// A ZIP archive written by hand, so that sizes can lie and flags can be set.
struct ZipEntry {
  ZipEntry(std::string n, std::string c, bool d = true, uint16_t f = 0, int64_t size = -1,
           std::string z = "")
      : name(std::move(n)), content(std::move(c)), deflate(d), flags(f), declared(size),
        compressed(std::move(z)) {}
  std::string name;
  std::string content;     // uncompressed
  bool deflate = true;
  uint16_t flags = 0;      // bit 0: encrypted
  int64_t declared = -1;   // uncompressed size written in the headers; -1: the true one
  std::string compressed;  // overrides the compression of `content` when non-empty
};

void Put16(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>((v >> 8) & 0xFF));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, v & 0xFFFF);
  Put16(out, v >> 16);
}

std::string Zip(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const ZipEntry& e : entries) {
    std::string data = !e.compressed.empty() ? e.compressed
                       : e.deflate          ? RawDeflate(e.content)
                                            : e.content;
    uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(e.content.data()), e.content.size()));
    uint32_t size = e.declared >= 0 ? static_cast<uint32_t>(e.declared) : e.content.size();
    uint16_t method = e.deflate ? 8 : 0;
    uint32_t offset = out.size();
    auto common = [&](std::string* h) {
      Put16(h, e.flags);
      Put16(h, method);
      Put32(h, 0);  // time, date
      Put32(h, crc);
      Put32(h, data.size());
      Put32(h, size);
      Put16(h, e.name.size());
      Put16(h, 0);  // extra
    };
    Put32(&out, 0x04034b50);
    Put16(&out, 20);
    common(&out);
    out += e.name + data;
    Put32(&central, 0x02014b50);
    Put16(&central, 20);
    Put16(&central, 20);
    common(&central);
    Put16(&central, 0);  // comment
    Put16(&central, 0);  // disk
    Put16(&central, 0);  // internal attributes
    Put32(&central, 0);  // external attributes
    Put32(&central, offset);
    central += e.name;
  }
  uint32_t central_offset = out.size();
  out += central;
  Put32(&out, 0x06054b50);
  Put32(&out, 0);  // disks
  Put16(&out, entries.size());
  Put16(&out, entries.size());
  Put32(&out, central.size());
  Put32(&out, central_offset);
  Put16(&out, 0);
  return out;
}

TEST(PayloadTest, DetectsByContent) {
  const struct {
    std::string bytes;
    PayloadKind kind;
  } cases[] = {
      {kXml, PayloadKind::kXml},
      {"  \r\n\t<feedback/>", PayloadKind::kXml},
      {"\xEF\xBB\xBF<feedback/>", PayloadKind::kXml},
      {std::string("\xFF\xFE \0<\0f\0", 8), PayloadKind::kXml},
      {std::string("\xFE\xFF\0<\0f", 6), PayloadKind::kXml},
      {Gzip(kXml), PayloadKind::kGzip},
      {Zlib(kXml), PayloadKind::kZlib},
      {Zip({{"a.xml", kXml}}), PayloadKind::kZip},
      {Zip({}), PayloadKind::kZip},
      {"this is a file\n", PayloadKind::kUnknown},
      {"x", PayloadKind::kUnknown},
      {"\x78\x9a", PayloadKind::kUnknown},  // header check fails
      {"PK\x01\x02", PayloadKind::kUnknown},
      {"", PayloadKind::kUnknown},
      {"\xEF\xBB\xBF", PayloadKind::kUnknown},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PayloadKindName(DetectPayload(c.bytes)), std::string(PayloadKindName(c.kind)))
        << ::testing::PrintToString(c.bytes.substr(0, 16));
  }
}

// One successful unpacking: the documents' names and bytes.
struct RoundTrip {
  const char* label;
  std::string payload;
  std::vector<UnpackedDocument> documents;
};

TEST(PayloadTest, UnpacksToXml) {
  std::string half1 = kXml.substr(0, 40), half2 = kXml.substr(40);
  std::string other = "<feedback><x/></feedback>";
  const RoundTrip cases[] = {
      {"xml", kXml, {{"", kXml}}},
      {"gzip", Gzip(kXml), {{"", kXml}}},
      {"zlib", Zlib(kXml), {{"", kXml}}},
      {"zip", Zip({{"report.xml", kXml}}), {{"report.xml", kXml}}},
      {"zip stored", Zip({{"r.xml", kXml, false}}), {{"r.xml", kXml}}},
      {"two gzip members", Gzip(half1) + Gzip(half2), {{"", kXml}}},
      {"gzip then zeros", Gzip(kXml) + std::string(512, '\0'), {{"", kXml}}},
      {"gzip then garbage", Gzip(kXml) + "garbage\n", {{"", kXml}}},
      {"gzip in gzip", Gzip(Gzip(kXml)), {{"", kXml}}},
      {"zip in gzip", Gzip(Zip({{"z.xml", kXml}})), {{"z.xml", kXml}}},
      {"zip, empty entry name", Zip({{"", kXml}}), {{"", kXml}}},
      {"zip with a .gz entry", Zip({{"r.xml.gz", Gzip(kXml)}}), {{"r.xml.gz", kXml}}},
      {"zip: directory, text, xml",
       Zip({{"dir/", ""}, {"readme.txt", "this is a file\n"}, {"dir/r.xml", kXml}}),
       {{"dir/r.xml", kXml}}},
      {"zip, two documents", Zip({{"a.xml", kXml}, {"b.xml", other}}),
       {{"a.xml", kXml}, {"b.xml", other}}},
  };
  for (const RoundTrip& c : cases) {
    std::vector<std::string> notes;
    auto result = UnpackPayload(c.payload, UnpackLimits(), &notes);
    ASSERT_TRUE(result.ok()) << c.label << ": " << result.status().ToString();
    ASSERT_EQ(result->size(), c.documents.size()) << c.label;
    for (size_t i = 0; i < c.documents.size(); ++i) {
      EXPECT_EQ((*result)[i].name, c.documents[i].name) << c.label;
      EXPECT_EQ((*result)[i].bytes, c.documents[i].bytes) << c.label;
    }
  }
}

TEST(PayloadTest, SkippedEntriesAndTrailingBytesAreNoted) {
  std::vector<std::string> notes;
  auto result = UnpackPayload(Zip({{"readme.txt", "hello"}, {"r.xml", kXml}}), {}, &notes);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("readme.txt"), std::string::npos) << notes[0];
  notes.clear();
  ASSERT_TRUE(UnpackPayload(Gzip(kXml) + std::string(8, '\0'), {}, &notes).ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("8 zero bytes"), std::string::npos) << notes[0];
}

// One failing unpacking: the category and a part of the message.
struct Failure {
  Failure(const char* l, std::string p, Status::Code c, const char* m, UnpackLimits u = {})
      : label(l), payload(std::move(p)), code(c), message(m), limits(u) {}
  const char* label;
  std::string payload;
  Status::Code code;
  const char* message;
  UnpackLimits limits = {};
};

// UnpackPayload of the case fails with its category and a message containing its text.
void ExpectFailure(const Failure& c) {
  auto result = UnpackPayload(c.payload, c.limits);
  ASSERT_FALSE(result.ok()) << c.label;
  EXPECT_EQ(StatusCodeName(result.status().code()), std::string(StatusCodeName(c.code)))
      << c.label << ": " << result.status().ToString();
  EXPECT_NE(result.status().message().find(c.message), std::string::npos)
      << c.label << ": " << result.status().ToString();
}

std::string Nested(int layers) {
  std::string payload = kXml;
  for (int i = 0; i < layers; ++i) payload = Gzip(payload);
  return payload;
}

TEST(PayloadTest, RejectsBadPayloads) {
  std::string gzipped = Gzip(kXml);
  std::string zipped = Zip({{"r.xml", kXml}});
  std::string corrupt_zip = zipped;
  corrupt_zip[corrupt_zip.size() - 10] ^= 0x55;  // the central directory's offset
  std::string bad_crc = zipped;
  bad_crc[30 + 5 + 3] ^= 0x55;  // a byte of the deflated data
  std::string corrupt_gzip = gzipped;
  corrupt_gzip[12] ^= 0x7F;
  UnpackLimits nine_entries;
  nine_entries.max_zip_entries = 1;
  const Failure cases[] = {
      {"empty", "", Status::Code::kInvalidArgument, "empty input"},
      {"garbage", "this is a file\n", Status::Code::kInvalidArgument, "not a known payload"},
      {"gzip of text", Gzip("this is a file\n"), Status::Code::kInvalidArgument,
       "gzip: not a known payload"},
      {"gzip of nothing", Gzip(""), Status::Code::kInvalidArgument, "gzip: empty input"},
      {"truncated gzip", gzipped.substr(0, gzipped.size() / 2), Status::Code::kInvalidArgument,
       "truncated"},
      {"corrupt gzip", corrupt_gzip, Status::Code::kInvalidArgument, "gzip"},
      {"truncated zlib", Zlib(kXml).substr(0, 20), Status::Code::kInvalidArgument, "truncated"},
      {"corrupt zip", corrupt_zip, Status::Code::kInvalidArgument, "zip: corrupt archive"},
      {"zip, bad CRC", bad_crc, Status::Code::kInvalidArgument, "zip entry \"r.xml\""},
      {"truncated zip", zipped.substr(0, zipped.size() - 30), Status::Code::kInvalidArgument,
       "zip: corrupt archive"},
      {"empty zip", Zip({}), Status::Code::kInvalidArgument, "no XML document"},
      {"zip without xml", Zip({{"a.txt", "text"}, {"b/", ""}}), Status::Code::kInvalidArgument,
       "no XML document in the payload (zip entry \"a.txt\": not a known payload"},
      {"zip, empty entry", Zip({{"bad.xml", ""}}), Status::Code::kInvalidArgument,
       "(zip entry \"bad.xml\": empty)"},
      {"encrypted", Zip({{"secret.xml", kXml, true, 1}}), Status::Code::kInvalidArgument,
       "zip entry \"secret.xml\" is encrypted"},
      {"too many entries", Zip({{"a.xml", kXml}, {"b.xml", kXml}}),
       Status::Code::kLimitExceeded, "2 entries, more than 1", nine_entries},
      {"nested 5 deep", Nested(5), Status::Code::kInvalidArgument, "nested more than 3 deep"},
      {"nested 4 deep", Nested(4), Status::Code::kInvalidArgument, "nested more than 3 deep"},
      {"zip nested in zip x4", Zip({{"a", Zip({{"b", Zip({{"c", Zip({{"d", kXml}})}})}})}}),
       Status::Code::kInvalidArgument, "nested more than 3 deep"},
  };
  for (const Failure& c : cases) ExpectFailure(c);
  EXPECT_TRUE(UnpackPayload(Nested(3), {}).ok()) << "three layers are allowed";
}

TEST(PayloadTest, BombsStopAtTheCaps) {
  auto started = std::chrono::steady_clock::now();
  // 1 GiB of zeros, about 1 MB of gzip: stops at the 10 MiB output cap.
  std::string gzip_bomb = DeflateRepeated(std::string(1 << 20, '\0'), 1ull << 30, 31);
  std::string zeros_64m = RawDeflate(std::string(64 << 20, '\0'));
  UnpackLimits big_output;
  big_output.max_output_bytes = 1ull << 40;
  UnpackLimits no_ratio;
  no_ratio.max_ratio = 1ull << 40;
  const Failure cases[] = {
      {"gzip bomb", gzip_bomb, Status::Code::kLimitExceeded, "archiver_dmarc_max_size"},
      {"zlib bomb", DeflateRepeated(std::string(1 << 20, '<'), 64 << 20, 15),
       Status::Code::kLimitExceeded, "archiver_dmarc_max_size"},
      {"ratio", Gzip(std::string(64 << 20, '<')), Status::Code::kLimitExceeded,
       "compression ratio exceeds 100:1", big_output},
      {"gzip bomb in gzip", Gzip(gzip_bomb), Status::Code::kLimitExceeded,
       "archiver_dmarc_max_size"},
      {"zip entry lying small", Zip({{"bomb.xml", "", true, 0, 1000, zeros_64m}}),
       Status::Code::kLimitExceeded, "zip entry \"bomb.xml\": compression ratio exceeds"},
      {"zip entry lying small, no ratio cap", Zip({{"bomb.xml", "", true, 0, 1000, zeros_64m}}),
       Status::Code::kLimitExceeded, "zip entry \"bomb.xml\": decompressed payload exceeds",
       no_ratio},
      {"zip entry declaring huge", Zip({{"huge.xml", kXml, true, 0, 0xFFFFFFF0}}),
       Status::Code::kLimitExceeded, "zip entry \"huge.xml\": declared size"},
      {"zip entries adding up",
       Zip({{"a.xml", std::string(6 << 20, '<')}, {"b.xml", std::string(6 << 20, '<')}}),
       Status::Code::kLimitExceeded,
       "zip entry \"b.xml\": declared size: decompressed payload exceeds", no_ratio},
  };
  for (const Failure& c : cases) ExpectFailure(c);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 30.0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The shared corpus's containers: expected counts computed independently (Python's
// gzip, zlib, zipfile and xml.etree over the same files).
TEST(PayloadTest, Corpus) {
  const std::string dir = testing::DmarcCorpusDir("aggregate");
  if (dir.empty()) GTEST_SKIP() << "no DMARC corpus beside the checkout";
  const struct {
    const char* file;
    uint64_t records;
    uint64_t messages;
    const char* error;  // a part of the expected error, or nullptr
  } expected[] = {
      {"domainaware+parsedmarc/estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!"
       "2940.xml.zip",
       1, 1, nullptr},
      {"domainaware+parsedmarc/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz", 1,
       1, nullptr},
      {"domainaware+parsedmarc/nice-input.xml.gz", 20, 3047, nullptr},
      {"georgestarcher+dmarcgo/aol.com!georgestarcher.com!1342497600!1342584000.zlib", 1, 1,
       nullptr},
      {"keltia+dmarc-cat/bad.zip", 0, 0,
       "no XML document in the payload (zip entry \"bad.xml\": empty)"},
      {"keltia+dmarc-cat/example.com!keltia.net!1538604008!1538690408.xml.gz", 1, 1, nullptr},
      {"keltia+dmarc-cat/google.com!keltia.net!1538438400!1538524799.zip", 2, 2, nullptr},
      {"keltia+dmarc-cat/notempty.txt.gz", 0, 0, "gzip: not a known payload"},
      {"keltia+dmarc-cat/notempty.zip", 0, 0,
       "no XML document in the payload (zip entry \"notempty.txt\": not a known payload"},
      {"msimerson+mail-dmarc/test_dmarc.xml.gz", 1, 1, nullptr},
      {"tierpod+dmarc-report-converter/test.xml.gz.gz", 2, 7, nullptr},
      {"tierpod+dmarc-report-converter/test.xml.zip", 2, 7, nullptr},
  };
  for (const auto& e : expected) {
    std::string bytes = ReadFile(dir + "/" + e.file);
    ASSERT_FALSE(bytes.empty()) << e.file;
    auto documents = UnpackPayload(bytes, UnpackLimits());
    if (e.error != nullptr) {
      ASSERT_FALSE(documents.ok()) << e.file;
      EXPECT_EQ(documents.status().code(), Status::Code::kInvalidArgument) << e.file;
      EXPECT_NE(documents.status().message().find(e.error), std::string::npos)
          << e.file << ": " << documents.status().ToString();
      continue;
    }
    ASSERT_TRUE(documents.ok()) << e.file << ": " << documents.status().ToString();
    ASSERT_EQ(documents->size(), 1u) << e.file;
    auto summary = ParseAggregateReport(
        (*documents)[0].bytes, AggregateLimits(),
        [](const AggregateReportMeta&) { return Status::Ok(); },
        [](const AggregateRecord&) { return Status::Ok(); });
    ASSERT_TRUE(summary.ok()) << e.file << ": " << summary.status().ToString();
    EXPECT_EQ(summary->records, e.records) << e.file;
    EXPECT_EQ(summary->messages, e.messages) << e.file;
  }
}

}  // namespace
}  // namespace archiver
