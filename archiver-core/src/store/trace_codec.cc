// Compact trace headers (trace_codec.h).
#include "store/trace_codec.h"

#include <zlib.h>

#include "base/compression.h"

namespace archiver::record {
namespace {

// What Dovecot's LMTP and LDA prepend, less the parts each delivery fills in. Part of the
// format: kPrimedDeflate1 streams need these exact bytes to inflate.
constexpr std::string_view kTraceText =
    "Received: from localhost ([127.0.0.1])\r\n\tby localhost with LMTP\r\n\tid \r\n"
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, 01 Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec "
    "2026 +0000 (UTC)\r\n";

uint32_t Crc32(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

}  // namespace

std::string TraceDictionary(std::string_view envelope_from, std::string_view envelope_to) {
  std::string dictionary(kTraceText);
  for (std::string_view part :
       {std::string_view("Return-Path: <"), envelope_from, std::string_view(">\r\nDelivered-To: "),
        envelope_to, std::string_view("\r\nReceived: from \r\n\t(envelope-from <"), envelope_from,
        std::string_view(">)\r\n\tfor <"), envelope_to, std::string_view(">; ")}) {
    dictionary.append(part);
  }
  return dictionary;
}

PackedTrace PackTrace(std::string_view trace, std::string_view envelope_from,
                      std::string_view envelope_to) {
  PackedTrace packed;
  packed.size = trace.size();
  if (compression::DeflatePrimed(trace, TraceDictionary(envelope_from, envelope_to),
                                 &packed.bytes)) {
    packed.form = TraceForm::kPrimedDeflate1;
    packed.check = Crc32(trace);
  } else {
    packed.bytes.assign(trace);
  }
  return packed;
}

Status UnpackTrace(const PackedTrace& packed, std::string_view envelope_from,
                   std::string_view envelope_to, std::string* trace) {
  switch (packed.form) {
    case TraceForm::kLiteral:
      trace->assign(packed.bytes);
      return Status::Ok();
    case TraceForm::kPrimedDeflate1: {
      Status inflated = compression::InflatePrimed(
          packed.bytes, TraceDictionary(envelope_from, envelope_to), packed.size, trace);
      if (inflated.ok() && Crc32(*trace) != packed.check) {
        return Status::Corruption("trace header: its CRC-32 differs");
      }
      return inflated.Annotated("trace header");
    }
  }
  return Status::Corruption("trace header has unknown form " +
                            std::to_string(static_cast<int>(packed.form)));
}

}  // namespace archiver::record
