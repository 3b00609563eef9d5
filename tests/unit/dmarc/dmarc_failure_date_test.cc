// RFC 5322 dates as failure reports write them: the standard form, the obsolete and
// sloppy ones real senders use, and text that is not a date. Expected values computed
// independently (Python's calendar.timegm).
#include <gtest/gtest.h>

#include <string>

#include "dmarc/dmarc_failure_internal.h"

namespace archiver::failure {
namespace {

TEST(FailureDateTest, ParsesTheFormsSendersWrite) {
  struct Case {
    const char* text;
    int64_t expected;
  };
  const Case cases[] = {
      {"Mon, 01 Oct 2018 11:20:27 +0200", 1538385627},
      {"Mon, 1 Oct 2018 11:20:27 +0200 (CEST)", 1538385627},
      {"Mon,  1 Oct 2018 11:20:27 +0200", 1538385627},        // two spaces, as Postfix pads
      {"01 Oct 2018 11:20:27 +0200", 1538385627},             // no weekday
      {"Mon 1 Oct 2018 11:20:27 +0200", 1538385627},          // weekday without its comma
      {"Monday, 1 October 2018 11:20:27 +0200", 1538385627},  // spelled out
      {"mon, 1 oct 2018 11:20:27 +0200", 1538385627},         // any case
      {"1 Oct 2018 09:20:27 GMT", 1538385627},                // named zones
      {"1 Oct 2018 09:20:27 UT", 1538385627},
      {"1 Oct 2018 09:20:27 UTC", 1538385627},
      {"1 Oct 2018 09:20:27 Z", 1538385627},
      {"1 Oct 2018 05:20:27 EDT", 1538385627},
      {"1 Oct 2018 11:20:27 CEST", 1538385627},
      {"1 Oct 2018 09:20:27 XYZT", 1538385627},  // unknown: -0000
      {"1 Oct 2018 09:20:27 A", 1538385627},     // military: -0000
      {"1 Oct 2018 09:20:27", 1538385627},       // no zone at all: UTC
      {"1 Oct 2018 09:20:27 -0000", 1538385627},
      {"1 Oct 2018 11:20:27 +02:00", 1538385627},     // a colon in the offset
      {"1 Oct 2018 11:20:27 +02", 1538385627},        // hours only
      {"1 Oct 2018 09:20 +0000", 1538385600},         // no seconds
      {"1 Oct 2018 09:20:27.716 +0000", 1538385627},  // fractional seconds
      {"Oct 1 2018 09:20:27 +0000", 1538385627},      // month first
      {"Oct 1, 2018 09:20:27 +0000", 1538385627},
      {"01-Oct-2018 09:20:27 +0000", 1538385627},
      {"  Mon, 1 Oct 2018 (a comment) 09:20:27 (another) +0000  ", 1538385627},
      {"Fri, 31 Dec 99 23:59:59 +0000", 946684799},     // two-digit year: 1999
      {"Mon, 1 Mar 49 00:00:00 +0000", 2498169600},     // ... and 2049
      {"1 Mar 50 00:00:00 +0000", -626054400},          // ... and 1950
      {"1 Mar 050 00:00:00 +0000", -626054400},         // three digits: +1900
      {"Thu, 29 Feb 2024 12:00:00 +0000", 1709208000},  // a leap day
      {"Sat, 8 Oct 2011 13:15:58 -0700 (PDT)", 1318104958},
      {"20 Jul 1969 20:17:00 +0000", -14182980},        // before the epoch
      {"31 Dec 2016 23:59:60 +0000", 1483228799},       // a leap second
      {"Mon, 15 Jan 2024 03:30:00 +1400", 1705239000},  // the day before in UTC
  };
  for (const Case& c : cases) {
    std::optional<int64_t> parsed = ParseRfc5322Date(c.text);
    ASSERT_TRUE(parsed.has_value()) << c.text;
    EXPECT_EQ(*parsed, c.expected) << c.text;
  }
}

TEST(FailureDateTest, RejectsWhatIsNotADate) {
  const char* cases[] = {
      "",
      "   ",
      "(only a comment)",
      "yesterday",
      "2018-10-01T09:20:27Z",  // ISO 8601 is not RFC 5322
      "1538385627",
      "Mon, 1 Oct 2018",           // no time
      "Mon, 1 Oct 2018 09 +0000",  // no minutes
      "Mon, 32 Oct 2018 09:20:27 +0000",
      "Mon, 0 Oct 2018 09:20:27 +0000",
      "Thu, 29 Feb 2023 09:20:27 +0000",  // not a leap year
      "Mon, 31 Apr 2018 09:20:27 +0000",
      "Mon, 1 Foo 2018 09:20:27 +0000",
      "Mon, 1 Oct 2018 24:00:00 +0000",
      "Mon, 1 Oct 2018 09:60:00 +0000",
      "Mon, 1 Oct 2018 09:20:61 +0000",
      "Mon, 1 Oct 2018 09:20:27 +2400",
      "Mon, 1 Oct 2018 09:20:27 +0960",
      "Mon, 1 Oct 2018 09:20:27 +012345",
      "Mon, 1 Oct 20180 09:20:27 +0000",
      "Mon, 1 Oct 8 09:20:27 +0000",  // one-digit year
      "Mon, 1 Oct 2018 09:20:27 +0000 trailing words",
      "Blursday, 1 Oct 2018 09:20:27 +0000",
      "Mo, 1 Oct 2018 09:20:27 +0000",  // too short to be a weekday
  };
  for (const char* text : cases) {
    EXPECT_FALSE(ParseRfc5322Date(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace archiver::failure
