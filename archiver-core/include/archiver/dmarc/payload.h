// Report payload containers: what an attachment's bytes are, told by content alone
// (never by file name or MIME type), and their bounded unpacking — gzip, raw zlib and
// ZIP, nested — down to the XML documents inside. Dovecot-independent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/status.h"

namespace archiver {

enum class PayloadKind { kXml, kGzip, kZlib, kZip, kUnknown };

// kGzip: magic 1f 8b. kZip: "PK\3\4" or "PK\5\6" (an empty archive). kXml: an optional
// UTF-8 or UTF-16 byte-order mark, whitespace, then '<'. kZlib: a valid RFC 1950 header
// (deflate, window <= 32K, header check). kUnknown otherwise, and for empty input.
PayloadKind DetectPayload(std::string_view bytes);
const char* PayloadKindName(PayloadKind kind);  // "xml", "gzip", "zlib", "zip", "unknown"

struct UnpackLimits {
  // Total decompressed bytes of the whole payload; archiver_dmarc_max_size (10M).
  uint64_t max_output_bytes = 10 * 1024 * 1024;
  // Output / input of any one decompression, enforced once that output passes 1 MiB.
  uint64_t max_ratio = 100;
  // Containers stacked inside one another (a zip in a gzip is 2).
  int max_nesting = 3;
  // Entries of one ZIP archive, directories included.
  uint64_t max_zip_entries = 16;
};

struct UnpackedDocument {
  std::string name;   // the ZIP entry that held it ("" outside ZIP; may be "" inside)
  std::string bytes;  // the XML document, as found
};

// Unpacks `bytes` until XML is reached: gzip (concatenated members are one stream;
// bytes after the last member are ignored), raw zlib, ZIP (every file entry; directories
// skipped; an entry that is not XML once unpacked is skipped and described in `notes`
// when non-null). Returns the XML documents, at least one, in archive order.
// InvalidArgument: empty input, not a known payload, a corrupt or truncated container
// (with the library's reason), an encrypted ZIP entry (named), nesting deeper than
// max_nesting, no XML document at all. LimitExceeded: output, ratio or entry caps;
// decompression stops the moment a cap is passed, so memory stays bounded by the caps.
Result<std::vector<UnpackedDocument>> UnpackPayload(std::string_view bytes,
                                                    const UnpackLimits& limits,
                                                    std::vector<std::string>* notes = nullptr);

}  // namespace archiver
