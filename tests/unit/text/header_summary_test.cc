// Header summaries: RFC 2047 decoding, first-address extraction and header-block
// parsing, table-driven, plus a property check that output is always valid UTF-8.
#include "archiver/header_summary.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <stdlib.h>

#include <fstream>
#include <random>
#include <sstream>

#include "text/charset.h"

namespace archiver {
namespace {

struct Case {
  std::string input;
  std::string expected;
};

TEST(HeaderDecodeTest, Rfc2047) {
  const Case cases[] = {
      {"=?utf-8?B?SsO2cmcgTcO8bGxlcg==?= <jm@example.com>", "Jörg Müller <jm@example.com>"},
      {"=?ISO-8859-1?Q?J=F6rg?=", "Jörg"},
      {"=?windows-1252?q?=80_5?=", "€ 5"},
      {"=?iso-8859-1?q?=80?=", "€"},  // ISO-8859-1 read as windows-1252, as clients do
      {"=?koi8-r?b?8NLJ18XUIM3J0g==?=", "Привет мир"},
      {"=?iso-2022-jp?b?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"},
      {"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},                    // adjacent words join
      {"=?utf-8?q?a?= \t =?UTF-8?Q?b?=", "ab"},                 // any linear whitespace
      {"=?utf-8?b?5pel5g==?= =?utf-8?b?nKzoqp4=?=", "日本語"},  // character split across words
      {"=?iso-8859-1?q?J=F6?= =?utf-8?q?rg?=", "Jörg"},         // charsets differ
      {"=?utf-8?q?a?= b", "a b"},
      {"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"},
      {"=?utf-8*en?q?hello?=", "hello"},  // RFC 2231 language suffix
      {"=?utf-8?b?SsO2cmc?=", "Jörg"},    // padding missing
      {"=?utf-8?q?a_b=zz?=", "a b=zz"},   // malformed escape kept
      {"=?utf-8?q?"
       "?=",
       ""},
      {"foo=?utf-8?q?bar?=", "foobar"},  // glued to text: decoded anyway, as clients do
      {"\"=?utf-8?q?J=C3=B6rg?=\" <j@x>", "\"Jörg\" <j@x>"},
      {"=?utf-8?q?a=FFb?=",
       "a\xEF\xBF\xBD"
       "b"},  // invalid UTF-8 inside a word
      {"=?x-no-such-charset?q?abc?=", "=?x-no-such-charset?q?abc?="},
      {"=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="},
      {"=?utf-8?b?QQ=Q?=", "=?utf-8?b?QQ=Q?="},  // data after padding
      {"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
      {"=?utf-8?q?abc", "=?utf-8?q?abc"},
      {"=?utf/8?q?a?=", "=?utf/8?q?a?="},
      {"=?utf-8//IGNORE?q?a?=", "=?utf-8//IGNORE?q?a?="},
      {"J\xF6rg", "Jörg"},      // raw latin-1
      {"J\xC3\xB6rg", "Jörg"},  // raw UTF-8
      {"=?us-ascii?q?plain?=", "plain"},
      {"", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecodeRfc2047(c.input), c.expected) << c.input;
  }
}

TEST(HeaderAddressTest, FirstAddress) {
  const Case cases[] = {
      {"J\xC3\xB6rg <JM@Example.COM>", "jm@example.com"},
      {"a@b", "a@b"},
      {"  A@B (Comment, with comma)", "a@b"},
      {"(comment) a@b", "a@b"},
      {"\"Doe, John\" <john@x.org>, other@y", "john@x.org"},
      {"\"weird <not@this>\" <real@x>", "real@x"},
      {"undisclosed-recipients:;", ""},
      {"Group: A@b, c@d;", "a@b"},
      {"Empty Group:;, x@Y", "x@y"},
      {"<@relay.example:user@host>", "user@host"},
      {"John Smith", ""},
      {"John Smith, real@x", "real@x"},
      {"<>, second@x", "second@x"},
      {"<>", ""},
      {"", ""},
      {"=?utf-8?q?J=C3=B6rg?= <j@x>", "j@x"},
      {"root", "root"},
      {"Name <unterminated@x", "unterminated@x"},
      // No angle brackets around the address of a mailbox with a phrase (malformed, sent).
      {"Big Bug bb@Bug.com", "bb@bug.com"},
      {"Big Bug bb@bug.com, other@y", "bb@bug.com"},
      {"\"quoted a@b\" real@x", "real@x"},
      {"John at home, real@x", "real@x"},
  };
  for (const Case& c : cases) EXPECT_EQ(FirstAddress(c.input), c.expected) << c.input;
}

TEST(HeaderSummaryTest, Fields) {
  struct SummaryCase {
    std::string message;
    std::string from, from_addr, to, cc, subject, date, message_id;
  };
  const SummaryCase cases[] = {
      {"From: A <A@b>\nTo: c@d\nCc: e@f\nSubject: Hi\nDate: Wed, 1 May 2024\n"
       "Message-ID: <x@y>\n\nbody",
       "A <A@b>", "a@b", "c@d", "e@f", "Hi", "Wed, 1 May 2024", "<x@y>"},
      {"From: A <A@b>\r\nTo: c@d\r\nCc: e@f\r\nSubject: Hi\r\nDate: Wed, 1 May 2024\r\n"
       "Message-ID: <x@y>\r\n\r\nbody",
       "A <A@b>", "a@b", "c@d", "e@f", "Hi", "Wed, 1 May 2024", "<x@y>"},
      {"From someone@x Mon Jan  1 00:00:00 2024\nSubject: mbox\n\n", "", "", "", "", "mbox", "",
       ""},
      {"Subject: a\r\n b\r\n\tc\r\n\r\n", "", "", "", "", "a b c", "", ""},
      {"Subject: =?utf-8?q?a?=\r\n =?utf-8?q?b?=\r\n\r\n", "", "", "", "", "ab", "", ""},
      {"Subject: one\nSubject: two\n\n", "", "", "", "", "one", "", ""},
      {"Subject: no body", "", "", "", "", "no body", "", ""},
      {"Subject: x\n\nFrom: late@x\n", "", "", "", "", "x", "", ""},
      {std::string("Subject: a\0b\n\n", 14), "", "", "", "",
       "a\xEF\xBF\xBD"
       "b",
       "", ""},
      {"Subject: Gr\xFC\xDF"
       "e\n\n",
       "", "", "", "", "Grüße", "", ""},
      {"Subject: Grüße\n\n", "", "", "", "", "Grüße", "", ""},
      {"SUBJECT: upper\nfrom: x@Y\n\n", "x@Y", "x@y", "", "", "upper", "", ""},
      {"Message-ID:   <x@y>  \nDate:\tWed,\n 1 May 2024  \n\n", "", "", "", "", "",
       "Wed, 1 May 2024", "<x@y>"},
      {"Subject : spaced\n\n", "", "", "", "", "spaced", "", ""},
      {" orphan continuation\nnot a header line\nSubject: kept\n\n", "", "", "", "", "kept", "",
       ""},
      {"From: J\xF6rg <j\xF6@x>\n\n", "Jörg <jö@x>", "jö@x", "", "", "", "", ""},
      {"Subject: =?utf-8?q?line=0Abreak?=\n\n", "", "", "", "", "line break", "", ""},
      {"", "", "", "", "", "", "", ""},
      {"Subject: old mac\rFrom: a@B\r\rFrom: body@x\r", "a@B", "a@b", "", "", "old mac", "", ""},
      {"\r\nSubject: after empty line\r\n", "", "", "", "", "", "", ""},
  };
  for (const SummaryCase& c : cases) {
    SCOPED_TRACE(c.message);
    HeaderSummary summary = SummarizeHeaders(c.message);
    EXPECT_EQ(summary.from, c.from);
    EXPECT_EQ(summary.from_addr, c.from_addr);
    EXPECT_EQ(summary.to, c.to);
    EXPECT_EQ(summary.cc, c.cc);
    EXPECT_EQ(summary.subject, c.subject);
    EXPECT_EQ(summary.date, c.date);
    EXPECT_EQ(summary.message_id, c.message_id);
  }
}

TEST(HeaderSummaryTest, LongFieldIsCapped) {
  std::string message = "Subject: " + std::string(100000, 'x') + "\n\n";
  HeaderSummary summary = SummarizeHeaders(message);
  EXPECT_GE(summary.subject.size(), 1000u);
  EXPECT_LE(summary.subject.size(), 16u * 1024);
}

void ExpectAllValidUtf8(const HeaderSummary& summary, const std::string& context) {
  for (const std::string* field : {&summary.from, &summary.from_addr, &summary.to, &summary.cc,
                                   &summary.subject, &summary.date, &summary.message_id}) {
    EXPECT_TRUE(charset::IsValidUtf8(*field)) << context;
    EXPECT_EQ(field->find('\0'), std::string::npos) << context;
    EXPECT_EQ(field->find('\n'), std::string::npos) << context;
  }
}

TEST(HeaderSummaryTest, HostileBytesAlwaysGiveValidUtf8) {
  std::mt19937 generator(7);
  const std::string pieces[] = {
      "=?", "?=", "?q?", "?B?",      "utf-8", "koi8-r",      "\xC3",   "\xFF", "\0",
      "\r", "\n", " ",   "\t",       "From:", "Subject:",    "<",      ">",    "\"",
      "(",  ")",  "=C3", "\xE2\x82", "_",     "iso-2022-jp", "\x1B$B", ",",    ":"};
  for (int round = 0; round < 3000; ++round) {
    std::string message;
    int length = static_cast<int>(generator() % 60);
    for (int i = 0; i < length; ++i) {
      if (generator() % 4 == 0) {
        message.push_back(static_cast<char>(generator()));
      } else {
        const std::string& piece = pieces[generator() % std::size(pieces)];
        message += piece.empty() ? std::string(1, '\0') : piece;
      }
    }
    HeaderSummary summary = SummarizeHeaders("Subject: " + message + "\nFrom: " + message);
    ExpectAllValidUtf8(summary, message);
    EXPECT_TRUE(charset::IsValidUtf8(DecodeRfc2047(message)));
  }
}

// With ARCHIVER_MAIL_CORPUS set to a directory of messages (one level of subdirectories),
// every message is summarised; the summaries must be valid UTF-8.
TEST(HeaderSummaryTest, CorpusGivesValidUtf8) {
  const char* corpus = getenv("ARCHIVER_MAIL_CORPUS");
  if (corpus == nullptr) GTEST_SKIP() << "ARCHIVER_MAIL_CORPUS not set";
  struct stat corpus_dir;
  if (stat(corpus, &corpus_dir) != 0 || !S_ISDIR(corpus_dir.st_mode))
    GTEST_SKIP() << "no mail corpus at " << corpus;
  size_t summarised = 0;
  auto list = [](const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* handle = opendir(dir.c_str())) {
      while (dirent* entry = readdir(handle)) {
        if (entry->d_name[0] != '.') names.push_back(dir + "/" + entry->d_name);
      }
      closedir(handle);
    }
    return names;
  };
  for (const std::string& sub : list(corpus)) {
    for (const std::string& file : list(sub)) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      ExpectAllValidUtf8(SummarizeHeaders(content.str()), file);
      ++summarised;
    }
  }
  EXPECT_GT(summarised, 0u);
}

}  // namespace
}  // namespace archiver
