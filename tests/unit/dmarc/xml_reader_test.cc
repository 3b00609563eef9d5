// Tests for the hardened XML entry: events delivered, and every hostile input (DOCTYPE,
// XXE, billion laughs, depth, huge text and attributes, size) refused with its Status.
#include "dmarc/xml_reader.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "test_util.h"

namespace archiver {
namespace {

// Records the events as a compact trace: "<a>", "</a>", "text".
class TraceHandler : public XmlEventHandler {
 public:
  Status StartElement(std::string_view local_name, std::string_view namespace_uri,
                      size_t depth) override {
    trace += "<" + std::string(local_name) + ">";
    if (depth == 0) root_namespace = namespace_uri;
    return Status::Ok();
  }
  Status EndElement(std::string_view local_name, size_t) override {
    trace += "</" + std::string(local_name) + ">";
    return Status::Ok();
  }
  Status Characters(std::string_view text) override {
    trace += text;
    return Status::Ok();
  }
  std::string trace;
  std::string root_namespace;
};

// Serves a string in pieces of at most `piece` bytes, its size known or not, and fails
// with IOError once `fail_at` bytes have been served.
class PiecewiseSource final : public InputSource {
 public:
  PiecewiseSource(std::string bytes, size_t piece, bool size_known = true,
                  size_t fail_at = SIZE_MAX)
      : bytes_(std::move(bytes)), piece_(piece), size_known_(size_known), fail_at_(fail_at) {}
  Result<size_t> Read(char* buffer, size_t n) override {
    if (offset_ >= fail_at_) return Status::IOError("disk gone");
    size_t count = std::min({n, piece_, bytes_.size() - offset_, fail_at_ - offset_});
    bytes_.copy(buffer, count, offset_);
    offset_ += count;
    ++reads;
    return count;
  }
  Status Rewind() override {
    offset_ = 0;
    return Status::Ok();
  }
  uint64_t size() const override { return size_known_ ? bytes_.size() : UINT64_MAX; }
  std::string name() const override { return "piecewise"; }
  size_t reads = 0;

 private:
  std::string bytes_;
  size_t piece_;
  bool size_known_;
  size_t fail_at_;
  size_t offset_ = 0;
};

Result<XmlParseReport> Parse(std::string_view xml, TraceHandler& handler,
                             XmlParseMode mode = XmlParseMode::kStrict,
                             XmlReaderLimits limits = {}) {
  return ParseXml(xml, limits, mode, handler);
}

TEST(XmlReaderTest, DeliversLocalNamesTextAndNamespace) {
  TraceHandler handler;
  auto parsed = Parse(
      "<?xml version='1.0'?><p:a xmlns:p='urn:x'><p:b>x &amp; y</p:b>"
      "<![CDATA[<c>]]></p:a>",
      handler);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->well_formed);
  EXPECT_EQ(handler.trace, "<a><b>x & y</b><c></a>");
  EXPECT_EQ(handler.root_namespace, "urn:x");
}

TEST(XmlReaderTest, MalformedIsReportedNotFailed) {
  TraceHandler handler;
  auto parsed = Parse("<a><b>text</a>", handler);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->well_formed);
  ASSERT_FALSE(parsed->messages.empty());
  EXPECT_NE(parsed->messages.front().find("line 1"), std::string::npos);
}

TEST(XmlReaderTest, HostileInputsAreRefused) {
  struct Case {
    const char* name;
    std::string xml;
    Status::Code code;
    const char* message_part;
  };
  std::string laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = i == 1 ? "lol" : "lol" + std::to_string(i - 1);
    laughs += "<!ENTITY lol" + std::to_string(i) + " '";
    for (int j = 0; j < 10; ++j) laughs += "&" + prev + ";";
    laughs += "'>";
  }
  laughs += "]><lolz>&lol9;</lolz>";
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  // 50,000 distinct attributes: libxml2 2.9 compares them pairwise (minutes of CPU).
  std::string attributes = "<feedback";
  for (int i = 0; i < 50000; ++i) attributes += " a" + std::to_string(i) + "='1'";
  attributes += "/>";
  const Case cases[] = {
      {"doctype", "<!DOCTYPE a><a/>", Status::Code::kInvalidArgument, "DOCTYPE not allowed"},
      {"billion laughs", laughs, Status::Code::kInvalidArgument, "DOCTYPE not allowed"},
      {"external dtd", "<!DOCTYPE a SYSTEM 'http://example.com/a.dtd'><a/>",
       Status::Code::kInvalidArgument, "DOCTYPE not allowed"},
      {"deep", deep, Status::Code::kLimitExceeded, "nested deeper than 64"},
      {"huge text", "<a>" + std::string(70000, 'x') + "</a>", Status::Code::kLimitExceeded,
       "text longer than"},
      {"huge attribute", "<a b='" + std::string(70000, 'x') + "'/>", Status::Code::kLimitExceeded,
       "attribute longer than"},
      {"many attributes", attributes, Status::Code::kLimitExceeded, "more than 256 attributes"},
      {"a huge tag", "<a " + std::string(300000, ' ') + "/>", Status::Code::kLimitExceeded,
       "tag longer than 262144 bytes"},
  };
  for (const Case& c : cases) {
    for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
      TraceHandler handler;
      auto parsed = Parse(c.xml, handler, mode);
      ASSERT_FALSE(parsed.ok()) << c.name;
      EXPECT_EQ(parsed.status().code(), c.code) << c.name;
      EXPECT_NE(parsed.status().message().find(c.message_part), std::string::npos)
          << c.name << ": " << parsed.status().ToString();
      EXPECT_EQ(handler.trace.find("lollol"), std::string::npos) << c.name;
    }
  }
}

// Nothing but whitespace is a report saying so, for the caller to name.
TEST(XmlReaderTest, EmptyInputIsReportedAsEmpty) {
  for (std::string_view xml : {std::string_view(), std::string_view(" \r\n\t ")}) {
    for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
      TraceHandler handler;
      auto parsed = Parse(xml, handler, mode);
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_TRUE(parsed->empty);
      EXPECT_FALSE(parsed->well_formed);
      EXPECT_FALSE(parsed->messages.empty());
    }
  }
  TraceHandler handler;
  auto parsed = Parse(" <a/> ", handler);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->empty);
  EXPECT_TRUE(parsed->well_formed);
}

TEST(XmlReaderTest, InputSizeCheckedBeforeParsing) {
  TraceHandler handler;
  XmlReaderLimits limits;
  limits.max_input_bytes = 10;
  auto parsed = Parse("<a>0123456789</a>", handler, XmlParseMode::kStrict, limits);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Status::Code::kLimitExceeded);
  EXPECT_TRUE(handler.trace.empty());  // nothing was parsed
}

// libxml2's own nesting cap (256) keeps the stack bounded even when ours is raised, and
// is reported as the limit it is.
TEST(XmlReaderTest, DeepNestingWithRaisedLimitDoesNotOverflow) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  XmlReaderLimits limits;
  limits.max_depth = 1000000;
  for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
    TraceHandler handler;
    auto parsed = Parse(deep, handler, mode, limits);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Status::Code::kLimitExceeded);
    EXPECT_NE(parsed.status().message().find("Excessive depth"), std::string::npos)
        << parsed.status().ToString();
  }
}

// The file an external entity names is never opened: watched with inotify.
TEST(XmlReaderTest, ExternalEntityFileIsNeverRead) {
  testing::TempDir dir;
  std::string secret = dir.Sub("secret.txt");
  std::ofstream(secret) << "TOPSECRET";
  int watch_fd = inotify_init1(IN_NONBLOCK);
  ASSERT_GE(watch_fd, 0);
  ASSERT_GE(inotify_add_watch(watch_fd, secret.c_str(), IN_OPEN | IN_ACCESS), 0);
  const std::string documents[] = {
      "<?xml version='1.0'?><!DOCTYPE a [<!ENTITY x SYSTEM 'file://" + secret + "'>]><a>&x;</a>",
      "<?xml version='1.0'?><!DOCTYPE a SYSTEM '" + secret + "'><a>&x;</a>",
      // No DOCTYPE at all: an undeclared entity is an error, never a lookup.
      "<a>&x;</a>",
  };
  for (const std::string& xml : documents) {
    for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
      TraceHandler handler;
      auto parsed = Parse(xml, handler, mode);
      EXPECT_TRUE(!parsed.ok() || !parsed->well_formed) << xml;
      EXPECT_EQ(handler.trace.find("TOPSECRET"), std::string::npos);
    }
  }
  char events[4096];
  ssize_t got = read(watch_fd, events, sizeof(events));
  EXPECT_LE(got, 0) << "the external entity's file was opened";
  close(watch_fd);
}

TEST(XmlReaderTest, HandlerErrorStopsTheParse) {
  class StopAtB : public TraceHandler {
   public:
    Status StartElement(std::string_view local_name, std::string_view uri, size_t depth) override {
      if (local_name == "b") return Status::IOError("stop here");
      return TraceHandler::StartElement(local_name, uri, depth);
    }
  } handler;
  auto parsed = ParseXml("<a><b/><c/></a>", {}, XmlParseMode::kStrict, handler);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Status::Code::kIOError);
  EXPECT_EQ(handler.trace, "<a>");
}

// Pieces of any size give the same events: text, tags and multi-byte characters split
// across reads are joined by libxml2.
TEST(XmlReaderTest, PiecesOfAnySizeGiveTheSameEvents) {
  std::string xml = "<?xml version='1.0' encoding='UTF-8'?><list>";
  for (int i = 0; i < 8000; ++i) {
    xml += "<item n='" + std::to_string(i) + "'>M\xC3\xBCller \xE2\x82\xAC" + std::to_string(i) +
           "</item>\n";
  }
  xml += "</list>";
  TraceHandler whole;
  ASSERT_TRUE(Parse(xml, whole).ok());
  ASSERT_GT(xml.size(), 2 * (128u << 10));  // more than one of the reader's chunks
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    for (bool size_known : {true, false}) {
      PiecewiseSource source(xml, piece, size_known);
      TraceHandler handler;
      auto parsed = ParseXml(source, {}, XmlParseMode::kStrict, handler);
      ASSERT_TRUE(parsed.ok()) << piece << ": " << parsed.status().ToString();
      EXPECT_TRUE(parsed->well_formed)
          << piece << ": " << (parsed->messages.empty() ? "" : parsed->messages[0]);
      // Character data may arrive in different pieces; the joined trace is the same.
      EXPECT_TRUE(handler.trace == whole.trace) << piece << (size_known ? "" : ", size unknown");
    }
  }
}

// Reads are large whatever libxml2 asks for: a 1 MB document takes a handful of them.
TEST(XmlReaderTest, ReadsTheSourceInLargePieces) {
  std::string xml = "<a>";
  while (xml.size() < (1u << 20)) xml += "<b>0123456789</b>";
  xml += "</a>";
  PiecewiseSource source(xml, SIZE_MAX);
  TraceHandler handler;
  ASSERT_TRUE(ParseXml(source, {}, XmlParseMode::kStrict, handler).ok());
  EXPECT_LE(source.reads, xml.size() / (64u << 10) + 2);
}

// An unknown (or understated) size is checked against the bytes read while parsing.
TEST(XmlReaderTest, InputLimitAppliesWhileReading) {
  std::string xml = "<a>" + std::string(5000, 'x') + "</a>";
  XmlReaderLimits limits;
  limits.max_input_bytes = 1000;
  for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
    PiecewiseSource source(xml, 100, /*size_known=*/false);
    TraceHandler handler;
    auto parsed = ParseXml(source, limits, mode, handler);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Status::Code::kLimitExceeded);
    EXPECT_NE(parsed.status().message().find("piecewise"), std::string::npos);
    EXPECT_EQ(handler.trace.find("</a>"), std::string::npos);
  }
  PiecewiseSource exact(xml, 100, /*size_known=*/false);
  limits.max_input_bytes = xml.size();
  TraceHandler handler;
  EXPECT_TRUE(ParseXml(exact, limits, XmlParseMode::kStrict, handler).ok());
}

// A read failure is the parse's result, not a truncated document: no events after it.
TEST(XmlReaderTest, ReadFailureIsReturned) {
  std::string xml = "<a>";
  while (xml.size() < 300000) xml += "<i>0123456789</i>";
  xml += "<b/></a>";
  for (XmlParseMode mode : {XmlParseMode::kStrict, XmlParseMode::kRecover}) {
    for (size_t fail_at : {size_t{0}, size_t{2}, size_t{200000}}) {
      PiecewiseSource source(xml, 4096, true, fail_at);
      TraceHandler handler;
      auto parsed = ParseXml(source, {}, mode, handler);
      ASSERT_FALSE(parsed.ok()) << fail_at;
      EXPECT_EQ(parsed.status().code(), Status::Code::kIOError) << fail_at;
      EXPECT_EQ(parsed.status().message(), "disk gone");
      EXPECT_EQ(handler.trace.find("<b>"), std::string::npos) << fail_at;
    }
  }
}

// UTF-16 with a byte order mark, or with none (libxml2 alone tells only "<?xml"), in
// either byte order, is delivered as UTF-8.
TEST(XmlReaderTest, Utf16WithAndWithoutByteOrderMark) {
  auto utf16 = [](std::string_view ascii_text, bool big_endian) {
    std::string out;
    for (char c : ascii_text) {
      char unit[2] = {c, '\0'};
      if (c == '\x01') unit[0] = '\xFC';  // placeholder for U+00FC
      if (big_endian) std::swap(unit[0], unit[1]);
      out.append(unit, 2);
    }
    return out;
  };
  const std::string declared = "<?xml version='1.0' encoding='UTF-16'?><a>M\x01ller</a>";
  const std::string bare = "<a>M\x01ller</a>";
  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case cases[] = {
      {"LE with BOM", "\xFF\xFE" + utf16(declared, false)},
      {"BE with BOM", "\xFE\xFF" + utf16(declared, true)},
      {"LE declared, no BOM", utf16(declared, false)},
      {"BE declared, no BOM", utf16(declared, true)},
      {"LE bare", utf16(bare, false)},
      {"BE bare", utf16(bare, true)},
      {"LE bare after a newline", utf16("\n" + bare, false)},
      {"BE bare after a newline", utf16("\n" + bare, true)},
  };
  for (const Case& c : cases) {
    TraceHandler handler;
    auto parsed = Parse(c.bytes, handler);
    ASSERT_TRUE(parsed.ok()) << c.name << ": " << parsed.status().ToString();
    EXPECT_TRUE(parsed->well_formed)
        << c.name << ": " << (parsed->messages.empty() ? "" : parsed->messages[0]);
    EXPECT_EQ(handler.trace, "<a>M\xC3\xBCller</a>") << c.name;
  }
}

}  // namespace
}  // namespace archiver
