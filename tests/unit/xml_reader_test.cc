// Tests for the hardened XML entry: events delivered, and every hostile input (DOCTYPE,
// XXE, billion laughs, depth, huge text and attributes, size) refused with its Status.
#include "xml_reader.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

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
      {"empty", "", Status::Code::kInvalidArgument, "empty"},
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

}  // namespace
}  // namespace archiver
