// The message sets the codecs are measured on: the shared mail corpus as the archive would
// store it, and the scale benchmark's synthetic messages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace archiver::bench {

// Every message file under `corpus` (MANIFEST.tsv and SOURCES.md left out), in sorted path
// order, as an LMTP delivery stores it: a leading mbox "From " line removed and every line
// end made CRLF, a final CRLF added when missing. Empty when the directory is absent.
std::vector<std::string> CorpusMessages(const std::string& corpus);

// The first `count` messages (each distinct: its own Message-ID, date and body) that
// bench/scale's Workload generates from `seed`, bodies sliced from `corpus`.
std::vector<std::string> WorkloadMessages(uint64_t seed, size_t count, const std::string& corpus);

}  // namespace archiver::bench
