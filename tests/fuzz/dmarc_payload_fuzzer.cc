// libFuzzer target for everything untrusted report mail feeds: payload detection and
// bounded unpacking (gzip, zlib, ZIP), the aggregate XML parser, the failure-report
// parsers (ARF feedback-report part, original headers, Exim's text form), and the whole
// DmarcMailPipeline writing into a scratch archive. Built by -DARCHIVER_FUZZ=ON with
// clang; tests/fuzz/run_fuzzer.sh runs it briefly.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "archiver/dmarc/dmarc_aggregate.h"
#include "archiver/dmarc/dmarc_failure.h"
#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/dmarc/dmarc_store.h"
#include "archiver/dmarc/payload.h"
#include "archiver/store/store.h"

namespace {

using namespace archiver;

// The scratch archive the pipeline writes into, without flushes: the pipeline's writes
// are part of what is fuzzed, durability is not. It is replaced by a fresh one every
// kRunsPerArchive runs: the pages an archive has touched stay in the fuzzer's RSS while
// it is open, and a run of hours would otherwise grow into libFuzzer's -rss_limit_mb.
class ScratchArchive {
 public:
  static constexpr int kRunsPerArchive = 2000;

  ~ScratchArchive() { Close(); }

  DmarcStore& Next() {
    if (dmarc_ == nullptr || ++runs_ >= kRunsPerArchive) {
      Close();
      Open();
    }
    return *dmarc_;
  }

 private:
  void Open() {
    const char* tmp = getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/archiver-fuzz-XXXXXX";
    if (mkdtemp(dir_.data()) == nullptr) abort();
    StoreOptions options;
    options.path = dir_;
    options.map_size = 1ULL << 30;
    options.sync = false;
    Result<std::shared_ptr<Store>> opened = Store::Open(options);
    if (!opened.ok()) abort();
    dmarc_ = std::make_unique<DmarcStore>(*opened);  // holds the only reference
    runs_ = 0;
  }

  void Close() {
    if (dmarc_ == nullptr) return;
    dmarc_.reset();  // closes the environment: its pages leave the RSS
    for (const char* name : {"/data.mdb", "/lock.mdb"}) unlink((dir_ + name).c_str());
    rmdir(dir_.c_str());
  }

  std::unique_ptr<DmarcStore> dmarc_;
  std::string dir_;
  int runs_ = 0;
};

DmarcStore& ScratchStore() {
  static ScratchArchive* archive = new ScratchArchive();  // lives as long as the fuzzer
  return archive->Next();
}

void FuzzPayloadAndAggregate(std::string_view input) {
  // Small caps keep each run fast; the code paths are the same as with the defaults.
  UnpackLimits unpack_limits;
  unpack_limits.max_output_bytes = 4u << 20;
  AggregateLimits parse_limits;
  parse_limits.max_input_bytes = 4u << 20;
  Result<std::vector<UnpackedDocument>> documents = UnpackPayload(input, unpack_limits);
  if (!documents.ok()) return;
  for (const UnpackedDocument& document : *documents) {
    uint64_t seen = 0;
    (void)ParseAggregateReport(
        document.bytes, parse_limits, [](const AggregateReportMeta&) { return Status::Ok(); },
        [&seen](const AggregateRecord& record) {
          seen += record.count;
          return Status::Ok();
        });
  }
}

void FuzzFailureParsers(std::string_view input) {
  // The input's first half as the feedback-report part, the rest as the original.
  size_t split = input.find("\n\n");
  std::string_view feedback = split == std::string_view::npos ? input : input.substr(0, split);
  std::string_view original =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 2);
  (void)ParseFailureReport(feedback, original);
  (void)ParseTextFailureReport(input);
}

void FuzzPipeline(std::string_view input) {
  DmarcPipelineOptions options;
  options.unpack.max_output_bytes = 4u << 20;
  options.import.limits.max_input_bytes = 4u << 20;
  DmarcOrigin origin;
  origin.kind = DmarcOriginKind::kFile;
  origin.detail = "fuzz";
  DmarcMailPipeline pipeline(ScratchStore(), options, origin);
  // The same bytes as an attachment and as a feedback-report part with an original.
  DmarcPart attachment{"application/octet-stream", "report.xml.gz", "2", input};
  DmarcPart feedback{"message/feedback-report", "", "3", input};
  DmarcPart original{"text/rfc822-headers", "", "4", input};
  for (const DmarcPart* part : {&attachment, &feedback, &original}) {
    if (!pipeline.AddPart(*part).ok()) abort();  // only store failures may fail
  }
  if (!pipeline.Finish().ok()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzPayloadAndAggregate(input);
  FuzzFailureParsers(input);
  FuzzPipeline(input);
  return 0;
}
