// DmarcMailPipeline against hostile inputs (XXE, billion laughs, gzip and zip bombs, deep
// nesting, a huge attribute, an empty attachment): each a stored ledger error with a clear
// reason while the calls succeed, and the caps hold in memory as well.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "archiver/dmarc/dmarc_pipeline.h"
#include "dmarc/dmarc_pipeline_test_util.h"

namespace archiver {
namespace {

using namespace pipeline_testing;

// A hostile or broken attachment: the error it must leave in the ledger.
struct Hostile {
  const char* name;
  std::string body;
  const char* kind;
  const char* reason;  // a part of the expected reason
  DmarcPart Attachment() const { return Part("application/octet-stream", "r.xml", "2", body); }
};

std::vector<Hostile> HostileInputs() {
  const std::string head = "<?xml version=\"1.0\"?>\n";
  const std::string metadata =
      "<report_metadata><org_name>x</org_name><report_id>h</report_id></report_metadata>";
  std::string laughs = head + "<!DOCTYPE feedback [<!ENTITY lol \"lol\">";
  for (int i = 1; i <= 9; ++i) {
    laughs += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; ++j) laughs += "&lol" + (i > 1 ? std::to_string(i - 1) : "") + ";";
    laughs += "\">";
  }
  laughs += "]><feedback>" + metadata + "<x>&lol9;</x></feedback>";
  std::string deep = head + "<feedback>" + metadata;
  for (int i = 0; i < 100000; ++i) deep += "<record>";
  std::string zeros(16 << 20, '\0');
  std::string gzip_bomb;  // 64 members of 16 MiB of zeros each: 1 GiB inflated
  std::string member = GzipOf(zeros);
  for (int i = 0; i < 64; ++i) gzip_bomb += member;
  return {
      {"XXE",
       head + "<!DOCTYPE feedback [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><feedback>" +
           metadata + "<x>&x;</x></feedback>",
       "aggregate", "DOCTYPE not allowed"},
      {"billion laughs", laughs, "aggregate", "DOCTYPE not allowed"},
      {"gzip bomb", gzip_bomb, "payload", "archiver_dmarc_max_size"},
      {"zip bomb", ZipOf({{"bomb.xml", std::string(64 << 20, '<')}}), "payload",
       "compression ratio exceeds"},
      {"deeply nested XML", deep, "aggregate", "nested deeper than"},
      {"huge attribute",
       head + "<feedback>" + metadata + "<record a=\"" + std::string(4 << 20, 'a') +
           "\"/></feedback>",
       "aggregate", "tag longer than"},  // refused before libxml2 holds it
      {"XML over archiver_dmarc_max_size", head + "<feedback>" + std::string(11 << 20, ' '),
       "aggregate", "archiver_dmarc_max_size"},
      {"0-byte attachment", "", "payload", "empty attachment"},
      {"not a report", "%PDF-1.7\n", "payload", "not a known payload"},
      {"corrupt gzip", std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03garbage", 17), "payload", "gzip"},
      {"other XML", head + "<invoice><total>3</total></invoice>", "aggregate",
       "root element is <invoice>"},
  };
}

// A "VmRSS:" or "VmHWM:" line of /proc/self/status, in KiB (0 when absent).
long StatusKiB(const char* field) {
  FILE* status = fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  long kib = 0;
  while (fgets(line, sizeof line, status) != nullptr) {
    if (strncmp(line, field, strlen(field)) == 0) kib = atol(line + strlen(field));
  }
  fclose(status);
  return kib;
}

// Runs `body` in a child process (the store opened there: a Store must not cross a
// fork) and returns how far the child's peak resident size (VmHWM) rose above its
// resident size before `body`, in KiB; -1 when `body` failed or the child died.
long PeakGrowthInChildKiB(const std::function<bool()>& body) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return -1;
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    long before = StatusKiB("VmRSS:");
    bool ok = body();
    long growth = StatusKiB("VmHWM:") - before;
    ssize_t written = write(pipe_fds[1], &growth, sizeof growth);
    _exit(ok && written == sizeof growth ? 0 : 1);
  }
  close(pipe_fds[1]);
  long growth = -1;
  if (read(pipe_fds[0], &growth, sizeof growth) != sizeof growth) growth = -1;
  close(pipe_fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return -1;
  }
  return growth;
}

TEST(DmarcPipelineHostileTest, LedgerErrorsWithClearReasons) {
  for (const Hostile& h : HostileInputs()) {
    SCOPED_TRACE(h.name);
    Archive archive;
    DmarcError error = OneError(
        archive, {Part("text/plain", "", "1", "Report attached."), h.Attachment()}, h.kind);
    EXPECT_NE(error.reason.find(h.reason), std::string::npos) << error.reason;
    EXPECT_EQ(error.origin.part, "2");
    auto stats = archive.dmarc->GetStats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->reports, 0u);
  }
}

// Runs one attachment through a pipeline with `options` in a child process: the peak
// resident growth in KiB, or -1 unless it ended in one error whose reason has `reason`.
long GrowthOfOneAttachment(const DmarcPart& part, const DmarcPipelineOptions& options,
                           const char* reason) {
  testing::TempDir dir;
  return PeakGrowthInChildKiB([&] {
    StoreOptions store_options;
    store_options.path = dir.Sub("archive");
    store_options.sync = false;
    auto store = Store::Open(store_options);
    if (!store.ok()) return false;
    DmarcStore dmarc(*store);
    DmarcMailPipeline pipeline(dmarc, options, MailOrigin());
    if (!pipeline.AddPart(part).ok()) return false;
    auto items = pipeline.Finish();
    return items.ok() && items->size() == 1 && (*items)[0].result == DmarcItemResult::kError &&
           (*items)[0].reason.find(reason) != std::string::npos;
  });
}

// The caps hold in memory too: each hostile input, run alone in a child process, raises
// its peak resident size by far less than an uncapped run would (the gzip bomb inflates
// to 1 GiB, the zip bomb to 64 MiB, XXE and the laughs to whatever they reach).
TEST(DmarcPipelineHostileTest, MemoryStaysBounded) {
  constexpr long kBoundKiB = 256 * 1024;  // generous: sanitizer builds keep freed memory
  const std::vector<Hostile> hostile = HostileInputs();
  for (const Hostile& h : hostile) {
    SCOPED_TRACE(h.name);
    long growth = GrowthOfOneAttachment(h.Attachment(), {}, h.reason);
    ASSERT_GE(growth, 0) << "the child failed";
    EXPECT_LT(growth, kBoundKiB);
    std::printf("  %-32s peak resident growth %ld KiB\n", h.name, growth);
  }
  // The measurement itself sees an uncapped run: the same gzip bomb with the output cap
  // raised to 512 MiB grows the child by about that much before the cap stops it.
  DmarcPipelineOptions uncapped;
  uncapped.unpack.max_output_bytes = 512u << 20;
  uncapped.unpack.max_ratio = 1u << 30;
  for (const Hostile& h : hostile) {
    if (std::string(h.name) != "gzip bomb") continue;
    long growth = GrowthOfOneAttachment(h.Attachment(), uncapped, "archiver_dmarc_max_size");
    EXPECT_GT(growth, kBoundKiB);
  }
}

}  // namespace
}  // namespace archiver
