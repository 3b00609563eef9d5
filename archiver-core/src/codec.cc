// zlib compression of stored messages and bounded inflation (see codec.h). zlib counts
// in 32-bit units, so input and output are fed in chunks; one z_stream per call, released
// by its guard.
#include "codec.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace archiver::codec {
namespace {

constexpr uint64_t kChunk = std::numeric_limits<uInt>::max();

class DeflateStream {
 public:
  explicit DeflateStream(int level) { ok_ = deflateInit(&stream_, level) == Z_OK; }
  ~DeflateStream() {
    if (ok_) deflateEnd(&stream_);
  }
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_ = {};
  bool ok_ = false;
};

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
  if (input.empty()) return false;
  DeflateStream deflater(level);
  if (!deflater.ok()) return false;
  z_stream* stream = deflater.get();

  // Output space equal to the input: anything that does not fit is not worth storing.
  const size_t base = out->size();
  out->resize(base + input.size());
  char* dest = out->data() + base;
  uint64_t in_offset = 0, out_offset = 0;
  while (true) {
    Refill(input.data(), input.size(), &in_offset, &stream->next_in, &stream->avail_in);
    Refill(dest, input.size(), &out_offset, &stream->next_out, &stream->avail_out);
    bool last_input = in_offset == input.size();
    int rc = deflate(stream, last_input ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    bool out_exhausted = stream->avail_out == 0 && out_offset == input.size();
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || out_exhausted) {
      out->resize(base);
      return false;
    }
  }
  if (stream->total_out >= input.size()) {
    out->resize(base);
    return false;
  }
  out->resize(base + stream->total_out);
  return true;
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

}  // namespace archiver::codec
