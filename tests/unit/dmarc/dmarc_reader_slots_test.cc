// DmarcReaderSlots: readers of one archive take turns. One reader per mail, a few at once,
// a bounded queue; a claim ends with its holder. Each DmarcReaderSlots opens the lock
// file afresh, so two in one process contend as two processes do.
#include "archiver/dmarc/dmarc_reader_slots.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "test_util.h"

namespace archiver {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

MessageId Mail(uint8_t n) {
  MessageId id{};
  id.fill(n);
  return id;
}

class DmarcReaderSlotsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(chmod(dir_.path().c_str(), 0700), 0); }

  DmarcReaderClaim Claim(DmarcReaderSlots& slots, uint8_t mail, milliseconds wait = milliseconds(0)) {
    Result<DmarcReaderClaim> claim = slots.ClaimFor(dir_.path(), Mail(mail), Clock::now() + wait);
    EXPECT_TRUE(claim.ok()) << claim.status().ToString();
    return claim.ok() ? *claim : DmarcReaderClaim::kBusy;
  }
  testing::TempDir dir_;
};

TEST_F(DmarcReaderSlotsTest, OneReaderPerMail) {
  DmarcReaderSlots first, second;
  EXPECT_EQ(Claim(first, 1), DmarcReaderClaim::kReading);
  EXPECT_EQ(Claim(second, 1), DmarcReaderClaim::kTakenAlready);
  {
    DmarcReaderSlots other_mail;
    EXPECT_EQ(Claim(other_mail, 2), DmarcReaderClaim::kReading);
  }
}

TEST_F(DmarcReaderSlotsTest, AFewAtOnceTheRestWaitInABoundedQueue) {
  std::vector<std::unique_ptr<DmarcReaderSlots>> reading;
  for (int n = 0; n < kDmarcReadingSlots; ++n) {
    reading.push_back(std::make_unique<DmarcReaderSlots>());
    EXPECT_EQ(Claim(*reading.back(), static_cast<uint8_t>(10 + n)), DmarcReaderClaim::kReading);
  }
  // No slot comes free in time: busy, and the mail is not held (another may try later).
  DmarcReaderSlots late;
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(Claim(late, 99, milliseconds(200)), DmarcReaderClaim::kBusy);
  EXPECT_GE(Clock::now() - start, milliseconds(200));
  // Every waiting place taken (claims waiting for a slot on other threads): busy at once.
  std::vector<std::unique_ptr<DmarcReaderSlots>> waiters;
  std::vector<std::thread> threads;
  for (int n = 0; n < kDmarcWaitingPlaces; ++n) {
    waiters.push_back(std::make_unique<DmarcReaderSlots>());
    threads.emplace_back([this, slots = waiters.back().get(), n] {
      (void)slots->ClaimFor(dir_.path(), Mail(static_cast<uint8_t>(100 + n)),
                            Clock::now() + milliseconds(1500));
    });
  }
  std::this_thread::sleep_for(milliseconds(500));  // all of them waiting by now
  DmarcReaderSlots no_place;
  const Clock::time_point asked = Clock::now();
  EXPECT_EQ(Claim(no_place, 97, milliseconds(5000)), DmarcReaderClaim::kBusy);
  EXPECT_LT(Clock::now() - asked, milliseconds(500));
  for (std::thread& thread : threads) thread.join();
  waiters.clear();
  // A slot that comes free is taken by a waiting claim.
  reading.pop_back();
  DmarcReaderSlots next;
  EXPECT_EQ(Claim(next, 98, milliseconds(200)), DmarcReaderClaim::kReading);
}

TEST_F(DmarcReaderSlotsTest, ClaimsEndWithTheirHolder) {
  {
    DmarcReaderSlots holder;
    EXPECT_EQ(Claim(holder, 5), DmarcReaderClaim::kReading);
  }
  DmarcReaderSlots again;
  EXPECT_EQ(Claim(again, 5), DmarcReaderClaim::kReading);
}

TEST_F(DmarcReaderSlotsTest, APlantedLockFileIsRefused) {
  const std::string lock = dir_.path() + "/dmarc-reader.lock";
  ASSERT_EQ(symlink("/etc/passwd", lock.c_str()), 0);
  DmarcReaderSlots slots;
  Result<DmarcReaderClaim> claim = slots.ClaimFor(dir_.path(), Mail(1), Clock::now());
  EXPECT_FALSE(claim.ok());
}

}  // namespace
}  // namespace archiver
