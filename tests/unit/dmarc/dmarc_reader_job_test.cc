// DmarcReaderJob / DmarcReaderAnswer as text: what a delivery hands archiver-dmarc-reader
// comes back whole, and anything else is refused rather than half-read.
#include "archiver/dmarc/dmarc_reader_job.h"

#include <gtest/gtest.h>

namespace archiver {
namespace {

DmarcReaderJob SampleJob() {
  DmarcReaderJob job;
  job.store.path = "/srv/archive %odd\nname";
  job.store.map_size = 3ULL << 30;
  job.store.compression_level = 0;
  job.store.sync = false;
  job.store.meta_sync = false;
  job.store.write_wait_ms = 1234;
  job.store.dmarc_max_space = 5ULL << 20;
  job.pipeline.unpack.max_output_bytes = 777;
  job.pipeline.unpack.max_ratio = 42;
  job.pipeline.import.limits.max_input_bytes = 999;
  job.pipeline.budget.max_bytes = 4096;
  job.pipeline.budget.max_records = 12;
  job.pipeline.budget.max_time = std::chrono::milliseconds(2500);
  job.mail.fill(0xab);
  job.mail[0] = 0x01;
  job.user = "dmarc\r\nuser";
  job.mailbox = "Reports/\x01\xff";
  job.rcpt = "dmarc+x@example.com";
  job.again = true;
  job.origin_kind = DmarcOriginKind::kImap;
  job.mail_on_fd = true;
  return job;
}

TEST(DmarcReaderJobTest, RoundTripsEveryField) {
  const DmarcReaderJob job = SampleJob();
  const std::string text = EncodeDmarcReaderJob(job);
  // One field per line: escaped values never break a line.
  EXPECT_EQ(text.find('\r'), std::string::npos);
  Result<DmarcReaderJob> decoded = DecodeDmarcReaderJob(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->store.path, job.store.path);
  EXPECT_EQ(decoded->store.map_size, job.store.map_size);
  EXPECT_EQ(decoded->store.compression_level, 0);
  EXPECT_FALSE(decoded->store.sync);
  EXPECT_FALSE(decoded->store.meta_sync);
  EXPECT_EQ(decoded->store.write_wait_ms, 1234u);
  EXPECT_EQ(decoded->store.dmarc_max_space, 5ULL << 20);
  EXPECT_FALSE(decoded->store.create_if_missing);  // the reader never creates an archive
  EXPECT_FALSE(decoded->store.read_only);
  EXPECT_EQ(decoded->pipeline.unpack.max_output_bytes, 777u);
  EXPECT_EQ(decoded->pipeline.unpack.max_ratio, 42u);
  EXPECT_EQ(decoded->pipeline.import.limits.max_input_bytes, 999u);
  EXPECT_EQ(decoded->pipeline.budget.max_bytes, 4096u);
  EXPECT_EQ(decoded->pipeline.budget.max_records, 12u);
  EXPECT_EQ(decoded->pipeline.budget.max_time.count(), 2500);
  EXPECT_EQ(decoded->mail, job.mail);
  EXPECT_EQ(decoded->user, job.user);
  EXPECT_EQ(decoded->mailbox, job.mailbox);
  EXPECT_EQ(decoded->rcpt, job.rcpt);
  EXPECT_TRUE(decoded->again);
  EXPECT_EQ(decoded->origin_kind, DmarcOriginKind::kImap);
  EXPECT_TRUE(decoded->mail_on_fd);
}

TEST(DmarcReaderJobTest, RefusesWhatItDoesNotUnderstand) {
  const std::string good = EncodeDmarcReaderJob(SampleJob());
  ASSERT_TRUE(DecodeDmarcReaderJob(good).ok());
  EXPECT_FALSE(DecodeDmarcReaderJob(good + "colour=blue\n").ok());      // unknown key
  EXPECT_FALSE(DecodeDmarcReaderJob(good + "again=1\n").ok());          // twice
  EXPECT_FALSE(DecodeDmarcReaderJob(good.substr(0, good.size() - 1)).ok());  // cut short
  const size_t user = good.find("user=");
  ASSERT_NE(user, std::string::npos);
  std::string without_user = good;
  without_user.erase(user, good.find('\n', user) + 1 - user);
  EXPECT_FALSE(DecodeDmarcReaderJob(without_user).ok());  // missing
  for (const char* bad : {"map_size=12x\n", "map_size=-1\n", "again=yes\n", "mail=abc\n",
                          "budget_ms=0\n", "origin_kind=file\n", "origin_kind=pop3\n", "user=%4\n", "user=%zz\n", "compression_level=99999999999\n"}) {
    std::string text = good;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('=') + 1);
    const size_t at = text.find("\n" + key) + 1;
    text.replace(at, text.find('\n', at) + 1 - at, bad);
    EXPECT_FALSE(DecodeDmarcReaderJob(text).ok()) << bad;
  }
}

TEST(DmarcReaderJobTest, DeadlineLeavesRoomBeyondTheBudget) {
  DmarcReaderJob job;
  job.pipeline.budget.max_time = std::chrono::milliseconds(20'000);
  EXPECT_EQ(job.Deadline().count(), 30'000);
  job.pipeline.budget.max_time = std::chrono::milliseconds(1'000);
  EXPECT_EQ(job.Deadline().count(), 6'000);
}

TEST(DmarcReaderAnswerTest, RoundTripsAndFlattensTexts) {
  DmarcReaderAnswer answer;
  answer.outcome = "read";
  answer.tally.reports = 3;
  answer.tally.failures = 1;
  answer.tally.errors = 2;
  answer.tally.records = 900;
  answer.tally.stored = true;
  answer.tally.reasons = "2: gzip\tbroken\nreally";
  answer.message = "";
  const std::string line = EncodeDmarcReaderAnswer(answer);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  Result<DmarcReaderAnswer> decoded = DecodeDmarcReaderAnswer(line);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->outcome, "read");
  EXPECT_EQ(decoded->tally.reports, 3u);
  EXPECT_EQ(decoded->tally.failures, 1u);
  EXPECT_EQ(decoded->tally.errors, 2u);
  EXPECT_EQ(decoded->tally.records, 900u);
  EXPECT_TRUE(decoded->tally.stored);
  EXPECT_EQ(decoded->tally.reasons, "2: gzip broken really");
}

TEST(DmarcReaderAnswerTest, AnIncompleteAnswerIsNone) {
  DmarcReaderAnswer answer;
  answer.outcome = "stopped";
  answer.message = "killed by signal 9";
  const std::string line = EncodeDmarcReaderAnswer(answer);
  ASSERT_TRUE(DecodeDmarcReaderAnswer(line).ok());
  EXPECT_FALSE(DecodeDmarcReaderAnswer(line.substr(0, line.size() - 1)).ok());
  EXPECT_FALSE(DecodeDmarcReaderAnswer(line.substr(0, 5)).ok());
  EXPECT_FALSE(DecodeDmarcReaderAnswer("").ok());
  EXPECT_FALSE(DecodeDmarcReaderAnswer(line + line).ok());
  EXPECT_FALSE(DecodeDmarcReaderAnswer("maybe\t0\t0\t0\t0\t0\t\t\n").ok());
}

}  // namespace
}  // namespace archiver
