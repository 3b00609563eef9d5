// Reading the corpus the way a message reaches the archive, and drawing workload messages.
#include "message_set.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "../scale/workload.h"

namespace archiver::bench {
namespace {

// What LMTP's client sends and the archive stores (tests/integration's to_wire): CR, LF
// and CRLF line ends all become CRLF. The mbox "From " line is what dovecot-lda strips.
std::string AsDelivered(const std::string& file) {
  size_t start = 0;
  if (file.starts_with("From ")) {
    const size_t end = file.find_first_of("\r\n");
    start = end == std::string::npos ? file.size() : end;
    if (file.compare(start, 2, "\r\n") == 0) {
      start += 2;
    } else if (start < file.size()) {
      start += 1;
    }
  }
  std::string wire;
  wire.reserve(file.size() - start + file.size() / 32);
  for (size_t i = start; i < file.size(); ++i) {
    const char c = file[i];
    if (c == '\r') {
      wire += "\r\n";
      if (i + 1 < file.size() && file[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      wire += "\r\n";
    } else {
      wire += c;
    }
  }
  if (!wire.ends_with("\r\n")) wire += "\r\n";
  return wire;
}

}  // namespace

std::vector<std::string> CorpusMessages(const std::string& corpus) {
  std::vector<std::filesystem::path> paths;
  std::error_code error;
  if (corpus.empty() || !std::filesystem::is_directory(corpus, error)) return {};
  for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name != "MANIFEST.tsv" && name != "SOURCES.md")
      paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // directory order is not deterministic
  std::vector<std::string> messages;
  for (const auto& path : paths) {
    std::ifstream file(path, std::ios::binary);
    messages.push_back(AsDelivered(
        std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>())));
  }
  return messages;
}

std::vector<std::string> WorkloadMessages(uint64_t seed, size_t count, const std::string& corpus) {
  WorkloadOptions options;
  options.seed = seed;
  options.deliveries = std::numeric_limits<uint64_t>::max();  // we stop after `count` messages
  options.corpus = corpus;
  Workload workload(options);
  std::vector<std::string> messages;
  WorkloadMessage message;
  while (messages.size() < count && workload.Next(&message)) messages.push_back(message.bytes);
  return messages;
}

}  // namespace archiver::bench
