// MarkupGuard: start tags measured before libxml2 reads them, whatever the chunking.
#include "dmarc/xml_markup_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace archiver {
namespace {

// Scans `document` in pieces of `piece` bytes; the first non-OK Status, or Ok.
Status ScanInPieces(const std::string& document, size_t piece, size_t max_tag = 100,
                    size_t max_attributes = 4) {
  MarkupGuard guard(max_tag, max_attributes);
  for (size_t at = 0; at < document.size(); at += piece) {
    Status scanned = guard.Scan(std::string_view(document).substr(at, piece));
    if (!scanned.ok()) return scanned;
  }
  return Status::Ok();
}

std::string ToUtf16Le(const std::string& ascii) {
  std::string out;
  for (char c : ascii) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

TEST(MarkupGuardTest, Cases) {
  const std::string many(80, 'x');
  struct Case {
    std::string name;
    std::string document;
    Status::Code expected;
    std::string says;  // in the message when refused
  } cases[] = {
      {"a report", "<?xml version=\"1.0\"?><feedback a=\"1\"><r>text > and = \"</r></feedback>",
       Status::Code::kOk, ""},
      {"four attributes", "<e a='1' b='2' c=\"3\" d='4'/>", Status::Code::kOk, ""},
      {"five attributes", "<e a='1' b='2' c=\"3\" d='4' e='5'/>", Status::Code::kLimitExceeded,
       "more than 4 attributes"},
      {"= and > inside a value", "<e a='x=y>z=w' b=\"=>=\"/>", Status::Code::kOk, ""},
      {"a long tag", "<e a='" + many + many + "'/>", Status::Code::kLimitExceeded,
       "longer than 100 bytes"},
      {"long text is not a tag", "<e>" + many + many + many + "</e>", Status::Code::kOk, ""},
      {"a comment with quotes and tags", "<!-- <e a='1 b=2 c=3 d=4 e=5 -->" + many + "<e/>",
       Status::Code::kOk, ""},
      {"a comment with -> inside", "<!-- a -> b --><e a='1' b='2' c='3' d='4' f='6'/>",
       Status::Code::kLimitExceeded, "attributes"},
      {"CDATA with markup", "<e><![CDATA[<x a='1' b='2' c='3' d='4' e='5' ]>]]></e>",
       Status::Code::kOk, ""},
      {"a processing instruction", "<?pi a=1 b=2 c=3 d=4 e=5 f=6?><e/>", Status::Code::kOk, ""},
      {"an end tag is measured", "</e" + many + many + ">", Status::Code::kLimitExceeded,
       "longer"},
      {"UTF-16", ToUtf16Le("<e a='1' b='2' c='3' d='4' e='5'/>"), Status::Code::kLimitExceeded,
       "attributes"},
  };
  for (const Case& c : cases) {
    for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, c.document.size()}) {
      SCOPED_TRACE(c.name + ", pieces of " + std::to_string(piece));
      Status scanned = ScanInPieces(c.document, piece);
      EXPECT_EQ(scanned.code(), c.expected) << scanned.ToString();
      EXPECT_NE(scanned.message().find(c.says), std::string::npos) << scanned.ToString();
    }
  }
}

}  // namespace
}  // namespace archiver
