// libFuzzer target for the DMARC report pipeline that untrusted mail feeds: payload
// detection and bounded unpacking (gzip, zlib, ZIP) and the aggregate XML parser.
// Built by -DARCHIVER_FUZZ=ON with clang; tests/fuzz/run_fuzzer.sh runs it briefly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "archiver/dmarc_aggregate.h"
#include "archiver/payload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace archiver;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small caps keep each run fast; the code paths are the same as with the defaults.
  UnpackLimits unpack_limits;
  unpack_limits.max_output_bytes = 4u << 20;
  AggregateLimits parse_limits;
  parse_limits.max_input_bytes = 4u << 20;
  Result<std::vector<UnpackedDocument>> documents = UnpackPayload(input, unpack_limits);
  if (!documents.ok()) return 0;
  for (const UnpackedDocument& document : *documents) {
    uint64_t seen = 0;
    (void)ParseAggregateReport(
        document.bytes, parse_limits, [](const AggregateReportMeta&) { return Status::Ok(); },
        [&seen](const AggregateRecord& record) {
          seen += record.count;
          return Status::Ok();
        });
  }
  return 0;
}
