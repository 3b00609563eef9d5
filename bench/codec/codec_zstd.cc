// The zstd codecs, plain and with a trained dictionary. Built only when pkg-config finds
// libzstd (codec_zstd_missing.cc stands in otherwise).
#include <zdict.h>
#include <zstd.h>

#include "codec.h"

namespace archiver::bench {
namespace {

struct ZstdFree {
  void operator()(ZSTD_CCtx* context) const noexcept { ZSTD_freeCCtx(context); }
  void operator()(ZSTD_DCtx* context) const noexcept { ZSTD_freeDCtx(context); }
  void operator()(ZSTD_CDict* dictionary) const noexcept { ZSTD_freeCDict(dictionary); }
  void operator()(ZSTD_DDict* dictionary) const noexcept { ZSTD_freeDDict(dictionary); }
};
template <typename T>
using ZstdHandle = std::unique_ptr<T, ZstdFree>;

// One compression and one decompression context, reused. With a dictionary, both digested
// dictionaries are made once and referenced for every message; the level is the CDict's.
class ZstdCodec final : public Codec {
 public:
  ZstdCodec(int level, const std::string* dictionary, const std::string& label)
      : name_("zstd-" + std::to_string(level) + (label.empty() ? "" : "+" + label)),
        level_(level),
        compressor_(ZSTD_createCCtx()),
        decompressor_(ZSTD_createDCtx()) {
    if (dictionary != nullptr) {
      cdict_.reset(ZSTD_createCDict(dictionary->data(), dictionary->size(), level));
      ddict_.reset(ZSTD_createDDict(dictionary->data(), dictionary->size()));
    }
    with_dictionary_ = dictionary != nullptr;
  }

  const std::string& name() const override { return name_; }

  size_t Bound(size_t raw_size) const override { return ZSTD_compressBound(raw_size); }

  size_t Compress(std::string_view input, char* dest, size_t capacity) override {
    ZSTD_CCtx* context = compressor_.get();
    if (context == nullptr || (with_dictionary_ && cdict_ == nullptr)) return 0;
    ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0);
    if (with_dictionary_) {
      ZSTD_CCtx_refCDict(context, cdict_.get());
    } else {
      ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level_);
    }
    const size_t written = ZSTD_compress2(context, dest, capacity, input.data(), input.size());
    return ZSTD_isError(written) ? 0 : written;
  }

  bool Decompress(std::string_view compressed, char* dest, size_t raw_size) override {
    ZSTD_DCtx* context = decompressor_.get();
    if (context == nullptr || (with_dictionary_ && ddict_ == nullptr)) return false;
    const size_t produced =
        with_dictionary_
            ? ZSTD_decompress_usingDDict(context, dest, raw_size, compressed.data(),
                                         compressed.size(), ddict_.get())
            : ZSTD_decompressDCtx(context, dest, raw_size, compressed.data(), compressed.size());
    return !ZSTD_isError(produced) && produced == raw_size;
  }

 private:
  std::string name_;
  int level_;
  bool with_dictionary_ = false;
  ZstdHandle<ZSTD_CCtx> compressor_;
  ZstdHandle<ZSTD_DCtx> decompressor_;
  ZstdHandle<ZSTD_CDict> cdict_;
  ZstdHandle<ZSTD_DDict> ddict_;
};

}  // namespace

bool ZstdAvailable() { return true; }

std::unique_ptr<Codec> MakeZstdCodec(int level) {
  return std::make_unique<ZstdCodec>(level, nullptr, "");
}

std::string TrainZstdDictionary(const std::vector<std::string_view>& samples, size_t capacity,
                                std::string* error) {
  std::string joined;
  std::vector<size_t> sizes;
  for (std::string_view sample : samples) {
    joined.append(sample);
    sizes.push_back(sample.size());
  }
  std::string dictionary(capacity, '\0');
  const size_t size = ZDICT_trainFromBuffer(dictionary.data(), capacity, joined.data(),
                                            sizes.data(), static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(size)) {
    *error = ZDICT_getErrorName(size);
    return "";
  }
  dictionary.resize(size);
  return dictionary;
}

std::unique_ptr<Codec> MakeZstdDictionaryCodec(int level, const std::string& dictionary,
                                               const std::string& label) {
  return std::make_unique<ZstdCodec>(level, &dictionary, label);
}

}  // namespace archiver::bench
