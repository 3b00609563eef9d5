// Starting archiver-dmarc-reader and reading its answer (archiver-dmarc-launch.h).
#include "common/archiver-dmarc-launch.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "archiver/child_process.h"

#ifndef ARCHIVER_DMARC_READER_PATH
#error "ARCHIVER_DMARC_READER_PATH must name the installed archiver-dmarc-reader"
#endif

namespace archiver::plugin {
namespace {

constexpr const char kReaderName[] = "archiver-dmarc-reader";

// What the reader may need of this process's environment: a sanitizer runtime, and the
// test-only fault switch. Nothing else reaches it.
std::vector<std::string> ReaderEnvironment() {
  std::vector<std::string> env;
  for (const char* name : {"LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                           "ARCHIVER_TEST_DMARC_READER_FAULT"}) {
    const char* value = std::getenv(name);
    if (value != nullptr) env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

}  // namespace

DmarcReaderJob DmarcReaderJobFor(const ArchiverSettings& settings, const MessageId& mail,
                                 std::string user, std::string mailbox, std::string rcpt,
                                 bool again) {
  DmarcReaderJob job;
  job.store = settings.StoreOptionsFor(false);
  job.pipeline = settings.DmarcOptions();
  job.mail = mail;
  job.user = std::move(user);
  job.mailbox = std::move(mailbox);
  job.rcpt = std::move(rcpt);
  job.again = again;
  return job;
}

std::string DmarcReaderPath() {
  Dl_info info;
  char resolved[PATH_MAX];
  if (dladdr(reinterpret_cast<void*>(&DmarcReaderPath), &info) != 0 &&
      info.dli_fname != nullptr && realpath(info.dli_fname, resolved) != nullptr) {
    std::string beside(resolved);
    beside = beside.substr(0, beside.rfind('/') + 1) + kReaderName;
    if (access(beside.c_str(), X_OK) == 0) return beside;
  }
  return ARCHIVER_DMARC_READER_PATH;
}

Result<DmarcReaderRun> RunDmarcReader(const DmarcReaderJob& job,
                                      std::optional<std::chrono::milliseconds> wait,
                                      std::string_view mail) {
  int mail_fd = -1;
  if (job.mail_on_fd) {
    mail_fd = memfd_create("archiver-dmarc-mail", MFD_CLOEXEC);
    bool written = mail_fd >= 0;
    for (size_t done = 0; written && done < mail.size();) {
      const ssize_t wrote = write(mail_fd, mail.data() + done, mail.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      written = wrote > 0;
      if (written) done += static_cast<size_t>(wrote);
    }
    if (!written || lseek(mail_fd, 0, SEEK_SET) != 0) {
      const int error = errno;
      if (mail_fd >= 0) close(mail_fd);
      return Status::IOError(std::string("handing the mail to the report reader: ") +
                             std::strerror(error));
    }
  }
  Result<int> answer_fd = SpawnDetached({DmarcReaderPath()}, ReaderEnvironment(),
                                        EncodeDmarcReaderJob(job), mail_fd);
  if (mail_fd >= 0) close(mail_fd);
  if (!answer_fd.ok()) {
    if (answer_fd.status().code() == Status::Code::kNotFound)
      return Status::NotFound("the DMARC report reader is not installed: " +
                              answer_fd.status().message());
    return answer_fd.status();
  }
  ChildAnswer answer = ReadAnswer(*answer_fd, wait);
  close(*answer_fd);
  DmarcReaderRun run;
  Result<DmarcReaderAnswer> decoded = DecodeDmarcReaderAnswer(answer.text);
  if (decoded.ok()) {
    run.state = DmarcReaderRun::State::kAnswered;
    run.answer = std::move(decoded).value();
  } else {
    run.state = answer.ended ? DmarcReaderRun::State::kNoAnswer
                             : DmarcReaderRun::State::kStillReading;
  }
  return run;
}

Result<DmarcItemTally> ReadWithDmarcReader(const DmarcReaderJob& job, std::string_view mail) {
  Result<DmarcReaderRun> run = RunDmarcReader(job, std::nullopt, mail);
  if (!run.ok()) return run.status();
  if (run->state != DmarcReaderRun::State::kAnswered)
    return Status::IOError("the report reader ended without an answer");
  const DmarcReaderAnswer& answer = run->answer;
  if (answer.outcome == "failed") return Status::IOError(answer.message);
  if (answer.outcome == "reading")
    return Status::IOError("being read by another reader now: try again");
  if (answer.outcome == "busy")
    return Status::IOError("not read now (" + answer.message + "): try again");
  return answer.tally;
}

}  // namespace archiver::plugin
