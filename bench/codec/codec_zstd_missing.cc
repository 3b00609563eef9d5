// Stands in for codec_zstd.cc when libzstd was not found: the zstd rows are skipped.
#include "codec.h"

namespace archiver::bench {

bool ZstdAvailable() { return false; }

std::unique_ptr<Codec> MakeZstdCodec(int) { return nullptr; }

std::string TrainZstdDictionary(const std::vector<std::string_view>&, size_t, std::string* error) {
  *error = "built without libzstd";
  return "";
}

std::unique_ptr<Codec> MakeZstdDictionaryCodec(int, const std::string&, const std::string&) {
  return nullptr;
}

}  // namespace archiver::bench
