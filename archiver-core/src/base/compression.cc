// Compression of stored messages (libdeflate: whole-buffer, zlib framing, roughly twice
// as fast as zlib at the same level and ratio) and bounded inflation (zlib). zlib counts
// in 32-bit units, so its input and output are fed in chunks; one z_stream per call,
// released by its guard. Compressors are expensive to set up (hundreds of KB of tables),
// so idle ones are kept per level in a small process-wide pool.
#include "base/compression.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

namespace archiver::compression {
namespace {

constexpr uint64_t kChunk = std::numeric_limits<uInt>::max();

struct CompressorFree {
  void operator()(libdeflate_compressor* compressor) const noexcept {
    libdeflate_free_compressor(compressor);
  }
};
using Compressor = std::unique_ptr<libdeflate_compressor, CompressorFree>;

// Idle objects of one kind (a compressor of one level, a primed deflater). Each serves one
// caller at a time; at most kIdle are kept, which covers the threads of one process
// writing at once.
template <typename T>
class IdlePool {
 public:
  static constexpr size_t kIdle = 4;

  // An idle one, or make()'s.
  template <typename Make>
  T Take(Make make) {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        T taken = std::move(idle_.back());
        idle_.pop_back();
        return taken;
      }
    }
    return make();
  }

  void Give(T object) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kIdle) idle_.push_back(std::move(object));
  }

 private:
  std::mutex mutex_;
  std::vector<T> idle_;
};

// The pool of compressors of `level` (1..9).
IdlePool<Compressor>& CompressorsOf(int level) {
  static auto* pools = new std::array<IdlePool<Compressor>, 10>();  // never destroyed
  return (*pools)[level];
}

class InflateStream {
 public:
  // MAX_WBITS: zlib framing; MAX_WBITS + 16: gzip framing.
  explicit InflateStream(int window_bits) { ok_ = inflateInit2(&stream_, window_bits) == Z_OK; }
  ~InflateStream() {
    if (ok_) inflateEnd(&stream_);
  }
  InflateStream(const InflateStream&) = delete;
  InflateStream& operator=(const InflateStream&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_ = {};
  bool ok_ = false;
};

// Primes a reset `stream` with the tail of `dictionary` that fits zlib's largest window.
template <typename SetDictionary>
z_stream* Prime(z_stream* stream, std::string_view dictionary, SetDictionary set) {
  if (dictionary.empty()) return stream;
  const auto* bytes = reinterpret_cast<const Bytef*>(dictionary.data());
  const auto size = static_cast<uInt>(std::min<size_t>(dictionary.size(), 1u << MAX_WBITS));
  return set(stream, bytes + dictionary.size() - size, size) == Z_OK ? stream : nullptr;
}

// A raw deflate stream, reset for each value: setting up zlib's state costs more than
// compressing a few hundred bytes. Its state is small (a 1 KiB window: the dictionary's
// tail and a trace fit; memLevel 2), since each reset clears its hash table. Idle ones
// wait in a small pool, as the compressors do: a delivery's write may run on a thread
// that lives for that one delivery, where a thread's own stream would be set up anew.
class PrimedDeflater {
 public:
  static constexpr int kWindowBits = 10;

  PrimedDeflater() {
    ok_ = deflateInit2(&stream_, Z_BEST_COMPRESSION, Z_DEFLATED, -kWindowBits, 2,
                       Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~PrimedDeflater() {
    if (ok_) deflateEnd(&stream_);
  }
  PrimedDeflater(const PrimedDeflater&) = delete;
  PrimedDeflater& operator=(const PrimedDeflater&) = delete;

  // The stream, reset and primed with `dictionary`; null when zlib cannot give one.
  z_stream* Primed(std::string_view dictionary) {
    if (!ok_ || deflateReset(&stream_) != Z_OK) return nullptr;
    return Prime(&stream_, dictionary, deflateSetDictionary);
  }

 private:
  z_stream stream_ = {};
  bool ok_ = false;
};

IdlePool<std::unique_ptr<PrimedDeflater>>& PrimedDeflaters() {
  static auto* pool = new IdlePool<std::unique_ptr<PrimedDeflater>>();  // never destroyed
  return *pool;
}

// This thread's raw inflate stream (any window: -15), reset for each value.
class PrimedInflater {
 public:
  PrimedInflater() { ok_ = inflateInit2(&stream_, -MAX_WBITS) == Z_OK; }
  ~PrimedInflater() {
    if (ok_) inflateEnd(&stream_);
  }
  PrimedInflater(const PrimedInflater&) = delete;
  PrimedInflater& operator=(const PrimedInflater&) = delete;

  // The stream, reset and primed with `dictionary`; null when zlib cannot give one.
  z_stream* Primed(std::string_view dictionary) {
    if (!ok_ || inflateReset(&stream_) != Z_OK) return nullptr;
    return Prime(&stream_, dictionary, inflateSetDictionary);
  }

  static PrimedInflater& OfThisThread() {
    thread_local PrimedInflater inflater;
    return inflater;
  }

 private:
  z_stream stream_ = {};
  bool ok_ = false;
};

// Hands zlib the next chunk of [data, data + size) once it has used up the last one.
void Refill(const char* data, uint64_t size, uint64_t* offset, Bytef** next, uInt* avail) {
  if (*avail != 0 || *offset == size) return;
  uint64_t chunk = std::min(kChunk, size - *offset);
  *next = reinterpret_cast<Bytef*>(const_cast<char*>(data + *offset));
  *avail = static_cast<uInt>(chunk);
  *offset += chunk;
}

}  // namespace

bool DeflateAppend(std::string_view input, int level, std::string* out) {
  if (input.empty() || level < 1 || level > 9) return false;
  Compressor compressor =
      CompressorsOf(level).Take([&] { return Compressor(libdeflate_alloc_compressor(level)); });
  if (compressor == nullptr) return false;
  // Output space below the input: anything that does not fit is not worth storing.
  const size_t base = out->size();
  out->resize(base + input.size() - 1);
  size_t written = libdeflate_zlib_compress(compressor.get(), input.data(), input.size(),
                                            out->data() + base, input.size() - 1);
  CompressorsOf(level).Give(std::move(compressor));
  out->resize(base + written);  // 0 when it did not fit
  return written != 0;
}

Status InflateExact(std::string_view compressed, char* dest, uint64_t raw_size) {
  InflateStream inflater(MAX_WBITS);
  if (!inflater.ok()) return Status::IOError("zlib: cannot initialise a decompressor");
  z_stream* stream = inflater.get();
  Bytef no_output;  // zlib rejects a null next_out even when there is nothing to write
  stream->next_out = &no_output;

  uint64_t in_offset = 0, out_offset = 0;
  while (true) {
    Refill(compressed.data(), compressed.size(), &in_offset, &stream->next_in, &stream->avail_in);
    Refill(dest, raw_size, &out_offset, &stream->next_out, &stream->avail_out);
    int rc = inflate(stream, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      if (stream->avail_out == 0 && out_offset == raw_size) {
        return Status::Corruption("compressed payload is longer than its recorded size");
      }
      if (stream->avail_in == 0 && in_offset == compressed.size()) {
        return Status::Corruption("compressed payload is truncated");
      }
      continue;
    }
    if (rc == Z_MEM_ERROR) return Status::IOError("zlib: out of memory");
    return Status::Corruption(std::string("compressed payload is damaged (zlib: ") +
                              (stream->msg != nullptr ? stream->msg : "error") + ")");
  }
  uint64_t produced = out_offset - stream->avail_out;
  if (produced != raw_size) {
    return Status::Corruption("compressed payload is shorter than its recorded size");
  }
  if (stream->avail_in != 0 || in_offset != compressed.size()) {
    return Status::Corruption("bytes follow the compressed payload");
  }
  return Status::Ok();
}

bool DeflatePrimed(std::string_view input, std::string_view dictionary, std::string* out) {
  if (input.empty() || input.size() > kMaxPrimedInput) return false;
  std::unique_ptr<PrimedDeflater> deflater =
      PrimedDeflaters().Take([] { return std::make_unique<PrimedDeflater>(); });
  z_stream* stream = deflater->Primed(dictionary);
  if (stream == nullptr) return false;
  const size_t base = out->size();
  out->resize(base + input.size() - 1);  // anything longer is not worth storing
  stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream->avail_in = static_cast<uInt>(input.size());
  stream->next_out = reinterpret_cast<Bytef*>(out->data() + base);
  stream->avail_out = static_cast<uInt>(input.size() - 1);
  const bool fitted = deflate(stream, Z_FINISH) == Z_STREAM_END;
  out->resize(fitted ? base + (input.size() - 1 - stream->avail_out) : base);
  PrimedDeflaters().Give(std::move(deflater));
  return fitted;
}

Status InflatePrimed(std::string_view compressed, std::string_view dictionary, uint64_t raw_size,
                     std::string* out) {
  if (raw_size > kMaxPrimedInput || compressed.size() > kMaxPrimedInput) {
    return Status::Corruption("compressed value claims an impossible size");
  }
  z_stream* stream = PrimedInflater::OfThisThread().Primed(dictionary);
  if (stream == nullptr) return Status::IOError("zlib: cannot initialise a decompressor");
  out->resize(raw_size);
  Bytef no_output;  // zlib rejects a null next_out even when there is nothing to write
  stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream->avail_in = static_cast<uInt>(compressed.size());
  stream->next_out = raw_size == 0 ? &no_output : reinterpret_cast<Bytef*>(out->data());
  stream->avail_out = static_cast<uInt>(raw_size);
  const int rc = inflate(stream, Z_FINISH);
  if (rc != Z_STREAM_END) {
    if (rc == Z_MEM_ERROR) return Status::IOError("zlib: out of memory");
    if ((rc == Z_OK || rc == Z_BUF_ERROR) && stream->avail_out == 0) {
      return Status::Corruption("compressed value is longer than its recorded size");
    }
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
      return Status::Corruption("compressed value is truncated");
    }
    return Status::Corruption(std::string("compressed value is damaged (zlib: ") +
                              (stream->msg != nullptr ? stream->msg : "error") + ")");
  }
  if (stream->avail_out != 0) {
    return Status::Corruption("compressed value is shorter than its recorded size");
  }
  if (stream->avail_in != 0) return Status::Corruption("bytes follow the compressed value");
  return Status::Ok();
}

Status InflateBounded(std::string_view input, Framing framing, uint64_t max_output,
                      std::string* out, uint64_t* consumed) {
  InflateStream inflater(framing == Framing::kGzip ? MAX_WBITS + 16 : MAX_WBITS);
  if (!inflater.ok()) return Status::IOError("zlib: cannot initialise a decompressor");
  z_stream* stream = inflater.get();
  // Output goes through a fixed buffer so that a bomb never grows `out` past the cap.
  constexpr size_t kOutputChunk = 64 * 1024;
  char buffer[kOutputChunk];
  uint64_t in_offset = 0, produced = 0;
  while (true) {
    Refill(input.data(), input.size(), &in_offset, &stream->next_in, &stream->avail_in);
    stream->next_out = reinterpret_cast<Bytef*>(buffer);
    stream->avail_out = kOutputChunk;
    int rc = inflate(stream, Z_NO_FLUSH);
    size_t got = kOutputChunk - stream->avail_out;
    if (got > max_output - produced) {
      return Status::LimitExceeded("decompressed output exceeds " + std::to_string(max_output) +
                                   " bytes");
    }
    out->append(buffer, got);
    produced += got;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      if (stream->avail_in == 0 && in_offset == input.size()) {
        return Status::Corruption("compressed stream is truncated");
      }
      continue;
    }
    if (rc == Z_MEM_ERROR) return Status::IOError("zlib: out of memory");
    if (rc == Z_NEED_DICT) return Status::Corruption("zlib stream needs a preset dictionary");
    return Status::Corruption(std::string("compressed stream is damaged (zlib: ") +
                              (stream->msg != nullptr ? stream->msg : "error") + ")");
  }
  *consumed = in_offset - stream->avail_in;
  return Status::Ok();
}

}  // namespace archiver::compression
