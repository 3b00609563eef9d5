// Payload compression for stored messages: zlib streams, owned by an RAII z_stream.
// Decompression is bounded by the size recorded when the message was stored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver::codec {

// Compresses `input` as a zlib stream at `level` (1..9) and appends it to `out`.
// Returns false, leaving `out` as it was, when the stream would not be smaller than
// the input (or zlib cannot start); the caller then stores the input as it is.
bool DeflateAppend(std::string_view input, int level, std::string* out);

// Decompresses the zlib stream `compressed` into dest[0, raw_size). Corruption unless
// the stream is intact and yields exactly `raw_size` bytes with nothing after it; never
// writes beyond raw_size. IOError if zlib cannot allocate its state.
Status InflateExact(std::string_view compressed, char* dest, uint64_t raw_size);

}  // namespace archiver::codec
