// The one deflate wrapper: compression of stored messages into zlib streams (libdeflate),
// their inflation (bounded by the size recorded when the message was stored), short values
// compressed against a preset dictionary (zlib), and bounded inflation of untrusted
// zlib/gzip streams (zlib).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver::compression {

// Compresses `input` as a zlib stream (RFC 1950) at `level` (1..9, as zlib's levels:
// 1 fastest, 9 smallest) and appends it to `out`. Returns false, leaving `out` as it
// was, when the stream would not be smaller than the input (or no compressor could be
// allocated); the caller then stores the input as it is. Safe from any thread.
bool DeflateAppend(std::string_view input, int level, std::string* out);

// Decompresses the zlib stream `compressed` into dest[0, raw_size). Corruption unless
// the stream is intact and yields exactly `raw_size` bytes with nothing after it; never
// writes beyond raw_size. IOError if zlib cannot allocate its state.
Status InflateExact(std::string_view compressed, char* dest, uint64_t raw_size);

// Short values (a delivery's trace header) as raw deflate streams (RFC 1951, no framing)
// primed with a preset `dictionary` (zlib's deflateSetDictionary): text the value is likely
// to repeat, which the reader must give again, byte for byte. Appends the stream to `out`
// and returns true only when it is shorter than `input` (false: `out` as it was). Inputs
// above kMaxPrimedInput are not compressed. Safe from any thread.
constexpr size_t kMaxPrimedInput = 1 << 20;
bool DeflatePrimed(std::string_view input, std::string_view dictionary, std::string* out);
// Replaces `out` with the inflation of `compressed` primed with `dictionary`. Corruption
// unless the stream is intact and yields exactly `raw_size` bytes (at most
// kMaxPrimedInput) with nothing after it; never writes beyond raw_size.
Status InflatePrimed(std::string_view compressed, std::string_view dictionary, uint64_t raw_size,
                     std::string* out);

// How a deflate stream is framed: RFC 1950 (zlib) or RFC 1952 (one gzip member).
enum class Framing { kZlib, kGzip };

// Inflates the one zlib stream or gzip member at the start of `input` and appends its
// output to `out`. On success `*consumed` is the number of input bytes the stream used
// (what follows is the caller's business). LimitExceeded as soon as the output would
// exceed `max_output` bytes: no more than that is ever appended or allocated.
// Corruption for a damaged or truncated stream (with zlib's reason); IOError if zlib
// cannot allocate its state. On failure `out` may hold a partial output.
Status InflateBounded(std::string_view input, Framing framing, uint64_t max_output,
                      std::string* out, uint64_t* consumed);

}  // namespace archiver::compression
