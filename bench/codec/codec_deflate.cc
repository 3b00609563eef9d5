// The deflate codecs: zlib's own deflate/inflate and libdeflate, both in zlib framing
// (RFC 1950), the stream format the archive's records hold today.
#include <libdeflate.h>
#include <zlib.h>

#include <climits>

#include "codec.h"

namespace archiver::bench {
namespace {

// One z_stream per direction, reset between messages: the set-up (about 256 KB of state for
// deflate) is not paid per message, as the archive does not pay it per delivery either.
class ZlibCodec final : public Codec {
 public:
  explicit ZlibCodec(int level) : name_("zlib-" + std::to_string(level)) {
    deflate_ok_ = deflateInit(&deflater_, level) == Z_OK;
    inflate_ok_ = inflateInit(&inflater_) == Z_OK;
  }
  ~ZlibCodec() override {
    if (deflate_ok_) deflateEnd(&deflater_);
    if (inflate_ok_) inflateEnd(&inflater_);
  }
  ZlibCodec(const ZlibCodec&) = delete;
  ZlibCodec& operator=(const ZlibCodec&) = delete;

  const std::string& name() const override { return name_; }

  size_t Bound(size_t raw_size) const override { return compressBound(raw_size); }

  size_t Compress(std::string_view input, char* dest, size_t capacity) override {
    if (!deflate_ok_ || input.size() > UINT_MAX / 2 || capacity > UINT_MAX) return 0;
    deflater_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    deflater_.avail_in = static_cast<uInt>(input.size());
    deflater_.next_out = reinterpret_cast<Bytef*>(dest);
    deflater_.avail_out = static_cast<uInt>(capacity);
    const int rc = deflate(&deflater_, Z_FINISH);
    const size_t written = capacity - deflater_.avail_out;
    deflateReset(&deflater_);
    return rc == Z_STREAM_END ? written : 0;
  }

  bool Decompress(std::string_view compressed, char* dest, size_t raw_size) override {
    if (!inflate_ok_ || compressed.size() > UINT_MAX || raw_size > UINT_MAX) return false;
    Bytef no_output;  // zlib rejects a null next_out
    inflater_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    inflater_.avail_in = static_cast<uInt>(compressed.size());
    inflater_.next_out = raw_size == 0 ? &no_output : reinterpret_cast<Bytef*>(dest);
    inflater_.avail_out = static_cast<uInt>(raw_size);
    const int rc = inflate(&inflater_, Z_FINISH);
    const bool whole = rc == Z_STREAM_END && inflater_.avail_out == 0;
    inflateReset(&inflater_);
    return whole;
  }

 private:
  std::string name_;
  z_stream deflater_ = {};
  z_stream inflater_ = {};
  bool deflate_ok_ = false;
  bool inflate_ok_ = false;
};

class LibdeflateCodec final : public Codec {
 public:
  explicit LibdeflateCodec(int level)
      : name_("libdeflate-" + std::to_string(level)),
        compressor_(libdeflate_alloc_compressor(level)),
        decompressor_(libdeflate_alloc_decompressor()) {}
  ~LibdeflateCodec() override {
    libdeflate_free_compressor(compressor_);  // both accept nullptr
    libdeflate_free_decompressor(decompressor_);
  }
  LibdeflateCodec(const LibdeflateCodec&) = delete;
  LibdeflateCodec& operator=(const LibdeflateCodec&) = delete;

  const std::string& name() const override { return name_; }

  size_t Bound(size_t raw_size) const override {
    return libdeflate_zlib_compress_bound(compressor_, raw_size);
  }

  size_t Compress(std::string_view input, char* dest, size_t capacity) override {
    if (compressor_ == nullptr) return 0;
    return libdeflate_zlib_compress(compressor_, input.data(), input.size(), dest, capacity);
  }

  bool Decompress(std::string_view compressed, char* dest, size_t raw_size) override {
    if (decompressor_ == nullptr) return false;
    size_t produced = 0;
    return libdeflate_zlib_decompress(decompressor_, compressed.data(), compressed.size(), dest,
                                      raw_size, &produced) == LIBDEFLATE_SUCCESS &&
           produced == raw_size;
  }

 private:
  std::string name_;
  libdeflate_compressor* compressor_;
  libdeflate_decompressor* decompressor_;
};

}  // namespace

std::unique_ptr<Codec> MakeZlibCodec(int level) { return std::make_unique<ZlibCodec>(level); }

std::unique_ptr<Codec> MakeLibdeflateCodec(int level) {
  return std::make_unique<LibdeflateCodec>(level);
}

}  // namespace archiver::bench
