// A payload codec under measurement: one whole message in, one compressed value out, and
// back. Each codec keeps its own reusable contexts, as the archive keeps its compressors.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace archiver::bench {

class Codec {
 public:
  virtual ~Codec() = default;

  // "zlib-6", "libdeflate-12", "zstd-3", "zstd-3+dict64k": the table's row name.
  virtual const std::string& name() const = 0;

  // The most bytes Compress can write for `raw_size` input bytes.
  virtual size_t Bound(size_t raw_size) const = 0;

  // Writes the compressed form of `input` to dest[0, capacity), capacity >= Bound, and
  // returns its length; 0 when the codec failed. A result not smaller than the input is
  // still returned (the caller decides to store the message raw, as the archive does).
  virtual size_t Compress(std::string_view input, char* dest, size_t capacity) = 0;

  // Decompresses `compressed` into dest[0, raw_size). True only when exactly raw_size bytes
  // came out; the caller compares them with the original outside the timed section.
  virtual bool Decompress(std::string_view compressed, char* dest, size_t raw_size) = 0;
};

// zlib (deflate in zlib framing, one reused z_stream each way) at `level` 1..9.
std::unique_ptr<Codec> MakeZlibCodec(int level);

// libdeflate (zlib framing, as the archive writes) at `level` 1..12, decompressed by
// libdeflate.
std::unique_ptr<Codec> MakeLibdeflateCodec(int level);

// Whether zstd was found at build time; the Make* functions below return nullptr otherwise.
bool ZstdAvailable();

// zstd at `level`, a frame without the content size or dictionary id (the archive's record
// holds the raw size and the SHA-256 already).
std::unique_ptr<Codec> MakeZstdCodec(int level);

// A dictionary of at most `capacity` bytes trained (ZDICT_trainFromBuffer) on `samples`.
// Empty, with `*error` set, when training fails (too few or too small samples).
std::string TrainZstdDictionary(const std::vector<std::string_view>& samples, size_t capacity,
                                std::string* error);

// zstd at `level` with `dictionary` (digested once, as a long-lived process would);
// `label` names the dictionary in the row name ("dict64k").
std::unique_ptr<Codec> MakeZstdDictionaryCodec(int level, const std::string& dictionary,
                                               const std::string& label);

}  // namespace archiver::bench
