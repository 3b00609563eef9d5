// archiver-dmarc-reader: reads one archived report mail for DMARC reports, in a process of
// its own, so that a fault in any parser (a crash, a hang, runaway memory) can neither
// hold up nor fail the delivery that brought the mail (issue 15, item 3), nor take
// `doveadm dmarc reprocess` down with it.
//
// Started by the mail plugin (a report delivery, detached: LMTP and dovecot-lda answer
// after archiver_dmarc_wait at most and the reading goes on) and by doveadm (reprocess),
// as the archive's owner, never as root (it refuses). The job (dmarc_reader_job.h) comes
// on stdin, the one-line answer goes to stdout. The reading itself runs in a child with a
// memory limit, a CPU limit and a deadline (the mail's time budget plus a margin); when
// that child ends without an answer, this process (which never parsed anything) notes the
// mail in the DMARC ledger with one "mail" error saying how the reading ended, so that
// the mail is not read again at each delivery of it and `doveadm dmarc errors` shows it.
//
// Readers of one archive take turns (dmarc_reader_slots.h): one per mail, a few at once, a
// bounded queue. An outcome that reaches nobody (the delivery stopped waiting) and is a
// failure goes to syslog (mail facility), the ledger's own errors aside.
//
// Test-only fault switch: ARCHIVER_TEST_DMARC_READER_FAULT=abort|hang|memory makes the
// child crash, hang, or allocate without end instead of reading.
#include <signal.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/archiver-dmarc-mime.h"
#include "archiver/child_process.h"
#include "archiver/dmarc/dmarc_reader_job.h"
#include "archiver/dmarc/dmarc_reader_slots.h"
#include "archiver/dmarc/dmarc_store.h"
#include "archiver/store/store.h"
#include "archiver/time_format.h"

namespace archiver::reader {
namespace {

constexpr uint64_t kMemoryAllowance = 512ULL << 20;  // besides the reports' own bytes

DmarcReaderAnswer Answer(const char* outcome, const std::string& message = "") {
  DmarcReaderAnswer answer;
  answer.outcome = outcome;
  answer.message = message;
  return answer;
}

DmarcReaderAnswer Failed(const std::string& message) { return Answer("failed", message); }

void InjectFault() {
  const char* fault = std::getenv("ARCHIVER_TEST_DMARC_READER_FAULT");
  if (fault == nullptr) return;
  if (std::strcmp(fault, "abort") == 0) std::abort();
  if (std::strcmp(fault, "hang") == 0)
    for (;;) pause();
  if (std::strcmp(fault, "memory") == 0) {
    // Stopped by the memory limit long before 4 GiB (where a build without one gives up).
    std::vector<std::unique_ptr<char[]>> hoard;
    for (int chunk = 0; chunk < 64; ++chunk) {
      hoard.emplace_back(new char[64 << 20]);
      std::memset(hoard.back().get(), 1, 64 << 20);
    }
    throw std::bad_alloc();
  }
}

DmarcOrigin OriginOf(const DmarcReaderJob& job) {
  DmarcOrigin origin;
  origin.kind = job.origin_kind;
  origin.detail = job.rcpt;
  origin.mail = job.mail;
  return origin;
}

DmarcMail NoteOf(const DmarcReaderJob& job) {
  DmarcMail mail;
  mail.mail = job.mail;
  mail.user = job.user;
  mail.mailbox = job.mailbox;
  return mail;
}

// The mail its caller handed over on fd 3 (a source's sync: not archived yet), checked
// against the id the job names.
Result<std::string> ReadGivenMail(const MessageId& id) {
  ChildAnswer given = ReadAnswer(3, std::nullopt, SIZE_MAX);
  if (!given.ended || Sha256::Of(given.text) != id)
    return Status::InvalidArgument("the mail on fd 3 is not " + ToHex(id));
  return std::move(given.text);
}

// The child: everything that touches the mail's content.
DmarcReaderAnswer ReadMail(const DmarcReaderJob& job) {
  Result<std::shared_ptr<Store>> store = Store::Open(job.store);
  if (!store.ok()) return Failed("opening the archive: " + store.status().ToString());
  DmarcStore dmarc(*store);
  if (!job.again) {
    Result<bool> noted = dmarc.MailNoted(job.mail);
    if (noted.ok() && *noted) return Answer("already");
  }
  Result<std::string> message =
      job.mail_on_fd ? ReadGivenMail(job.mail) : (*store)->ReadMessage(job.mail);
  if (!message.ok()) return Failed("reading the mail: " + message.status().ToString());
  if (job.again) {
    Status forgotten = dmarc.ForgetErrorsOf(job.mail);
    if (!forgotten.ok()) return Failed(forgotten.ToString());
  }
  const DmarcMailBudget& budget = job.pipeline.budget;
  const uint64_t report_bytes =
      budget.max_bytes != 0 ? budget.max_bytes : 4 * job.pipeline.unpack.max_output_bytes;
  LimitMemoryGrowth(kMemoryAllowance + 4 * report_bytes);
  InjectFault();
  DmarcMail noted = NoteOf(job);
  Result<std::vector<DmarcItem>> items =
      plugin::ReadArchivedDmarcMail(*message, dmarc, job.pipeline, OriginOf(job), &noted);
  if (!items.ok()) return Failed(items.status().ToString());
  DmarcReaderAnswer answer;
  answer.outcome = "read";
  answer.tally = TallyDmarcItems(*items);
  return answer;
}

// After a child that gave no answer: one "mail" error and the note, written by this
// process, which has read nothing of the mail.
DmarcReaderAnswer NoteStopped(const DmarcReaderJob& job, const std::string& how) {
  const std::string reason = "the report reader stopped before the end (" + how +
                             "): the reports found before are kept";
  Result<std::shared_ptr<Store>> store = Store::Open(job.store);
  if (!store.ok()) return Failed("reader " + how + "; opening the archive: " +
                                 store.status().ToString());
  DmarcStore dmarc(*store);
  Status recorded = dmarc.RecordError(DmarcItemKind::kMail, reason, OriginOf(job));
  DmarcMail noted = NoteOf(job);
  noted.errors = 1;
  noted.processed_us = NowMicros();
  if (recorded.ok()) recorded = dmarc.NoteMail(noted);
  if (!recorded.ok()) return Failed("reader " + how + "; noting it: " + recorded.ToString());
  DmarcReaderAnswer answer;
  answer.outcome = "stopped";
  answer.tally.errors = 1;
  answer.tally.reasons = reason;
  answer.message = how;
  return answer;
}

DmarcReaderAnswer Supervise(const DmarcReaderJob& job) {
  DmarcReaderSlots slots;
  Result<DmarcReaderClaim> claim = slots.ClaimFor(job.store.path, job.mail,
                                       std::chrono::steady_clock::now() + job.Deadline());
  if (!claim.ok()) return Failed("taking a reader's turn: " + claim.status().ToString());
  if (*claim == DmarcReaderClaim::kTakenAlready) return Answer("reading");
  if (*claim == DmarcReaderClaim::kBusy)
    return Answer("busy", std::to_string(kDmarcReadingSlots) + " readers at work on the archive and " +
                              std::to_string(kDmarcWaitingPlaces) + " waiting");
  ChildLimits limits;
  limits.deadline = job.Deadline();
  // The CPU the budget allows and a second: a busy loop ends well before the deadline.
  limits.cpu_seconds = static_cast<uint64_t>(
      std::chrono::ceil<std::chrono::seconds>(job.pipeline.budget.max_time).count() + 1);
  Result<ChildEnd> end = RunInChild(
      [&job](int output) {
        const std::string line = EncodeDmarcReaderAnswer(ReadMail(job));
        return write(output, line.data(), line.size()) == static_cast<ssize_t>(line.size())
                   ? 0
                   : 1;
      },
      limits);
  if (!end.ok()) return Failed(end.status().ToString());
  Result<DmarcReaderAnswer> answer = DecodeDmarcReaderAnswer(end->output);
  if (answer.ok()) return std::move(answer).value();
  // It ended well but said nothing we understand: what it wrote to the archive stands.
  if (!end->timed_out && end->signal == 0 && end->exit_code == 0)
    return Failed("the reader's answer was not understood");
  return NoteStopped(job, end->Describe());
}

// An outcome the caller may no longer be waiting for: failures go to syslog too.
void Tell(const DmarcReaderJob* job, const DmarcReaderAnswer& answer) {
  const std::string line = EncodeDmarcReaderAnswer(answer);
  const bool told = write(1, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (told || (answer.outcome != "failed" && answer.outcome != "stopped" &&
               answer.outcome != "busy"))
    return;
  openlog("archiver-dmarc-reader", LOG_PID, LOG_MAIL);
  syslog(answer.outcome == "busy" ? LOG_WARNING : LOG_ERR,
         "DMARC mail %s of %s: %s %s", job != nullptr ? ToHex(job->mail).c_str() : "?",
         job != nullptr ? job->store.path.c_str() : "?", answer.outcome.c_str(),
         answer.message.c_str());
  closelog();
}

int Main() {
  // The caller may stop reading the answer (a delivery waits only so long).
  signal(SIGPIPE, SIG_IGN);
  // A job is small (SpawnDetached hands over at most PIPE_BUF): more is not one.
  const std::string input = ReadAnswer(0, std::nullopt, 64 * 1024).text;
  Result<DmarcReaderJob> job = DecodeDmarcReaderJob(input);
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  DmarcReaderAnswer answer;
  if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
      ruid == 0 || euid == 0 || suid == 0 || rgid == 0 || egid == 0 || sgid == 0)
    answer = Failed("refusing to read report mail with one of root's ids (user or group: "
                    "real, effective or saved)");
  else if (!job.ok())
    answer = Failed(job.status().ToString());
  else
    answer = Supervise(*job);
  Tell(job.ok() ? &*job : nullptr, answer);
  return answer.outcome == "failed" ? 1 : 0;
}

}  // namespace
}  // namespace archiver::reader

int main() {
  lib_init();
  int code = 1;
  try {
    code = archiver::reader::Main();
  } catch (const std::exception& e) {
    const std::string line = archiver::EncodeDmarcReaderAnswer(
        archiver::reader::Failed(std::string("unexpected error: ") + e.what()));
    (void)!write(1, line.data(), line.size());
  }
  lib_deinit();
  return code;
}
