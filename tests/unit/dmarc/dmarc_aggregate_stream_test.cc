// Tests for the DMARC aggregate parser reading an InputSource: a large report generated
// as it is read parses in bounded memory, a truncated stream is rewound and recovered,
// the input limit holds for streams of unknown size, and files are read through
// FileSource.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "archiver/dmarc/dmarc_aggregate.h"

namespace archiver {
namespace {

// An aggregate report written record by record as it is read, never held whole: its
// size is unknown to the parser, like a stream's. `truncated` cuts it short in the middle
// of the last record (and leaves out </feedback>).
class GeneratedReport final : public InputSource {
 public:
  explicit GeneratedReport(uint64_t records, bool truncated = false)
      : records_(records), truncated_(truncated) {}

  Result<size_t> Read(char* buffer, size_t n) override {
    size_t served = 0;
    while (served < n) {
      if (offset_ == piece_.size() && !NextPiece()) break;
      size_t count = std::min(n - served, piece_.size() - offset_);
      piece_.copy(buffer + served, count, offset_);
      offset_ += count;
      served += count;
    }
    bytes_ += served;
    return served;
  }
  Status Rewind() override {
    next_ = 0;
    piece_.clear();
    offset_ = 0;
    ++rewinds;
    return Status::Ok();
  }
  uint64_t size() const override { return UINT64_MAX; }
  std::string name() const override { return "generated report"; }

  static uint64_t CountOf(uint64_t record) { return record % 7 + 1; }
  uint64_t bytes() const { return bytes_; }
  int rewinds = 0;

 private:
  // The header, then one record per call, then the end; false after the end.
  bool NextPiece() {
    offset_ = 0;
    piece_.clear();
    if (next_ > records_ + 1) return false;
    uint64_t i = next_++;
    if (i == 0) {
      piece_ =
          "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>big.example</org_name>"
          "<report_id>big</report_id><date_range><begin>1700000000</begin><end>1700086399</end>"
          "</date_range></report_metadata><policy_published><domain>example.com</domain>"
          "<p>none</p></policy_published>\n";
      return true;
    }
    if (i == records_ + 1) {
      piece_ = truncated_ ? "<record><row><source_ip>10.9.9.9</sou" : "</feedback>\n";
      return true;
    }
    uint64_t r = i - 1;
    piece_ = "<record><row><source_ip>10." + std::to_string(r >> 16) + "." +
             std::to_string((r >> 8) & 255) + "." + std::to_string(r & 255) +
             "</source_ip><count>" + std::to_string(CountOf(r)) +
             "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
             "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com"
             "</header_from><envelope_from>example.com</envelope_from></identifiers>"
             "<auth_results><dkim><domain>example.com</domain><selector>s1</selector>"
             "<result>pass</result></dkim><spf><domain>example.com</domain><scope>mfrom</scope>"
             "<result>softfail</result></spf></auth_results></record>\n";
    return true;
  }

  uint64_t records_;
  bool truncated_;
  uint64_t next_ = 0;
  std::string piece_;
  size_t offset_ = 0;
  uint64_t bytes_ = 0;
};

size_t HeapInUse() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// A large report streams from its source to the callback: counted, never collected, with
// the heap in use bounded while it is read (the input is about 100 MB).
TEST(DmarcAggregateTest, LargeReportStreamsInBoundedMemory) {
  constexpr uint64_t kRecords = 200000;
  uint64_t expected_total = 0;
  for (uint64_t i = 0; i < kRecords; ++i) expected_total += GeneratedReport::CountOf(i);
  GeneratedReport source(kRecords);
  const size_t heap_before = HeapInUse();
  size_t heap_peak = heap_before;
  uint64_t callback_records = 0, callback_total = 0;
  auto result = ParseAggregateReport(
      source, {}, [](const AggregateReportMeta&) { return Status::Ok(); },
      [&](const AggregateRecord& record) {
        if (callback_records % 1000 == 0) heap_peak = std::max(heap_peak, HeapInUse());
        ++callback_records;
        callback_total += record.count;
        return Status::Ok();
      });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->recovered) << (result->parser_messages.empty()
                                          ? ""
                                          : result->parser_messages.front());
  EXPECT_EQ(result->records, kRecords);
  EXPECT_EQ(result->messages, expected_total);
  EXPECT_EQ(callback_records, kRecords);
  EXPECT_EQ(callback_total, expected_total);
  EXPECT_EQ(result->meta.org_name, "big.example");
  EXPECT_GT(source.bytes(), 90u << 20);
  EXPECT_LT(heap_peak - heap_before, 4u << 20) << "the parse holds the input";
}

// A truncated stream is read again from its start in recover mode: every complete record
// is delivered exactly once.
TEST(DmarcAggregateTest, TruncatedStreamIsRewoundAndRecovered) {
  constexpr uint64_t kRecords = 20000;
  GeneratedReport source(kRecords, /*truncated=*/true);
  uint64_t delivered = 0;
  std::string last_ip;
  auto result = ParseAggregateReport(
      source, {}, [](const AggregateReportMeta&) { return Status::Ok(); },
      [&](const AggregateRecord& record) {
        ++delivered;
        last_ip = record.source_ip;
        return Status::Ok();
      });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->recovered);
  EXPECT_EQ(source.rewinds, 1);
  EXPECT_EQ(delivered, result->records);
  // libxml2 may salvage the cut record too; the complete ones are all there, once.
  EXPECT_GE(delivered, kRecords);
  EXPECT_LE(delivered, kRecords + 1);
}

// A stream of unknown size is held to max_input_bytes as it is read.
TEST(DmarcAggregateTest, InputLimitAppliesToStreams) {
  GeneratedReport source(100000);
  AggregateLimits limits;
  limits.max_input_bytes = 1u << 20;
  uint64_t delivered = 0;
  auto result = ParseAggregateReport(
      source, limits, [](const AggregateReportMeta&) { return Status::Ok(); },
      [&](const AggregateRecord&) {
        ++delivered;
        return Status::Ok();
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kLimitExceeded);
  EXPECT_NE(result.status().message().find("generated report"), std::string::npos);
  EXPECT_LE(source.bytes(), (1u << 20) + (256u << 10));
  EXPECT_LT(delivered, 3000u);
}

// Files are read through FileSource; a broken one is rewound for the recover pass.
TEST(DmarcAggregateTest, ReadsFiles) {
  struct FileResult {
    Result<AggregateSummary> summary = Status::IOError("not run");
    std::vector<std::string> source_ips;
  };
  auto parse_file = [](const std::string& name) {
    FileResult parsed;
    auto file = FileSource::Open(std::string(ARCHIVER_DMARC_FIXTURES) + "/" + name);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) return parsed;
    parsed.summary = ParseAggregateReport(
        **file, {}, [](const AggregateReportMeta&) { return Status::Ok(); },
        [&](const AggregateRecord& record) {
          parsed.source_ips.push_back(record.source_ip);
          return Status::Ok();
        });
    return parsed;
  };
  FileResult quirks = parse_file("quirks.xml");
  ASSERT_TRUE(quirks.summary.ok()) << quirks.summary.status().ToString();
  EXPECT_FALSE(quirks.summary->recovered);
  EXPECT_EQ(quirks.summary->messages, 15u);
  EXPECT_EQ(quirks.source_ips.size(), 2u);
  FileResult broken = parse_file("malformed_recoverable.xml");
  ASSERT_TRUE(broken.summary.ok()) << broken.summary.status().ToString();
  EXPECT_TRUE(broken.summary->recovered);
  EXPECT_EQ(broken.source_ips, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
}

}  // namespace
}  // namespace archiver
